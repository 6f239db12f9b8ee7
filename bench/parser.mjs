#!/usr/bin/env node
// Parser benchmark: @ngcp/sip against the npm `sip` package, same process, same
// messages, same work. Single core (one event loop). Prints a table and, with
// --json FILE, writes the figures.
// Run: node bench/parser.mjs [--seconds 0.2] [--rounds 5] [--typical-only] [--json out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const npmSip = require('sip');
const ours = await import(join(here, '../packages/sip/dist/index.js'));
const { TYPICAL } = await import(join(here, 'typical-messages.mjs'));

const args = process.argv.slice(2);
const opt = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const SECONDS = opt('--seconds', 0.2);
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;

// ---- the work, the same for both ----------------------------------------------
// "routing": start line (Request-URI into parts), Via, From, To, Call-ID, CSeq,
// Contact parsed (their URIs into parts), then serialize.
function oursParseRouting(buf) {
  const m = ours.parseMessage(buf);
  if (m.kind === 'request') m.requestUri();
  m.vias(); m.from().uri; m.to().uri; m.callId(); m.cseq();
  if (m.has('contact')) m.contacts();
  return m;
}
function npmParseRouting(buf) {
  const m = npmSip.parse(buf);
  if (m.method) npmSip.parseUri(m.uri);
  npmSip.parseUri(m.headers.from.uri); npmSip.parseUri(m.headers.to.uri);
  for (const c of m.headers.contact || []) npmSip.parseUri(c.uri);
  return m;
}
function oursRouting(buf) {
  return oursParseRouting(buf).toBuffer().length;
}
function npmRouting(buf) {
  return Buffer.byteLength(npmSip.stringify(npmParseRouting(buf)), 'binary');
}
// "forward": what a proxy does — routing parse, push a Via, decrement Max-Forwards, serialize
function oursForward(buf) {
  const m = oursParseRouting(buf);
  m.pushVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbench1');
  const mf = m.maxForwards();
  if (mf !== undefined) m.set('max-forwards', String(mf - 1));
  return m.toBuffer().length;
}
function npmForward(buf) {
  const m = npmParseRouting(buf);
  m.headers.via.unshift({ version: '2.0', protocol: 'UDP', host: '10.0.0.1', port: 5060, params: { branch: 'z9hG4bKbench1' } });
  if (m.headers['max-forwards'] !== undefined) m.headers['max-forwards'] = +m.headers['max-forwards'] - 1;
  return Buffer.byteLength(npmSip.stringify(m), 'binary');
}
// "full": every header a routing element may read, to the same depth in both:
// Request-URI, Via, From, To, Contact, Route, Record-Route (URIs into parts),
// Call-ID, CSeq, Max-Forwards, Expires; the rest as strings. No serialize.
function oursFull(buf) {
  const m = ours.parseMessage(buf);
  if (m.kind === 'request') m.requestUri();
  m.vias(); m.from().uri; m.to().uri; m.callId(); m.cseq(); m.maxForwards(); m.expires();
  if (m.has('contact')) m.contacts();
  m.routes(); m.recordRoutes();
  for (const h of m.headers) h.value;
  return m.headers.length;
}
function npmFull(buf) {
  const m = npmSip.parse(buf);
  if (m.method) npmSip.parseUri(m.uri);
  npmSip.parseUri(m.headers.from.uri); npmSip.parseUri(m.headers.to.uri);
  for (const c of m.headers.contact || []) npmSip.parseUri(c.uri);
  for (const r of m.headers.route || []) npmSip.parseUri(r.uri);
  for (const r of m.headers['record-route'] || []) npmSip.parseUri(r.uri);
  return Object.keys(m.headers).length;
}
const WORK = { routing: [oursRouting, npmRouting], forward: [oursForward, npmForward], full: [oursFull, npmFull] };

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
  try { a(buf); } catch { return; }
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
console.log(`${pad('message', 42)}${pad('work', 9)}${pad('ours/s', 10)}${pad('npm sip/s', 11)}ratio`);
for (const r of results) console.log(`${pad(r.message, 42)}${pad(r.work, 9)}${pad(r.ours, 10)}${pad(r.npmSip ?? 'n/a', 11)}${r.ratio ?? '(npm sip cannot parse it)'}`);
const fx = results.filter((r) => r.message.startsWith('rfc') && r.ratio !== null);
const min = fx.reduce((m, r) => Math.min(m, r.ratio), Infinity);
console.log(`\nfixtures: ${fx.length} compared, lowest ratio ${min === Infinity ? 'n/a' : min}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), node: process.version, seconds: SECONDS, results }, null, 2));
