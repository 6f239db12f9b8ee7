/**
 * The Redis, MariaDB and notify steps against real private servers: REPLICAOF with a
 * password, read_only that really stops the application user, and failures named by step.
 */
import { createConnection } from 'mysql2/promise';
import { freePort, redisRaw, startMariaDb, startRedis, type MariaDbInstance, type RedisInstance } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { mariadbStep, notifyStep, redisMediaStore, redisStep, StepError } from '../src/steps.js';

const ctx = { role: 'active' as const, epoch: 1, node: 'sp1', peer: 'sp2' };
let r1: RedisInstance;
let r2: RedisInstance;
let db: MariaDbInstance;

beforeAll(async () => {
  [r1, r2, db] = await Promise.all([startRedis({ password: 'pw-1' }), startRedis({ password: 'pw-1' }), startMariaDb()]);
}, 120_000);
afterAll(async () => {
  await Promise.allSettled([r1?.stop(), r2?.stop(), db?.stop()]);
}, 120_000);

const info = (r: RedisInstance): Promise<string> => redisRaw(r.host, r.port, [['AUTH', 'pw-1'], ['INFO', 'replication']]);

describe('redis step', () => {
  it('standby: follows the peer (masterauth set); active: REPLICAOF NO ONE', async () => {
    const step = redisStep({ redis: { host: r2.host, port: r2.port, password: 'pw-1', peer_host: r1.host, peer_port: r1.port }, step_timeout_ms: 2000 });
    await step.deactivate(ctx);
    await redisRaw(r1.host, r1.port, [['AUTH', 'pw-1'], ['SET', 'hbd:probe', 'from-r1']]);
    const end = Date.now() + 10_000;
    let got = '';
    while (Date.now() < end) {
      got = await redisRaw(r2.host, r2.port, [['AUTH', 'pw-1'], ['GET', 'hbd:probe']]);
      if (got.includes('from-r1')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(got).toContain('from-r1');
    expect(await info(r2)).toMatch(/role:slave/);
    await step.activate(ctx);
    expect(await info(r2)).toMatch(/role:master/);
    await redisRaw(r2.host, r2.port, [['AUTH', 'pw-1'], ['SET', 'hbd:own', 'x']]);
  });

  it('an unreachable Redis fails the step, naming it', async () => {
    const port = await freePort({ tcp: true, host: '127.0.0.1' });
    const err = await redisStep({ redis: { host: '127.0.0.1', port }, step_timeout_ms: 500 }).activate(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(new RegExp(`^redis: 127.0.0.1:${port}: `));
  });
});

describe('mariadb step', () => {
  it('standby: read_only stops the application user writing; active: writable again', async () => {
    const root = await createConnection(db.rootConnectionConfig());
    await root.query(`CREATE TABLE IF NOT EXISTS \`${db.database}\`.hbd_probe (id INT PRIMARY KEY AUTO_INCREMENT)`);
    await root.end();
    const step = mariadbStep({ mariadb: { host: db.host, port: db.port, user: 'root', password: db.rootPassword }, step_timeout_ms: 2000 });
    const app = await createConnection(db.connectionConfig());
    try {
      await step.deactivate(ctx);
      expect(((await app.query('SELECT @@global.read_only AS ro')) as unknown as [Array<{ ro: number }>])[0][0]?.ro).toBe(1);
      await expect(app.query('INSERT INTO hbd_probe () VALUES ()')).rejects.toThrow(/read-only|read_only/);
      await step.activate(ctx);
      expect(((await app.query('SELECT @@global.read_only AS ro')) as unknown as [Array<{ ro: number }>])[0][0]?.ro).toBe(0);
      await app.query('INSERT INTO hbd_probe () VALUES ()');
    } finally {
      await app.end();
    }
  });

  it('wrong credentials fail the step, naming it', async () => {
    const err = await mariadbStep({ mariadb: { host: db.host, port: db.port, user: 'root', password: 'wrong' }, step_timeout_ms: 2000 }).activate(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as Error).message).toMatch(/^mariadb: .*Access denied/);
  });
});

describe('notify step', () => {
  it('a daemon that cannot be reached fails the step, naming it', async () => {
    const port = await freePort({ tcp: true, host: '127.0.0.1' });
    await expect(notifyStep({ notify: [{ name: 'lb', url: `http://127.0.0.1:${port}/` }], step_timeout_ms: 500 }).activate(ctx)).rejects.toThrow(/^notify: lb: /);
  });
});

describe("media step's view of the replica (redisMediaStore)", () => {
  it("in sync once the replica's link is up; the call-ids of rtpengine's DB; a keyspace event PUBLISHed on the replica reaches a subscriber there", async () => {
    const r2cfg = { host: r2.host, port: r2.port, password: 'pw-1', peer_host: r1.host, peer_port: r1.port };
    const store = redisMediaStore(r2cfg, 1, 2000);
    await redisRaw(r1.host, r1.port, [['AUTH', 'pw-1'], ['SELECT', '1'], ['SET', 'call-x', '{}'], ['SET', 'call-y', '{}']]);
    await redisStep({ redis: r2cfg, step_timeout_ms: 2000 }).deactivate(ctx);
    const end = Date.now() + 10_000;
    while (!(await store.inSync()) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await store.inSync()).toBe(true);
    expect((await store.callIds()).sort()).toEqual(['call-x', 'call-y']);
    const sub = new Redis({ host: r2.host, port: r2.port, password: 'pw-1', maxRetriesPerRequest: 0 });
    try {
      const got = new Promise<string>((resolve) => sub.on('pmessage', (_p, channel, message) => resolve(`${channel} ${message}`)));
      await sub.psubscribe('__keyspace@1__:*');
      await store.publish('call-x', 'set');
      expect(await got).toBe('__keyspace@1__:call-x set');
    } finally {
      sub.disconnect();
      await redisStep({ redis: r2cfg, step_timeout_ms: 2000 }).activate(ctx);
    }
    expect(await store.inSync()).toBe(false); // a master has no link to be in sync with
  });
});
