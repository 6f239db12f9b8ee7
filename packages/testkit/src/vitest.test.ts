import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { afterAll, describe, expect, it } from 'vitest';
import { useMariaDb, useRedis, useRtpengine } from './vitest.js';
import { pidAlive } from './index.js';

describe('vitest helpers', () => {
  const pids: number[] = [];
  afterAll(() => {
    // runs after the inner suite's afterAll hooks stopped the services
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  });

  describe('inner suite', () => {
    const db = useMariaDb();
    const redis = useRedis();
    const rtp = useRtpengine();

    it('provide running services through getters', async () => {
      const c = await createConnection(db().connectionConfig());
      await c.query('SELECT 1');
      await c.end();
      const r = new Redis(redis().url);
      expect(await r.ping()).toBe('PONG');
      r.disconnect();
      expect((await rtp().ng('ping')).result).toBe('pong');
      pids.push(db().pid, redis().pid, rtp().pid);
      expect(pids.every(pidAlive)).toBe(true);
    });
  });
});
