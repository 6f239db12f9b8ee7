/**
 * Brute-force protection for the API's logins, per client address: after `slow_after`
 * failures within `window_s` every further failure is answered late (delay doubling up to
 * `max_delay_ms`); after `ban_after` failures the address is refused (429 + Retry-After) for
 * `ban_s`. Addresses in `exempt` (default: loopback, like fail2ban's ignoreip — the node's
 * own operators and tools must not lock themselves out) are never slowed or banned; their
 * failures are still counted and logged. Decisions are taken from local memory (no Redis round trip per request); bans
 * are written through to Redis (`apiban:<ip>`, with TTL) so a restarted or newly active API
 * node keeps them (`loadBans`), and so operators can see and lift them.
 */
import type { Redis } from 'ioredis';
import { REDIS_PATTERNS, redisKeys, type BanEntry } from '@ngcp/db';
import { BlockList, isIP } from 'node:net';
import { parseCidr, type ApiConfig } from '../config.js';

type Settings = ApiConfig['bruteforce'];

export interface FailureVerdict {
  /** the address is now banned */
  banned: boolean;
  /** seconds until the ban ends (when banned) */
  retryAfterS: number;
  /** how long to hold the 401 answer back (when not banned) */
  delayMs: number;
}

export class BruteForceGuard {
  private readonly failures = new Map<string, { count: number; since: number }>();
  private readonly bans = new Map<string, number>();
  readonly stats = { failures: 0, bans: 0, refused: 0 };

  /** addresses never slowed or banned (`bruteforce.exempt`, like fail2ban's ignoreip) */
  private readonly exempt = new BlockList();

  constructor(
    private readonly s: Settings,
    private readonly redis: Redis | undefined,
    private readonly now: () => number = Date.now,
    private readonly onStoreError: (err: unknown) => void = () => {},
  ) {
    for (const c of s.exempt ?? []) {
      const p = parseCidr(c);
      if (p) this.exempt.addSubnet(p[0], p[1], p[2]);
    }
  }

  /** The address is on the exempt list: its failures are counted but never slowed or banned. */
  isExempt(ip: string): boolean {
    const v4 = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : undefined; // IPv4-mapped
    if (v4) return this.exempt.check(v4, 'ipv4');
    const family = isIP(ip);
    return family !== 0 && this.exempt.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }

  /** Seconds the address stays refused, or 0. */
  bannedFor(ip: string): number {
    if (this.bans.size === 0) return 0;
    const until = this.bans.get(ip);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left <= 0) {
      this.bans.delete(ip);
      return 0;
    }
    this.stats.refused++;
    return Math.ceil(left / 1000);
  }

  fail(ip: string): FailureVerdict {
    this.stats.failures++;
    if (this.isExempt(ip)) return { banned: false, retryAfterS: 0, delayMs: 0 };
    const t = this.now();
    let f = this.failures.get(ip);
    if (!f || t - f.since > this.s.window_s * 1000) {
      f = { count: 0, since: t };
      this.failures.set(ip, f);
    }
    f.count++;
    if (this.failures.size > 100_000) this.prune();
    if (f.count >= this.s.ban_after) {
      this.failures.delete(ip);
      this.ban(ip, f.count);
      return { banned: true, retryAfterS: this.s.ban_s, delayMs: 0 };
    }
    const over = f.count - this.s.slow_after;
    const delayMs = over < 0 ? 0 : Math.min(this.s.max_delay_ms, this.s.delay_ms * 2 ** over);
    return { banned: false, retryAfterS: 0, delayMs };
  }

  succeed(ip: string): void {
    if (this.failures.size > 0) this.failures.delete(ip);
  }

  private ban(ip: string, count: number): void {
    this.stats.bans++;
    this.bans.set(ip, this.now() + this.s.ban_s * 1000);
    if (this.redis) {
      const entry: BanEntry = { reason: 'api login failures', banned_at: Math.floor(this.now() / 1000), count };
      this.redis.set(redisKeys.apiBan(ip), JSON.stringify(entry), 'EX', this.s.ban_s).catch(this.onStoreError);
    }
  }

  /** Lift a ban (also in Redis). Memory first: even if Redis fails, this process admits the address again. */
  async unban(ip: string): Promise<void> {
    this.bans.delete(ip);
    this.failures.delete(ip);
    await this.redis?.del(redisKeys.apiBan(ip));
  }

  /**
   * The bans this process enforces: address → seconds left. For the operators' view
   * (/api/apibans), so it neither counts as a refusal nor extends anything.
   */
  activeBans(): Map<string, number> {
    const t = this.now();
    const out = new Map<string, number>();
    for (const [ip, until] of this.bans) {
      if (until > t) out.set(ip, Math.ceil((until - t) / 1000));
      else this.bans.delete(ip);
    }
    return out;
  }

  /** Take over the bans recorded in Redis (at start). */
  async loadBans(): Promise<number> {
    if (!this.redis) return 0;
    let n = 0;
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', REDIS_PATTERNS.apiBan, 'COUNT', 500);
      cursor = next;
      for (const key of keys) {
        const ip = key.slice('apiban:'.length);
        if (this.isExempt(ip)) continue; // banned before it was exempted
        const ttl = await this.redis.pttl(key);
        if (ttl > 0) {
          this.bans.set(ip, this.now() + ttl);
          n++;
        }
      }
    } while (cursor !== '0');
    return n;
  }

  private prune(): void {
    const t = this.now();
    for (const [ip, f] of this.failures) if (t - f.since > this.s.window_s * 1000) this.failures.delete(ip);
  }
}
