/**
 * The sweep of stale prepaid reservations across the HA pair (docs/sbc.md "Reservations that
 * cannot leak"): the sbc process (apps/sbc/dist/main.js) with a private MariaDB and two private
 * Redis servers — the active node's and the standby's, a read-only replica of it. Two stale
 * rows (last written an hour ago, their units reserved on the balance): one whose call is live
 * in Redis (the other node's, say), one whose call is gone. A sbc on the standby's Redis sweeps
 * nothing; a sbc on the active node's closes the gone one only.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '@ngcp/cli/testing';
import { createDb, getBalance, migrate, type Db } from '@ngcp/db';
import { RpcClient } from '@ngcp/rpc';
import { freePort, redisRaw, startMariaDb, startRedis, type MariaDbInstance, type RedisInstance } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSbcProcess, stopSbcProcess, waitHealthy, type SbcProcess } from './process.js';

const HOST = '127.0.0.1';
let active: RedisInstance;
let standby: RedisInstance;
let mariadb: MariaDbInstance;
let db: Db;
let dir: string;
let customerId: number;
let sbc: SbcProcess | undefined;
let rpc: RpcClient | undefined;
let controlPort = 0;

beforeAll(async () => {
  [active, standby, mariadb] = await Promise.all([startRedis(), startRedis(), startMariaDb()]);
  // the standby's Redis: a replica of the active node's (read-only, as hbd sets it up)
  expect(await redisRaw(HOST, standby.port, [['REPLICAOF', HOST, String(active.port)]])).toMatch(/^\+OK/);
  db = createDb({ ...mariadb.connectionConfig(), pool: { max: 3 } });
  await migrate.latest(db);
  [customerId] = (await db('customers').insert({ name: 'sweep', prepaid: true })) as [number];
  await db('customer_balances').insert({ customer_id: customerId, cash_balance: 1000, reserved: 70 });
  const hourAgo = new Date(Date.now() - 3_600_000);
  const row = { customer_id: customerId, granted: 3, destination: '49', price_per_minute: 600, first_interval: 1, next_interval: 1, created_at: hourAgo, updated_at: hourAgo };
  await db('prepaid_reservations').insert([{ ...row, call_id: 'gone', held: 30 }, { ...row, call_id: 'live', held: 40, answered_at: hourAgo }]);
  // the live call is in Redis (written on the active node, replicated to the standby)
  await redisRaw(HOST, active.port, [['SET', 'sbc:call:live', '{}']]);
  await until(async () => ((await redisRaw(HOST, standby.port, [['EXISTS', 'sbc:call:live']])).startsWith(':1') ? true : undefined), 10_000, 50);
  dir = mkdtempSync(join(tmpdir(), 'ngcp-sbc-sweep-'));
}, 120_000);

afterAll(async () => {
  rpc?.close();
  await stopSbcProcess(sbc);
  await db?.destroy();
  await Promise.all([active?.stop(), standby?.stop(), mariadb?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** A sbc with `stale_after_s: 1` (swept every second) on the given Redis. */
async function startSbc(redis: RedisInstance, name: string): Promise<void> {
  controlPort = await freePort({ tcp: true, host: HOST });
  const m = mariadb.connectionConfig();
  const file = join(dir, `${name}.yml`);
  writeFileSync(file, [
    `node: ${name}`,
    `listen: { address: ${HOST}, udp_port: ${await freePort({ udp: true, host: HOST })} }`,
    `control: { address: ${HOST}, port: ${controlPort} }`,
    'log: { level: info }',
    `proxy: "${HOST}:${await freePort({ udp: true, host: HOST })}"`,
    'prepaid: { quota_s: 2, stale_after_s: 1 }',
    `db: { host: ${m.host}, port: ${m.port}, user: ${m.user}, password: ${JSON.stringify(m.password)}, database: ${m.database} }`,
    `redis: { host: ${HOST}, port: ${redis.port}, db: 0 }`,
    '',
  ].join('\n'));
  rpc?.close();
  rpc = new RpcClient(`http://${HOST}:${controlPort}/`, { timeoutMs: 5000 });
  sbc = startSbcProcess(file);
  await waitHealthy(rpc, sbc);
}

const swept = async (kind: string): Promise<number> =>
  Number(new RegExp(`^sbc_prepaid_reservations_swept_total\\{kind="${kind}"[^}]*\\} (\\S+)$`, 'm').exec(await (await fetch(`http://${HOST}:${controlPort}/metrics`)).text())?.[1] ?? 0);
const rows = async (): Promise<string[]> => ((await db('prepaid_reservations').orderBy('call_id').select('call_id')) as { call_id: string }[]).map((r) => r.call_id);

describe('the sweep of stale prepaid reservations in the HA pair', () => {
  it('the standby (read-only Redis) sweeps nothing', async () => {
    await startSbc(standby, 'standby');
    await new Promise((r) => setTimeout(r, 3500)); // three sweep periods
    expect(await rows()).toEqual(['gone', 'live']);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000, reserved: 70, available: 930 });
    expect(await swept('unanswered')).toBe(0);
    await stopSbcProcess(sbc);
  });

  it('the active node closes the reservation whose call is gone and keeps the one whose call is live in Redis', async () => {
    await startSbc(active, 'active');
    expect(await until(async () => ((await rows()).length === 1 ? true : undefined), 10_000, 100)).toBe(true);
    expect(await rows()).toEqual(['live']);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000, reserved: 40, available: 960 });
    expect(await db('prepaid_charges').select('call_id', 'seconds', 'amount', 'released')).toEqual([{ call_id: 'gone', seconds: 0, amount: 0, released: 30 }]);
    expect(await swept('unanswered')).toBe(1);
    // and keeps it on later sweeps
    await new Promise((r) => setTimeout(r, 2500));
    expect(await rows()).toEqual(['live']);
    expect(await swept('answered')).toBe(0);
  });
});
