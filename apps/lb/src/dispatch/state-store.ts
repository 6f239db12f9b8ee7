/**
 * The dispatcher's destination states in Redis `dispatcher:state` (packages/db/REDIS.md),
 * so the lb on the new active node knows which proxies are down — and which an operator
 * set down by hand — without waiting for its own probes. Written on every change and
 * every `dispatcher.set`; read at start and by `dispatcher.load` (e.g. when the node becomes
 * active). On the standby Redis is a read-only replica: writes fail there, are counted and
 * logged once per outage, and never hold up SIP.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisKeys, type DispatcherDestinationState } from '@ngcp/db';
import type { Destination, DestinationSet } from './destinations.js';

export interface DispatcherStateOptions {
  redis: { host: string; port: number; password?: string; db: number };
  node: string;
  logger: Logger;
}

export class DispatcherStateStore {
  private readonly redis: Redis;
  private failing = false;
  readonly counters = { written: 0, failed: 0, loaded: 0 };

  constructor(private readonly o: DispatcherStateOptions) {
    const r = o.redis;
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

  /** Write one destination's state (fire and forget). */
  save(d: Destination): void {
    const v: DispatcherDestinationState = { state: d.up ? 'up' : 'down', admin_down: d.adminDown, at: Math.floor(Date.now() / 1000), node: this.o.node };
    this.redis.hset(redisKeys.dispatcherState(), d.id, JSON.stringify(v)).then(
      () => {
        this.counters.written++;
        if (this.failing) this.o.logger.info({ component: 'dispatcher' }, 'dispatcher state written to redis again');
        this.failing = false;
      },
      (err: Error) => {
        this.counters.failed++;
        if (!this.failing) this.o.logger.warn({ component: 'dispatcher', err: err.message }, 'dispatcher state not written to redis');
        this.failing = true;
      },
    );
  }

  /**
   * Apply the states in Redis to `dests` (unknown destinations and bad values ignored);
   * resolves with how many were applied. Without probing (`probing` false) only the
   * by-hand state is taken: nothing would ever bring a probe-down destination back.
   */
  async load(dests: DestinationSet, probing = true): Promise<number> {
    const h = await this.redis.hgetall(redisKeys.dispatcherState());
    let n = 0;
    for (const [id, raw] of Object.entries(h)) {
      const d = dests.byId(id);
      if (!d) continue;
      let v: Partial<DispatcherDestinationState>;
      try {
        v = JSON.parse(raw) as Partial<DispatcherDestinationState>;
      } catch {
        continue;
      }
      if (v.state !== 'up' && v.state !== 'down') continue;
      const admin = v.admin_down === true;
      dests.restore(d, v.state === 'up' || (!probing && !admin), admin);
      n++;
    }
    this.counters.loaded += n;
    return n;
  }
}
