/**
 * HTTP basic and bearer authentication against api_users, api_tokens and (for a
 * subscriber's own login `username@domain`) subscribers.webpassword_hash.
 *
 * scrypt costs ~50 ms, so a verified Authorization header is cached (keyed by its SHA-256,
 * never in clear) for `auth.cache_ttl_s`; any change to API users, tokens or web passwords
 * clears the cache.
 */
import { createHash } from 'node:crypto';
import type { Knex } from '@ngcp/db';
import { hashToken, verifyPassword, type ApiRole } from '@ngcp/db';
import type { Principal } from './principal.js';

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; reason: 'missing' | 'malformed' | 'invalid' };

interface CacheEntry { principal: Principal; expires: number }

export class Authenticator {
  private readonly cache = new Map<string, CacheEntry>();
  /** per keep-alive connection: the last header and its cache key, so a repeated header is not hashed again */
  private readonly lastKey = new WeakMap<object, { header: string; key: string }>();
  readonly stats = { cacheHits: 0, verified: 0, rejected: 0 };

  constructor(
    private readonly db: Knex,
    private readonly opts: { cacheTtlS: number; cacheMax: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** `conn`: the request's connection (any object that lives as long as it), to skip re-hashing a repeated header. */
  async authenticate(header: string | undefined, conn?: object): Promise<AuthResult> {
    if (!header) return { ok: false, reason: 'missing' };
    const memo = conn && this.lastKey.get(conn);
    let key: string;
    if (memo && memo.header === header) key = memo.key;
    else {
      key = createHash('sha256').update(header).digest('base64');
      if (conn) this.lastKey.set(conn, { header, key });
    }
    const hit = this.cache.get(key);
    if (hit) {
      if (hit.expires > this.now()) {
        this.stats.cacheHits++;
        return { ok: true, principal: hit.principal };
      }
      this.cache.delete(key);
    }
    const sp = header.indexOf(' ');
    const scheme = sp > 0 ? header.slice(0, sp).toLowerCase() : '';
    const value = sp > 0 ? header.slice(sp + 1).trim() : '';
    let principal: Principal | undefined;
    if (scheme === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) return { ok: false, reason: 'malformed' };
      principal = await this.checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1));
    } else if (scheme === 'bearer') {
      if (!/^[\w-]{20,200}$/.test(value)) return { ok: false, reason: 'malformed' };
      principal = await this.checkToken(value);
    } else {
      return { ok: false, reason: 'malformed' };
    }
    if (!principal) {
      this.stats.rejected++;
      return { ok: false, reason: 'invalid' };
    }
    this.stats.verified++;
    if (this.cache.size >= this.opts.cacheMax) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(key, { principal, expires: this.now() + this.opts.cacheTtlS * 1000 });
    return { ok: true, principal };
  }

  /** Forget every cached verification (after a change to credentials or roles). */
  invalidate(): void {
    this.cache.clear();
  }

  /** Forget the cached verifications of one subscriber (its own login and API users bound to it). */
  invalidateSubscriber(subscriberId: number): void {
    for (const [k, v] of this.cache) if (v.principal.subscriberId === subscriberId) this.cache.delete(k);
  }

  private async checkPassword(login: string, password: string): Promise<Principal | undefined> {
    const user = await this.db('api_users').where({ login }).first('id', 'login', 'password_hash', 'role', 'reseller_id', 'subscriber_id', 'is_active');
    if (user) {
      if (!user.is_active || !(await verifyPassword(password, user.password_hash))) return undefined;
      return apiUserPrincipal(user);
    }
    const at = login.lastIndexOf('@');
    if (at <= 0) {
      await burn(password); // same cost as a real check: no user enumeration by timing
      return undefined;
    }
    const sub = await this.db('subscribers as s')
      .join('domains as d', 'd.id', 's.domain_id')
      .where({ 's.username': login.slice(0, at), 'd.domain': login.slice(at + 1) })
      .first('s.id', 's.webpassword_hash', 's.status');
    if (!sub?.webpassword_hash || sub.status !== 'active') {
      await burn(password);
      return undefined;
    }
    if (!(await verifyPassword(password, sub.webpassword_hash))) return undefined;
    return { kind: 'subscriber', apiUserId: undefined, login, role: 'subscriber', resellerId: null, subscriberId: sub.id };
  }

  private async checkToken(token: string): Promise<Principal | undefined> {
    const row = await this.db('api_tokens as t')
      .join('api_users as u', 'u.id', 't.api_user_id')
      .where('t.token_hash', hashToken(token))
      .first('u.id', 'u.login', 'u.role', 'u.reseller_id', 'u.subscriber_id', 'u.is_active', 't.expires_at');
    if (!row || !row.is_active) return undefined;
    if (row.expires_at && new Date(row.expires_at).getTime() <= this.now()) return undefined;
    return apiUserPrincipal(row);
  }
}

function apiUserPrincipal(u: { id: number; login: string; role: ApiRole; reseller_id: number | null; subscriber_id: number | null }): Principal {
  return { kind: 'api_user', apiUserId: u.id, login: u.login, role: u.role, resellerId: u.reseller_id, subscriberId: u.subscriber_id };
}

const DUMMY = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
async function burn(password: string): Promise<void> {
  await verifyPassword(password, DUMMY);
}
