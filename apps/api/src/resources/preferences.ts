/**
 * Preferences as one JSON document per owner: `/api/subscriberpreferences/:subscriber_id`,
 * `/api/domainpreferences/:domain_id`, `/api/customerpreferences/:customer_id`,
 * `/api/peeringserverpreferences/:peering_server_id` → `{ "id": 12, "ncos_id": 3,
 * "allowed_ips": ["10.0.0.0/8"], … }`. What may appear is defined by /api/preferencedefs
 * (type, level, single value or list, referenced table); GET returns the attributes set,
 * PUT replaces them all, PATCH edits the document (RFC 6902).
 */
import {
  decodeValue, encodeValue, loadPreferenceDefs, PREFERENCE_TABLES, toPreferenceDef,
  type Knex, type PreferenceDef, type PreferenceLevel, type PreferenceMap, type PreferenceValue,
} from '@ngcp/db';
import { apiError, validationError, type FieldError } from '../errors.js';
import { ID, nullable, object } from '../http/schemas.js';
import { ROLES, type Ctx, type Item, type Page, type Resource } from './resource.js';
import type { Role } from '../auth/principal.js';
import { scopeCustomerColumn, scopeSubscriberColumn } from './scope.js';

export type PreferenceDoc = Item & { id: number } & PreferenceMap;

const SCALAR = { type: ['boolean', 'integer', 'string'] };
const VALUE = { anyOf: [SCALAR, { type: 'array', items: SCALAR, maxItems: 100 }, { type: 'null' }] };

const DOC_SCHEMA = {
  type: 'object',
  required: ['id'],
  description: 'id = the owner; every other property is a preference attribute (see /api/preferencedefs)',
  properties: { id: ID },
  additionalProperties: VALUE,
};
const BODY_SCHEMA = {
  type: 'object',
  description: 'attribute → value (a list for max_occur 0); null or absent = not set',
  maxProperties: 200,
  additionalProperties: VALUE,
};

/** Owner table + visibility per level. */
const OWNERS: Record<PreferenceLevel, { table: string; scope(c: Ctx, qb: Knex.QueryBuilder): void }> = {
  subscriber: { table: 'subscribers', scope: (c, qb) => scopeSubscriberColumn(c, qb, 'subscribers.id') },
  domain: { table: 'domains', scope: (c, qb) => { if (c.principal.role === 'subscriber') qb.whereRaw('1 = 0'); } },
  customer: { table: 'customers', scope: (c, qb) => scopeCustomerColumn(c, qb, 'customers.id') },
  peer: { table: 'peering_servers', scope: (c, qb) => { if (c.principal.role !== 'admin') qb.whereRaw('1 = 0'); } },
};

async function ownerVisible(c: Ctx, level: PreferenceLevel, id: number): Promise<boolean> {
  const o = OWNERS[level];
  const qb = c.db(o.table).where(`${o.table}.id`, id).first(`${o.table}.id`);
  o.scope(c, qb);
  return (await qb) !== undefined;
}

async function readDocs(c: Ctx, level: PreferenceLevel, ids: number[], defs: PreferenceDef[]): Promise<Map<number, PreferenceDoc>> {
  const { table, owner } = PREFERENCE_TABLES[level];
  const byId = new Map(defs.map((d) => [d.id, d]));
  const docs = new Map<number, PreferenceDoc>(ids.map((id) => [id, { id } as PreferenceDoc]));
  if (ids.length === 0) return docs;
  const rows: { owner: number; attribute_id: number; value: string }[] = await c.db(table).whereIn(owner, ids).orderBy('id').select(`${owner} as owner`, 'attribute_id', 'value');
  for (const r of rows) {
    const def = byId.get(r.attribute_id);
    const doc = docs.get(r.owner);
    if (!def || !doc) continue;
    const v = decodeValue(def, r.value);
    if (def.maxOccur === 1) doc[def.attribute] = v;
    else ((doc[def.attribute] ??= []) as PreferenceValue[]).push(v);
  }
  return docs;
}

/** Check a document against the definitions; the rows to store, or 422 naming every bad attribute. */
async function encodeDoc(c: Ctx, level: PreferenceLevel, body: Record<string, unknown>, defs: PreferenceDef[]): Promise<{ attribute_id: number; value: string }[]> {
  const byName = new Map(defs.map((d) => [d.attribute, d]));
  const errors: FieldError[] = [];
  const out: { attribute_id: number; value: string }[] = [];
  const refs: { def: PreferenceDef; ids: number[] }[] = [];
  for (const [attr, raw] of Object.entries(body)) {
    if (attr === 'id' || raw === null || raw === undefined) continue;
    const def = byName.get(attr);
    if (!def) {
      errors.push({ field: attr, message: 'is not a known preference' });
      continue;
    }
    if (!def.levels.includes(level)) {
      errors.push({ field: attr, message: `cannot be set at ${level} level` });
      continue;
    }
    const values = def.maxOccur === 1 ? [raw] : Array.isArray(raw) ? raw : null;
    if (!values) {
      errors.push({ field: attr, message: 'must be a list' });
      continue;
    }
    if (def.maxOccur === 1 && Array.isArray(raw)) {
      errors.push({ field: attr, message: 'must be a single value' });
      continue;
    }
    values.forEach((v, i) => {
      const enc = encodeValue(def, v);
      if (enc.ok) out.push({ attribute_id: def.id, value: enc.value });
      else errors.push({ field: def.maxOccur === 1 ? attr : `${attr}/${i}`, message: enc.error });
    });
    if (def.refTable) refs.push({ def, ids: values.filter((v): v is number => typeof v === 'number') });
  }
  for (const { def, ids } of refs) {
    if (ids.length === 0) continue;
    const found: { id: number }[] = await c.db(def.refTable!).whereIn('id', ids).select('id');
    const have = new Set(found.map((f) => f.id));
    for (const id of ids) if (!have.has(id)) errors.push({ field: def.attribute, message: `${def.refTable} ${id} does not exist` });
  }
  if (errors.length) throw validationError(errors);
  return out;
}

export function preferenceResource(level: PreferenceLevel, name: string, schemaId: string, roles: { read: readonly Role[]; write: readonly Role[] }): Resource<PreferenceDoc> {
  const { table, owner } = PREFERENCE_TABLES[level];
  const o = OWNERS[level];
  const get = async (c: Ctx, id: number): Promise<PreferenceDoc | undefined> => {
    if (!(await ownerVisible(c, level, id))) return undefined;
    const defs = await loadPreferenceDefs(c.db);
    return (await readDocs(c, level, [id], defs)).get(id);
  };
  return {
    name,
    entity: `${level}_preferences`,
    schemaId,
    description: `Preferences of one ${level} as a document (id = the ${level}'s id). Allowed attributes: /api/preferencedefs with level ${level}.`,
    itemSchema: DOC_SCHEMA,
    replaceSchema: BODY_SCHEMA,
    roles: { list: roles.read, get: roles.read, update: roles.write },
    notify: true,
    async list(c, q): Promise<Page<PreferenceDoc>> {
      const qb = c.db(o.table);
      o.scope(c, qb);
      const [count] = await qb.clone().count({ n: '*' });
      const ids: number[] = (await qb.select(`${o.table}.id`).orderBy(`${o.table}.id`, q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows)).map((r: { id: number }) => r.id);
      const docs = await readDocs(c, level, ids, await loadPreferenceDefs(c.db));
      return { total: Number(count?.n ?? 0), items: ids.map((id) => docs.get(id)!) };
    },
    get: (c, id) => get(c, id as number),
    async replace(c, id, body) {
      const defs = await loadPreferenceDefs(c.db);
      const rows = await encodeDoc(c, level, body, defs);
      await c.db(table).where(owner, id).delete();
      if (rows.length) await c.db(table).insert(rows.map((r) => ({ ...r, [owner]: id })));
      return (await readDocs(c, level, [id as number], defs)).get(id as number)!;
    },
  };
}

export const subscriberPreferences = preferenceResource('subscriber', 'subscriberpreferences', 'SubscriberPreferences', { read: ROLES.all, write: ROLES.adminReseller });
export const domainPreferences = preferenceResource('domain', 'domainpreferences', 'DomainPreferences', { read: ROLES.adminReseller, write: ROLES.admin });
export const customerPreferences = preferenceResource('customer', 'customerpreferences', 'CustomerPreferences', { read: ROLES.adminReseller, write: ROLES.adminReseller });
export const peeringServerPreferences = preferenceResource('peer', 'peeringserverpreferences', 'PeeringServerPreferences', { read: ROLES.admin, write: ROLES.admin });

/** /api/preferencedefs — the self-description of preferences. */
interface PreferenceDefItem extends Item {
  id: number; attribute: string; description: string | null; data_type: string; enum_values: string[] | null;
  max_occur: number; levels: PreferenceLevel[]; ref_table: string | null;
}

const LEVELS = ['domain', 'customer', 'subscriber', 'peer'] as const;
const REF_TABLES = ['ncos_levels', 'rewrite_rule_sets', 'peering_groups', 'customers', 'domains'];
const DEF_BODY = object(
  {
    attribute: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,63}$' },
    description: nullable({ type: 'string', maxLength: 255 }),
    data_type: { type: 'string', enum: ['boolean', 'int', 'string', 'enum'] },
    enum_values: nullable({ type: 'array', items: { type: 'string', minLength: 1, maxLength: 255 }, minItems: 1, uniqueItems: true }),
    max_occur: { type: 'integer', enum: [0, 1], default: 1, description: '1 = single value, 0 = list' },
    levels: { type: 'array', items: { type: 'string', enum: [...LEVELS] }, minItems: 1, uniqueItems: true },
    ref_table: nullable({ type: 'string', enum: REF_TABLES }),
  },
  ['attribute', 'data_type', 'levels'],
);
const DEF_ITEM = object({ id: ID, ...(DEF_BODY.properties as Record<string, Record<string, unknown>>), max_occur: { type: 'integer' } }, [
  'id', 'attribute', 'description', 'data_type', 'enum_values', 'max_occur', 'levels', 'ref_table',
]);

function defToItem(d: PreferenceDef): PreferenceDefItem {
  return { id: d.id, attribute: d.attribute, description: d.description, data_type: d.dataType, enum_values: d.enumValues, max_occur: d.maxOccur, levels: d.levels, ref_table: d.refTable };
}
function defRow(body: Record<string, unknown>): Record<string, unknown> {
  const levels = body.levels as string[];
  if (body.data_type === 'enum' && !Array.isArray(body.enum_values)) throw validationError([{ field: 'enum_values', message: 'is required for data_type enum' }]);
  if (body.data_type !== 'enum' && body.enum_values != null) throw validationError([{ field: 'enum_values', message: 'only for data_type enum' }]);
  if (body.ref_table != null && body.data_type !== 'int') throw validationError([{ field: 'ref_table', message: 'only for data_type int' }]);
  return {
    attribute: body.attribute, description: body.description ?? null, data_type: body.data_type,
    enum_values: body.enum_values ? JSON.stringify(body.enum_values) : null, max_occur: body.max_occur ?? 1,
    dom_pref: levels.includes('domain'), cust_pref: levels.includes('customer'), sub_pref: levels.includes('subscriber'), peer_pref: levels.includes('peer'),
    ref_table: body.ref_table ?? null,
  };
}

async function getDef(c: Ctx, id: number): Promise<PreferenceDefItem | undefined> {
  const row = await c.db('preference_defs').where('id', id).first();
  return row ? defToItem(toPreferenceDef(row)) : undefined;
}

export const preferenceDefs: Resource<PreferenceDefItem> = {
  name: 'preferencedefs',
  entity: 'preference_def',
  schemaId: 'PreferenceDef',
  description: 'What each preference is: its type, whether it is a list, at which levels it may be set, and which table an int value refers to.',
  itemSchema: DEF_ITEM,
  createSchema: DEF_BODY,
  replaceSchema: DEF_BODY,
  filters: { attribute: { type: 'string', description: 'attribute; * matches anything' }, level: { type: 'string', enum: [...LEVELS] } },
  sortable: ['id', 'attribute'],
  roles: { list: ROLES.all, get: ROLES.all, create: ROLES.admin, update: ROLES.admin, delete: ROLES.admin },
  notify: true,
  async list(c, q) {
    const qb = c.db('preference_defs');
    if (q.filters.attribute !== undefined) qb.where('attribute', 'like', String(q.filters.attribute).replace(/[\\%_]/g, (x) => `\\${x}`).replace(/\*/g, '%'));
    if (q.filters.level !== undefined) qb.where(PREFERENCE_TABLES[q.filters.level as PreferenceLevel].flag, true);
    const [count] = await qb.clone().count({ n: '*' });
    const rows = await qb.orderBy(q.order_by ?? 'attribute', q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows);
    return { total: Number(count?.n ?? 0), items: rows.map((r: Parameters<typeof toPreferenceDef>[0]) => defToItem(toPreferenceDef(r))) };
  },
  get: (c, id) => getDef(c, id as number),
  async create(c, body) {
    const [id] = (await c.db('preference_defs').insert(defRow(body))) as [number];
    return (await getDef(c, id))!;
  },
  async replace(c, id, body, current) {
    const row = defRow(body);
    // values already stored must stay valid: no type change and no dropped level while values exist
    const typeChanged = row.data_type !== current.data_type || JSON.stringify(body.enum_values ?? null) !== JSON.stringify(current.enum_values)
      || row.max_occur !== current.max_occur || (row.ref_table ?? null) !== current.ref_table;
    for (const level of LEVELS) {
      const dropped = current.levels.includes(level) && !(body.levels as string[]).includes(level);
      if (!typeChanged && !dropped) continue;
      const { table } = PREFERENCE_TABLES[level];
      if (await c.db(table).where('attribute_id', id).first('id')) {
        throw apiError('NGCP_API_IN_USE', `${current.attribute} has values at ${level} level; remove them before changing its ${dropped ? 'levels' : 'type'}`);
      }
    }
    await c.db('preference_defs').where('id', id).update(row);
    return (await getDef(c, id as number))!;
  },
  async remove(c, id) {
    await c.db('preference_defs').where('id', id).delete();
  },
};

/** 409 while a preference (at any level) still points at `refTable` row `id` (values are strings, so no foreign key does this). */
export async function assertNotReferenced(c: Ctx, refTable: string, id: number): Promise<void> {
  const defs: { id: number; attribute: string }[] = await c.db('preference_defs').where('ref_table', refTable).select('id', 'attribute');
  if (!defs.length) return;
  for (const { table } of Object.values(PREFERENCE_TABLES)) {
    const hit = await c.db(table).whereIn('attribute_id', defs.map((d) => d.id)).where('value', String(id)).first('attribute_id');
    if (hit) {
      const attr = defs.find((d) => d.id === hit.attribute_id)?.attribute;
      throw apiError('NGCP_API_IN_USE', `still used by ${table}.${attr}`);
    }
  }
}
