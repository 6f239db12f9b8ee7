/** /api/customers and /api/resellers. A reseller sees and manages only its own customers. */
import { apiError, validationError } from '../errors.js';
import { ID, nullable, STATUS } from '../http/schemas.js';
import { ROLES, type Item } from './resource.js';
import { tableResource } from './table-resource.js';

export interface Customer extends Item {
  id: number; reseller_id: number | null; external_id: string | null; name: string; email: string | null; status: string;
  concurrent_max: number | null; concurrent_max_out: number | null; billing_profile_id: number | null; prepaid: boolean;
  created_at: string; updated_at: string;
}

const LIMIT = nullable({ type: 'integer', minimum: 0, maximum: 1_000_000 });

export const customers = tableResource<Customer>({
  name: 'customers',
  entity: 'customer',
  schemaId: 'Customer',
  description: 'Customers (contracts) grouping subscribers, with concurrent-call limits for all of them together (null = unlimited); ' +
    'prepaid customers (prepaid: true, needs a billing_profile_id) pay their calls from /api/customerbalances (docs/sbc.md "Prepaid").',
  table: 'customers',
  columns: {
    reseller_id: { schema: nullable(ID), filter: 'eq' },
    external_id: { schema: nullable({ type: 'string', minLength: 1, maxLength: 255 }), filter: 'eq' },
    name: { schema: { type: 'string', minLength: 1, maxLength: 255 }, required: true, filter: 'like', sortable: true },
    email: { schema: nullable({ type: 'string', format: 'email', maxLength: 255 }) },
    status: { schema: STATUS, default: 'active', filter: 'eq' },
    concurrent_max: { schema: LIMIT },
    concurrent_max_out: { schema: LIMIT },
    billing_profile_id: { schema: { ...nullable(ID), description: 'the billing profile (/api/billingprofiles) its calls are rated with; null: none' }, filter: 'eq' },
    prepaid: { schema: { type: 'boolean', description: 'calls are paid from the balance before they connect (402 without credit) and cut when it runs out' }, bool: true, default: false, filter: 'eq' },
  },
  roles: { list: ROLES.adminReseller, get: ROLES.adminReseller, create: ROLES.adminReseller, update: ROLES.adminReseller, delete: ROLES.adminReseller },
  notify: true,
  scope(c, qb) {
    if (c.principal.role === 'reseller') qb.where('customers.reseller_id', c.principal.resellerId ?? -1);
  },
  prepare(c, data) {
    if (data.prepaid === true && data.billing_profile_id == null) throw validationError([{ field: 'billing_profile_id', message: 'is required for a prepaid customer (its calls are rated with it)' }]);
    if (c.principal.role === 'reseller') {
      if (data.reseller_id != null && data.reseller_id !== c.principal.resellerId) {
        throw apiError('NGCP_API_FORBIDDEN', 'a reseller can only manage its own customers');
      }
      data.reseller_id = c.principal.resellerId;
    }
  },
});

export interface Reseller extends Item { id: number; name: string; status: string; created_at: string; updated_at: string }

export const resellers = tableResource<Reseller>({
  name: 'resellers',
  entity: 'reseller',
  schemaId: 'Reseller',
  description: 'Resellers: own customers; their API users (role reseller) see only those.',
  table: 'resellers',
  columns: {
    name: { schema: { type: 'string', minLength: 1, maxLength: 127 }, required: true, filter: 'like', sortable: true },
    status: { schema: STATUS, default: 'active', filter: 'eq' },
  },
  roles: { list: ROLES.admin, get: ROLES.admin, create: ROLES.admin, update: ROLES.admin, delete: ROLES.admin },
  // deleting a reseller deletes its API users: forget their cached logins
  afterWrite: (services, op) => {
    if (op === 'delete') services.auth.invalidate();
  },
});
