/**
 * Live views backed by Redis, filled by the SIP daemons (layout: packages/db/REDIS.md):
 * /api/registrations (location:<aor>), /api/calls (call:<call-id>), /api/bannedips
 * (ipban:<ip>), /api/bannedusers (userban:<user@domain>), /api/apibans (apiban:<ip>, the API's
 * own login guard, merged with the bans this process holds in memory). DELETE on a ban lifts it.
 * Lists are built with SCAN; they are sorted by id and paged in the API.
 */
import type { Redis } from 'ioredis';
import { REDIS_PATTERNS, redisKeys, type BanEntry, type Knex, type LocationBinding } from '@ngcp/db';
import { RPC_ERRORS, RpcError } from '@ngcp/rpc';
import { apiError } from '../errors.js';
import { DATE_TIME, ID, nullable, object } from '../http/schemas.js';
import type { Services } from '../services.js';
import { ROLES, type Ctx, type Item, type ListQuery, type Page, type Resource } from './resource.js';
import { scopeSubscriberColumn } from './scope.js';

const STRING_ID = { type: 'string', minLength: 1, maxLength: 512 } as const;
const S = { type: 'string' } as const;

async function scanKeys(redis: Redis, pattern: string): Promise<string[]> {
  const keys = new Set<string>();
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    for (const k of batch) keys.add(k);
  } while (cursor !== '0');
  return [...keys].sort();
}

function page<T>(all: T[], q: ListQuery): Page<T> {
  const items = q.order_by_direction === 'desc' ? [...all].reverse() : all;
  return { total: items.length, items: items.slice((q.page - 1) * q.rows, q.page * q.rows) };
}

function redisDown(err: unknown): never {
  throw apiError('NGCP_API_UNAVAILABLE', 'Redis is unavailable', { cause: err });
}

/* ---- registrations ----------------------------------------------------------------- */

interface Contact { contact: string; expires: string; expires_in: number; q: number | null; user_agent: string | null; received: string | null; path: string[]; socket: string | null; call_id: string | null; cseq: number | null }
export interface Registration extends Item { id: string; aor: string; username: string; domain: string; subscriber_id: number | null; contacts: Contact[] }

const CONTACT = object({
  contact: S, expires: DATE_TIME, expires_in: { type: 'integer', description: 'seconds left' }, q: nullable({ type: 'number' }),
  user_agent: nullable(S), received: nullable(S), path: { type: 'array', items: S }, socket: nullable(S), call_id: nullable(S), cseq: nullable({ type: 'integer' }),
}, ['contact', 'expires', 'expires_in', 'q', 'user_agent', 'received', 'path', 'socket', 'call_id', 'cseq']);

function contacts(hash: Record<string, string>, nowS: number): Contact[] {
  const out: Contact[] = [];
  for (const [field, json] of Object.entries(hash)) {
    let b: LocationBinding;
    try {
      b = JSON.parse(json) as LocationBinding;
    } catch {
      continue;
    }
    if (typeof b.expires !== 'number' || b.expires <= nowS) continue;
    out.push({
      contact: b.contact ?? field, expires: new Date(b.expires * 1000).toISOString(), expires_in: Math.max(0, Math.round(b.expires - nowS)),
      q: b.q ?? null, user_agent: b.user_agent ?? null, received: b.received ?? null, path: b.path ?? [], socket: b.socket ?? null,
      call_id: b.call_id ?? null, cseq: b.cseq ?? null,
    });
  }
  return out.sort((a, b) => a.contact.localeCompare(b.contact));
}

/** AoR → subscriber id, for the AoRs the principal may see. */
async function subscribersByAor(c: Ctx, aors: string[]): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  for (let i = 0; i < aors.length; i += 500) {
    const chunk = aors.slice(i, i + 500);
    const qb = c.db('subscribers as s').join('domains as d', 'd.id', 's.domain_id')
      .whereIn(c.db.raw("CONCAT(s.username, '@', d.domain)") as unknown as string, chunk)
      .select('s.id', c.db.raw("CONCAT(s.username, '@', d.domain) AS aor"));
    scopeSubscriberColumn(c, qb as Knex.QueryBuilder, 's.id');
    for (const r of (await qb) as { id: number; aor: string }[]) map.set(r.aor, r.id);
  }
  return map;
}

async function ownAor(c: Ctx): Promise<string | undefined> {
  const r = await c.db('subscribers as s').join('domains as d', 'd.id', 's.domain_id').where('s.id', c.principal.subscriberId ?? -1).first('s.username', 'd.domain');
  return r ? `${r.username}@${r.domain}` : undefined;
}

async function loadRegistrations(c: Ctx, aors: string[]): Promise<Registration[]> {
  const redis = c.services.redis;
  const nowS = Date.now() / 1000;
  const pipe = redis.pipeline();
  for (const aor of aors) pipe.hgetall(redisKeys.location(aor));
  const res = (await pipe.exec().catch(redisDown)) ?? [];
  const ids = await subscribersByAor(c, aors);
  const out: Registration[] = [];
  aors.forEach((aor, i) => {
    const hash = (res[i]?.[1] ?? {}) as Record<string, string>;
    const list = contacts(hash, nowS);
    if (list.length === 0) return;
    if (c.principal.role !== 'admin' && !ids.has(aor)) return;
    const at = aor.lastIndexOf('@');
    out.push({ id: aor, aor, username: at > 0 ? aor.slice(0, at) : aor, domain: at > 0 ? aor.slice(at + 1) : '', subscriber_id: ids.get(aor) ?? null, contacts: list });
  });
  return out;
}

export const registrations: Resource<Registration> = {
  name: 'registrations',
  entity: 'registration',
  schemaId: 'Registration',
  description: 'Current registrations (Redis location:<aor>, written by the proxy); id = the AoR username@domain. Read-only.',
  itemSchema: object(
    { id: S, aor: S, username: S, domain: S, subscriber_id: nullable(ID), contacts: { type: 'array', items: CONTACT } },
    ['id', 'aor', 'username', 'domain', 'subscriber_id', 'contacts'],
  ),
  idSchema: STRING_ID,
  filters: { domain: S, username: S, subscriber_id: ID },
  roles: { list: ROLES.all, get: ROLES.all },
  journal: false,
  async list(c, q) {
    let aors: string[];
    if (c.principal.role === 'subscriber') {
      const own = await ownAor(c);
      aors = own ? [own] : [];
    } else {
      aors = (await scanKeys(c.services.redis, REDIS_PATTERNS.location).catch(redisDown)).map((k) => k.slice('location:'.length));
    }
    const f = q.filters;
    if (f.domain !== undefined) aors = aors.filter((a) => a.endsWith(`@${String(f.domain).toLowerCase()}`));
    if (f.username !== undefined) aors = aors.filter((a) => a.startsWith(`${String(f.username)}@`));
    let regs = await loadRegistrations(c, aors);
    if (f.subscriber_id !== undefined) regs = regs.filter((r) => r.subscriber_id === f.subscriber_id);
    return page(regs, q);
  },
  async get(c, id) {
    if (c.principal.role === 'subscriber' && (await ownAor(c)) !== id) return undefined;
    return (await loadRegistrations(c, [String(id)]))[0];
  },
};

/* ---- active calls ------------------------------------------------------------------- */

export interface ActiveCallItem extends Item {
  id: string; call_id: string; caller_call_id: string | null; caller: string; callee: string; state: string; start_time: string | null; answer_time: string | null;
  caller_subscriber_id: number | null; callee_subscriber_id: number | null; customer_id: number | null; peer: string | null; node: string | null;
}

const secs = (v: string | undefined): string | null => (v && Number.isFinite(Number(v)) ? new Date(Number(v) * 1000).toISOString() : null);
const int = (v: string | undefined): number | null => (v && /^[0-9]+$/.test(v) ? Number(v) : null);

function callItem(h: Record<string, string>, id: string): ActiveCallItem {
  return {
    id, call_id: h.call_id ?? id, caller_call_id: h.caller_call_id ?? null, caller: h.caller ?? '', callee: h.callee ?? '', state: h.state ?? 'init',
    start_time: secs(h.start_time), answer_time: secs(h.answer_time), caller_subscriber_id: int(h.caller_subscriber_id),
    callee_subscriber_id: int(h.callee_subscriber_id), customer_id: int(h.customer_id), peer: h.peer ?? null, node: h.node ?? null,
  };
}

async function visibleCall(c: Ctx, call: ActiveCallItem): Promise<boolean> {
  const p = c.principal;
  if (p.role === 'admin') return true;
  if (p.role === 'subscriber') return call.caller_subscriber_id === p.subscriberId || call.callee_subscriber_id === p.subscriberId;
  if (call.customer_id == null) return false;
  return (await c.db('customers').where({ id: call.customer_id, reseller_id: p.resellerId ?? -1 }).first('id')) !== undefined;
}

export const calls: Resource<ActiveCallItem> = {
  name: 'calls',
  entity: 'call',
  schemaId: 'ActiveCall',
  description:
    "Calls in progress (Redis call:<call-id>, written by the proxy); id = the Call-ID the proxy routes (through the sbc: the B leg's). " +
    "GET also finds a call through the sbc by its caller's (A leg's) Call-ID. DELETE ends an answered call through the sbc " +
    '(BYE on both legs, sbc control calls.teardown); 409 for a call that does not cross the sbc or is not answered yet. Admin and reseller.',
  itemSchema: object(
    {
      id: S, call_id: S, caller_call_id: { ...nullable(S), description: "through the sbc: the A leg's Call-ID (the caller's phone's; the CDR's call_id); call_id is then the B leg's" }, caller: S, callee: S, state: { type: 'string' }, start_time: nullable(DATE_TIME), answer_time: nullable(DATE_TIME),
      caller_subscriber_id: nullable(ID), callee_subscriber_id: nullable(ID), customer_id: nullable(ID), peer: nullable(S), node: nullable(S),
    },
    ['id', 'call_id', 'caller_call_id', 'caller', 'callee', 'state', 'start_time', 'answer_time', 'caller_subscriber_id', 'callee_subscriber_id', 'customer_id', 'peer', 'node'],
  ),
  idSchema: STRING_ID,
  filters: { subscriber_id: { ...ID, description: 'caller or callee' }, customer_id: ID, state: S },
  roles: { list: ROLES.all, get: ROLES.all, delete: ROLES.adminReseller },
  // a DELETE (the operator ended a call) is journalled like every write
  async list(c, q) {
    const redis = c.services.redis;
    const keys = await scanKeys(redis, REDIS_PATTERNS.call).catch(redisDown);
    const pipe = redis.pipeline();
    for (const k of keys) pipe.hgetall(k);
    const res = (await pipe.exec().catch(redisDown)) ?? [];
    const f = q.filters;
    const out: ActiveCallItem[] = [];
    for (let i = 0; i < keys.length; i++) {
      const h = (res[i]?.[1] ?? {}) as Record<string, string>;
      if (Object.keys(h).length === 0) continue;
      const call = callItem(h, keys[i]!.slice('call:'.length));
      if (f.subscriber_id !== undefined && call.caller_subscriber_id !== f.subscriber_id && call.callee_subscriber_id !== f.subscriber_id) continue;
      if (f.customer_id !== undefined && call.customer_id !== f.customer_id) continue;
      if (f.state !== undefined && call.state !== f.state) continue;
      if (await visibleCall(c, call)) out.push(call);
    }
    return page(out, q);
  },
  async get(c, id) {
    const redis = c.services.redis;
    let key = String(id);
    let h = await redis.hgetall(redisKeys.call(key)).catch(redisDown);
    if (Object.keys(h).length === 0) {
      // through the sbc, by the caller's Call-ID: its sbc call names the B leg, whose call:<id> the proxy keeps
      const bLeg = await bLegOf(redis, key);
      if (bLeg === null) return undefined;
      key = bLeg;
      h = await redis.hgetall(redisKeys.call(key)).catch(redisDown);
      if (Object.keys(h).length === 0) return undefined;
    }
    const call = callItem(h, key);
    return (await visibleCall(c, call)) ? call : undefined;
  },
  async remove(c, _id, current) {
    const redis = c.services.redis;
    const sbcId = (await redis.get(redisKeys.sbcLeg(current.id)).catch(redisDown)) ?? (current.caller_call_id ? await redis.get(redisKeys.sbcLeg(current.caller_call_id)).catch(redisDown) : null);
    if (sbcId === null || !c.services.sbc) {
      throw apiError('NGCP_API_CONFLICT', `call ${current.id} cannot be ended by the platform: only an answered call through the sbc (proxy.sbc.enable) can`);
    }
    try {
      await c.services.sbc.call('calls.teardown', { id: sbcId });
    } catch (err) {
      if (err instanceof RpcError && err.code === RPC_ERRORS.NOT_FOUND) throw apiError('NGCP_API_NOT_FOUND', `call ${current.id} has ended`);
      throw apiError('NGCP_API_UNAVAILABLE', `the sbc did not end call ${current.id}: ${(err as Error).message}`);
    }
  },
};

/** The B leg's Call-ID of an sbc call one of whose legs has `callId` (sbc:leg:<call-id> → sbc:call:<id>), or null. */
async function bLegOf(redis: Redis, callId: string): Promise<string | null> {
  const sbcId = await redis.get(redisKeys.sbcLeg(callId)).catch(redisDown);
  if (sbcId === null) return null;
  const raw = await redis.get(redisKeys.sbcCall(sbcId)).catch(redisDown);
  if (raw === null) return null;
  try {
    const b = (JSON.parse(raw) as { b?: { dialog?: { id?: { callId?: unknown } } } }).b?.dialog?.id?.callId;
    return typeof b === 'string' ? b : null;
  } catch {
    return null;
  }
}

/* ---- bans --------------------------------------------------------------------------- */

export interface Ban extends Item { id: string; reason: string; banned_at: string | null; count: number | null; expires_in: number | null; expires_at: string | null }

/**
 * Bans that a process also holds in its own memory (the API's login guard decides from
 * memory, Redis is the write-through copy): the view shows them even when the Redis copy
 * is missing (a failed write), and DELETE lifts them in memory as well.
 */
interface LocalBans {
  /** id → seconds left, as this process enforces them */
  active(services: Services): Map<string, number>;
  /** lift one in memory and in Redis */
  lift(services: Services, id: string): Promise<void>;
  /** `reason` shown for a ban known only from memory */
  reason: string;
}

function banResource(name: string, entity: string, schemaId: string, prefix: string, keyOf: (id: string) => string, what: string, local?: LocalBans, notify = false): Resource<Ban> {
  const read = async (redis: Redis, key: string): Promise<Ban | undefined> => {
    const [[, raw], [, ttl]] = ((await redis.multi().get(key).pttl(key).exec().catch(redisDown)) ?? [[null, null], [null, -2]]) as [[unknown, string | null], [unknown, number]];
    if (raw == null) return undefined;
    let e: Partial<BanEntry> = {};
    try {
      e = JSON.parse(raw) as BanEntry;
    } catch {
      e = { reason: raw };
    }
    return {
      id: key.slice(prefix.length), reason: e.reason ?? '', banned_at: typeof e.banned_at === 'number' ? new Date(e.banned_at * 1000).toISOString() : null,
      count: e.count ?? null, expires_in: ttl > 0 ? Math.ceil(ttl / 1000) : null, expires_at: ttl > 0 ? new Date(Date.now() + ttl).toISOString() : null,
    };
  };
  const fromMemory = (id: string, left: number): Ban => ({
    id, reason: local!.reason, banned_at: null, count: null, expires_in: left, expires_at: new Date(Date.now() + left * 1000).toISOString(),
  });
  const get = async (c: Ctx, id: string): Promise<Ban | undefined> => {
    const b = await read(c.services.redis, keyOf(id));
    if (b || !local) return b;
    const left = local.active(c.services).get(id);
    return left === undefined ? undefined : fromMemory(id, left);
  };
  return {
    name,
    entity,
    schemaId,
    // a lift is announced on ngcp:changes ({entity, id, op: 'delete'}): the daemon holding the ban in memory drops it at once
    ...(notify ? { notify: true } : {}),
    description: `${what} (Redis ${prefix}<id>, TTL = remaining ban). DELETE lifts a ban${notify ? ' at once (announced on ngcp:changes)' : ''}. Admin only.`,
    itemSchema: object(
      {
        id: S, reason: S, banned_at: nullable(DATE_TIME), count: nullable({ type: 'integer' }),
        expires_in: nullable({ type: 'integer', description: 'seconds left; null = no expiry' }), expires_at: nullable({ ...DATE_TIME, description: 'when the ban ends; null = no expiry' }),
      },
      ['id', 'reason', 'banned_at', 'count', 'expires_in', 'expires_at'],
    ),
    idSchema: STRING_ID,
    roles: { list: ROLES.admin, get: ROLES.admin, delete: ROLES.admin },
    async list(c, q) {
      const keys = await scanKeys(c.services.redis, `${prefix}*`).catch(redisDown);
      const out: Ban[] = [];
      for (const k of keys) {
        const b = await read(c.services.redis, k);
        if (b) out.push(b);
      }
      if (local) {
        const seen = new Set(out.map((b) => b.id));
        for (const [id, left] of local.active(c.services)) if (!seen.has(id)) out.push(fromMemory(id, left));
        out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      }
      return page(out, q);
    },
    get: (c, id) => get(c, String(id)),
    async remove(c, id) {
      if (local) await local.lift(c.services, String(id)).catch(redisDown);
      else await c.services.redis.del(keyOf(String(id))).catch(redisDown);
    },
  };
}

export const bannedIps = banResource('bannedips', 'ipban', 'BannedIp', 'ipban:', redisKeys.ipBan, 'Source addresses banned by the load-balancer (flood) or the proxy (failed SIP authentications)', undefined, true);
export const bannedUsers = banResource('bannedusers', 'userban', 'BannedUser', 'userban:', redisKeys.userBan, 'Subscribers (username@domain) banned after failed SIP authentications', undefined, true);
export const apiBans = banResource(
  'apibans', 'apiban', 'ApiBan', 'apiban:', redisKeys.apiBan,
  "Client addresses banned by the API's own brute-force guard after repeated failed logins (429 until the ban ends); " +
    "also the bans this API process holds in memory. DELETE lifts the ban at once in this process and in Redis",
  {
    active: (services) => services.guard.activeBans(),
    lift: (services, id) => services.guard.unban(id),
    reason: 'api login failures',
  },
);
