/**
 * Brute-force protection of digest authentication (security.userban, docs/security.md).
 *
 * Failed authentications (wrong password, unknown user, credentials of another user) are
 * counted in Redis — per user `authfail:user:<user@domain>` and per source
 * `authfail:ip:<ip>`, INCR with the window as TTL from the first failure — so every worker
 * and both nodes count together. Reaching `max_failures` (a user) or `source_max_failures`
 * (a source; higher: many phones share an office's NAT address):
 *   - a user: `userban:<user@domain>` (JSON BanEntry, TTL ban_s); its requests get 403 with
 *     no challenge until the ban ends or is lifted (DELETE /api/bannedusers/<id>);
 *   - a source: `ipban:<ip>` (reason `auth failures`): the lb hears the `create` notification
 *     and drops the source's packets unanswered, like a flooder.
 * Each ban is announced on `ngcp:changes`. Whether a user is banned is decided from memory
 * (no Redis round trip per request): loaded at start and on every (re)subscription, kept in
 * step by the notifications (`userban` create/delete). Sources in `exempt` (security.exempt
 * and lb.trusted_peers) are never banned, and their failures ban no user either.
 * Redis away: failures are not counted (logged once), the bans in memory still hold.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { addressSet } from '@ngcp/daemon';
import { CHANGES_CHANNEL, keyDeadlines, REDIS_PATTERNS, redisKeys, type BanEntry, type ChangeNotification } from '@ngcp/db';

export interface UserBanOptions {
  /** failures of one user that ban it */
  maxFailures: number;
  /** failures from one source address (any users) that ban the source */
  sourceMaxFailures: number;
  windowS: number;
  banS: number;
  /** addresses and networks (CIDR) never banned */
  exempt: readonly string[];
  now?: () => number;
  /** for metrics: a ban written (`user` / `source`) or a banned user's request refused (`refused`) */
  onEvent?: (event: 'user' | 'source' | 'refused') => void;
}


export class UserBans {
  /** user@domain → ban end, ms (Infinity: until lifted) */
  private readonly bans = new Map<string, number>();
  private readonly exempt: { has(address: string): boolean };
  private readonly now: () => number;
  private failing = false;
  readonly counters = { failures: 0, user_bans: 0, source_bans: 0, refused: 0, lifted: 0, write_failures: 0 };

  constructor(private readonly redis: Redis, private readonly logger: Logger, private readonly o: UserBanOptions) {
    this.exempt = addressSet(o.exempt, 'security.exempt');
    this.now = o.now ?? Date.now;
  }

  /** The user (username@domain, domain lower case) is banned now: answer 403, no challenge. */
  isBanned(user: string): boolean {
    if (this.bans.size === 0) return false;
    const until = this.bans.get(user);
    if (until === undefined) return false;
    if (until > this.now()) {
      this.counters.refused++;
      this.o.onEvent?.('refused');
      return true;
    }
    this.bans.delete(user);
    return false;
  }

  /** Users banned now → ms left. */
  active(): Map<string, number> {
    const now = this.now();
    const out = new Map<string, number>();
    for (const [u, until] of this.bans) if (until > now) out.set(u, until - now);
    return out;
  }

  /**
   * One failed authentication of `user` (undefined: no such subscriber) from `source`.
   * Resolves with what it led to; never throws (Redis failures are logged once).
   */
  async failure(user: string | undefined, source: string): Promise<{ userBanned: boolean; sourceBanned: boolean }> {
    const out = { userBanned: false, sourceBanned: false };
    if (this.exempt.has(source)) return out;
    this.counters.failures++;
    try {
      const m = this.redis.multi();
      const keys: string[] = [];
      if (user !== undefined) keys.push(redisKeys.authFail(`user:${user}`));
      keys.push(redisKeys.authFail(`ip:${source}`));
      for (const k of keys) m.incr(k).expire(k, this.o.windowS, 'NX');
      const res = (await m.exec()) ?? [];
      const err = res.find(([e]) => e)?.[0];
      if (err) throw err;
      const counts = keys.map((_, i) => Number(res[2 * i]?.[1] ?? 0));
      let i = 0;
      if (user !== undefined) {
        const n = counts[i++]!;
        if (n >= this.o.maxFailures) {
          await this.ban('userban', user, n);
          this.bans.set(user, this.now() + this.o.banS * 1000);
          this.counters.user_bans++;
          this.o.onEvent?.('user');
          out.userBanned = true;
        }
      }
      const n = counts[i]!;
      if (n >= this.o.sourceMaxFailures) {
        await this.ban('ipban', source, n);
        this.counters.source_bans++;
        this.o.onEvent?.('source');
        out.sourceBanned = true;
      }
      if (this.failing) this.logger.info({ component: 'userban' }, 'authentication failures counted in redis again');
      this.failing = false;
    } catch (err) {
      this.counters.write_failures++;
      if (!this.failing) this.logger.warn({ component: 'userban', err: (err as Error).message }, 'authentication failure not counted (redis)');
      this.failing = true;
    }
    return out;
  }

  private async ban(entity: 'userban' | 'ipban', id: string, count: number): Promise<void> {
    const key = entity === 'userban' ? redisKeys.userBan(id) : redisKeys.ipBan(id);
    const entry: BanEntry = { reason: 'auth failures', banned_at: Math.floor(this.now() / 1000), count };
    const note: ChangeNotification = { entity, id, op: 'create', ts: this.now() };
    const res = await this.redis
      .multi()
      .set(key, JSON.stringify(entry), 'EX', this.o.banS)
      .del(redisKeys.authFail(`${entity === 'userban' ? 'user' : 'ip'}:${id}`))
      .publish(CHANGES_CHANNEL, JSON.stringify(note))
      .exec();
    const err = res?.find(([e]) => e)?.[0];
    if (err) throw err;
    this.logger.warn({ component: 'userban', [entity === 'userban' ? 'user' : 'address']: id, failures: count, ban_s: this.o.banS }, entity === 'userban' ? 'user banned: authentication failures' : 'source banned: authentication failures');
  }

  /** Make the memory a copy of Redis's `userban:*` (start, every (re)subscription). */
  async load(): Promise<number> {
    const fresh = await keyDeadlines(this.redis, REDIS_PATTERNS.userBan, 'userban:', this.now());
    this.bans.clear();
    for (const [u, until] of fresh) this.bans.set(u, until);
    return fresh.length;
  }

  /** `ngcp:changes`: a lift (the API's DELETE) drops the ban at once; a ban made elsewhere is read. */
  onChange(n: ChangeNotification): void {
    if (n.entity !== 'userban' || typeof n.id !== 'string') return;
    const user = n.id;
    if (n.op === 'delete') {
      if (this.bans.delete(user)) {
        this.counters.lifted++;
        this.logger.info({ component: 'userban', user }, 'user ban lifted');
      }
      return;
    }
    this.redis.pttl(redisKeys.userBan(user)).then(
      (ttl) => {
        if (ttl !== -2) this.bans.set(user, ttl === -1 ? Infinity : this.now() + ttl);
      },
      () => undefined, // the next load() resyncs
    );
  }
}
