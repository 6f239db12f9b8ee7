/**
 * /api/numbers — E.164 numbers: unassigned (pool), or a subscriber's primary number or
 * alias. At most one primary per subscriber (409 otherwise).
 */
import { normalizeE164 } from '@ngcp/db';
import { validationError } from '../errors.js';
import { E164, ID, nullable } from '../http/schemas.js';
import { ROLES, type Item } from './resource.js';
import { assertSubscriberVisible, scopeSubscriberColumn } from './scope.js';
import { tableResource } from './table-resource.js';

export interface PhoneNumber extends Item { id: number; e164: string; subscriber_id: number | null; is_primary: boolean; created_at: string; updated_at: string }

export const numbers = tableResource<PhoneNumber>({
  name: 'numbers',
  entity: 'number',
  schemaId: 'Number',
  description: 'E.164 numbers (digits only; a leading + is accepted and dropped). Deleted with their subscriber.',
  table: 'numbers',
  columns: {
    e164: { schema: E164, required: true, filter: 'like', sortable: true },
    subscriber_id: { schema: nullable(ID), filter: 'eq' },
    is_primary: { schema: { type: 'boolean' }, bool: true, default: false, filter: 'eq' },
  },
  roles: { list: ROLES.all, get: ROLES.all, create: ROLES.adminReseller, update: ROLES.adminReseller, delete: ROLES.adminReseller },
  notify: true,
  defaultOrder: 'e164',
  scope(c, qb) {
    scopeSubscriberColumn(c, qb, 'numbers.subscriber_id');
  },
  async prepare(c, data) {
    data.e164 = normalizeE164(String(data.e164));
    if (data.is_primary && data.subscriber_id == null) throw validationError([{ field: 'is_primary', message: 'needs a subscriber_id' }]);
    if (data.subscriber_id != null) await assertSubscriberVisible(c, data.subscriber_id as number);
    else if (c.principal.role !== 'admin') throw validationError([{ field: 'subscriber_id', message: 'is required for a reseller' }]);
  },
});
