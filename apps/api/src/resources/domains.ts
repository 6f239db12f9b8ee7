/** /api/domains — SIP domains served by the platform (the realm of their subscribers). */
import { DOMAIN_NAME, nullable } from '../http/schemas.js';
import { ROLES, type Item } from './resource.js';
import { clearDomainCache } from './subscribers.js';
import { tableResource } from './table-resource.js';

export interface Domain extends Item { id: number; domain: string; description: string | null; created_at: string; updated_at: string }

export const domains = tableResource<Domain>({
  name: 'domains',
  entity: 'domain',
  schemaId: 'Domain',
  description: 'SIP domains. A domain with subscribers cannot be deleted (409).',
  table: 'domains',
  columns: {
    domain: { schema: DOMAIN_NAME, required: true, filter: 'like', sortable: true },
    description: { schema: nullable({ type: 'string', maxLength: 255 }) },
  },
  roles: { list: ROLES.adminReseller, get: ROLES.adminReseller, create: ROLES.admin, update: ROLES.admin, delete: ROLES.admin },
  notify: true,
  prepare(_c, data) {
    data.domain = String(data.domain).toLowerCase();
  },
  afterWrite: () => clearDomainCache(),
});
