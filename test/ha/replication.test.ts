/**
 * The pair's replication functions of @ngcp/services against real servers: two private
 * MariaDB (GTID, binlog, distinct server ids — the pair settings of my.cnf) and two
 * private Redis on loopback. Lead/follow, data written on the lead appears on the
 * follower, the follower refuses writes, roles switch, a diverged follower is re-seeded.
 */
import {
  gtidDiverged,
  mariadbFollow,
  mariadbLead,
  mariadbReplicationStatus,
  redisCommand,
  redisFollow,
  redisLead,
  redisReplicationStatus,
  replicationStatus,
  type MariaDbAdmin,
  type MariaDbInstance,
  type RedisInstance,
  type RedisTarget,
} from '@ngcp/services';
import { startMariaDb, startRedis } from '@ngcp/testkit';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const account = { user: 'replicator', password: 'repl "pw" #1' };
const PW = 'redis-pair-pw';

const pairArgs = (id: number): string[] => [
  `--server-id=${id}`,
  '--log-bin=mysql-bin',
  '--log-slave-updates=ON',
  '--binlog-format=ROW',
  '--gtid-strict-mode=ON',
  '--read-only=ON',
];

let a: MariaDbInstance;
let b: MariaDbInstance;
let ra: RedisInstance;
let rb: RedisInstance;
const admin = (m: MariaDbInstance): MariaDbAdmin => ({ socket: m.socket, user: 'root', password: m.rootPassword });
const peer = (m: MariaDbInstance): { host: string; port: number } => ({ host: m.host, port: m.port });
const rt = (r: RedisInstance): RedisTarget => ({ host: r.host, port: r.port, password: PW });
const follow = (m: MariaDbInstance, lead: MariaDbInstance): ReturnType<typeof mariadbFollow> =>
  mariadbFollow(admin(m), peer(lead), account, { databases: [lead.database] });

async function app(m: MariaDbInstance): Promise<Connection> {
  return createConnection(m.connectionConfig());
}

async function until<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function rows(m: MariaDbInstance): Promise<string[]> {
  const c = await app(m);
  try {
    const [r] = await c.query('SELECT v FROM t ORDER BY id');
    return (r as { v: string }[]).map((x) => x.v);
  } finally {
    await c.end();
  }
}

async function insert(m: MariaDbInstance, v: string): Promise<void> {
  const c = await app(m);
  try {
    await c.query('INSERT INTO t (v) VALUES (?)', [v]);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  [a, b, ra, rb] = await Promise.all([
    startMariaDb({ extraArgs: pairArgs(1) }),
    startMariaDb({ extraArgs: pairArgs(2) }),
    startRedis({ password: PW, config: { masterauth: PW } }),
    startRedis({ password: PW, config: { masterauth: PW } }),
  ]);
  // a fresh pair: what the launcher provisioned (users, database) is not part of the history
  for (const m of [a, b]) {
    const c = await createConnection({ socketPath: m.socket, user: 'root', password: m.rootPassword });
    await c.query('RESET MASTER');
    await c.end();
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop(), ra?.stop(), rb?.stop()]);
});

describe('gtidDiverged', () => {
  it.each([
    ['', '', false],
    ['', '0-1-5', false],
    ['0-1-5', '0-1-5', false],
    ['0-1-4', '0-1-9', false],
    ['0-1-6', '0-1-5', true],
    ['0-2-5', '0-1-5', true],
    ['1-2-1', '0-1-5', true],
    ['0-1-3,1-2-1', '0-1-5,1-2-4', false],
  ])('%j following %j → %s', (local, lead, want) => {
    expect(gtidDiverged(local, lead)).toBe(want);
  });
  it('refuses what is not a GTID list', () => {
    expect(() => gtidDiverged('x-y', '')).toThrow(/not a GTID position/);
  });
});

describe('MariaDB GTID replication', () => {
  it('a leads, b follows: the lead writes, the follower gets it and refuses writes', async () => {
    const lead = await mariadbLead(admin(a), account);
    expect(lead.steps).toContain('read_only=0');
    const c = await app(a);
    await c.query('CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(40))');
    await c.query("INSERT INTO t (v) VALUES ('one')");
    await c.end();

    const f = await follow(b, a);
    expect(f.changed).toBe(true);
    expect(f.reseeded).toBe(false);
    await insert(a, 'two');
    expect(await until(async () => ((await rows(b)).length === 2 ? rows(b) : undefined))).toEqual(['one', 'two']);
    await expect(insert(b, 'nope')).rejects.toThrow(/read-only|read_only/i);

    const sb = await mariadbReplicationStatus(admin(b));
    expect(sb).toMatchObject({ role: 'follow', readOnly: true, following: { host: a.host, port: a.port, io: 'Yes', sql: 'Yes' } });
    const sa = await mariadbReplicationStatus(admin(a));
    expect(sa).toMatchObject({ role: 'lead', readOnly: false, serverId: 1, logBin: true });
  });

  it('is idempotent: the same role again changes nothing', async () => {
    expect(await follow(b, a)).toEqual({ changed: false, steps: [], reseeded: false });
    expect(await mariadbLead(admin(a), account)).toEqual({ changed: false, steps: [] });
  });

  it('switches roles: b leads, a follows from where it is, and refuses writes', async () => {
    const l = await mariadbLead(admin(b), account);
    expect(l.steps.join(' ')).toMatch(/stopped following/);
    const f = await follow(a, b);
    expect(f.reseeded).toBe(false);
    await insert(b, 'three');
    expect(await until(async () => ((await rows(a)).length === 3 ? rows(a) : undefined))).toEqual(['one', 'two', 'three']);
    await expect(insert(a, 'nope')).rejects.toThrow(/read-only|read_only/i);
  });

  it('re-seeds a follower whose history diverged (it wrote while both led)', async () => {
    await mariadbLead(admin(a), account); // split brain: both writable
    await insert(a, 'only-on-a');
    await insert(b, 'four');
    const f = await follow(a, b);
    expect(f.reseeded).toBe(true);
    expect(await rows(a)).toEqual(['one', 'two', 'three', 'four']);
    await insert(b, 'five');
    expect(await until(async () => ((await rows(a)).length === 5 ? rows(a) : undefined))).toEqual(['one', 'two', 'three', 'four', 'five']);
    const s = await mariadbReplicationStatus(admin(a));
    expect(s.following).toMatchObject({ io: 'Yes', sql: 'Yes' });
  });

  it('a re-seed whose dump breaks off (the lead died mid-dump) changes nothing on the follower: no database dropped, no half load', async () => {
    await mariadbLead(admin(a), account);
    await insert(a, 'a-alone'); // a diverged again: the next follow must re-seed
    const before = await rows(a);
    const dir = mkdtempSync(join(tmpdir(), 'fake-dump-'));
    try {
      // what a dump cut off by a dead lead looks like: it had begun with the DROP DATABASE
      const broken = join(dir, 'broken-dump');
      writeFileSync(broken, `#!/bin/sh\necho 'DROP DATABASE IF EXISTS \`${b.database}\`;'\necho 'CREATE DATABASE \`${b.database}\`;'\nexit 2\n`, { mode: 0o755 });
      // and one that exits 0 without mariadb-dump's closing line
      const cut = join(dir, 'cut-dump');
      writeFileSync(cut, `#!/bin/sh\necho 'DROP DATABASE IF EXISTS \`${b.database}\`;'\nexit 0\n`, { mode: 0o755 });
      for (const dumpBinary of [broken, cut]) {
        await expect(mariadbFollow(admin(a), peer(b), account, { databases: [b.database], dumpBinary })).rejects.toMatchObject({ code: 'REPLICATION_RESEED_FAILED' });
        expect(await rows(a)).toEqual(before);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // the real dump then re-seeds it
    expect((await follow(a, b)).reseeded).toBe(true);
    expect(await rows(a)).toEqual(await rows(b));
  });

  it('fails clearly when the lead cannot be reached', async () => {
    await expect(mariadbFollow(admin(a), { host: '127.0.0.1', port: 1 }, account, { databases: ['x'] })).rejects.toMatchObject({ code: 'REPLICATION_FAILED' });
  });
});

describe('Redis replication', () => {
  it('a leads, b follows: keys written on the lead appear on the follower, which refuses writes', async () => {
    expect((await redisLead(rt(ra))).changed).toBe(false); // a fresh Redis is a master
    const f = await redisFollow(rt(rb), { host: ra.host, port: ra.port });
    expect(f).toEqual({ changed: true, steps: [`REPLICAOF ${ra.host} ${ra.port}`] });
    await redisCommand(rt(ra), ['SET', 'reg:alice', 'bound']);
    expect(await until(async () => ((await redisCommand(rt(rb), ['GET', 'reg:alice'])) === 'bound' ? true : undefined))).toBe(true);
    await expect(redisCommand(rt(rb), ['SET', 'x', '1'])).rejects.toThrow(/READONLY/);
    expect(await redisReplicationStatus(rt(rb))).toMatchObject({ role: 'slave', master: { host: ra.host, port: ra.port, linkUp: true } });
    expect((await redisFollow(rt(rb), { host: ra.host, port: ra.port })).changed).toBe(false);
  });

  it('switches roles', async () => {
    expect(await redisLead(rt(rb))).toEqual({ changed: true, steps: ['REPLICAOF NO ONE'] });
    await redisFollow(rt(ra), { host: rb.host, port: rb.port });
    await redisCommand(rt(rb), ['SET', 'reg:bob', 'bound']);
    expect(await until(async () => ((await redisCommand(rt(ra), ['GET', 'reg:bob'])) === 'bound' ? true : undefined))).toBe(true);
    await expect(redisCommand(rt(ra), ['SET', 'x', '1'])).rejects.toThrow(/READONLY/);
  });

  it('replicationStatus gives both, and the error of an unreachable one', async () => {
    const s = await replicationStatus({ mariadb: admin(b), redis: { host: '127.0.0.1', port: 1 } });
    expect(s.mariadb).toMatchObject({ role: 'lead' });
    expect(s.redis).toMatchObject({ error: expect.stringMatching(/ECONNREFUSED/) });
  });
});
