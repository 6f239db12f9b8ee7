/**
 * Prepaid in the sbc (docs/sbc.md "Prepaid"): the process (apps/sbc/dist/main.js) between two
 * sipp UAs with a private Redis and a private, migrated MariaDB holding the prepaid customer,
 * its billing profile (10 units a second to 49…, rated 1/1) and its balance. A's INVITE carries
 * `X-NGCP-Caller: sub` as the proxy's would; the quota is 2 s so that cut-offs come in seconds.
 * Checked: 402 without credit or without a fee (nothing reserved, nothing reaches B); a
 * balance for 3 s cut by BYE on both legs after ≈3 s and used up exactly; a call hung up
 * after 2 s charged 2 s once, also across a sbc killed and restarted mid-call; two concurrent
 * calls sharing one balance never spend more than it holds.
 * Reservations that cannot leak (`prepaid_reservations`, the sweep after `stale_after_s` = 3 s,
 * the settlement's retry): a sbc SIGKILLed while a call rings, an answered call whose Redis
 * state is lost, MariaDB stopped at a call's end and started again. MariaDB runs in a data
 * dir of this test on a fixed port so that it can be stopped and started again.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '@ngcp/cli/testing';
import { createDb, getBalance, migrate, subscriberHa1, type Db } from '@ngcp/db';
import { RpcClient } from '@ngcp/rpc';
import { freePort, redisRaw, startMariaDb, startRedis, type MariaDbInstance, type RedisInstance } from '@ngcp/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bound, sipp, type SippOptions, type SippResult, type SippRun } from '../e2e/sipp.js';
import { startSbcProcess, stopSbcProcess, waitHealthy, type SbcProcess } from './process.js';
const HOST = '127.0.0.1';
const DOMAIN = 'prepaid.test';
/** the fee of 49…: 600 units a minute = 10 a second, by the second */
const PER_SECOND = 10;

let redis: RedisInstance;
let mariadb: MariaDbInstance;
let db: Db;
let dir: string;
let sbcPort: number;
let controlPort: number;
let bPort: number;
let aPorts: number[];
let rpc: RpcClient;
let customerId: number;
let sbc: SbcProcess | undefined;
let dbPort: number;
const runs: SippRun[] = [];
/** the test's MariaDB: in `dir`, on `dbPort` (stopped and started again by a test) */
const startDb = (): Promise<MariaDbInstance> => startMariaDb({ dataDir: join(dir, 'mariadb'), port: dbPort, durable: false });

const startSbc = (): SbcProcess => startSbcProcess(join(dir, 'sbc.yml'));
const healthy = (): Promise<void> => waitHealthy(rpc, sbc);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ngcp-sbc-prepaid-'));
  dbPort = await freePort({ tcp: true, host: HOST });
  [redis, mariadb] = await Promise.all([startRedis(), startDb()]);
  db = createDb({ ...mariadb.connectionConfig(), pool: { max: 3 } });
  await migrate.latest(db);
  const [domainId] = (await db('domains').insert({ domain: DOMAIN })) as [number];
  const [profileId] = (await db('billing_profiles').insert({ name: 'prepaid-test', currency: 'EUR' })) as [number];
  await db('billing_fees').insert({ billing_profile_id: profileId, destination: '49', price_per_minute: 60 * PER_SECOND, first_interval: 1, next_interval: 1 });
  [customerId] = (await db('customers').insert({ name: 'prepaid', prepaid: true, billing_profile_id: profileId })) as [number];
  await db('customer_balances').insert({ customer_id: customerId, cash_balance: 0 });
  await db('subscribers').insert({ uuid: crypto.randomUUID(), domain_id: domainId, customer_id: customerId, username: 'alice', ...subscriberHa1('alice', DOMAIN, 'pw') });

  sbcPort = await freePort({ udp: true, host: HOST });
  bPort = await freePort({ udp: true, host: HOST });
  // one port for each A that may run at once; the restarted sbc's call gets one of its own (a late BYE reaches no other test)
  aPorts = [await freePort({ udp: true, host: HOST }), await freePort({ udp: true, host: HOST }), await freePort({ udp: true, host: HOST })];
  controlPort = await freePort({ tcp: true, host: HOST });
  const m = mariadb.connectionConfig();
  writeFileSync(join(dir, 'sbc.yml'), [
    'node: t1',
    `listen: { address: ${HOST}, udp_port: ${sbcPort} }`,
    `control: { address: ${HOST}, port: ${controlPort} }`,
    'log: { level: info }',
    `proxy: "${HOST}:${bPort}"`,
    'profiles:',
    '  default: {}',
    '  free: { prepaid: false }',
    'prepaid: { quota_s: 2, stale_after_s: 3 }',
    `db: { host: ${m.host}, port: ${m.port}, user: ${m.user}, password: ${JSON.stringify(m.password)}, database: ${m.database} }`,
    `redis: { host: ${HOST}, port: ${redis.port}, db: 0 }`,
    '',
  ].join('\n'));
  rpc = new RpcClient(`http://${HOST}:${controlPort}/`, { timeoutMs: 5000 });
  sbc = startSbc();
  await healthy();
}, 120_000);

afterAll(async () => {
  for (const r of runs) r.kill();
  rpc?.close();
  await stopSbcProcess(sbc);
  await db?.destroy();
  await Promise.all([redis?.stop(), mariadb?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

beforeEach(async () => {
  await db('prepaid_charges').del();
});

const setBalance = (cash: number) => db('customer_balances').where('customer_id', customerId).update({ cash_balance: cash, reserved: 0 });
const reservations = async () => (await db('prepaid_reservations').select('call_id')) as { call_id: string }[];
const charges = async () => (await db('prepaid_charges').orderBy('created_at').select('seconds', 'amount', 'released')) as { seconds: number; amount: number; released: number }[];

function run(o: Omit<SippOptions, 'scenario'> & { scenario: string }): SippRun {
  const r = sipp({ ...o, scenario: join('../../sbc/scenarios', o.scenario), localIp: HOST, keys: { user: 'alice', domain: DOMAIN, rtp_port: 4000, profile: 'default', ...o.keys }, limitMs: 30_000 });
  runs.push(r);
  return r;
}

/** B listening for `calls` calls, answering each and expecting its BYE. */
async function callee(calls = 1): Promise<SippRun> {
  const b = run({ scenario: 'uas-sbc-answer-expect-bye.xml', localPort: bPort, keys: { user: 'bob' }, calls });
  await bound(bPort);
  return b;
}

/** A (the prepaid subscriber alice) calling `number` through the sbc from its `n`th port. */
const caller = (scenario: string, number: string, o: { n?: number; pauseMs?: number; profile?: string } = {}): SippRun =>
  run({
    scenario, remote: { address: HOST, port: sbcPort }, localPort: aPorts[o.n ?? 0]!, service: number,
    ...(o.pauseMs !== undefined ? { pauseMs: o.pauseMs } : {}), ...(o.profile ? { keys: { profile: o.profile } } : {}),
  });

function expectOk(r: SippResult): void {
  expect(r.code, r.report).toBe(0);
  expect(r.successful, r.report).toBe(1);
}

const metricsText = async (): Promise<string> => (await fetch(`http://${HOST}:${controlPort}/metrics`)).text();
/** A counter's value in the metrics text (0 when absent); `labels`: the first label(s), e.g. `result="cut"`. */
const counter = (text: string, name: string, labels = ''): number =>
  Number(new RegExp(`^${name}${labels ? `\\{${labels}[^}]*\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
const CUT = /^Reason: SIP;cause=402;text="credit exhausted"/m;

describe('prepaid calls through the sbc', () => {
  it('402 without credit for the first interval, and to a destination without a fee; nothing reserved, nothing reaches B', async () => {
    await setBalance(PER_SECOND - 1);
    const before = await metricsText();
    expectOk(await caller('uac-prepaid-call-expect-402.xml', '4930123').done);
    await setBalance(1000);
    expectOk(await caller('uac-prepaid-call-expect-402.xml', '1555').done);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000, reserved: 0, available: 1000 });
    expect(await charges()).toEqual([]);
    const after = await metricsText();
    expect(counter(after, 'sbc_prepaid_calls_total', 'result="no_credit"') - counter(before, 'sbc_prepaid_calls_total', 'result="no_credit"')).toBe(1);
    expect(counter(after, 'sbc_prepaid_calls_total', 'result="no_fee"') - counter(before, 'sbc_prepaid_calls_total', 'result="no_fee"')).toBe(1);
  });

  it('a profile with prepaid off lets the same call through unrated', async () => {
    await setBalance(0);
    const b = await callee();
    const a = caller('uac-prepaid-call-expect-200.xml', '4930123', { pauseMs: 200, profile: 'free' });
    expectOk(await a.done);
    expectOk(await b.done);
    expect(await charges()).toEqual([]);
  });

  it('a balance for 3 s: the call is cut by BYE on both legs after ≈3 s and the balance is used up exactly', async () => {
    await setBalance(3 * PER_SECOND);
    const b = await callee();
    const started = Date.now();
    const a = caller('uac-prepaid-call-expect-bye.xml', '+4930123');
    const [ra, rb] = [await a.done, await b.done];
    const took = Date.now() - started;
    expectOk(ra);
    expectOk(rb);
    expect(ra.messages).toMatch(CUT);
    expect(rb.messages).toMatch(CUT);
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(took).toBeLessThan(6000);
    expect(await getBalance(db, customerId)).toEqual({ cash: 0, reserved: 0, available: 0 });
    expect(await charges()).toEqual([{ seconds: 3, amount: 30, released: 30 }]);
    const m = await metricsText();
    expect(counter(m, 'sbc_prepaid_calls_total', 'result="cut"')).toBeGreaterThanOrEqual(1);
    expect(counter(m, 'sbc_teardowns_total', 'reason="credit exhausted"')).toBeGreaterThanOrEqual(1);
  });

  it('a call hung up by A after 2 s is charged 2 s, once, and its reservation released', async () => {
    await setBalance(1000);
    const before = counter(await metricsText(), 'sbc_prepaid_charged_total');
    const b = await callee();
    const a = caller('uac-prepaid-call-expect-200.xml', '4930123', { pauseMs: 2000 });
    expectOk(await a.done);
    expectOk(await b.done);
    // released: the 2 s quota, or 4 s when the BYE came just after the sweep reserved the next one
    const c = await charges();
    expect(c).toHaveLength(1);
    expect(c[0]).toMatchObject({ seconds: 2, amount: 20 });
    expect([20, 40]).toContain(c[0]!.released);
    expect(await getBalance(db, customerId)).toEqual({ cash: 980, reserved: 0, available: 980 });
    expect(counter(await metricsText(), 'sbc_prepaid_charged_total') - before).toBe(20);
  });

  it('a sbc killed mid-call and restarted carries the credit on: the call extends its quota and is charged once at the BYE', async () => {
    await setBalance(1000);
    const b = await callee();
    const a = caller('uac-prepaid-call-expect-200.xml', '4930123', { pauseMs: 6000, n: 2 });
    // answered: the call and its credit are in Redis
    await until(async () => ((await rpc.call<{ calls: unknown[] }>('calls.list')).calls.length > 0 ? true : undefined), 10_000, 50);
    await new Promise((r) => setTimeout(r, 300)); // A's ACK relayed to B before the kill
    const old = sbc!;
    old.child.kill('SIGKILL');
    await old.exited;
    sbc = startSbc();
    await healthy();
    const listed = (await rpc.call<{ calls: { prepaid: { customer: number; destination: string; granted_s: number } | null }[] }>('calls.list')).calls;
    expect(listed.map((c) => c.prepaid)).toEqual([expect.objectContaining({ customer: customerId, destination: '49' })]);
    expect(listed[0]!.prepaid!.granted_s).toBeGreaterThanOrEqual(2);
    expectOk(await a.done);
    expectOk(await b.done);
    // charged once, for the ≈6 s talked (later when A's BYE had to be sent again while the sbc was starting);
    // the quotas after the first (2 s) were reserved by the restarted process: more than 2 s held
    const c = await charges();
    expect(c).toHaveLength(1);
    const [{ seconds, amount, released }] = c as [{ seconds: number; amount: number; released: number }];
    expect(seconds).toBeGreaterThanOrEqual(6);
    expect(seconds).toBeLessThanOrEqual(8);
    expect(amount).toBe(seconds * PER_SECOND);
    expect(released).toBeGreaterThanOrEqual(amount);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000 - amount, reserved: 0, available: 1000 - amount });
  });

  it('two concurrent calls share one balance: both are cut, together they spend exactly what it held', async () => {
    await setBalance(5 * PER_SECOND);
    const b = await callee(2);
    const first = caller('uac-prepaid-call-expect-bye.xml', '4930123', { n: 0 });
    await until(async () => ((await getBalance(db, customerId))!.reserved > 0 ? true : undefined), 10_000, 50);
    const second = caller('uac-prepaid-call-expect-bye.xml', '4930124', { n: 1 });
    const [r1, r2] = await Promise.all([first.done, second.done]);
    expectOk(r1);
    expectOk(r2);
    const rb = await b.done;
    expect(rb.code, rb.report).toBe(0);
    expect(r1.messages).toMatch(CUT);
    expect(r2.messages).toMatch(CUT);
    const c = await charges();
    expect(c).toHaveLength(2);
    expect(c.reduce((s, x) => s + x.amount, 0)).toBe(5 * PER_SECOND);
    expect(c.reduce((s, x) => s + x.seconds, 0)).toBe(5);
    expect(await getBalance(db, customerId)).toEqual({ cash: 0, reserved: 0, available: 0 });
  });

  it('a sbc SIGKILLed while a prepaid call rings: after the grace period the sweep of a new process releases the reservation, nothing charged', async () => {
    await setBalance(1000);
    const b = run({ scenario: 'uas-sbc-ring-expect-cancel.xml', localPort: bPort, keys: { user: 'bob' } });
    await bound(bPort);
    const a = caller('uac-prepaid-call-ringing.xml', '4930123', { pauseMs: 30_000, n: 2 });
    // ringing: the first quota (2 s = 20 units) reserved, and its row with it
    const row = await until(async () => (await db('prepaid_reservations').first('call_id', 'held', 'answered_at', 'created_at')) as { call_id: string; held: number; answered_at: Date | null; created_at: Date } | undefined, 10_000, 20);
    expect(row).toMatchObject({ held: 20, answered_at: null });
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000, reserved: 20, available: 980 });
    await new Promise((r) => setTimeout(r, 300)); // B's 180 relayed to A
    const old = sbc!;
    old.child.kill('SIGKILL');
    await old.exited;
    sbc = startSbc();
    await healthy();
    const released = await until(async () => ((await getBalance(db, customerId))!.reserved === 0 ? Date.now() : undefined), 15_000, 50);
    expect(released, 'the reservation was released').toBeDefined();
    // not before the grace period (3 s after its last write)
    expect(released! - row!.created_at.getTime()).toBeGreaterThanOrEqual(3000);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000, reserved: 0, available: 1000 });
    expect(await charges()).toEqual([{ seconds: 0, amount: 0, released: 20 }]);
    expect(await reservations()).toEqual([]);
    expect(counter(await metricsText(), 'sbc_prepaid_reservations_swept_total', 'kind="unanswered"')).toBe(1);
    a.kill();
    b.kill();
    await Promise.all([a.done, b.done]);
  });

  it('an answered call whose Redis state is lost: swept after the grace period and charged from its answer to its last quota granted', async () => {
    await setBalance(1000);
    const before = await metricsText();
    const b = await callee();
    const a = caller('uac-prepaid-call-expect-200.xml', '4930123', { pauseMs: 30_000, n: 2 });
    // the second quota granted (4 s in all, 40 units held): the call was seen live ≈2 s after its answer
    type Row = { call_id: string; granted: number; held: number; answered_at: Date | null; updated_at: Date };
    const row = await until(async () => {
      const r = (await db('prepaid_reservations').first('call_id', 'granted', 'held', 'answered_at', 'updated_at')) as Row | undefined;
      return r && r.granted >= 4 ? r : undefined;
    }, 10_000, 20);
    expect(row).toMatchObject({ granted: 4, held: 40 });
    // its state in Redis lost (as when call_ttl_s passes): the call and its legs' keys
    const listed = (await rpc.call<{ calls: { id: string; a: { call_id: string }; b: { call_id: string } }[] }>('calls.list')).calls;
    const call = listed.find((c) => c.id === row!.call_id)!;
    expect(call, 'the call is live in Redis until then').toBeDefined();
    await redisRaw(HOST, redis.port, [['DEL', `sbc:call:${call.id}`, `sbc:leg:${call.a.call_id}`, `sbc:leg:${call.b.call_id}`]]);
    a.kill();
    b.kill();
    await Promise.all([a.done, b.done]);
    expect(await until(async () => ((await reservations()).length === 0 ? true : undefined), 15_000, 50), 'swept').toBe(true);
    // what the row proves: from the answer to the second quota's grant (rating.ts strandedCharge)
    const proven = Math.round((row!.updated_at.getTime() - row!.answered_at!.getTime()) / 1000);
    expect(proven).toBeGreaterThanOrEqual(2);
    expect(proven).toBeLessThan(4);
    expect(await charges()).toEqual([{ seconds: proven, amount: proven * PER_SECOND, released: 40 }]);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000 - proven * PER_SECOND, reserved: 0, available: 1000 - proven * PER_SECOND });
    const after = await metricsText();
    expect(counter(after, 'sbc_prepaid_reservations_swept_total', 'kind="answered"') - counter(before, 'sbc_prepaid_reservations_swept_total', 'kind="answered"')).toBe(1);
    expect(counter(after, 'sbc_prepaid_charged_total') - counter(before, 'sbc_prepaid_charged_total')).toBe(proven * PER_SECOND);
  });

  it('MariaDB stopped before the call ends: the settlement waits, retried until MariaDB is back, charged once and released', async () => {
    await setBalance(1000);
    const before = counter(await metricsText(), 'sbc_prepaid_charged_total');
    const b = await callee();
    const a = caller('uac-prepaid-call-expect-200.xml', '4930123', { pauseMs: 3000, n: 2 });
    const id = await until(async () => (await rpc.call<{ calls: { id: string }[] }>('calls.list')).calls[0]?.id, 10_000, 20);
    expect(await until(async () => ((await db('prepaid_reservations').where('call_id', id!).whereNotNull('answered_at').first()) ? true : undefined), 5_000, 20)).toBe(true);
    await db.destroy();
    await mariadb.stop();
    // the call goes on and ends normally; its settlement fails and waits for its retry
    expectOk(await a.done);
    expectOk(await b.done);
    const pending = await until(async () => (counter(await metricsText(), 'sbc_prepaid_settlements_pending') === 1 ? true : undefined), 10_000, 100);
    expect(pending, 'one settlement waiting').toBe(true);
    mariadb = await startDb();
    db = createDb({ ...mariadb.connectionConfig(), pool: { max: 3 } });
    const c = await until(async () => {
      const rows = await charges();
      return rows.length > 0 ? rows : undefined;
    }, 40_000, 200);
    // talked ≈3 s; granted 2 s (MariaDB was away at the first quota's end) or 4 s: charged 2 or 3 s
    expect(c).toHaveLength(1);
    const [{ seconds, amount, released }] = c as [{ seconds: number; amount: number; released: number }];
    expect([2, 3]).toContain(seconds);
    expect(amount).toBe(seconds * PER_SECOND);
    expect([20, 40]).toContain(released);
    expect(await getBalance(db, customerId)).toEqual({ cash: 1000 - amount, reserved: 0, available: 1000 - amount });
    expect(await reservations()).toEqual([]);
    const m = await metricsText();
    expect(counter(m, 'sbc_prepaid_settlements_pending')).toBe(0);
    expect(counter(m, 'sbc_prepaid_charged_total') - before).toBe(amount);
  }, 120_000);
});
