/**
 * /api/subscribers — SIP accounts `username@domain`. The SIP password is stored only as
 * digest HA1 (MD5 and SHA-256, realm = domain); the web password (the subscriber's own API
 * login) as scrypt. Neither is ever returned. Numbers (`primary_number`, `alias_numbers`)
 * are managed here or through /api/numbers.
 */
import { randomUUID } from 'node:crypto';
import { hashPassword, readerFor, normalizeE164, subscriberHa1, type Knex } from '@ngcp/db';
import { ApiError, apiError, validationError } from '../errors.js';
import { DATE_TIME, DOMAIN_NAME, E164, ID, nullable, object, SECRET, SIP_USERNAME, STATUS } from '../http/schemas.js';
import { iso, ROLES, type Ctx, type Item, type ListQuery, type Page, type Resource } from './resource.js';
import { assertCustomerVisible, scopeSubscriberColumn } from './scope.js';
import { applyFilter } from './table-resource.js';

export interface Subscriber extends Item {
  id: number; uuid: string; domain_id: number; domain: string; username: string; customer_id: number | null;
  primary_number: string | null; alias_numbers: string[]; display_name: string | null; external_id: string | null;
  status: string; created_at: string; updated_at: string;
}

const WRITABLE = {
  domain: DOMAIN_NAME,
  username: SIP_USERNAME,
  password: { ...SECRET(6), description: 'SIP password; stored only as digest HA1 (MD5, SHA-256)' },
  webpassword: nullable({ ...SECRET(8), description: "password of the subscriber's own API login username@domain (scrypt)" }),
  customer_id: nullable(ID),
  primary_number: nullable(E164),
  alias_numbers: { type: 'array', items: E164, maxItems: 100, uniqueItems: true, default: [] },
  display_name: nullable({ type: 'string', maxLength: 255 }),
  external_id: nullable({ type: 'string', minLength: 1, maxLength: 255 }),
  status: { ...STATUS, default: 'active' },
};

const ITEM = object(
  {
    id: ID, uuid: { type: 'string', format: 'uuid' }, domain_id: ID, domain: DOMAIN_NAME, username: SIP_USERNAME,
    customer_id: nullable(ID), primary_number: nullable({ type: 'string' }), alias_numbers: { type: 'array', items: { type: 'string' } },
    display_name: nullable({ type: 'string' }), external_id: nullable({ type: 'string' }), status: STATUS,
    created_at: DATE_TIME, updated_at: DATE_TIME,
  },
  ['id', 'uuid', 'domain_id', 'domain', 'username', 'customer_id', 'primary_number', 'alias_numbers', 'display_name', 'external_id', 'status', 'created_at', 'updated_at'],
);

/** What a subscriber may change on itself. */
const SELF_WRITABLE = new Set(['password', 'webpassword', 'display_name']);

function baseQuery(c: Ctx): Knex.QueryBuilder {
  const qb = c.db('subscribers as s')
    .join('domains as d', 'd.id', 's.domain_id')
    .select(
      's.id', 's.uuid', 's.domain_id', 'd.domain', 's.username', 's.customer_id', 's.display_name', 's.external_id', 's.status',
      's.created_at', 's.updated_at',
      c.db.raw('(SELECT n.e164 FROM numbers n WHERE n.subscriber_id = s.id AND n.is_primary = 1) AS primary_number'),
      c.db.raw("(SELECT GROUP_CONCAT(n.e164 ORDER BY n.e164 SEPARATOR ',') FROM numbers n WHERE n.subscriber_id = s.id AND n.is_primary = 0) AS alias_numbers"),
    );
  scopeSubscriberColumn(c, qb, 's.id');
  return qb;
}

function toItem(r: Record<string, unknown>, numbers?: { primary: string | null; aliases: string[] }): Subscriber {
  return {
    id: r.id as number, uuid: r.uuid as string, domain_id: r.domain_id as number, domain: r.domain as string, username: r.username as string,
    customer_id: (r.customer_id as number | null) ?? null,
    primary_number: numbers ? numbers.primary : ((r.primary_number as string | null) ?? null),
    alias_numbers: numbers ? numbers.aliases : r.alias_numbers ? String(r.alias_numbers).split(',') : [],
    display_name: (r.display_name as string | null) ?? null, external_id: (r.external_id as string | null) ?? null,
    status: r.status as string, created_at: iso(r.created_at as Date | string)!, updated_at: iso(r.updated_at as Date | string)!,
  };
}

/**
 * GET by id, the API's hot path: one prepared statement, a row per number (LEFT JOIN), folded
 * here. MariaDB answers this in about half the time of the list query's correlated
 * subqueries (GROUP_CONCAT … ORDER BY needs a temporary table per row).
 */
const BY_ID_SELECT =
  'SELECT s.id, s.uuid, s.domain_id, d.domain, s.username, s.customer_id, s.display_name, s.external_id, s.status, s.created_at, s.updated_at, n.e164, n.is_primary ' +
  'FROM subscribers s JOIN domains d ON d.id = s.domain_id LEFT JOIN numbers n ON n.subscriber_id = s.id WHERE s.id = ?';
const BY_ID_RESELLER = `${BY_ID_SELECT} AND s.customer_id IN (SELECT c.id FROM customers c WHERE c.reseller_id = ?)`;

async function getSubscriber(c: Ctx, id: number): Promise<Subscriber | undefined> {
  const p = c.principal;
  const read = readerFor(c.db, c.services.reader);
  let rows: Record<string, unknown>[];
  if (p.role === 'admin') rows = await read.execute(BY_ID_SELECT, [id]);
  else if (p.role === 'reseller') rows = await read.execute(BY_ID_RESELLER, [id, p.resellerId ?? -1]);
  else if (p.subscriberId === id) rows = await read.execute(BY_ID_SELECT, [id]);
  else return undefined;
  const first = rows[0];
  if (!first) return undefined;
  let primary: string | null = null;
  const aliases: string[] = [];
  for (const r of rows) {
    if (r.e164 == null) continue;
    if (Number(r.is_primary) === 1) primary = r.e164 as string;
    else aliases.push(r.e164 as string);
  }
  aliases.sort();
  return toItem(first, { primary, aliases });
}

/**
 * domain name → id, cached for a few seconds; cleared on every domain change made through
 * this process (the only writer). A stale id of a deleted domain fails on its foreign key.
 */
const domainCache = new Map<string, { id: number; until: number }>();
const DOMAIN_CACHE_MS = 10_000;
export function clearDomainCache(): void {
  domainCache.clear();
}

async function domainId(c: Ctx, domain: string): Promise<number> {
  const name = domain.toLowerCase();
  const hit = domainCache.get(name);
  if (hit && hit.until > Date.now()) return hit.id;
  const row = await c.db('domains').where('domain', name).first('id');
  if (!row) throw validationError([{ field: 'domain', message: 'does not exist' }]);
  if (domainCache.size > 10_000) domainCache.clear();
  domainCache.set(name, { id: row.id as number, until: Date.now() + DOMAIN_CACHE_MS });
  return row.id as number;
}

/** Give a number to a subscriber: a new one, or an unassigned one from the pool; 409 if someone else has it. */
async function assignNumber(c: Ctx, subscriberId: number, e164: string, isPrimary: boolean): Promise<void> {
  const field = isPrimary ? 'primary_number' : 'alias_numbers';
  try {
    await c.db('numbers').insert({ e164, subscriber_id: subscriberId, is_primary: isPrimary });
    return;
  } catch (err) {
    if ((err as { code?: string }).code !== 'ER_DUP_ENTRY') throw err;
  }
  const taken = await c.db('numbers').where({ e164 }).whereNull('subscriber_id').update({ subscriber_id: subscriberId, is_primary: isPrimary });
  if (!taken) throw new ApiError('NGCP_API_CONFLICT', `${field}: ${e164} belongs to another subscriber`, { fields: [{ field, message: `${e164} is already assigned` }] });
}

/** The numbers of a new subscriber (no existing ones to reconcile). */
async function addNumbers(c: Ctx, subscriberId: number, primary: string | null, aliases: string[]): Promise<void> {
  const p = primary ? normalizeE164(primary) : null;
  const a = aliases.map(normalizeE164);
  if (p && a.includes(p)) throw validationError([{ field: 'alias_numbers', message: 'must not contain the primary number' }]);
  if (p) await assignNumber(c, subscriberId, p, true);
  for (const n of a) await assignNumber(c, subscriberId, n, false);
}

/** Make the subscriber's numbers exactly `primary` + `aliases` (unassigned pool numbers are taken over). */
async function syncNumbers(c: Ctx, subscriberId: number, primary: string | null, aliases: string[]): Promise<void> {
  const wanted = new Map<string, boolean>();
  for (const a of aliases) wanted.set(normalizeE164(a), false);
  if (primary) {
    const p = normalizeE164(primary);
    if (wanted.has(p)) throw validationError([{ field: 'alias_numbers', message: 'must not contain the primary number' }]);
    wanted.set(p, true);
  }
  const current: { id: number; e164: string; is_primary: number }[] = await c.db('numbers').where('subscriber_id', subscriberId).select('id', 'e164', 'is_primary');
  const gone = current.filter((n) => !wanted.has(n.e164)).map((n) => n.id);
  if (gone.length) await c.db('numbers').whereIn('id', gone).delete();
  // demote first, so the one-primary-per-subscriber key never sees two
  const demote = current.filter((n) => n.is_primary === 1 && wanted.get(n.e164) === false).map((n) => n.id);
  if (demote.length) await c.db('numbers').whereIn('id', demote).update({ is_primary: false });
  const have = new Map(current.map((n) => [n.e164, n]));
  for (const [e164, isPrimary] of wanted) {
    const existing = have.get(e164);
    if (existing) {
      if ((existing.is_primary === 1) !== isPrimary) await c.db('numbers').where('id', existing.id).update({ is_primary: isPrimary });
      continue;
    }
    await assignNumber(c, subscriberId, e164, isPrimary);
  }
}

async function checkCustomer(c: Ctx, customerId: number | null): Promise<void> {
  if (c.principal.role === 'reseller') {
    if (customerId == null) throw validationError([{ field: 'customer_id', message: 'is required for a reseller' }]);
    await assertCustomerVisible(c, customerId);
  }
}

export const subscribers: Resource<Subscriber> = {
  name: 'subscribers',
  entity: 'subscriber',
  schemaId: 'Subscriber',
  description: 'SIP subscribers. Credentials are write-only (stored as HA1/scrypt); a subscriber sees only itself.',
  itemSchema: ITEM,
  createSchema: object(WRITABLE, ['domain', 'username', 'password']),
  replaceSchema: object(WRITABLE, ['domain', 'username']),
  filters: {
    domain: { type: 'string' },
    username: { type: 'string', description: 'username; * matches anything' },
    customer_id: ID,
    status: STATUS,
    external_id: { type: 'string' },
    number: { ...E164, description: 'subscribers having this number (primary or alias)' },
  },
  sortable: ['id', 'username', 'created_at'],
  roles: { list: ROLES.all, get: ROLES.all, create: ROLES.adminReseller, update: ROLES.all, delete: ROLES.adminReseller },
  notify: true,

  async list(c: Ctx, q: ListQuery): Promise<Page<Subscriber>> {
    const qb = baseQuery(c);
    const f = q.filters;
    if (f.domain !== undefined) qb.where('d.domain', String(f.domain).toLowerCase());
    if (f.username !== undefined) applyFilter(qb, 's.username', 'like', f.username);
    if (f.customer_id !== undefined) qb.where('s.customer_id', f.customer_id as number);
    if (f.status !== undefined) qb.where('s.status', f.status as string);
    if (f.external_id !== undefined) qb.where('s.external_id', f.external_id as string);
    if (f.number !== undefined) {
      qb.whereExists((sub: Knex.QueryBuilder) => {
        sub.select(c.db.raw('1')).from('numbers as fn').whereRaw('fn.subscriber_id = s.id').where('fn.e164', normalizeE164(String(f.number)));
      });
    }
    const [count] = await qb.clone().clearSelect().count({ n: '*' });
    const rows = await qb.orderBy(`s.${q.order_by ?? 'id'}`, q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows);
    return { total: Number(count?.n ?? 0), items: rows.map((r: Record<string, unknown>) => toItem(r)) };
  },

  get: (c, id) => getSubscriber(c, id as number),

  async create(c, body) {
    const customerId = (body.customer_id as number | null | undefined) ?? null;
    await checkCustomer(c, customerId);
    const domain = String(body.domain).toLowerCase();
    const did = await domainId(c, domain);
    const username = body.username as string;
    const row = {
      uuid: randomUUID(), domain_id: did, customer_id: customerId, username,
      ...subscriberHa1(username, domain, body.password as string),
      webpassword_hash: typeof body.webpassword === 'string' ? await hashPassword(body.webpassword) : null,
      display_name: body.display_name ?? null, external_id: body.external_id ?? null, status: body.status ?? 'active',
    };
    const [id] = (await c.db('subscribers').insert(row)) as [number];
    await addNumbers(c, id, (body.primary_number as string | null | undefined) ?? null, (body.alias_numbers as string[] | undefined) ?? []);
    return (await getSubscriber(c, id))!;
  },

  async replace(c, id, body, current) {
    const next = {
      domain: String(body.domain).toLowerCase(), username: body.username as string,
      customer_id: (body.customer_id as number | null | undefined) ?? null,
      primary_number: body.primary_number == null ? null : normalizeE164(body.primary_number as string),
      alias_numbers: ((body.alias_numbers as string[] | undefined) ?? []).map(normalizeE164),
      display_name: (body.display_name as string | null | undefined) ?? null, external_id: (body.external_id as string | null | undefined) ?? null,
      status: (body.status as string | undefined) ?? 'active',
    };
    if (c.principal.role === 'subscriber') {
      const changed = Object.entries(next).filter(([k, v]) => !SELF_WRITABLE.has(k) && JSON.stringify(v) !== JSON.stringify((current as Record<string, unknown>)[k]));
      if (changed.length) throw apiError('NGCP_API_FORBIDDEN', `a subscriber may not change ${changed.map(([k]) => k).join(', ')}`);
    }
    if (next.customer_id !== current.customer_id || c.principal.role === 'reseller') await checkCustomer(c, next.customer_id);
    const did = next.domain === current.domain ? current.domain_id : await domainId(c, next.domain);
    const update: Record<string, unknown> = {
      domain_id: did, username: next.username, customer_id: next.customer_id, display_name: next.display_name,
      external_id: next.external_id, status: next.status,
    };
    const realmChanged = next.domain !== current.domain || next.username !== current.username;
    if (typeof body.password === 'string') Object.assign(update, subscriberHa1(next.username, next.domain, body.password));
    else if (realmChanged) throw validationError([{ field: 'password', message: 'is required when username or domain changes (only HA1 is stored)' }]);
    if (body.webpassword === null) update.webpassword_hash = null;
    else if (typeof body.webpassword === 'string') update.webpassword_hash = await hashPassword(body.webpassword);
    await c.db('subscribers').where('id', id).update(update);
    await syncNumbers(c, id as number, next.primary_number, next.alias_numbers);
    return (await getSubscriber(c, id as number))!;
  },

  async remove(c, id) {
    await c.db('subscribers').where('id', id).delete();
  },

  afterWrite(services, op, item) {
    // web password, status and deletion change who may log in
    if (op !== 'create') services.auth.invalidateSubscriber(item.id);
  },
};
