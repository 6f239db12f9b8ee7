#!/usr/bin/env node
// Parser benchmark: @ngcp/sip against the npm `sip` package, same process, same
// messages, same work (bench/parser-work.mjs says what each row does on each side;
// the zero-copy row is the one where ours does less, by design). Single core (one
// event loop). Prints a table and, with --json FILE, writes the figures.
// Run: node bench/parser.mjs [--seconds 0.2] [--rounds 5] [--typical-only] [--json out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { TYPICAL } = await import(join(here, 'typical-messages.mjs'));

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const SECONDS = opt('--seconds', 0.2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;

// the work (bench/parser-work.mjs): routing, forward, and the zero-copy relay
const { WORK, ours, forwardOutputs, OUR_VIA } = await import(join(here, 'parser-work.mjs'));

/** Both forward outputs must be the forwarded message: checked once per typical message. */
function checkForward(name, buf) {
  const [a, b] = forwardOutputs(buf);
  const before = ours.parseMessage(buf);
  const want = before.kind === 'request' ? [OUR_VIA, ...before.getAll('via')].length : before.vias().length - 1;
  for (const [side, out] of [['ours', a], ['npm sip', b]]) {
    const m = ours.parseMessage(out);
    const vias = m.vias();
    const top = before.kind === 'request' ? vias[0]?.branch === 'z9hG4bKbench1' : vias[0]?.branch === before.vias()[1]?.branch;
    const mf = before.kind === 'request' && before.maxForwards() !== undefined ? before.maxForwards() - 1 : before.maxForwards();
    if (vias.length !== want || !top || m.maxForwards() !== mf || m.callId() !== before.callId() || !m.body.equals(before.body)) {
      throw new Error(`${name}: ${side}'s forward output is not the forwarded message`);
    }
  }
}

function rate(fn, buf) {
  // warm up, then count calls in SECONDS (checked every 256 calls)
  for (let i = 0; i < 5000; i++) fn(buf);
  let n = 0;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  const limit = BigInt(Math.round(SECONDS * 1e9));
  let t;
  do {
    for (let i = 0; i < 256; i++) sink += fn(buf);
    n += 256;
    t = process.hrtime.bigint() - t0;
  } while (t < limit);
  if (sink === -1) console.log('');
  return n / (Number(t) / 1e9);
}

const ROUNDS = opt('--rounds', 5);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = [];
// ours and npm sip alternate in ROUNDS short rounds; each side's median counts, so a
// burst of load on this shared machine hits both sides alike
function row(name, buf, work, [a, b]) {
  let npmOk = true;
  try { b(buf); } catch { npmOk = false; }
  try { a(buf); } catch (e) {
    results.push({ message: name, work, ours: null, npmSip: null, ratio: null, refused: e.message });
    return;
  }
  const ra = [];
  const rb = [];
  for (let i = 0; i < ROUNDS; i++) {
    ra.push(rate(a, buf));
    if (npmOk) rb.push(rate(b, buf));
  }
  const r1 = median(ra);
  const r2 = npmOk ? median(rb) : null;
  results.push({ message: name, work, ours: Math.round(r1), npmSip: r2 === null ? null : Math.round(r2), ratio: r2 ? +(r1 / r2).toFixed(2) : null });
}

for (const [name, text] of Object.entries(TYPICAL)) {
  checkForward(name, Buffer.from(text));
  for (const [work, fns] of Object.entries(WORK)) row(name, Buffer.from(text), work, fns);
}
if (!args.includes('--typical-only')) {
  const dir = join(here, '../packages/sip/test/fixtures');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  const seen = new Set();
  for (const f of manifest) {
    if (f.lb.action !== 'accept' || seen.has(f.file)) continue;
    seen.add(f.file);
    row(f.file, readFileSync(join(dir, f.file)), 'routing', WORK.routing);
  }
}
const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('message', 42)}${pad('work', 19)}${pad('ours/s', 10)}${pad('npm sip/s', 11)}ratio`);
for (const r of results) console.log(`${pad(r.message, 42)}${pad(r.work, 19)}${pad(r.ours ?? '-', 10)}${pad(r.npmSip ?? 'n/a', 11)}${r.ratio ?? (r.refused ? `(ours refuses it: ${r.refused})` : '(npm sip cannot parse it)')}`);
const fx = results.filter((r) => r.message.startsWith('rfc') && r.ratio !== null);
const min = fx.reduce((m, r) => Math.min(m, r.ratio), Infinity);
console.log(`\nfixtures: ${fx.length} compared, lowest ratio ${min === Infinity ? 'n/a' : min}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds: SECONDS, results }, null, 2));
