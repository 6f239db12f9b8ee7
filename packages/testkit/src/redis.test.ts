import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { pidAlive, redisRaw, startRedis } from './index.js';

async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('startRedis', () => {
  it('starts a private password-protected redis, SET/GET, stops it by PID and removes its dir', async () => {
    const t0 = Date.now();
    const r = await startRedis({ password: 's3cret' });
    const startMs = Date.now() - t0;
    expect(startMs).toBeLessThan(5000);
    expect(r.url).toBe(`redis://:s3cret@127.0.0.1:${r.port}`);
    expect(pidAlive(r.pid)).toBe(true);
    expect(existsSync(r.dataDir)).toBe(true);

    const client = new Redis(r.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    await client.set('k', 'v');
    expect(await client.get('k')).toBe('v');
    client.disconnect();

    // without the password we are refused
    expect(await redisRaw(r.host, r.port, [['GET', 'k']])).toMatch(/^-NOAUTH/);

    await r.stop();
    expect(pidAlive(r.pid)).toBe(false);
    expect(existsSync(r.dataDir)).toBe(false);
    await r.stop(); // idempotent
  });

  it('runs a replica that follows its primary', async () => {
    const primary = await startRedis({ password: 'pw' });
    const replica = await startRedis({ password: 'pw', replicaOf: primary });
    try {
      expect(replica.port).not.toBe(primary.port);
      const p = new Redis(primary.connectionOptions());
      const s = new Redis(replica.connectionOptions());
      await p.set('ha:key', 'from-primary');
      const seen = await until(async () => (await s.get('ha:key')) ?? undefined);
      expect(seen).toBe('from-primary');
      const info = await s.info('replication');
      expect(info).toMatch(/role:slave/);
      expect(info).toMatch(/master_link_status:up/);
      await expect(s.set('x', '1')).rejects.toThrow(/READONLY/);
      p.disconnect();
      s.disconnect();
    } finally {
      await replica.stop();
      await primary.stop();
    }
    expect(pidAlive(primary.pid)).toBe(false);
    expect(pidAlive(replica.pid)).toBe(false);
    expect(existsSync(primary.dataDir) || existsSync(replica.dataDir)).toBe(false);
  });

  it('passes extra config through', async () => {
    const r = await startRedis({ config: { 'notify-keyspace-events': 'KEA' } });
    try {
      const c = new Redis(r.connectionOptions());
      expect(await c.config('GET', 'notify-keyspace-events')).toEqual(['notify-keyspace-events', 'AKE']);
      expect(await c.config('GET', 'save')).toEqual(['save', '']);
      c.disconnect();
    } finally {
      await r.stop();
    }
  });
});
