/** The pins' Redis connection: never blocks a caller, and comes up by itself when Redis starts after mediactl. */
import { freePort, startRedis } from '@ngcp/testkit';
import { expect, it } from 'vitest';
import { RedisPinBackend } from '../src/redis-pin-backend.js';
import { silentLogger } from './fakes.js';

it('reconnects to a Redis that was down at start', async () => {
  const port = await freePort({ tcp: true, host: '127.0.0.1' });
  let readies = 0;
  const b = new RedisPinBackend({ config: { host: '127.0.0.1', port, db: 0 }, logger: silentLogger, onReady: () => readies++ });
  await b.connect(300);
  expect(b.ready).toBe(false);
  await expect(b.get('x')).rejects.toThrow();
  const r = await startRedis({ port });
  const end = Date.now() + 10000;
  while (!b.ready && Date.now() < end) await new Promise((res) => setTimeout(res, 50));
  expect(b.ready).toBe(true);
  expect(readies).toBe(1);
  await b.close();
  await r.stop();
});
