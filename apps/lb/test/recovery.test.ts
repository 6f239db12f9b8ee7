/**
 * MariaDB and Redis come and go: the lb starts without them (503 to initial requests,
 * never 403, since it cannot tell which domains are served), loads the domains by itself
 * once MariaDB is there, subscribes once Redis is there, reloads the list when its node
 * becomes active (hbd's ha.role), and keeps the last list and keeps answering when Redis
 * goes away again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createDb, migrate } from '@ngcp/db';
import { freePort, startMariaDb, startRedis, type MariaDbInstance, type RedisInstance } from '@ngcp/testkit';
import { Peer, lbConfig, startLb, type RunningLb } from './helpers.js';

const stops: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s();
}, 120_000);

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('recovery', () => {
  it('answers 503 without MariaDB, serves domains once it is there, survives Redis going away', async () => {
    const dbPort = await freePort();
    const redisPort = await freePort();
    const proxy = await Peer.start('127.0.0.2');
    stops.push(() => proxy.close());
    const client = await Peer.start('127.0.0.1');
    stops.push(() => client.close());
    const lb: RunningLb = await startLb(await lbConfig({
      proxies: [{ address: proxy.address, port: proxy.port }],
      db: { host: '127.0.0.1', port: dbPort, user: 'ngcp', password: 'lb-test-pw', database: 'ngcp_lb' },
      redis: { host: '127.0.0.1', port: redisPort },
    }));
    stops.push(() => lb.stop());
    const at = { transport: 'udp', address: '127.0.0.1', port: lb.udp };
    const invite = () => client.request(client.make('INVITE', 'sip:bob@example.org', { contact: '<sip:alice@127.0.0.1>' }), at).then((r) => r.final.status);

    expect(await invite()).toBe(503);
    expect(lb.svc.health()).toMatchObject({ ok: true, degraded: true });

    // MariaDB appears (with the domain): the lb loads the list by itself
    const mariadb: MariaDbInstance = await startMariaDb({ port: dbPort, user: 'ngcp', password: 'lb-test-pw', database: 'ngcp_lb' });
    stops.push(() => mariadb.stop());
    const db = createDb(mariadb.connectionConfig());
    stops.push(() => db.destroy());
    await migrate.latest(db);
    await db('domains').insert({ domain: 'example.org' });
    expect(await until(invite, (s) => s === 200)).toBe(200);

    // Redis appears: subscribed; a change notification reloads the list
    const redis: RedisInstance = await startRedis({ port: redisPort });
    await until(async () => lb.svc.health(), (h) => (h.domains as { redis: string }).redis === 'ok');
    await db('domains').insert({ domain: 'late.example' });
    const pub = new Redis(redis.connectionOptions());
    await pub.publish('ngcp:changes', JSON.stringify({ entity: 'domain', id: 2, op: 'create', ts: Date.now() }));
    pub.disconnect();
    const late = () => client.request(client.make('OPTIONS', 'sip:x@late.example'), at).then((r) => r.final.status);
    expect(await until(late, (s) => s === 200)).toBe(200);

    // a domain whose notification went by before its row was there (on the standby the row
    // comes by MariaDB replication, the notification by Redis replication: either may be first)
    // is not served … until the node becomes active: hbd's ha.role reloads the list
    await db('domains').insert({ domain: 'missed.example' });
    const missed = () => client.request(client.make('OPTIONS', 'sip:x@missed.example'), at).then((r) => r.final.status);
    expect(await missed()).toBe(403);
    expect(await lb.svc.methods['ha.role']!({ role: 'standby', epoch: 2, node: 'sp1' })).toMatchObject({ role: 'standby' });
    expect(await missed()).toBe(403);
    expect(await lb.svc.methods['ha.role']!({ role: 'active', epoch: 3, node: 'sp1' })).toMatchObject({ role: 'active' });
    expect(await missed()).toBe(200);

    // Redis goes away: degraded, still serving the last list
    await redis.stop();
    await until(async () => lb.svc.health(), (h) => (h.domains as { redis: string }).redis !== 'ok');
    expect(lb.svc.health()).toMatchObject({ ok: true, degraded: true });
    expect(await invite()).toBe(200);
  }, 120_000);
});
