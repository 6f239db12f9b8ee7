/**
 * Outbound LCR as pure functions (docs/routing.md): the peering table built from the
 * provisioning rows (a bad row is reported and skipped, never fatal), the groups a call may
 * go to (longest callee prefix, then group priority), the servers of a group in weighted
 * random order, and what a branch's final response means for the search.
 */

export type PeerTransport = 'udp' | 'tcp' | 'tls';

export interface PeerServer {
  id: number;
  groupId: number;
  name: string;
  host: string;
  port: number;
  transport: PeerTransport;
  weight: number;
  /** OPTIONS-probed always (not only while marked down) */
  probe: boolean;
  /** peer preference e164_to_ruri: the Request-URI user is the E.164 number with a leading '+' */
  e164ToRuri: boolean;
  /** peer preference rewrite_rule_set_id: how numbers are shown to this peer (direction out); null: as stored (E.164) */
  rewriteSetId: number | null;
  /** digest credentials a 401/407 of this server is answered with (peer-auth.ts); null: not answered */
  auth: PeerCredentials | null;
  /** outbound registration (register_* columns, defaults applied); null: the server is not registered at */
  register: PeerRegisterSpec | null;
}

/** What the registration agent registers at a server (docs/routing.md "Outbound registration to peers"). */
export interface PeerRegisterSpec {
  /** the AoR: `user@domain`; the REGISTER's Request-URI is `sip:<domain>` */
  user: string;
  domain: string;
  /** the Contact's user part */
  contactUser: string;
  /** the Expires asked for (s) */
  expires: number;
}

/** `peering_servers.auth_*`: realm null = answer any realm. */
export interface PeerCredentials { username: string; password: string; realm: string | null }

export interface PeerGroup { id: number; name: string; priority: number; servers: PeerServer[] }

export interface PeerRule { id: number; groupId: number; calleePrefix: string; caller: RegExp | null; callee: RegExp | null }

export interface PeeringTable {
  groups: ReadonlyMap<number, PeerGroup>;
  /** every enabled server by id */
  servers: ReadonlyMap<number, PeerServer>;
  rules: readonly PeerRule[];
}

/** The provisioning rows as read from MariaDB (enabled flags as 0/1 or booleans). */
export interface PeeringRows {
  groups: Array<{ id: number; name: string; priority: number }>;
  servers: Array<{
    id: number; group_id: number; name: string; host: string; port: number; transport: string; weight: number; probe: unknown; enabled: unknown;
    auth_username?: string | null; auth_password?: string | null; auth_realm?: string | null;
    register_enable?: unknown; register_expires_s?: number | null; register_user?: string | null; register_domain?: string | null; register_contact_user?: string | null;
  }>;
  rules: Array<{ id: number; group_id: number; callee_prefix: string | null; caller_pattern: string | null; callee_pattern: string | null; enabled: unknown }>;
  /** peer_preferences joined with their definition: (server id, attribute, value) */
  prefs: Array<{ peering_server_id: number; attribute: string; value: string }>;
}

export interface BadRow { table: string; id: number; reason: string }

const PREFIX = /^[0-9+*#]*$/;
const HOST = /^[A-Za-z0-9._:[\]-]+$/;
const TRANSPORTS = new Set(['udp', 'tcp', 'tls']);
const truthy = (v: unknown): boolean => v === true || v === 1 || v === '1';

function compile(pattern: string | null): RegExp | null {
  if (pattern === null || pattern === '') return null;
  return new RegExp(pattern);
}

/** Build the table; every row that cannot be used is passed to `onBad` and left out. */
export function buildPeeringTable(rows: PeeringRows, onBad: (bad: BadRow) => void = () => undefined): PeeringTable {
  const groups = new Map<number, PeerGroup>();
  for (const g of rows.groups) {
    if (!Number.isInteger(g.priority) || g.priority < 0) {
      onBad({ table: 'peering_groups', id: g.id, reason: `bad priority ${String(g.priority)}` });
      continue;
    }
    groups.set(g.id, { id: g.id, name: g.name, priority: g.priority, servers: [] });
  }
  const e164 = new Set(rows.prefs.filter((p) => p.attribute === 'e164_to_ruri' && (truthy(p.value) || p.value === 'true')).map((p) => p.peering_server_id));
  const rewriteSets = new Map<number, number>();
  for (const p of rows.prefs) if (p.attribute === 'rewrite_rule_set_id' && /^[0-9]+$/.test(p.value)) rewriteSets.set(p.peering_server_id, Number(p.value));
  const servers = new Map<number, PeerServer>();
  for (const s of rows.servers) {
    if (!truthy(s.enabled)) continue;
    const group = groups.get(s.group_id);
    let reason: string | null = null;
    if (!group) reason = `group ${s.group_id} unknown`;
    else if (typeof s.host !== 'string' || !HOST.test(s.host)) reason = `bad host ${JSON.stringify(s.host)}`;
    else if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535) reason = `bad port ${String(s.port)}`;
    else if (!TRANSPORTS.has(s.transport)) reason = `bad transport ${JSON.stringify(s.transport)}`;
    else if (!Number.isInteger(s.weight) || s.weight < 0) reason = `bad weight ${String(s.weight)}`;
    if (reason !== null || !group) {
      onBad({ table: 'peering_servers', id: s.id, reason: reason ?? 'unusable' });
      continue;
    }
    const server: PeerServer = {
      id: s.id, groupId: s.group_id, name: s.name, host: s.host.replace(/^\[(.*)\]$/, '$1'), port: s.port, transport: s.transport as PeerTransport,
      weight: s.weight, probe: truthy(s.probe), e164ToRuri: e164.has(s.id), rewriteSetId: rewriteSets.get(s.id) ?? null,
      auth: credentialsOf(s),
      register: null,
    };
    if (truthy(s.register_enable)) {
      const reg = registerSpecOf(s, server);
      // a registration that cannot be made (no credentials, no user) is reported; calls still use the server
      if (typeof reg === 'string') onBad({ table: 'peering_servers', id: s.id, reason: `registration not made: ${reg}` });
      else server.register = reg;
    }
    servers.set(s.id, server);
    group.servers.push(server);
  }
  const rules: PeerRule[] = [];
  for (const r of rows.rules) {
    if (!truthy(r.enabled)) continue;
    const prefix = r.callee_prefix ?? '';
    if (!groups.has(r.group_id)) {
      onBad({ table: 'peering_rules', id: r.id, reason: `group ${r.group_id} unknown` });
      continue;
    }
    if (!PREFIX.test(prefix)) {
      onBad({ table: 'peering_rules', id: r.id, reason: `bad callee_prefix ${JSON.stringify(prefix)}` });
      continue;
    }
    try {
      rules.push({ id: r.id, groupId: r.group_id, calleePrefix: prefix, caller: compile(r.caller_pattern), callee: compile(r.callee_pattern) });
    } catch (err) {
      onBad({ table: 'peering_rules', id: r.id, reason: `bad pattern: ${(err as Error).message}` });
    }
  }
  return { groups, servers, rules };
}

/** A server's credentials: a username and a password (both non-empty), else none. */
function credentialsOf(s: PeeringRows['servers'][number]): PeerCredentials | null {
  if (!s.auth_username || !s.auth_password) return null;
  return { username: s.auth_username, password: s.auth_password, realm: s.auth_realm ? s.auth_realm : null };
}

const SIP_USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/%]+$/;

/**
 * The registration of a server with `register_enable`: user = register_user, else auth_username;
 * domain = register_domain, else auth_realm, else the host; Contact user = register_contact_user,
 * else the AoR's user. A reason (string) when it cannot be made: registering needs credentials.
 */
export function registerSpecOf(s: PeeringRows['servers'][number], server: Pick<PeerServer, 'host' | 'auth'>): PeerRegisterSpec | string {
  if (!server.auth) return 'no credentials (auth_username, auth_password)';
  const user = s.register_user || server.auth.username;
  const domain = s.register_domain || server.auth.realm || server.host;
  const contactUser = s.register_contact_user || user;
  const expires = s.register_expires_s ?? 600;
  if (!SIP_USER.test(user)) return `bad user ${JSON.stringify(user)}`;
  if (!SIP_USER.test(contactUser)) return `bad contact user ${JSON.stringify(contactUser)}`;
  if (!HOST.test(domain)) return `bad domain ${JSON.stringify(domain)}`;
  if (!Number.isInteger(expires) || expires < 1) return `bad expires ${String(expires)}`;
  return { user, domain: domain.replace(/^\[(.*)\]$/, '$1'), contactUser, expires };
}

export const EMPTY_TABLE: PeeringTable = { groups: new Map(), servers: new Map(), rules: [] };

export interface GroupChoice { group: PeerGroup; calleePrefix: string; ruleId: number }

/**
 * The groups a call may go to, in the order to try them: each group once, with its longest
 * matching rule (callee starts with the prefix, caller and callee match the optional
 * patterns); longer prefix first, then lower priority number (1 first), then group id.
 * Groups without an enabled server are left out.
 */
export function selectGroups(table: PeeringTable, callee: string, caller: string): GroupChoice[] {
  const best = new Map<number, GroupChoice>();
  for (const r of table.rules) {
    if (!callee.startsWith(r.calleePrefix)) continue;
    if (r.caller && !r.caller.test(caller)) continue;
    if (r.callee && !r.callee.test(callee)) continue;
    const group = table.groups.get(r.groupId);
    if (!group || group.servers.length === 0) continue;
    const prev = best.get(r.groupId);
    if (!prev || r.calleePrefix.length > prev.calleePrefix.length || (r.calleePrefix.length === prev.calleePrefix.length && r.id < prev.ruleId)) {
      best.set(r.groupId, { group, calleePrefix: r.calleePrefix, ruleId: r.id });
    }
  }
  return [...best.values()].sort(
    (a, b) => b.calleePrefix.length - a.calleePrefix.length || a.group.priority - b.group.priority || a.group.id - b.group.id,
  );
}

/**
 * The servers of a group in the order to try them: weighted random without replacement
 * (a server of weight w comes first with probability w / Σw); weight-0 servers after all
 * others, by id. Servers `isDown` says are down are left out. `random` returns [0, 1).
 */
export function orderServers(servers: readonly PeerServer[], random: () => number = Math.random, isDown: (s: PeerServer) => boolean = () => false): PeerServer[] {
  const pool = servers.filter((s) => !isDown(s) && s.weight > 0);
  const zero = servers.filter((s) => !isDown(s) && s.weight === 0).sort((a, b) => a.id - b.id);
  const out: PeerServer[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((n, s) => n + s.weight, 0);
    let x = Math.min(random(), 0.999999999) * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      x -= pool[i]!.weight;
      if (x < 0) break;
    }
    out.push(pool.splice(i, 1)[0]!);
  }
  return [...out, ...zero];
}

/**
 * What a branch's final response means for the search (docs/routing.md):
 * `answered` (2xx), `next` (408, any 5xx, a timeout or transport error: try the next
 * server), `stop` (any other final: the callee's answer — 3xx, 4xx, 6xx — ends the search).
 */
export type AttemptVerdict = 'answered' | 'next' | 'stop';

export function attemptVerdict(status: number): AttemptVerdict {
  if (status >= 200 && status < 300) return 'answered';
  if (status === 408 || (status >= 500 && status < 600)) return 'next';
  return 'stop';
}

/** The Request-URI user towards a peer: the dialled number, or `+<E.164>` with e164_to_ruri. */
export function peerRuriUser(server: PeerServer, e164: string): string {
  const digits = e164.startsWith('+') ? e164.slice(1) : e164;
  return server.e164ToRuri ? `+${digits}` : digits;
}
