/**
 * Choosing a proxy for an initial request (pure): the hash key each algorithm reads,
 * a stable string hash, and the order in which destinations are tried (the chosen one,
 * then the others that are up, in list order after it — the failover sequence).
 * Algorithms as in Kamailio's dispatcher: hash over Call-ID (default), From URI, To URI,
 * R-URI user, auth username; round robin; weighted (weights over a Call-ID hash).
 */
import type { SipRequest } from '@ngcp/sip';
import { parseCredentials } from '@ngcp/sip';
import type { DispatchAlgorithm } from '../config.js';

export interface Candidate {
  up: boolean;
  weight: number;
}

/** FNV-1a, 32 bit: the same string always lands on the same destination. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function aorOf(uri: { isSip: boolean; toString(): string } & Partial<{ user: string | null; hostname: string }>): string {
  return uri.isSip ? `${uri.user ?? ''}@${uri.hostname ?? ''}` : uri.toString();
}

function authUser(req: SipRequest): string | undefined {
  for (const name of ['proxy-authorization', 'authorization']) {
    const v = req.get(name);
    if (v === undefined) continue;
    try {
      const creds = parseCredentials(v);
      if (creds.username) return creds.username;
    } catch {
      // unreadable credentials: the proxy will answer them; hash on something else
    }
  }
  return undefined;
}

/**
 * The string an algorithm hashes for `req`; null for round-robin. A missing part (no
 * R-URI user, no credentials yet) falls back to the Call-ID, so retransmissions and the
 * whole transaction stay on one destination. Throws SipParseError on malformed headers.
 */
export function dispatchKey(req: SipRequest, algorithm: DispatchAlgorithm): string | null {
  switch (algorithm) {
    case 'round-robin':
      return null;
    case 'hash-callid':
    case 'weighted':
      return req.callId();
    case 'hash-from':
      return aorOf(req.from().uri);
    case 'hash-to':
      return aorOf(req.to().uri);
    case 'hash-ruri-user': {
      const u = req.requestUri();
      return (u.isSip ? u.user : null) ?? req.callId();
    }
    case 'hash-auth-user':
      return authUser(req) ?? req.callId();
  }
}

/** Index of the first choice among `cands` (all considered, up or not), or -1 when there is none. */
function firstChoice(cands: readonly Candidate[], algorithm: DispatchAlgorithm, key: string | null, rr: number): number {
  const n = cands.length;
  if (n === 0) return -1;
  if (algorithm === 'round-robin' || key === null) return rr % n;
  const h = hash32(key);
  if (algorithm !== 'weighted') return h % n;
  const total = cands.reduce((s, c) => s + (c.up ? c.weight : 0), 0);
  if (total === 0) return h % n;
  let point = h % total;
  for (let i = 0; i < n; i++) {
    const w = cands[i]!.up ? cands[i]!.weight : 0;
    if (point < w) return i;
    point -= w;
  }
  return 0;
}

/**
 * The order to try destinations in: the algorithm's choice (if it is down, the next up
 * one after it), then every other destination that is up, in list order after it.
 * Down destinations are not tried; empty when none is up.
 */
export function dispatchOrder(cands: readonly Candidate[], algorithm: DispatchAlgorithm, key: string | null, rr: number): number[] {
  const first = firstChoice(cands, algorithm, key, rr);
  const out: number[] = [];
  if (first < 0) return out;
  const n = cands.length;
  for (let k = 0; k < n; k++) {
    const i = (first + k) % n;
    if (cands[i]!.up) out.push(i);
  }
  return out;
}
