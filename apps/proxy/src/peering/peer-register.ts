/**
 * Outbound registration to peering servers as pure functions (docs/routing.md "Outbound
 * registration to peers"): the REGISTER the platform sends (RFC 3261 §10.2), what its final
 * response means (200 with the granted expiry, a digest challenge, 423 Interval Too Brief, a
 * failure), when to refresh (at 80 % of the granted expiry) and when to retry after a
 * failure (doubling backoff, capped). The I/O lives in register-agent.ts.
 */
import type { SipResponse } from '@ngcp/sip';
import { newBranch, SipRequest } from '@ngcp/sip';
import type { PeerRegisterSpec, PeerServer } from './selection.js';

/** The public address the peer reaches the platform at (the lb's public listener; the shared IP on a pair). */
export interface ContactAddress { address: string; port: number; tlsPort: number }

const hostOf = (h: string): string => (h.includes(':') ? `[${h}]` : h);

/** `user@domain` of a registration. */
export function aorOf(spec: PeerRegisterSpec): string {
  return `${spec.user}@${hostOf(spec.domain)}`;
}

/** The Contact URI: the configured user at the public address, with the server's transport. */
export function contactOf(spec: PeerRegisterSpec, server: Pick<PeerServer, 'transport'>, pub: ContactAddress): string {
  const port = server.transport === 'tls' ? pub.tlsPort : pub.port;
  return `sip:${spec.contactUser}@${hostOf(pub.address)}:${port}${server.transport === 'udp' ? '' : `;transport=${server.transport}`}`;
}

/** The REGISTER's Request-URI (§10.2: the registrar's domain; the server's port when the domain is the server). */
export function registrarUri(spec: PeerRegisterSpec, server: Pick<PeerServer, 'host' | 'port' | 'transport'>): string {
  const tp = server.transport === 'udp' ? '' : `;transport=${server.transport}`;
  return spec.domain === server.host ? `sip:${hostOf(server.host)}:${server.port}${tp}` : `sip:${hostOf(spec.domain)}${tp}`;
}

/**
 * What a binding is: another AoR, Contact or server is another binding (a new Call-ID; the old
 * one is removed). Kept in Redis with the registration (no secret in it).
 */
export function bindingOf(spec: PeerRegisterSpec, server: Pick<PeerServer, 'host' | 'port' | 'transport'>, pub: ContactAddress): string {
  return `${aorOf(spec)} ${contactOf(spec, server, pub)} ${server.transport}:${hostOf(server.host)}:${server.port}`;
}

export interface RegisterRequestParams {
  ruri: string;
  aor: string;
  contact: string;
  callId: string;
  fromTag: string;
  cseq: number;
  expires: number;
  /** our Via sent-by */
  via: { address: string; port: number };
  /** Route values (the lb's entry carrying the target) */
  route: readonly string[];
  /** credentials answering a challenge */
  authorization?: { header: string; value: string };
}

export function buildRegister(p: RegisterRequestParams): SipRequest {
  const headers: Array<[string, string]> = [['Via', `SIP/2.0/UDP ${hostOf(p.via.address)}:${p.via.port};branch=${newBranch()}`]];
  for (const r of p.route) headers.push(['Route', r]);
  headers.push(
    ['Max-Forwards', '70'], ['From', `<sip:${p.aor}>;tag=${p.fromTag}`], ['To', `<sip:${p.aor}>`], ['Call-ID', p.callId], ['CSeq', `${p.cseq} REGISTER`],
    ['Contact', `<${p.contact}>`], ['Expires', String(p.expires)],
  );
  if (p.authorization) headers.push([p.authorization.header, p.authorization.value]);
  headers.push(['User-Agent', 'ngcp-proxy peer registration'], ['Content-Length', '0']);
  return new SipRequest('REGISTER', p.ruri, headers);
}

/** What one final response to a REGISTER means. */
export type RegisterVerdict =
  | { kind: 'registered'; grantedS: number }
  | { kind: 'challenge' }
  /** 423 Interval Too Brief: ask again with Min-Expires */
  | { kind: 'interval'; minExpires: number }
  | { kind: 'failed'; reason: string };

/**
 * The verdict on a final response to a REGISTER asking for `askedS` with `contact`:
 * 2xx → the expiry granted to our Contact (its `expires` parameter, else the Expires header,
 * else what we asked), never more than asked; a 2xx that does not keep our Contact (granted
 * 0) is a failure. 401/407 → a challenge. 423 with a usable Min-Expires above what we asked
 * → ask again with it. Anything else fails.
 */
export function registerVerdict(res: SipResponse, contact: string, askedS: number): RegisterVerdict {
  const s = res.status;
  if (s >= 200 && s < 300) {
    const granted = grantedExpires(res, contact) ?? askedS;
    if (granted <= 0) return { kind: 'failed', reason: 'binding not kept (expires 0)' };
    return { kind: 'registered', grantedS: Math.min(granted, askedS) };
  }
  if (s === 401 || s === 407) return { kind: 'challenge' };
  if (s === 423) {
    const min = Number(res.get('min-expires')?.trim());
    if (Number.isInteger(min) && min > askedS && min <= 86_400) return { kind: 'interval', minExpires: min };
    return { kind: 'failed', reason: '423 without a usable Min-Expires' };
  }
  return { kind: 'failed', reason: `${s} ${res.reason}` };
}

/** The expiry of our Contact in a 2xx (its `expires` parameter, else Expires); undefined when neither says. */
export function grantedExpires(res: SipResponse, contact: string): number | undefined {
  let contacts: ReturnType<SipResponse['contacts']>;
  try {
    contacts = res.contacts();
  } catch {
    contacts = [];
  }
  if (contacts !== '*') {
    const want = uriKey(contact);
    for (const c of contacts) {
      if (!c.uri.isSip || uriKey(c.uri.toString()) !== want) continue;
      const e = c.param('expires');
      if (typeof e === 'string' && /^[0-9]{1,10}$/.test(e)) return Number(e);
    }
  }
  try {
    return res.expires();
  } catch {
    return undefined;
  }
}

/** user@host:port of a SIP URI, lower-case host (a registrar may echo our Contact with other parameters). */
function uriKey(uri: string): string {
  const m = /^sips?:(?:([^@;>]*)@)?(\[[^\]]+\]|[^:;>?]+)(?::(\d+))?/i.exec(uri.replace(/^<|>$/g, ''));
  if (!m) return uri;
  return `${m[1] ?? ''}@${m[2]!.toLowerCase()}:${m[3] ?? ''}`;
}

/** When to refresh a binding granted for `grantedS`: at 80 % of it (at least half a second). */
export function refreshDelayMs(grantedS: number): number {
  return Math.max(500, Math.floor(grantedS * 800));
}

/** The wait before the next attempt after `failures` failures in a row: min, 2·min, 4·min, … capped at max. */
export function backoffMs(failures: number, minMs: number, maxMs: number): number {
  const n = Math.max(1, failures);
  return Math.min(maxMs, minMs * 2 ** Math.min(n - 1, 30));
}
