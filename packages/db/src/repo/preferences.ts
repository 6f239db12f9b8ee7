/**
 * Typed preference access. Values are strings in the database; `decodeValue` turns them
 * into boolean/number/string by the definition, `encodeValue` the reverse (with checks).
 */
import type { Knex } from 'knex';
import type { PreferenceDefRow, PreferenceLevel, PreferenceType } from '../rows.js';

export type PreferenceValue = boolean | number | string;
export type PreferenceMap = Record<string, PreferenceValue | PreferenceValue[]>;

export interface PreferenceDef {
  id: number;
  attribute: string;
  description: string | null;
  dataType: PreferenceType;
  enumValues: string[] | null;
  /** 1 = single value, 0 = list */
  maxOccur: number;
  levels: PreferenceLevel[];
  refTable: string | null;
}

/** Value table and owner column of each level. */
export const PREFERENCE_TABLES: Readonly<Record<PreferenceLevel, { table: string; owner: string; flag: keyof PreferenceDefRow }>> = Object.freeze({
  domain: { table: 'domain_preferences', owner: 'domain_id', flag: 'dom_pref' },
  customer: { table: 'customer_preferences', owner: 'customer_id', flag: 'cust_pref' },
  subscriber: { table: 'subscriber_preferences', owner: 'subscriber_id', flag: 'sub_pref' },
  peer: { table: 'peer_preferences', owner: 'peering_server_id', flag: 'peer_pref' },
});

export function toPreferenceDef(r: PreferenceDefRow): PreferenceDef {
  const levels: PreferenceLevel[] = [];
  if (r.dom_pref) levels.push('domain');
  if (r.cust_pref) levels.push('customer');
  if (r.sub_pref) levels.push('subscriber');
  if (r.peer_pref) levels.push('peer');
  return {
    id: r.id, attribute: r.attribute, description: r.description, dataType: r.data_type,
    enumValues: r.enum_values ? (JSON.parse(r.enum_values) as string[]) : null,
    maxOccur: r.max_occur, levels, refTable: r.ref_table,
  };
}

export async function loadPreferenceDefs(db: Knex): Promise<PreferenceDef[]> {
  const rows: PreferenceDefRow[] = await db('preference_defs').orderBy('attribute');
  return rows.map(toPreferenceDef);
}

export function decodeValue(def: PreferenceDef, raw: string): PreferenceValue {
  switch (def.dataType) {
    case 'boolean': return raw === '1' || raw === 'true';
    case 'int': return Number(raw);
    case 'string':
    case 'enum': return raw;
  }
}

/** The stored string for a value, or an error message if it does not fit the definition. */
export function encodeValue(def: PreferenceDef, v: unknown): { ok: true; value: string } | { ok: false; error: string } {
  switch (def.dataType) {
    case 'boolean':
      return typeof v === 'boolean' ? { ok: true, value: v ? '1' : '0' } : { ok: false, error: 'must be boolean' };
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) ? { ok: true, value: String(v) } : { ok: false, error: 'must be integer' };
    case 'string':
      if (typeof v !== 'string') return { ok: false, error: 'must be string' };
      return v.length <= 255 ? { ok: true, value: v } : { ok: false, error: 'must NOT have more than 255 characters' };
    case 'enum':
      return typeof v === 'string' && (def.enumValues ?? []).includes(v)
        ? { ok: true, value: v }
        : { ok: false, error: `must be one of ${(def.enumValues ?? []).join(', ')}` };
  }
}

/** The preferences set at one level for one owner (domain id, customer id, subscriber id, peering server id). */
export async function getPreferences(db: Knex, level: PreferenceLevel, ownerId: number, defs?: PreferenceDef[]): Promise<PreferenceMap> {
  const { table, owner } = PREFERENCE_TABLES[level];
  const all = defs ?? (await loadPreferenceDefs(db));
  const byId = new Map(all.map((d) => [d.id, d]));
  const rows: { attribute_id: number; value: string }[] = await db(table).where(owner, ownerId).orderBy('id').select('attribute_id', 'value');
  const out: PreferenceMap = {};
  for (const r of rows) {
    const def = byId.get(r.attribute_id);
    if (!def) continue;
    const v = decodeValue(def, r.value);
    if (def.maxOccur === 1) out[def.attribute] = v;
    else ((out[def.attribute] ??= []) as PreferenceValue[]).push(v);
  }
  return out;
}

/**
 * What applies to a subscriber: domain preferences, overridden by the customer's, overridden
 * by the subscriber's own (per attribute).
 */
export async function getEffectivePreferences(db: Knex, subscriberId: number): Promise<PreferenceMap | undefined> {
  const sub = await db('subscribers').where('id', subscriberId).first('domain_id', 'customer_id');
  if (!sub) return undefined;
  const defs = await loadPreferenceDefs(db);
  const [dom, cust, own] = await Promise.all([
    getPreferences(db, 'domain', sub.domain_id, defs),
    sub.customer_id != null ? getPreferences(db, 'customer', sub.customer_id, defs) : Promise.resolve({}),
    getPreferences(db, 'subscriber', subscriberId, defs),
  ]);
  return { ...dom, ...cust, ...own };
}
