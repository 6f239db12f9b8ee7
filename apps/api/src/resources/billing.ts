/**
 * Billing (docs/sbc.md "Prepaid"): /api/billingprofiles and /api/billingfees — what a
 * prepaid customer's calls cost — and /api/customerbalances/:customer_id, the balance its
 * calls are paid from. Money is an integer number of units, 1/10000 of the profile's
 * currency (1.50 EUR = 15000): never a float.
 */
import { validationError } from '../errors.js';
import { DATE_TIME, ID, nullable, object } from '../http/schemas.js';
import { iso, pageOf, ROLES, type Ctx, type Item, type Page, type Resource } from './resource.js';
import { ADMIN_WRITE, DESCRIPTION } from './routing.js';
import { scopeCustomerColumn } from './scope.js';
import { tableResource } from './table-resource.js';

/** The largest amount the API takes (units): far below 2^53, so every amount is exact in JSON. */
const MAX_UNITS = 1_000_000_000_000_000;
const UNITS = (description: string) => ({ type: 'integer', minimum: 0, maximum: MAX_UNITS, description }) as const;
const INTERVAL = (description: string) => ({ type: 'integer', minimum: 1, maximum: 3600, description }) as const;

export const billingProfiles = tableResource({
  name: 'billingprofiles', entity: 'billing_profile', schemaId: 'BillingProfile', table: 'billing_profiles',
  description: 'Billing profiles: a currency and the fees (/api/billingfees) a customer\'s calls are rated with. Deleting one deletes its fees; one still assigned to a customer is refused (409).',
  columns: {
    name: { schema: { type: 'string', minLength: 1, maxLength: 127 }, required: true, filter: 'like', sortable: true },
    currency: { schema: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code; amounts are in 1/10000 of it' }, default: 'EUR', filter: 'eq' },
    description: { schema: DESCRIPTION },
  },
  roles: ADMIN_WRITE,
});

export const billingFees = tableResource({
  name: 'billingfees', entity: 'billing_fee', schemaId: 'BillingFee', table: 'billing_fees',
  description: 'Fees of a billing profile by destination prefix (digits of the callee\'s number; "" = any destination; the longest prefix wins): ' +
    'the price per minute in units (1/10000 of the currency), the first interval and each next interval (s) begun is paid in full (60/60: by the minute, 1/1: by the second).',
  columns: {
    billing_profile_id: { schema: ID, required: true, filter: 'eq' },
    destination: { schema: { type: 'string', pattern: '^[0-9]{0,32}$', description: 'callee number prefix, digits; "" = any destination' }, default: '', filter: 'eq', sortable: true },
    price_per_minute: { schema: UNITS('units (1/10000 of the currency) per minute'), required: true },
    first_interval: { schema: INTERVAL('seconds billed at least (the first interval)'), default: 60 },
    next_interval: { schema: INTERVAL('after the first interval, each begun interval of this many seconds is billed'), default: 60 },
  },
  roles: ADMIN_WRITE,
  defaultOrder: 'destination',
});

export type CustomerBalance = Item & { id: number; cash_balance: number; reserved: number; available: number; currency: string | null; updated_at: string | null };

const ITEM = object(
  {
    id: { ...ID, description: 'the customer id' },
    cash_balance: { type: 'integer', description: 'units (1/10000 of the currency)' },
    reserved: { type: 'integer', description: 'units held by calls in progress (their current quota)' },
    available: { type: 'integer', description: 'cash_balance − reserved: what a new call may reserve' },
    currency: { ...nullable({ type: 'string' }), description: 'the currency of the customer\'s billing profile; null without one' },
    updated_at: nullable(DATE_TIME),
  },
  ['id', 'cash_balance', 'reserved', 'available', 'currency', 'updated_at'],
);
const SET = object({ cash_balance: UNITS('the new balance (units)') }, ['cash_balance']);
const CHANGE = object({ cash_balance: UNITS('the new balance (units)'), add: { type: 'integer', minimum: -MAX_UNITS, maximum: MAX_UNITS, description: 'units added (a top-up; negative: taken off, not below 0)' } }, []);

interface Row { id: number; cash_balance: number | string | null; reserved: number | string | null; currency: string | null; updated_at: Date | null }

function query(c: Ctx) {
  const qb = c.db('customers as c')
    .leftJoin('customer_balances as b', 'b.customer_id', 'c.id')
    .leftJoin('billing_profiles as p', 'p.id', 'c.billing_profile_id')
    .select('c.id', 'b.cash_balance', 'b.reserved', 'p.currency', 'b.updated_at');
  scopeCustomerColumn(c, qb, 'c.id');
  return qb;
}

const toItem = (r: Row): CustomerBalance => {
  const cash = Number(r.cash_balance ?? 0);
  const reserved = Number(r.reserved ?? 0);
  return { id: r.id, cash_balance: cash, reserved, available: cash - reserved, currency: r.currency ?? null, updated_at: iso(r.updated_at) };
};

async function get(c: Ctx, id: number): Promise<CustomerBalance | undefined> {
  const r = (await query(c).where('c.id', id).first()) as Row | undefined;
  return r ? toItem(r) : undefined;
}

/** Set the balance (upsert); the reservation of calls in progress is left as it is. */
async function setBalance(c: Ctx, id: number, cash: number): Promise<CustomerBalance> {
  await c.db('customer_balances').insert({ customer_id: id, cash_balance: cash }).onConflict('customer_id').merge(['cash_balance']);
  return (await get(c, id))!;
}

/**
 * /api/customerbalances/:customer_id. Every visible customer has a balance (0 without a
 * row; the row is written by the first PUT/PATCH). PUT `{cash_balance}` sets it; PATCH takes
 * RFC 6902 (`replace /cash_balance`) or a plain JSON object: `{"cash_balance": n}` sets,
 * `{"add": n}` tops up atomically (`cash_balance = cash_balance + n`, so a charge made by a
 * call meanwhile is not lost). `reserved` belongs to the sbc and is read-only.
 */
export const customerBalances: Resource<CustomerBalance> = {
  name: 'customerbalances',
  entity: 'customer_balance',
  schemaId: 'CustomerBalance',
  description:
    'Prepaid balance of a customer (id = customer id), in units of 1/10000 of its billing profile\'s currency: cash_balance, reserved (held by calls in progress), available. ' +
    'PUT {"cash_balance": n} sets it; PATCH with application/json takes {"cash_balance": n} (set) or {"add": n} (top-up, atomic; negative takes off, not below 0), ' +
    'with application/json-patch+json RFC 6902 on cash_balance.',
  itemSchema: ITEM,
  replaceSchema: SET,
  filters: { customer_id: ID },
  sortable: ['id'],
  roles: { list: ROLES.adminReseller, get: ROLES.adminReseller, update: ROLES.adminReseller },
  list(c, q): Promise<Page<CustomerBalance>> {
    const qb = query(c);
    if (q.filters.customer_id !== undefined) qb.where('c.id', q.filters.customer_id as number);
    return pageOf(qb, q, 'c.id', toItem);
  },
  get: (c, id) => get(c, id as number),
  replace: (c, id, body) => setBalance(c, id as number, body.cash_balance as number),
  patchJson: {
    schema: CHANGE,
    async apply(c, id, body) {
      const has = (k: string) => body[k] !== undefined;
      if (has('cash_balance') === has('add')) throw validationError([{ field: has('add') ? 'add' : 'cash_balance', message: 'give either cash_balance (set) or add (top-up), one of them' }]);
      if (has('cash_balance')) return setBalance(c, id as number, body.cash_balance as number);
      const add = body.add as number;
      await c.db('customer_balances').insert({ customer_id: id, cash_balance: add })
        .onConflict('customer_id').merge({ cash_balance: c.db.raw('cash_balance + ?', [add]) });
      const item = (await get(c, id as number))!;
      // inside the write's transaction: refusing rolls the top-up back
      if (item.cash_balance < 0) throw validationError([{ field: 'add', message: `would leave the balance below 0 (it is ${item.cash_balance - add})` }]);
      return item;
    },
  },
};
