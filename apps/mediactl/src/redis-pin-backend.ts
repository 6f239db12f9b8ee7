/**
 * The pins' Redis (ioredis). Never makes a caller wait for a Redis that is away: no offline
 * queue (a command while disconnected fails at once), a command timeout, and endless
 * reconnects in the background. Logs the loss once and the return once; `onReady` runs on
 * every (re)connect so the pin store can replay what Redis missed.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MediactlRedisConfig } from './config.js';
import type { PinBackend } from './pin-store.js';

export interface RedisPinBackendOptions {
  config: MediactlRedisConfig;
  logger: Logger;
  /** Per command; default 500 ms. */
  commandTimeoutMs?: number;
  onReady?: () => void;
}

export class RedisPinBackend implements PinBackend {
  readonly #redis: Redis;
  readonly #logger: Logger;
  #lost = false;
  #firstReady: Promise<void>;

  constructor(opts: RedisPinBackendOptions) {
    this.#logger = opts.logger.child({ component: 'redis' });
    const { host, port, password, db } = opts.config;
    this.#redis = new Redis({
      host,
      port,
      db,
      ...(password ? { password } : {}),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 500,
      connectTimeout: 2000,
      retryStrategy: (times) => Math.min(100 * times, 2000),
    });
    let resolveFirst: () => void = () => undefined;
    this.#firstReady = new Promise<void>((r) => (resolveFirst = r));
    this.#redis.on('ready', () => {
      resolveFirst();
      if (this.#lost) this.#logger.info({ host, port }, 'redis back');
      this.#lost = false;
      opts.onReady?.();
    });
    this.#redis.on('error', (err: Error) => {
      if (this.#lost) return;
      this.#lost = true;
      this.#logger.warn({ host, port, err: err.message }, 'redis lost, pins kept in memory until it is back');
    });
    this.#redis.on('close', () => {
      if (this.#lost || this.#redis.status === 'end') return;
      this.#lost = true;
      this.#logger.warn({ host, port }, 'redis lost, pins kept in memory until it is back');
    });
  }

  get ready(): boolean {
    return this.#redis.status === 'ready';
  }

  get status(): string {
    return this.#redis.status;
  }

  /** Connects in the background; resolves when ready or after `waitMs`, whichever is first (never rejects). */
  async connect(waitMs: number): Promise<void> {
    this.#redis.connect().catch(() => undefined); // failures are logged by 'error'; reconnects go on
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.#firstReady, new Promise<void>((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  async get(key: string): Promise<string | null> {
    return this.#redis.get(key);
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    await this.#redis.set(key, value, 'EX', ttlS);
  }

  async del(key: string): Promise<void> {
    await this.#redis.del(key);
  }

  async close(): Promise<void> {
    this.#redis.disconnect(false);
  }
}
