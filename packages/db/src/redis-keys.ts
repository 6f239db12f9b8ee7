/**
 * The Redis contract between the SIP daemons (writers) and the API (reader of the live
 * views, publisher of changes). Documented in packages/db/REDIS.md; change both together.
 */

/** Pub/sub channel for provisioning changes. Payload: JSON `ChangeNotification`. */
export const CHANGES_CHANNEL = 'ngcp:changes';

export type ChangeOp = 'create' | 'update' | 'delete';

export interface ChangeNotification {
  /** singular entity name, e.g. 'subscriber', 'domain', 'subscriber_preferences', 'peering_server' */
  entity: string;
  /** id of the changed object (for preferences/call forwards: the owner's id) */
  id: number | string;
  op: ChangeOp;
  /** milliseconds since the epoch, when the change was committed */
  ts: number;
}

export const redisKeys = {
  /** HASH: field = contact URI, value = JSON `LocationBinding`; key TTL ≥ the latest expiry. */
  location: (aor: string) => `location:${aor}`,
  /** HASH of string fields, see `ActiveCall`; TTL set by the writer (refreshed while the call lasts). */
  call: (callId: string) => `call:${callId}`,
  /** STRING: JSON `BanEntry`; TTL = remaining ban time. */
  ipBan: (ip: string) => `ipban:${ip}`,
  /** STRING: JSON `BanEntry`; TTL = remaining ban time. `user` is `username@domain`. */
  userBan: (user: string) => `userban:${user}`,
  /** STRING: JSON `BanEntry` of the API's own brute-force protection (per client address). */
  apiBan: (ip: string) => `apiban:${ip}`,
  /**
   * STRING counter of failed SIP digest authentications (proxy, security.userban), `INCR`ed
   * on each failure, TTL = the counting window (set by the first failure); deleted when the
   * ban it led to is written. `who` is `user:<username@domain>` or `ip:<address>`.
   */
  authFail: (who: string) => `authfail:${who}`,
  /** STRING counter of failed API logins per client address, TTL = the counting window. */
  apiFail: (ip: string) => `apifail:${ip}`,
  /**
   * STRING `1`, set with `SET … NX EX <nonce lifetime>` when a digest nonce-count is used:
   * a (nonce, nc) pair seen before is a replay, on either node. `nc` is the 8-hex form.
   */
  authNc: (nonce: string, nc: string) => `authnc:${nonce}:${nc}`,
  /** HASH: field = lb dispatcher destination `address:port`, value = JSON `DispatcherDestinationState`. */
  dispatcherState: () => 'dispatcher:state',
  /** HASH: field = peering_servers.id, value = JSON `PeerServerState` (the proxies' view of which peers are down). */
  peerState: () => 'peer:state',
  /** STRING: JSON `PeerRegistration` — the outbound registration of the platform at a peering server (the proxy's agent, active node only). */
  peerReg: (serverId: number) => `peerreg:${serverId}`,
  /** STRING: JSON `SbcCall` of apps/sbc (both legs' dialogs); TTL `call_ttl_s`, refreshed by every in-dialog request. */
  sbcCall: (id: string) => `sbc:call:${id}`,
  /** STRING: the sbc call id a leg's Call-ID belongs to (one key per leg); same TTL as the call. */
  sbcLeg: (callId: string) => `sbc:leg:${callId}`,
  /**
   * STRING: JSON `SbcEarlyCall` of apps/sbc — a call still ringing (both INVITEs as sent and
   * received, profile, session timer asked, prepaid reservation), keyed by the B leg's Call-ID,
   * so that the other node's sbc (or this one restarted) can connect the call when B's answer
   * comes there. TTL the longest a call may ring; deleted on the final answer.
   */
  sbcEarly: (bCallId: string) => `sbc:early:${bCallId}`,
  /** STRING: the B leg's Call-ID of the ringing call whose A leg has this Call-ID (a CANCEL from the caller finds the call). */
  sbcEarlyA: (aCallId: string) => `sbc:early-a:${aCallId}`,
  /** SET: the ids of the sbc's answered calls (members whose `sbc:call:` expired are dropped by the sbc's sweep). */
  sbcCalls: () => 'sbc:calls',
  /** SORTED SET: member = sbc call id, score = when its call length limit ends it (ms since the epoch). */
  sbcDeadlines: () => 'sbc:deadlines',
  /** SORTED SET: member = sbc call id, score = when its session timers next need the sbc (ms since the epoch: a refresh to send, a leg to give up on). */
  sbcTimers: () => 'sbc:timers',
  /** STRING: the node whose sbc runs the sweep of stale prepaid reservations now (SET NX PX: one sbc at a time; a read-only replica refuses it). */
  sbcPrepaidSweep: () => 'sbc:prepaid:sweep',
} as const;

export const REDIS_PATTERNS = { location: 'location:*', call: 'call:*', ipBan: 'ipban:*', userBan: 'userban:*', apiBan: 'apiban:*', peerReg: 'peerreg:*' } as const;

/** One registered contact of an AoR (value of a `location:<aor>` hash field). */
export interface LocationBinding {
  contact: string;
  /** absolute expiry, seconds since the epoch */
  expires: number;
  q?: number;
  call_id?: string;
  cseq?: number;
  user_agent?: string;
  /** where the REGISTER really came from: `proto:ip:port` */
  received?: string;
  /** Path header values (RFC 3327) added by the lb */
  path?: string[];
  /** local socket the REGISTER arrived on: `proto:ip:port` */
  socket?: string;
  instance?: string;
  reg_id?: number;
  /** seconds since the epoch */
  updated?: number;
}

/** A dispatcher destination's state as the lb last saw it (value of a `dispatcher:state` field). */
export interface DispatcherDestinationState {
  state: 'up' | 'down';
  /** set down by hand (`dispatcher.set`): probes do not bring it up */
  admin_down: boolean;
  /** seconds since the epoch, when the state was written */
  at: number;
  /** the node whose lb wrote it */
  node?: string;
}

/** A peering server's state as a proxy last saw it (value of a `peer:state` field). */
export interface PeerServerState {
  state: 'up' | 'down';
  /** milliseconds since the epoch, when that proxy saw the change */
  at: number;
  /** the node whose proxy wrote it */
  node?: string;
}

/**
 * The platform's registration at a peering server (value of `peerreg:<server id>`), written by
 * the proxy's registration agent before every REGISTER it sends and on every answer, so the
 * agent of the node that becomes active carries on with the same Call-ID and the next CSeq.
 */
export interface PeerRegistration {
  state: 'registered' | 'failed' | 'unregistered' | 'registering';
  call_id: string;
  /** the CSeq of the last REGISTER sent (the next one uses cseq + 1) */
  cseq: number;
  from_tag: string;
  /** what the binding is: `<aor> <contact> <registrar target>`; another value means another binding (a new Call-ID) */
  binding: string;
  aor: string;
  contact: string;
  /** ms since the epoch: when the binding runs out (registered only; else null) */
  expires_at: number | null;
  /** the expiry the server granted (s), null before the first 200 */
  granted_s: number | null;
  /** status of the last final answer (408 for a timeout), null before the first */
  last_code: number | null;
  last_reason: string | null;
  /** ms since the epoch */
  last_attempt_at: number | null;
  /** failures in a row (the backoff step) */
  failures: number;
  node?: string;
}

const PEER_REG_STATES = new Set(['registered', 'failed', 'unregistered', 'registering']);

/** A `peerreg:` value, or null when absent or not usable. */
export function parsePeerRegistration(v: string | null): PeerRegistration | null {
  if (!v) return null;
  try {
    const r = JSON.parse(v) as Partial<PeerRegistration>;
    if (!r || typeof r !== 'object' || !PEER_REG_STATES.has(r.state as string)) return null;
    if (typeof r.call_id !== 'string' || !r.call_id || typeof r.from_tag !== 'string' || !Number.isInteger(r.cseq) || (r.cseq as number) < 0) return null;
    if (typeof r.binding !== 'string' || typeof r.aor !== 'string' || typeof r.contact !== 'string') return null;
    return {
      state: r.state!, call_id: r.call_id, cseq: r.cseq!, from_tag: r.from_tag, binding: r.binding, aor: r.aor, contact: r.contact,
      expires_at: typeof r.expires_at === 'number' ? r.expires_at : null, granted_s: typeof r.granted_s === 'number' ? r.granted_s : null,
      last_code: typeof r.last_code === 'number' ? r.last_code : null, last_reason: typeof r.last_reason === 'string' ? r.last_reason : null,
      last_attempt_at: typeof r.last_attempt_at === 'number' ? r.last_attempt_at : null, failures: Number.isInteger(r.failures) ? r.failures! : 0,
      ...(typeof r.node === 'string' ? { node: r.node } : {}),
    };
  } catch {
    return null;
  }
}

/** One forked branch of a ringing INVITE (element of the `branches` JSON of `call:<call-id>`). */
export interface CallBranch {
  /** the branch parameter of the proxy's Via on this branch */
  branch: string;
  /** Request-URI of the branch (the binding's contact) */
  uri: string;
  /** Route header values of the branch (the binding's Path) */
  route: string[];
  /** where the branch was sent: `ip:port` (UDP) */
  dest: string;
}

/** What every branch of a forked INVITE shares (the `fork` JSON of `call:<call-id>`), enough to build a CANCEL or an ACK. */
export interface CallFork {
  from: string;
  to: string;
  cseq: number;
}

/** Fields of a `call:<call-id>` hash (all strings in Redis). */
export interface ActiveCall {
  call_id: string;
  caller: string;
  callee: string;
  state: 'init' | 'ringing' | 'answered';
  /** seconds since the epoch */
  start_time: string;
  answer_time?: string;
  caller_subscriber_id?: string;
  callee_subscriber_id?: string;
  customer_id?: string;
  peer?: string;
  node?: string;
  /**
   * The Call-ID the call is accounted (acc, CDR) and known by: the caller's (A leg's) when the
   * call crosses the sbc — `call_id` is then the B leg's, the sbc's own; absent = `call_id`.
   */
  caller_call_id?: string;
  /** JSON `CallFork` (proxy, while the INVITE is unanswered) */
  fork?: string;
  /** JSON `CallBranch[]` */
  branches?: string;
}

export interface BanEntry {
  reason: string;
  /** seconds since the epoch */
  banned_at: number;
  /** failed attempts / packets counted before the ban */
  count?: number;
}

/** The Redis calls `keyDeadlines` makes (an ioredis client has them). */
export interface ScanPttlClient {
  scan(cursor: string, match: 'MATCH', pattern: string, count: 'COUNT', n: number): Promise<[string, string[]]>;
  pipeline(): { pttl(key: string): unknown; exec(): Promise<Array<[Error | null, unknown]> | null> };
}

/**
 * Every key matching `pattern` (SCAN, 1000 per round) with its deadline: `[key without
 * prefix, epoch ms]` — `Infinity` for a key without TTL; keys gone between the SCAN and their
 * PTTL are left out. How the daemons copy the bans (`ipban:*`, `userban:*`) into memory.
 */
export async function keyDeadlines(redis: ScanPttlClient, pattern: string, prefix: string, nowMs: number): Promise<Array<[string, number]>> {
  const keys: string[] = [];
  let cursor = '0';
  let rounds = 0;
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && ++rounds < 100_000);
  const out: Array<[string, number]> = [];
  for (let i = 0; i < keys.length; i += 1000) {
    const slice = keys.slice(i, i + 1000);
    const p = redis.pipeline();
    for (const k of slice) p.pttl(k);
    const res = (await p.exec()) ?? [];
    slice.forEach((k, j) => {
      const ttl = res[j]?.[1];
      if (typeof ttl !== 'number' || ttl === -2) return; // gone meanwhile
      out.push([k.slice(prefix.length), ttl === -1 ? Infinity : nowMs + ttl]);
    });
  }
  return out;
}
