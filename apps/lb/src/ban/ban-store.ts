/**
 * The flood guard's bans in Redis `ipban:<ip>` (packages/db/REDIS.md): JSON `BanEntry`, TTL
 * = ban time, so a ban outlives an lb restart and reaches the standby by replication. The
 * guard decides from memory (no Redis round trip per packet); this store keeps the memory
 * and Redis in step:
 *   - a ban the guard makes is written (SET … EX) and announced on `ngcp:changes`
 *     (`{entity: 'ipban', id: <ip>, op: 'create'}`), which the other node's lb hears through
 *     its replica;
 *   - `load()` makes the memory a copy of Redis (at start, on every (re)subscription — a
 *     lift may have gone by unheard — and when the node becomes active);
 *   - `onChange()` applies a notification: `delete` (the API's DELETE /api/bannedips/<ip>)
 *     lifts at once, `create` reads the key's TTL and bans.
 * Redis away: writes fail (counted, logged once per outage) and the ban holds in memory.
 * On the standby Redis is a read-only replica: its lb sees no traffic and writes nothing.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CHANGES_CHANNEL, keyDeadlines, REDIS_PATTERNS, redisKeys, type BanEntry, type ChangeNotification } from '@ngcp/db';
import type { FloodGuard } from './flood-guard.js';

export interface IpBanStoreOptions {
  redis: { host: string; port: number; password?: string; db: number };
  guard: FloodGuard;
  banS: number;
  logger: Logger;
  now?: () => number;
}

const PREFIX = 'ipban:';

export class IpBanStore {
  private readonly redis: Redis;
  private readonly now: () => number;
  private failing = false;
  readonly counters = { written: 0, failed: 0, loads: 0, load_failures: 0, notifications: 0 };

  constructor(private readonly o: IpBanStoreOptions) {
    const r = o.redis;
    this.now = o.now ?? Date.now;
    this.redis = new Redis({
      host: r.host, port: r.port, db: r.db, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1,
      retryStrategy: (n: number) => Math.min(100 * n, 2000),
      ...(r.password ? { password: r.password } : {}),
    });
    this.redis.on('error', () => undefined); // reported by the commands that fail
  }

  async connect(timeoutMs = 1000): Promise<void> {
    await Promise.race([this.redis.connect().catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }

  close(): void {
    this.redis.disconnect();
  }

  /** Write a ban the guard just made (fire and forget) and announce it. */
  write(address: string, count: number): void {
    const entry: BanEntry = { reason: 'flood', banned_at: Math.floor(this.now() / 1000), count };
    const note: ChangeNotification = { entity: 'ipban', id: address, op: 'create', ts: this.now() };
    this.redis
      .multi()
      .set(redisKeys.ipBan(address), JSON.stringify(entry), 'EX', this.o.banS)
      .publish(CHANGES_CHANNEL, JSON.stringify(note))
      .exec()
      .then((res) => {
        const err = res?.find(([e]) => e)?.[0];
        if (err) throw err;
        this.counters.written++;
        if (this.failing) this.o.logger.info({ component: 'ipban' }, 'bans written to redis again');
        this.failing = false;
      })
      .catch((err: Error) => {
        this.counters.failed++;
        if (!this.failing) this.o.logger.warn({ component: 'ipban', err: err.message, address }, 'ban not written to redis (held in memory)');
        this.failing = true;
      });
  }

  /** Make the guard's bans a copy of Redis's; resolves with how many there are. Throws when Redis does not answer. */
  async load(): Promise<number> {
    try {
      const bans = await keyDeadlines(this.redis, REDIS_PATTERNS.ipBan, PREFIX, this.now());
      this.o.guard.replaceBans(bans);
      this.counters.loads++;
      return bans.length;
    } catch (err) {
      this.counters.load_failures++;
      throw err;
    }
  }

  /** A message of `ngcp:changes` (the domain cache's subscription passes every one on). */
  onChange(n: ChangeNotification): void {
    if (n.entity !== 'ipban' || typeof n.id !== 'string') return;
    this.counters.notifications++;
    const address = n.id;
    if (n.op === 'delete') {
      if (this.o.guard.lift(address)) this.o.logger.info({ component: 'ipban', address }, 'ban lifted');
      return;
    }
    if (this.o.guard.isBanned(address)) return; // our own announcement, or known already
    this.redis.pttl(redisKeys.ipBan(address)).then(
      (ttl) => {
        if (ttl === -2) return;
        if (this.o.guard.applyBan(address, ttl === -1 ? Infinity : this.now() + ttl)) this.o.logger.info({ component: 'ipban', address }, 'ban learnt from redis');
      },
      () => undefined, // the next load() resyncs
    );
  }
}
