/**
 * Digest authentication of subscribers (RFC 3261 §22): REGISTER with 401/WWW-Authenticate,
 * INVITE & co. with 407/Proxy-Authenticate; realm = the subscriber's domain; MD5 and
 * SHA-256 offered; stateless HMAC nonces (any proxy with the secret verifies them). The
 * HA1s come from MariaDB through the SubscriberDirectory cache.
 */
import type { SubscriberCredentials } from '@ngcp/db';
import { DigestServer, parseAuthHeader, type DigestVerifyResult, type NonceCountStore, type SipRequest } from '@ngcp/sip';
import type { SubscriberDirectory } from './store/directory.js';
import type { UserBans } from './store/user-bans.js';

export type AuthOutcome =
  | { ok: true; subscriber: SubscriberCredentials }
  /** challenge (401/407) with these header values */
  | { ok: false; challenge: string[]; reason: string }
  /** wrong credentials or a subscriber that may not use the service */
  | { ok: false; forbidden: true; reason: string };

export interface AuthenticatorOptions {
  secret: string;
  nonceTtlSeconds: number;
  /** offered in this order */
  algorithms: ReadonlyArray<'MD5' | 'SHA-256'>;
  /** Replay protection: each (nonce, nc) accepted once (RedisNonceCountStore: on both nodes). */
  nonceCounts?: NonceCountStore;
  /** Brute-force protection (security.userban): failures counted, banned users refused. */
  bans?: UserBans;
}

/** Verification failures that count towards a ban: a wrong password, a user that does not exist, another user's credentials. */
const COUNTED = new Set(['bad-response', 'unknown-user', 'user-mismatch']);

/** Compare the credentials' uri with the Request-URI ignoring case and `<>` (the lb forwards the URI unchanged). */
function sameUri(a: string, b: string): boolean {
  const n = (s: string) => s.trim().replace(/^<|>$/g, '').toLowerCase();
  return n(a) === n(b);
}

export class Authenticator {
  private servers = new Map<string, DigestServer>();
  constructor(private dir: SubscriberDirectory, private opts: AuthenticatorOptions) {}

  private server(realm: string): DigestServer {
    let s = this.servers.get(realm);
    if (!s) {
      if (this.servers.size > 10_000) this.servers.clear();
      s = new DigestServer({ realm, secret: this.opts.secret, nonceTtlSeconds: this.opts.nonceTtlSeconds, algorithms: [...this.opts.algorithms], uriCheck: sameUri,
        ...(this.opts.nonceCounts ? { nonceCountStore: this.opts.nonceCounts } : {}) });
      this.servers.set(realm, s);
    }
    return s;
  }

  /**
   * Authenticate `req` for `realm` (the domain of the AoR / caller). `proxy` selects
   * Proxy-Authorization (407) instead of Authorization (401). `username`, when given, must
   * be the authenticated user (REGISTER: the To user). `source`: the client's address, for
   * the per-source failure count. A banned user (security.userban) is refused (403) before
   * any challenge. Throws when MariaDB fails.
   */
  async authenticate(req: SipRequest, realm: string, proxy: boolean, username?: string, source?: string): Promise<AuthOutcome> {
    const bans = this.opts.bans;
    if (bans && username !== undefined && bans.isBanned(`${username}@${realm.toLowerCase()}`)) return { ok: false, forbidden: true, reason: 'user-banned' };
    const out = await this.verify(req, realm, proxy, username);
    if (bans && source !== undefined && !out.ok && 'forbidden' in out && COUNTED.has(out.reason)) {
      // a wrong password counts against the user it was tried for; an unknown user or another
      // user's (valid) credentials only against the source
      const who = out.reason === 'bad-response' ? out.user : undefined;
      const r = await bans.failure(who === undefined ? undefined : `${who}@${realm.toLowerCase()}`, source);
      if (r.userBanned || r.sourceBanned) out.reason = `${out.reason}; banned ${[r.userBanned ? 'user' : '', r.sourceBanned ? 'source' : ''].filter(Boolean).join('+')}`;
    }
    const { user: _user, ...outcome } = out as AuthOutcome & { user?: string };
    return outcome as AuthOutcome;
  }

  private async verify(req: SipRequest, realm: string, proxy: boolean, username?: string): Promise<AuthOutcome & { user?: string }> {
    const server = this.server(realm);
    const credentials = req.getAll(proxy ? 'proxy-authorization' : 'authorization');
    let found: SubscriberCredentials | undefined;
    const r: DigestVerifyResult = await server.verify({
      method: req.method,
      uri: req.uri,
      credentials,
      getHA1: async (user, rlm, hash) => {
        found = await this.dir.credentials(user, rlm);
        if (!found) return undefined;
        return hash === 'MD5' ? found.ha1Md5 : hash === 'SHA-256' ? found.ha1Sha256 : undefined;
      },
    });
    if (!r.ok) {
      if (r.reason === 'missing' || r.reason === 'stale' || r.reason === 'bad-nonce' || r.reason === 'wrong-realm') {
        return { ok: false, challenge: server.challenge({ stale: r.stale }), reason: r.reason };
      }
      // a (nonce, nc) used before: refused with a fresh challenge — stale, so an honest UA whose
      // request crossed a takeover retries with a new nonce, while a replayed request gets nowhere
      if (r.reason === 'replay') return { ok: false, challenge: server.challenge({ stale: true }), reason: r.reason };
      // the user whose password was tried (the one the directory found), for the failure count
      return { ok: false, forbidden: true, reason: r.reason, ...(found ? { user: found.username } : {}) };
    }
    if (!found) return { ok: false, forbidden: true, reason: 'unknown-user' };
    if (username !== undefined && found.username !== username) return { ok: false, forbidden: true, reason: 'user-mismatch', user: found.username };
    if (found.status !== 'active') return { ok: false, forbidden: true, reason: `subscriber-${found.status}` };
    return { ok: true, subscriber: found };
  }
}

/**
 * Removes the credentials of `realm` from a request about to be forwarded (RFC 3261 §22.3:
 * they were for us; Kamailio's `consume_credentials()`): the subscriber's digest — username,
 * response, our nonce — never goes on to a callee, a peer or the sbc. Credentials for another
 * realm, and values that are not parseable credentials, stay (a proxy beyond us may be their
 * realm). Returns how many were removed.
 */
export function consumeCredentials(msg: SipRequest, realm: string, header: 'proxy-authorization' | 'authorization' = 'proxy-authorization'): number {
  const values = msg.getAll(header);
  if (values.length === 0) return 0;
  const ours = realm.toLowerCase();
  const keep = values.filter((v) => {
    try {
      return parseAuthHeader(v).params.find((p) => p.name.toLowerCase() === 'realm')?.value.toLowerCase() !== ours;
    } catch {
      return true;
    }
  });
  if (keep.length === values.length) return 0;
  msg.remove(header);
  for (const v of keep) msg.append(header, v);
  return values.length - keep.length;
}
