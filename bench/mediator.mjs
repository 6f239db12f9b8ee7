#!/usr/bin/env node
// The mediator (apps/mediator) against a private MariaDB with the real schema (issue #11:
// "the mediator keeps up with ≥ 1,000 calls/s of records"). Two phases, the production
// Mediator class with its production settings (batch 2000), nothing else on the database:
//
//   backlog   N calls' records already in acc (2/3 answered: start + stop; 1/3 failed:
//             one failure record), then one mediator drains them: calls/s until the
//             backlog is 0.
//   live      a writer inserts records like the proxy does (the proxy's AccountingWriter:
//             batched multi-row INSERT IGNORE every 10 ms) at --rate calls/s for --secs s,
//             while the mediator runs with interval 1 s: the largest backlog seen (records
//             not yet mediated) and the time from the writer's last record to the last CDR.
//
// Run: node bench/mediator.mjs [--calls 100000] [--rate 1000] [--secs 30] [--json out.json]
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { startMariaDb } = await import(join(here, '../packages/testkit/dist/index.js'));
const dbm = await import(join(here, '../packages/db/dist/index.js'));
const { Mediator, createMediatorMetrics } = await import(join(here, '../apps/mediator/dist/index.js'));
const { Registry } = await import(join(here, '../apps/mediator/node_modules/prom-client/index.js'));
const pino = (await import(join(here, '../apps/mediator/node_modules/pino/pino.js'))).default;

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const CALLS = Number(opt('calls', 100_000));
const RATE = Number(opt('rate', 1000));
const SECS = Number(opt('secs', 30));
const jsonOut = opt('json', null);
if (!(CALLS > 0 && CALLS <= 2_000_000 && RATE > 0 && RATE <= 20_000 && SECS > 0 && SECS <= 600)) throw new Error('bounds: --calls ≤ 2,000,000, --rate ≤ 20,000, --secs ≤ 600');
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

const server = await startMariaDb({ bufferPoolSize: '256M' });
const db = dbm.createDb({ ...server.connectionConfig(), database: server.database, pool: { max: 4 } });
const out = { started: new Date().toISOString(), calls: CALLS, rate: RATE, secs: SECS };
try {
  await dbm.migrate.latest(db);
  const [domainId] = await db('domains').insert({ domain: 'bench.test' });
  const subs = [];
  for (let i = 0; i < 100; i++) {
    const [id] = await db('subscribers').insert({ uuid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, domain_id: domainId, username: `u${i}`, ha1_md5: 'a'.repeat(32), ha1_sha256: 'a'.repeat(64) });
    subs.push(id);
  }
  const records = (callid, i, t) => {
    const base = { callid, init_time: new Date(t - 3000), src_user: `u${i % 100}`, src_domain: 'bench.test', src_ip: '192.0.2.1', dst_user: `u${(i + 1) % 100}`, dst_domain: 'bench.test', dst_ouser: `u${(i + 1) % 100}`, src_subscriber_id: subs[i % 100], dst_subscriber_id: subs[(i + 1) % 100] };
    if (i % 3 === 2) return [{ ...base, method: 'INVITE', sip_code: '486', sip_reason: 'Busy Here', time: new Date(t - 1000) }];
    return [{ ...base, method: 'INVITE', sip_code: '200', sip_reason: 'OK', time: new Date(t - 2000) }, { ...base, method: 'BYE', sip_code: '200', sip_reason: 'OK', time: new Date(t) }];
  };
  const mediator = (intervalMs) => new Mediator({ db, logger: pino({ level: 'warn' }), metrics: createMediatorMetrics(new Registry()), intervalMs, batch: 2000, leftoverAfterS: 7260, stopWaitS: 60, accKeepDays: 30 });

  // ---- phase 1: backlog ----
  log(`filling acc with ${CALLS} calls`);
  const now = Date.now();
  let batch = [];
  for (let i = 0; i < CALLS; i++) {
    batch.push(...records(`bl-${i}`, i, now));
    if (batch.length >= 3000) { await dbm.insertAccs(db, batch); batch = []; }
  }
  if (batch.length) await dbm.insertAccs(db, batch);
  const m1 = mediator(1000);
  const t0 = process.hrtime.bigint();
  let r;
  let passes = 0;
  do { r = await m1.run(); passes++; } while (r.full && passes < 10_000);
  const s1 = Number(process.hrtime.bigint() - t0) / 1e9;
  const [{ n: cdrs1 }] = await db('cdrs').count({ n: '*' });
  out.backlog = { calls: CALLS, cdrs: Number(cdrs1), seconds: Math.round(s1 * 100) / 100, calls_per_s: Math.round(Number(cdrs1) / s1), passes };
  log(`backlog: ${cdrs1} CDRs in ${s1.toFixed(2)} s = ${out.backlog.calls_per_s} calls/s (${passes} passes)`);
  if (Number(cdrs1) !== CALLS) throw new Error(`backlog: ${cdrs1} CDRs for ${CALLS} calls`);

  // ---- phase 2: live at RATE calls/s ----
  const m2 = mediator(1000);
  m2.start();
  let maxBacklog = 0;
  const sampler = setInterval(() => { maxBacklog = Math.max(maxBacklog, m2.backlog); }, 100);
  const total = RATE * SECS;
  const tStart = Date.now();
  let sent = 0;
  let pending = [];
  while (sent < total) {
    // the proxy's writer: whatever arrived in the last 10 ms, one INSERT
    const due = Math.min(total, Math.floor(((Date.now() - tStart) / 1000) * RATE));
    for (; sent < due; sent++) pending.push(...records(`live-${sent}`, sent, Date.now()));
    if (pending.length) { await dbm.insertAccs(db, pending); pending = []; }
    await new Promise((res) => setTimeout(res, 10));
  }
  const tWriterDone = Date.now();
  const deadline = tWriterDone + 60_000;
  let live = 0;
  while (Date.now() < deadline) {
    const [{ n }] = await db('cdrs').where('call_id', 'like', 'live-%').count({ n: '*' });
    live = Number(n);
    if (live >= total) break;
    await new Promise((res) => setTimeout(res, 50));
  }
  const lagMs = Date.now() - tWriterDone;
  clearInterval(sampler);
  await m2.stop();
  const achieved = Math.round(total / ((tWriterDone - tStart) / 1000));
  out.live = { target_rate: RATE, offered_rate: achieved, calls: total, cdrs: live, max_backlog_records: maxBacklog, last_cdr_after_writer_ms: lagMs };
  log(`live: ${achieved} calls/s offered for ${SECS} s; ${live}/${total} CDRs; backlog ≤ ${maxBacklog} records; last CDR ${lagMs} ms after the last record`);
  if (live !== total) throw new Error(`live: ${live} CDRs for ${total} calls`);
} finally {
  await db.destroy();
  await server.stop();
}
out.ended = new Date().toISOString();
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(out, null, 2));
console.log(JSON.stringify(out));
