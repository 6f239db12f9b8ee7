/**
 * The mediator against a real MariaDB (private, testkit): accounting records in, CDRs out —
 * one per call however the records arrive, with two mediators at once, across restarts, and
 * nothing written while the server is read-only.
 */
import { createDb, migrate, type Db, type NewAcc } from '@ngcp/db';
import { useMariaDb } from '@ngcp/testkit/vitest';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMediatorMetrics, Mediator, type MediatorOptions } from '../src/index.js';

const mariadb = useMariaDb({ grantAll: true });
let db: Db;
let subA: number;
let subB: number;
let custA: number;

beforeAll(async () => {
  const admin = createDb({ ...mariadb().connectionConfig(), database: mariadb().database });
  await admin.raw('CREATE DATABASE med');
  await admin.destroy();
  db = createDb({ ...mariadb().connectionConfig(), database: 'med', pool: { max: 6 } });
  await migrate.latest(db);
  const [domainId] = await db('domains').insert({ domain: 'med.test' });
  custA = (await db('customers').insert({ name: 'Cust A', external_id: 'A' }))[0]!;
  subA = (await db('subscribers').insert({ uuid: '00000000-0000-4000-8000-0000000000a1', domain_id: domainId, customer_id: custA, username: 'alice', ha1_md5: 'a'.repeat(32), ha1_sha256: 'a'.repeat(64) }))[0]!;
  subB = (await db('subscribers').insert({ uuid: '00000000-0000-4000-8000-0000000000b1', domain_id: domainId, username: 'bob', ha1_md5: 'b'.repeat(32), ha1_sha256: 'b'.repeat(64) }))[0]!;
  await db('numbers').insert({ e164: '4312345', subscriber_id: subA, is_primary: true });
});
afterAll(async () => {
  await db?.destroy();
});
beforeEach(async () => {
  await db('acc').del();
  await db('cdrs').del();
});

let clock = new Date('2026-12-07T10:00:00.000Z');
function mediator(over: Partial<MediatorOptions> = {}): Mediator {
  return new Mediator({
    db, logger: pino({ level: 'silent' }), metrics: createMediatorMetrics(new Registry()),
    intervalMs: 50, batch: 1000, leftoverAfterS: 3600, stopWaitS: 60, accKeepDays: 0, now: () => clock, ...over,
  });
}
const at = (s: number) => new Date(clock.getTime() + s * 1000);
function acc(callid: string, kind: 'start' | 'stop' | 'failure', timeS: number, over: Partial<NewAcc> = {}): NewAcc {
  return {
    method: kind === 'stop' ? 'BYE' : 'INVITE', kind, callid, sip_code: kind === 'failure' ? '486' : '200', time: at(timeS), init_time: kind === 'stop' ? null : at(-2),
    src_user: 'alice', src_domain: 'med.test', src_ip: '192.0.2.10', dst_user: 'bob', dst_domain: 'med.test', dst_ouser: 'bob',
    src_subscriber_id: subA, dst_subscriber_id: subB, ...over,
  };
}
const cdrs = () => db('cdrs').orderBy('call_id').select();
const unmediated = async () => Number(((await db('acc').where('mediated', 0).count({ n: '*' }))[0] as { n: number }).n);

describe('mediator', () => {
  it('answered, busy and cancelled calls: one CDR each with the customer, the CLI and the times', async () => {
    clock = new Date('2026-12-07T10:00:00.000Z');
    await db('acc').insert([acc('ok-1', 'start', -100), acc('ok-1', 'stop', -40.5), acc('busy-1', 'failure', -30), acc('cancel-1', 'failure', -20, { sip_code: '487' })]);
    const m = mediator();
    const r = await m.run();
    expect(r).toMatchObject({ standby: false, cdrs: 3, duplicates: 0, records: 4, open: 0, full: false, purged: 0 });
    const rows = await cdrs();
    expect(rows.map((c) => [c.call_id, c.call_status, c.call_code, Number(c.duration)])).toEqual([['busy-1', 'busy', '486', 0], ['cancel-1', 'cancel', '487', 0], ['ok-1', 'ok', '200', 59.5]]);
    const ok = rows.find((c) => c.call_id === 'ok-1');
    expect(ok).toMatchObject({ source_subscriber_id: subA, source_customer_id: custA, source_cli: '4312345', destination_subscriber_id: subB, destination_customer_id: null, source_ip: '192.0.2.10' });
    expect(new Date(ok.init_time).toISOString()).toBe(at(-2).toISOString());
    expect(new Date(ok.start_time).toISOString()).toBe(at(-100).toISOString());
    expect(await unmediated()).toBe(0);
    expect(await m.run()).toMatchObject({ cdrs: 0, records: 0 });
  });

  it('a call still up, and a stop whose start comes late, wait; the start arriving completes the call', async () => {
    await db('acc').insert([acc('up-1', 'start', -10), acc('late-1', 'stop', -5)]);
    const m = mediator();
    expect(await m.run()).toMatchObject({ cdrs: 0, open: 1 });
    expect(await cdrs()).toEqual([]);
    await db('acc').insert(acc('late-1', 'start', -65));
    expect(await m.run()).toMatchObject({ cdrs: 1 });
    expect((await cdrs()).map((c) => [c.call_id, c.call_status, Number(c.duration)])).toEqual([['late-1', 'ok', 60]]);
    expect(await unmediated()).toBe(1); // up-1 is still up
  });

  it('leftovers: an answered call without stop after leftover_after_s → timeout; a stop alone after stop_wait_s → its own CDR', async () => {
    await db('acc').insert([acc('left-1', 'start', -3700), acc('lone-1', 'stop', -61), acc('young-1', 'start', -100)]);
    expect(await mediator().run()).toMatchObject({ cdrs: 2 });
    expect((await cdrs()).map((c) => [c.call_id, c.call_status])).toEqual([['left-1', 'timeout'], ['lone-1', 'ok']]);
  });

  it('a CDR that exists already (a pass cut short after its commit, another mediator) is not written twice', async () => {
    await db('acc').insert([acc('dup-1', 'start', -100), acc('dup-1', 'stop', -50), acc('new-1', 'failure', -10)]);
    await db('cdrs').insert({ call_id: 'dup-1', call_status: 'ok', call_code: '200', init_time: at(-100) });
    const r = await mediator().run();
    expect(r).toMatchObject({ cdrs: 1, duplicates: 1, records: 3 });
    expect((await cdrs()).map((c) => c.call_id)).toEqual(['dup-1', 'new-1']);
    expect(await unmediated()).toBe(0);
  });

  it('two mediators racing over 1,200 calls in small batches: exactly one CDR per call', async () => {
    const rows: NewAcc[] = [];
    for (let i = 0; i < 1200; i++) {
      const id = `race-${String(i).padStart(4, '0')}`;
      if (i % 3 === 0) rows.push(acc(id, 'failure', -10));
      else rows.push(acc(id, 'start', -100), acc(id, 'stop', -10));
    }
    for (let i = 0; i < rows.length; i += 500) await db('acc').insert(rows.slice(i, i + 500));
    const a = mediator({ batch: 150 });
    const b = mediator({ batch: 150 });
    const drain = async (m: Mediator) => {
      let r;
      let passes = 0;
      do {
        r = await m.run();
        passes++;
      } while (r.full && passes < 50);
    };
    await Promise.all([drain(a), drain(b)]);
    const [total] = (await db('cdrs').count({ n: '*' })) as Array<{ n: number }>;
    expect(Number(total?.n)).toBe(1200);
    const [distinct] = (await db('cdrs').countDistinct({ d: 'call_id' })) as Array<{ d: number }>;
    expect(Number(distinct?.d)).toBe(1200);
    expect(await unmediated()).toBe(0);
    expect(a.totals.cdrs + b.totals.cdrs).toBe(1200);
  });

  it('a read-only server (the standby of a pair): nothing written, standby reported; writable again: mediated', async () => {
    await db('acc').insert([acc('ro-1', 'start', -100), acc('ro-1', 'stop', -50)]);
    const m = mediator();
    await db.raw('SET GLOBAL read_only = 1');
    try {
      expect(await m.run()).toMatchObject({ standby: true, cdrs: 0 });
      expect(m.standby).toBe(true);
      expect(await cdrs()).toEqual([]);
    } finally {
      await db.raw('SET GLOBAL read_only = 0');
    }
    expect(await m.run()).toMatchObject({ standby: false, cdrs: 1 });
  });

  it('acc_keep_days: mediated records older than that are deleted once per hour, their CDRs stay; unmediated and young ones stay', async () => {
    await db('acc').insert([acc('old-1', 'start', -40 * 86_400), acc('old-1', 'stop', -40 * 86_400 + 60), acc('young-1', 'failure', -86_400), acc('open-1', 'start', -35 * 86_400 + 3000)]);
    const m = mediator({ accKeepDays: 30, leftoverAfterS: 100 * 86_400 });
    const r1 = await m.run();
    // the pass mediates old-1 and young-1 first, then purges: old-1's two records go; open-1 is unmediated (still up)
    expect(r1).toMatchObject({ cdrs: 2, purged: 2 });
    expect((await db('acc').orderBy('id').select('callid')).map((x) => x.callid)).toEqual(['young-1', 'open-1']);
    expect((await cdrs()).map((c) => c.call_id)).toEqual(['old-1', 'young-1']);
    // not again within the hour, then again an hour later
    await db('acc').insert([acc('old-2', 'failure', -31 * 86_400)]);
    expect(await m.run()).toMatchObject({ cdrs: 1, purged: 0 });
    clock = new Date(clock.getTime() + 3_600_000);
    expect(await m.run()).toMatchObject({ cdrs: 0, purged: 1 });
    clock = new Date('2026-12-07T10:00:00.000Z');
  });

  it('runs by itself once started, and a full batch starts the next pass at once', async () => {
    const rows: NewAcc[] = [];
    for (let i = 0; i < 250; i++) rows.push(acc(`loop-${i}`, 'failure', -5));
    await db('acc').insert(rows);
    const m = mediator({ batch: 100, intervalMs: 60_000 });
    m.start();
    try {
      const until = Date.now() + 20_000;
      while (Date.now() < until && m.totals.cdrs < 250) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await m.stop();
    }
    // 3 passes back to back (100, 100, 50), not one per minute
    expect(m.totals.cdrs).toBe(250);
    expect(m.backlog).toBe(0);
  });
});
