/** Redis away: the proxy keeps answering (503), reports unhealthy, and recovers by itself. */
import { describe, expect, it } from 'vitest';
import { freePort, startRedis, type RedisInstance } from '@ngcp/testkit';
import { afterAll } from 'vitest';
import { provision, until, useHarness } from './harness.js';
import { Ua } from './ua.js';

let port = 0;
let late: RedisInstance | undefined;
const h = useHarness(async () => {
  port = await freePort();
  return { redis: { host: '127.0.0.1', port, db: 0 } };
});
afterAll(async () => {
  await late?.stop();
});

describe('without Redis', () => {
  it('answers REGISTER 503, is unhealthy, and serves again once Redis is there', async () => {
    const domain = await provision(h(), [{ username: 'rita', password: 'rita-pw-12' }]);
    const u = await new Ua('rita', domain, 'rita-pw-12', h().proxy.address()).start();
    try {
      const r = await u.register();
      expect(r.final.status).toBe(503);
      expect(r.final.get('retry-after')).toBeDefined();
      expect(await h().proxy.health()).toMatchObject({ ok: false, redis: false, db: true, sip: true });
      late = await startRedis({ port });
      await until(async () => (await u.register()).final.status === 200, 'REGISTER served after Redis came back', 30_000);
      expect(await h().proxy.health()).toMatchObject({ ok: true, redis: true });
    } finally {
      await u.stop();
    }
  });
});
