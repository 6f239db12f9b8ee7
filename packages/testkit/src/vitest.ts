/**
 * vitest helpers: `@ngcp/testkit/vitest`. Kept apart from the main entry so that only test
 * code imports 'vitest'.
 *
 *   const db = useMariaDb();            // beforeAll: start, afterAll: stop
 *   it('…', async () => { const conn = await createConnection(db().connectionConfig()); … });
 */
import { afterAll, beforeAll } from 'vitest';
import type { MariaDbInstance, RedisInstance, RtpengineInstance } from '@ngcp/services';
import { startMariaDb, type MariaDbOptions } from './mariadb.js';
import { startRedis, type RedisOptions } from './redis.js';
import { startRtpengine, type RtpengineOptions } from './rtpengine.js';

/** Hook timeout used for start/stop (the vitest default of 10 s is tight for MariaDB on a busy box). */
const HOOK_TIMEOUT_MS = 120_000;

function useService<T extends { stop(): Promise<void> }>(name: string, start: () => Promise<T>): () => T {
  let instance: T | undefined;
  beforeAll(async () => {
    instance = await start();
  }, HOOK_TIMEOUT_MS);
  afterAll(async () => {
    const i = instance;
    instance = undefined;
    await i?.stop();
  }, HOOK_TIMEOUT_MS);
  return () => {
    if (!instance) throw new Error(`testkit: ${name} is not running (use the getter inside tests/hooks, not at collection time)`);
    return instance;
  };
}

/** A private MariaDB for the calling test file (or describe block). */
export function useMariaDb(opts?: MariaDbOptions): () => MariaDbInstance {
  return useService('MariaDB', () => startMariaDb(opts));
}

/** A private Redis for the calling test file (or describe block). */
export function useRedis(opts?: RedisOptions): () => RedisInstance {
  return useService('Redis', () => startRedis(opts));
}

/** A private rtpengine for the calling test file (or describe block). */
export function useRtpengine(opts?: RtpengineOptions): () => RtpengineInstance {
  return useService('rtpengine', () => startRtpengine(opts));
}
