/**
 * The list of served domains, from MariaDB, kept in memory: loaded at start, reloaded
 * when the API announces a `domain` change on Redis `ngcp:changes` and after every
 * (re)connect of the subscription (a message may have been missed), retried every
 * `retryMs` while MariaDB does not answer. While the subscription is down no change can
 * be heard, so the list is polled every `retryMs` until it is back. A failed load keeps
 * the last list.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Knex } from '@ngcp/db';
import { CHANGES_CHANNEL, type ChangeNotification } from '@ngcp/db';

export interface DomainCacheOptions {
  db: Knex;
  redis: { host: string; port: number; password?: string; db: number };
  retryMs: number;
  logger: Logger;
  /** Every readable notification of `ngcp:changes` (the lb's other caches share this subscription). */
  onChange?: (n: ChangeNotification) => void;
  /** The subscription is (re)established: a notification may have gone by unheard. */
  onSubscribed?: () => void;
}

export interface DomainCacheHealth {
  domains: number | null;
  db: 'ok' | 'failing';
  redis: 'ok' | 'disconnected';
  loaded_at: string | null;
}

export class DomainCache {
  private domains: ReadonlySet<string> | null = null;
  private loadedAt: number | null = null;
  private dbOk = false;
  private redisOk = false;
  private redisWarned = false;
  private sub: Redis | null = null;
  private retry: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  readonly counters = { loads: 0, failures: 0, notifications: 0 };

  constructor(private readonly o: DomainCacheOptions) {}

  /** Served domains (lower case), null until a load succeeded. */
  current(): ReadonlySet<string> | null {
    return this.domains;
  }

  health(): DomainCacheHealth {
    return {
      domains: this.domains === null ? null : this.domains.size,
      db: this.dbOk ? 'ok' : 'failing',
      redis: this.redisOk ? 'ok' : 'disconnected',
      loaded_at: this.loadedAt === null ? null : new Date(this.loadedAt).toISOString(),
    };
  }

  /** Subscribe and load once (never throws: failures are logged and retried). */
  async start(): Promise<void> {
    const r = this.o.redis;
    const sub = new Redis({
      host: r.host, port: r.port, db: r.db, ...(r.password ? { password: r.password } : {}),
      lazyConnect: true, maxRetriesPerRequest: null, enableOfflineQueue: true,
      retryStrategy: (n: number) => Math.min(100 * n, 2000),
    });
    this.sub = sub;
    sub.on('ready', () => {
      if (!this.redisOk) this.o.logger.info({ redis: `${r.host}:${r.port}` }, 'change notifications subscribed');
      this.redisOk = true;
      this.redisWarned = false;
      void this.reload(); // a change may have gone by while we were not listening
      this.o.onSubscribed?.();
    });
    sub.on('error', (err: Error) => {
      // once per outage; ioredis retries by itself
      if (!this.redisWarned) this.o.logger.warn({ err: err.message }, 'redis subscription lost; retrying (domains polled meanwhile)');
      this.redisWarned = true;
      this.redisOk = false;
    });
    sub.on('close', () => {
      this.redisOk = false;
    });
    sub.on('message', (channel: string, payload: string) => this.onMessage(channel, payload));
    sub.subscribe(CHANGES_CHANNEL).catch((err: unknown) => this.o.logger.warn({ err: String(err) }, 'subscribe failed; retried on reconnect'));
    sub.connect().catch(() => undefined); // errors arrive as 'error' events and are retried
    this.poll = setInterval(() => {
      if (!this.redisOk) void this.reload();
    }, this.o.retryMs);
    this.poll.unref();
    await this.reload();
  }

  /** Reload the list now (control `reload`, a notification, a reconnect). Concurrent calls share one load and repeat it once. */
  reload(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load().finally(() => {
      this.loading = null;
      if (this.again) {
        this.again = false;
        void this.reload();
      }
    });
    return this.loading;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    const s = this.sub;
    this.sub = null;
    if (s) s.disconnect();
  }

  private onMessage(channel: string, payload: string): void {
    if (channel !== CHANGES_CHANNEL) return;
    let n: Partial<ChangeNotification> | null;
    try {
      n = JSON.parse(payload) as Partial<ChangeNotification> | null;
    } catch {
      this.o.logger.debug({ payload: payload.slice(0, 200) }, 'unreadable change notification');
      return;
    }
    const entity = n?.entity;
    if (this.o.onChange && n && typeof entity === 'string') {
      try {
        this.o.onChange(n as ChangeNotification);
      } catch (err) {
        this.o.logger.error({ err, entity }, 'change listener threw');
      }
    }
    if (entity !== 'domain') return;
    this.counters.notifications++;
    void this.reload();
  }

  private async load(): Promise<void> {
    try {
      const rows = (await this.o.db('domains').pluck('domain')) as string[];
      this.domains = new Set(rows.map((d) => d.toLowerCase()));
      this.loadedAt = Date.now();
      if (!this.dbOk) this.o.logger.info({ domains: rows.length }, 'served domains loaded');
      this.dbOk = true;
      this.counters.loads++;
      if (this.retry) clearTimeout(this.retry);
      this.retry = null;
    } catch (err) {
      this.counters.failures++;
      if (this.dbOk || this.counters.failures === 1) {
        this.o.logger.warn({ err: (err as Error).message, kept: this.domains?.size ?? null }, 'loading served domains failed; keeping the last list, retrying');
      }
      this.dbOk = false;
      if (!this.stopped && this.retry === null) {
        this.retry = setTimeout(() => {
          this.retry = null;
          void this.reload();
        }, this.o.retryMs);
        this.retry.unref();
      }
    }
  }
}
