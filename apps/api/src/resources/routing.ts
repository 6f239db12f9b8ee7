/** Rewrite rule sets and rules, NCOS levels (with their patterns), peering groups, servers and rules. */
import { parsePeerRegistration, redisKeys } from '@ngcp/db';
import { apiError, validationError, type FieldError } from '../errors.js';
import { DATE_TIME, ID, nullable, object, REGEX } from '../http/schemas.js';
import { iso, ROLES, type Ctx, type Item, type Resource } from './resource.js';
import { assertNotReferenced } from './preferences.js';
import { tableResource } from './table-resource.js';

/** 422 unless every given pattern compiles as an ECMAScript regex. */
function checkRegexes(data: Record<string, unknown>, fields: string[]): void {
  const errors: FieldError[] = [];
  for (const f of fields) {
    const v = data[f];
    if (typeof v !== 'string') continue;
    try {
      new RegExp(v);
    } catch (err) {
      errors.push({ field: f, message: `is not a valid regular expression: ${(err as Error).message}` });
    }
  }
  if (errors.length) throw validationError(errors);
}

export const DESCRIPTION = nullable({ type: 'string', maxLength: 255 });
/** admin writes, resellers read (provisioning shared by all customers) */
export const ADMIN_WRITE = { list: ROLES.adminReseller, get: ROLES.adminReseller, create: ROLES.admin, update: ROLES.admin, delete: ROLES.admin } as const;
const ADMIN_ONLY = { list: ROLES.admin, get: ROLES.admin, create: ROLES.admin, update: ROLES.admin, delete: ROLES.admin } as const;

export const rewriteRuleSets = tableResource({
  name: 'rewriterulesets', entity: 'rewrite_rule_set', schemaId: 'RewriteRuleSet', table: 'rewrite_rule_sets',
  description: 'Named sets of rewrite rules; assigned by the preference rewrite_rule_set_id (domain, subscriber, peer). Deleting a set deletes its rules.',
  columns: {
    name: { schema: { type: 'string', minLength: 1, maxLength: 127 }, required: true, filter: 'like', sortable: true },
    description: { schema: DESCRIPTION },
  },
  roles: ADMIN_WRITE,
  notify: true,
  beforeDelete: (c, cur) => assertNotReferenced(c, 'rewrite_rule_sets', cur.id as number),
});

export const rewriteRules = tableResource({
  name: 'rewriterules', entity: 'rewrite_rule', schemaId: 'RewriteRule', table: 'rewrite_rules',
  description: 'Ordered regex match/replace on caller or callee, inbound or outbound. ECMAScript regex; $1… in the replacement. Lower priority runs first.',
  columns: {
    set_id: { schema: ID, required: true, filter: 'eq' },
    direction: { schema: { type: 'string', enum: ['in', 'out'] }, required: true, filter: 'eq' },
    field: { schema: { type: 'string', enum: ['caller', 'callee'] }, required: true, filter: 'eq' },
    match_pattern: { schema: REGEX, required: true },
    replace_pattern: { schema: { type: 'string', maxLength: 255 }, required: true },
    description: { schema: DESCRIPTION },
    priority: { schema: { type: 'integer', minimum: 0, maximum: 100000 }, default: 50, sortable: true },
    enabled: { schema: { type: 'boolean' }, bool: true, default: true, filter: 'eq' },
  },
  roles: ADMIN_WRITE,
  notify: true,
  defaultOrder: 'priority',
  prepare: (_c, data) => checkRegexes(data, ['match_pattern']),
});

export const peeringGroups = tableResource({
  name: 'peeringgroups', entity: 'peering_group', schemaId: 'PeeringGroup', table: 'peering_groups',
  description: 'Peering groups (carriers). Priority 1 is tried first among groups whose rules match equally long.',
  columns: {
    name: { schema: { type: 'string', minLength: 1, maxLength: 127 }, required: true, filter: 'like', sortable: true },
    priority: { schema: { type: 'integer', minimum: 1, maximum: 9 }, default: 1, filter: 'eq', sortable: true },
    description: { schema: DESCRIPTION },
  },
  roles: ADMIN_ONLY,
  notify: true,
  beforeDelete: (c, cur) => assertNotReferenced(c, 'peering_groups', cur.id as number),
});

const HOST = { type: 'string', minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9._:\\[\\]-]+$', description: 'IP address or host name' };

/** A digest parameter sent in a quoted string: printable, no control characters (no header injection). */
const DIGEST_TEXT = (max: number) => ({ type: 'string', minLength: 1, maxLength: max, pattern: '^[^\\x00-\\x1f\\x7f]+$' });

/**
 * The credentials go together: a password needs a username and the reverse (on replace the stored
 * password counts: it is write-only, absent = unchanged); no username = no authentication, so the
 * password and realm go with it.
 */
async function checkPeerAuth(c: Ctx, data: Record<string, unknown>, current?: Item): Promise<void> {
  const user = data.auth_username ?? null;
  if (user === null) {
    if (typeof data.auth_password === 'string') throw validationError([{ field: 'auth_username', message: 'is required with auth_password' }]);
    if (data.auth_realm !== null && data.auth_realm !== undefined) throw validationError([{ field: 'auth_username', message: 'is required with auth_realm' }]);
    data.auth_password = null;
    return;
  }
  if (typeof data.auth_password === 'string') return;
  const stored = current && data.auth_password === undefined
    ? ((await c.db('peering_servers').where('id', current.id).first('auth_password')) as { auth_password: string | null } | undefined)?.auth_password ?? null
    : null;
  if (stored === null) throw validationError([{ field: 'auth_password', message: 'is required with auth_username' }]);
}

/** The user part of a SIP URI (RFC 3261 §25.1 `user`, unescaped characters and %-escapes). */
const SIP_USER = { type: 'string', minLength: 1, maxLength: 127, pattern: "^[A-Za-z0-9\\-_.!~*'()&=+$,;?/%]+$" };

/** Registering needs credentials: `register_enable` without a username (and so a password) is refused. */
function checkPeerRegister(data: Record<string, unknown>): void {
  if (data.register_enable === true && (data.auth_username ?? null) === null) {
    throw validationError([{ field: 'register_enable', message: 'needs credentials: auth_username and auth_password (the peer challenges the REGISTER)' }]);
  }
}

const peeringServerTable = tableResource({
  name: 'peeringservers', entity: 'peering_server', schemaId: 'PeeringServer', table: 'peering_servers',
  description: 'SIP servers of a peering group: weight for load sharing, probe = OPTIONS pings, enabled; auth_username/auth_password/auth_realm: the digest credentials the proxy answers a 401/407 of the server with (the password is write-only: never returned; absent on PUT = unchanged); register_*: outbound registration of the platform at the server (needs the credentials), its live state read-only in `registration`.',
  columns: {
    group_id: { schema: ID, required: true, filter: 'eq' },
    name: { schema: { type: 'string', minLength: 1, maxLength: 127 }, required: true, filter: 'like', sortable: true },
    host: { schema: HOST, required: true, filter: 'eq' },
    port: { schema: { type: 'integer', minimum: 1, maximum: 65535 }, default: 5060 },
    transport: { schema: { type: 'string', enum: ['udp', 'tcp', 'tls'] }, default: 'udp', filter: 'eq' },
    weight: { schema: { type: 'integer', minimum: 0, maximum: 1000 }, default: 1 },
    probe: { schema: { type: 'boolean' }, bool: true, default: false },
    enabled: { schema: { type: 'boolean' }, bool: true, default: true, filter: 'eq' },
    auth_username: { schema: { ...nullable(DIGEST_TEXT(127)), description: 'digest username towards the server; null: its challenges are not answered' } },
    auth_password: { schema: { ...nullable({ ...DIGEST_TEXT(255), writeOnly: true }), description: 'digest password (write-only; absent on PUT = unchanged; null with auth_username null)' }, writeOnly: true, required: false },
    auth_realm: { schema: { ...nullable(DIGEST_TEXT(255)), description: 'answer only challenges of this realm; null: any realm' } },
    register_enable: { schema: { type: 'boolean', description: 'REGISTER the platform at this server (needs auth_username/auth_password); the active node\'s proxy keeps the binding fresh' }, bool: true, default: false, filter: 'eq' },
    register_expires_s: { schema: { type: 'integer', minimum: 30, maximum: 86400, description: 'the Expires asked for (s); the server may grant less' }, default: 600 },
    register_user: { schema: { ...nullable(SIP_USER), description: 'the AoR\'s user; null: auth_username' } },
    register_domain: { schema: { ...nullable(HOST), description: 'the AoR\'s domain and the REGISTER\'s Request-URI; null: auth_realm, else host' } },
    register_contact_user: { schema: { ...nullable(SIP_USER), description: 'the user part of the registered Contact (what the peer calls); null: the AoR\'s user' } },
  },
  roles: ADMIN_ONLY,
  notify: true,
  prepare: async (c, data, current) => {
    await checkPeerAuth(c, data, current);
    checkPeerRegister(data);
  },
});

const REGISTRATION = object({
  state: { type: 'string', enum: ['registered', 'failed', 'unregistered', 'disabled'], description: 'disabled: register_enable or enabled is off; unregistered: no binding (yet)' },
  expires_at: { ...nullable(DATE_TIME), description: 'when the granted binding runs out' },
  last_code: { ...nullable({ type: 'integer' }), description: 'status of the last answer to a REGISTER (408: no answer)' },
  last_reason: nullable({ type: 'string' }),
  last_attempt_at: nullable(DATE_TIME),
}, ['state', 'expires_at', 'last_code', 'last_reason', 'last_attempt_at'], { readOnly: true, description: 'live state of the outbound registration (Redis peerreg:<id>, written by the active node\'s proxy); read-only' });

/** Each server's `registration`, read from Redis `peerreg:<id>`; Redis away → 503 (as the other live resources). */
async function withRegistration(c: Ctx, items: Item[]): Promise<Item[]> {
  if (items.length === 0) return items;
  let values: Array<string | null>;
  try {
    values = await c.services.redis.mget(items.map((i) => redisKeys.peerReg(Number(i.id))));
  } catch (err) {
    throw apiError('NGCP_API_UNAVAILABLE', 'Redis is unavailable', { cause: err });
  }
  return items.map((item, i) => {
    const r = parsePeerRegistration(values[i] ?? null);
    const on = item.register_enable === true && item.enabled === true;
    const ms = (v: number | null | undefined): string | null => (typeof v === 'number' ? new Date(v).toISOString() : null);
    return {
      ...item,
      registration: {
        state: !on ? 'disabled' : r?.state === 'registered' || r?.state === 'failed' ? r.state : 'unregistered',
        expires_at: on && r?.state === 'registered' ? ms(r.expires_at) : null,
        last_code: r?.last_code ?? null, last_reason: r?.last_reason ?? null, last_attempt_at: ms(r?.last_attempt_at),
      },
    };
  });
}

export const peeringServers: Resource = {
  ...peeringServerTable,
  itemSchema: { ...peeringServerTable.itemSchema, properties: { ...(peeringServerTable.itemSchema.properties as Record<string, unknown>), registration: REGISTRATION }, required: [...(peeringServerTable.itemSchema.required as string[]), 'registration'] },
  list: async (c, q) => {
    const page = await peeringServerTable.list!(c, q);
    return { ...page, items: await withRegistration(c, page.items) };
  },
  get: async (c, id) => {
    const item = await peeringServerTable.get!(c, id);
    return item ? (await withRegistration(c, [item]))[0] : undefined;
  },
  create: async (c, body) => (await withRegistration(c, [await peeringServerTable.create!(c, body)]))[0]!,
  replace: async (c, id, body, current) => (await withRegistration(c, [await peeringServerTable.replace!(c, id, body, current)]))[0]!,
  // the journal keeps what was provisioned, not the live state
  journalContent: (item) => {
    const { registration: _live, ...rest } = item;
    return rest;
  },
};

export const peeringRules = tableResource({
  name: 'peeringrules', entity: 'peering_rule', schemaId: 'PeeringRule', table: 'peering_rules',
  description: 'Outbound rules: a call goes to the group when the callee starts with callee_prefix and caller/callee match the optional regexes; the longest prefix wins.',
  columns: {
    group_id: { schema: ID, required: true, filter: 'eq' },
    callee_prefix: { schema: { type: 'string', maxLength: 64, pattern: '^[0-9+*#]*$' }, default: '', filter: 'eq', sortable: true },
    caller_pattern: { schema: nullable(REGEX) },
    callee_pattern: { schema: nullable(REGEX) },
    description: { schema: DESCRIPTION },
    enabled: { schema: { type: 'boolean' }, bool: true, default: true, filter: 'eq' },
  },
  roles: ADMIN_ONLY,
  notify: true,
  prepare: (_c, data) => checkRegexes(data, ['caller_pattern', 'callee_pattern']),
});

/* ---- NCOS levels: a level plus its prefix patterns, as one object ---------------------- */

interface NcosPattern { prefix: string; action: 'allow' | 'deny'; description: string | null }
export interface NcosLevel extends Item {
  id: number; level: string; description: string | null; default_action: 'allow' | 'deny'; patterns: NcosPattern[]; created_at: string; updated_at: string;
}

const PATTERN = object(
  { prefix: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[0-9+*#]+$' }, action: { type: 'string', enum: ['allow', 'deny'] }, description: DESCRIPTION },
  ['prefix', 'action'],
);
const NCOS_BODY = object(
  {
    level: { type: 'string', minLength: 1, maxLength: 127 },
    description: DESCRIPTION,
    default_action: { type: 'string', enum: ['allow', 'deny'], default: 'allow', description: 'when no pattern matches' },
    patterns: { type: 'array', items: PATTERN, maxItems: 1000, default: [], description: 'the longest matching prefix decides' },
  },
  ['level'],
);
const NCOS_ITEM = object(
  { id: ID, ...(NCOS_BODY.properties as Record<string, Record<string, unknown>>), created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' } },
  ['id', 'level', 'description', 'default_action', 'patterns', 'created_at', 'updated_at'],
);

async function withPatterns(c: Ctx, rows: Record<string, unknown>[]): Promise<NcosLevel[]> {
  const ids = rows.map((r) => r.id as number);
  const pats: { level_id: number; prefix: string; action: 'allow' | 'deny'; description: string | null }[] = ids.length
    ? await c.db('ncos_patterns').whereIn('level_id', ids).orderBy(['level_id', 'prefix'])
    : [];
  return rows.map((r) => ({
    id: r.id as number, level: r.level as string, description: (r.description as string | null) ?? null, default_action: r.default_action as 'allow' | 'deny',
    patterns: pats.filter((p) => p.level_id === r.id).map((p) => ({ prefix: p.prefix, action: p.action, description: p.description })),
    created_at: iso(r.created_at as Date)!, updated_at: iso(r.updated_at as Date)!,
  }));
}

async function getLevel(c: Ctx, id: number): Promise<NcosLevel | undefined> {
  const row = await c.db('ncos_levels').where('id', id).first();
  return row ? (await withPatterns(c, [row]))[0] : undefined;
}

async function writeLevel(c: Ctx, id: number | undefined, body: Record<string, unknown>): Promise<number> {
  const patterns = (body.patterns as NcosPattern[] | undefined) ?? [];
  const seen = new Set<string>();
  const dups: FieldError[] = [];
  patterns.forEach((p, i) => {
    if (seen.has(p.prefix)) dups.push({ field: `patterns/${i}/prefix`, message: 'is listed twice' });
    seen.add(p.prefix);
  });
  if (dups.length) throw validationError(dups);
  const row = { level: body.level, description: body.description ?? null, default_action: body.default_action ?? 'allow' };
  let levelId = id;
  if (levelId === undefined) [levelId] = (await c.db('ncos_levels').insert(row)) as [number];
  else {
    await c.db('ncos_levels').where('id', levelId).update(row);
    await c.db('ncos_patterns').where('level_id', levelId).delete();
  }
  if (patterns.length) {
    await c.db('ncos_patterns').insert(patterns.map((p) => ({ level_id: levelId, prefix: p.prefix, action: p.action, description: p.description ?? null })));
  }
  return levelId;
}

export const ncosLevels: Resource<NcosLevel> = {
  name: 'ncoslevels',
  entity: 'ncos_level',
  schemaId: 'NcosLevel',
  description: 'NCOS levels: outbound call restrictions by callee prefix, assigned by the preferences ncos_id / adm_ncos_id.',
  itemSchema: NCOS_ITEM,
  createSchema: NCOS_BODY,
  replaceSchema: NCOS_BODY,
  filters: { level: { type: 'string', description: 'level; * matches anything' } },
  sortable: ['id', 'level'],
  roles: ADMIN_WRITE,
  notify: true,
  async list(c, q) {
    const qb = c.db('ncos_levels');
    if (q.filters.level !== undefined) qb.where('level', 'like', String(q.filters.level).replace(/[\\%_]/g, (x) => `\\${x}`).replace(/\*/g, '%'));
    const [count] = await qb.clone().count({ n: '*' });
    const rows = await qb.orderBy(q.order_by ?? 'id', q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows);
    return { total: Number(count?.n ?? 0), items: await withPatterns(c, rows) };
  },
  get: (c, id) => getLevel(c, id as number),
  create: async (c, body) => (await getLevel(c, await writeLevel(c, undefined, body)))!,
  replace: async (c, id, body) => (await getLevel(c, await writeLevel(c, id as number, body)))!,
  async remove(c, id) {
    await assertNotReferenced(c, 'ncos_levels', id as number);
    await c.db('ncos_levels').where('id', id).delete();
  },
};
