#!/usr/bin/env node
// Flood benchmark (issue #10 "Protection at the lb"): legitimate calls from one address keep
// completing while another address floods the lb at 10× security.ipban.max_requests.
//
//   node bench/flood.mjs [--dur 8] [--max 1000] [--legit-rate 100] [--factor 10] [--guard on,off] [--json FILE]
//   ./ngcp bench flood
//
// Our lb alone (apps/lb/dist/main.js, the V8 flags pm2 gives it), a private Redis, and two
// sipp UASes standing where the proxies stand (they record-route like a proxy, as in
// bench/sip.mjs's dispatcher job). Per run:
//   legit    sipp uac_rr.xml (INVITE/100/180/200/ACK/BYE/200) from 127.0.10.2 at --legit-rate calls/s
//            — 3 packets per call from that address, far below the threshold
//   flood    sipp from 127.0.10.6 sending one OPTIONS per "call" (test/e2e/scenarios/uac-options-flood.xml)
//            at --factor × --max packets/s, from 1 s after the legit load starts to its end
// with the guard on (ipban window 1 s, max_requests --max) and, for comparison, off. Reported:
// legit calls completed / failed / retransmissions, flood packets sent, the lb's drops
// `refused`, the bans, the lb's CPU and UDP receive-buffer drops.
// Every process it starts is stopped by PID; addresses 127.0.10.x only (other runs use
// 127.0.0.x and 127.0.9.x). Bounded: --dur ≤ 10 s, --max × --factor ≤ 50 000 packets/s.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIP_DAEMON_NODE_ARGS } from '../packages/config/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const ANCHORS = process.env.ANCHORS_DIR ?? join(root, '../shared/anchors');
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : d; };
const DUR = Number(opt('dur', '8'));
const MAX = Number(opt('max', '1000'));
const LEGIT_RATE = Number(opt('legit-rate', '100'));
const FACTOR = Number(opt('factor', '10'));
const GUARD = opt('guard', 'on,off').split(',').map((s) => s.trim()).filter(Boolean);
const jsonOut = opt('json', null);
if (!(DUR >= 3 && DUR <= 10)) throw new Error('--dur must be in [3, 10] seconds');
if (!(MAX >= 10 && MAX * FACTOR <= 50_000)) throw new Error('--max must be ≥ 10 and --max × --factor ≤ 50 000');
if (!(LEGIT_RATE >= 1 && LEGIT_RATE * 3 < MAX)) throw new Error('--legit-rate × 3 packets must stay under --max');
for (const g of GUARD) if (g !== 'on' && g !== 'off') throw new Error('--guard takes on,off');

const SUT = '127.0.10.1'; // lb public, 5060
const LEGIT = '127.0.10.2'; // legitimate UAC, 5061
const UAS = '127.0.10.3'; // sipp "proxies", 5070 and 5071
const LB_INT = '127.0.10.4'; // lb internal, 5060
const AUX = '127.0.10.5'; // Redis 6398, lb control 9060
const FLOODER = '127.0.10.6'; // the flood, 5062
const REDIS_PORT = 6398;
const HZ = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim());
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- processes: everything started is stopped by PID ----------
const started = new Set();
function cleanup() {
  for (const p of started) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  started.clear();
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { cleanup(); process.exit(130); });
function start(cmd, argv, { cwd, out } = {}) {
  const fd = out ? openSync(out, 'a') : 'ignore';
  const p = spawn(cmd, argv, { cwd, stdio: ['ignore', fd, fd] });
  started.add(p);
  p.exited = new Promise((res) => p.on('exit', (code, sig) => { started.delete(p); res(code ?? sig); }));
  return p;
}
async function stop(p, sig = 'SIGTERM', ms = 5000) {
  if (!p || !started.has(p)) return;
  try { process.kill(p.pid, sig); } catch { return; }
  const t = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
  await p.exited;
  clearTimeout(t);
}
const udpListening = (ip, port) => spawnSync('ss', ['-Hlun', `src ${ip}:${port}`]).stdout.toString().trim().length > 0;
async function waitUdp(ip, port, what, ms = 15000) {
  for (let t = 0; t < ms; t += 100) { if (udpListening(ip, port)) return; await sleep(100); }
  throw new Error(`${what} did not listen on udp ${ip}:${port}`);
}
function ticks(pid) {
  try { const f = readFileSync(`/proc/${pid}/stat`, 'utf8'); const r = f.slice(f.lastIndexOf(')') + 2).split(' '); return Number(r[11]) + Number(r[12]); } catch { return 0; }
}
function rcvbufErrors() {
  const l = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((x) => x.startsWith('Udp:'));
  const h = l[0].split(/\s+/); const v = l[1].split(/\s+/);
  return Number(v[h.indexOf('RcvbufErrors')]);
}
function lastStat(file) {
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const h = lines[0].split(';'); const v = lines.at(-1).split(';');
  return Object.fromEntries(h.map((k, i) => [k, v[i]]));
}

// ---------- setup ----------
if (spawnSync('sh', ['-c', 'command -v sipp && command -v redis-server']).status !== 0) throw new Error('needs sipp and redis-server (./ngcp test installs them)');
if (!existsSync(join(root, 'apps/lb/dist/main.js'))) throw new Error('apps/lb/dist/main.js missing: build first (pnpm exec turbo run build)');
for (const [ip, port] of [[SUT, 5060], [LEGIT, 5061], [UAS, 5070], [UAS, 5071], [LB_INT, 5060], [FLOODER, 5062]]) {
  if (udpListening(ip, port)) throw new Error(`udp ${ip}:${port} already in use (not ours); refusing to run`);
}
const work = mkdtempSync(join(tmpdir(), 'ngcp-bench-flood-'));
writeFileSync(join(work, 'uac_rr.xml'), readFileSync(join(ANCHORS, 'sipp', 'uac_rr.xml')));
writeFileSync(join(work, 'uas_rr_proxy.xml'), readFileSync(join(ANCHORS, 'sipp', 'uas_rr.xml'), 'utf8')
  .replaceAll('[last_Record-Route:]', 'Record-Route: <sip:[local_ip]:[local_port];lr>\n      [last_Record-Route:]'));
writeFileSync(join(work, 'flood.xml'), readFileSync(join(root, 'test/e2e/scenarios/uac-options-flood.xml')));
const SIPP = ['-nostdin', '-buff_size', '4194304', '-default_behaviors', 'all,-abortunexp'];

async function startRedis(dir) {
  const p = start('redis-server', ['--bind', AUX, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--dir', dir], { out: join(dir, 'redis.log') });
  for (let t = 0; t < 5000; t += 50) {
    if (spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), 'PING']).stdout?.toString().includes('PONG')) return p;
    await sleep(50);
  }
  throw new Error('redis did not start');
}

async function startLb(dir, guard) {
  const cfg = {
    node: 'bench', public: { address: SUT, udp_port: 5060, tcp_port: 5060, tls_enable: false, tls_port: 5061 },
    tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), generate: false, hostnames: ['localhost'], days: 1 },
    internal: { address: LB_INT, udp_port: 5060 }, control: { address: AUX, port: 9060 }, log: { level: 'warn' },
    dispatch: { algorithm: 'round-robin', proxies: [{ address: UAS, port: 5070, weight: 1 }, { address: UAS, port: 5071, weight: 1 }], probe: { interval_ms: 0 } },
    // explicit: the guard as security.ipban would render it, or off
    ipban: { enable: guard, window_ms: 1000, max_requests: MAX, ban_s: 300, exempt: [] },
    // nothing listens: uac_rr.xml's Request-URI names the lb's own address, which is always served
    db: { host: AUX, port: 3399, user: 'bench', password: '', database: 'ngcp', pool_max: 2 },
    redis: { host: AUX, port: REDIS_PORT, db: 0 },
  };
  const f = join(dir, 'lb.yml');
  writeFileSync(f, JSON.stringify(cfg, null, 1));
  const p = start(process.execPath, [...SIP_DAEMON_NODE_ARGS, join(root, 'apps/lb/dist/main.js'), '--config', f], { cwd: root, out: join(dir, 'lb.log') });
  await waitUdp(SUT, 5060, 'lb');
  await sleep(500);
  return p;
}

async function metrics() {
  const text = await (await fetch(`http://${AUX}:9060/metrics`)).text();
  const m = (re) => Number(re.exec(text)?.[1] ?? 0);
  return { refused: m(/^sip_drops_total\{reason="refused"[^}]*\} (\d+)/m), bans: m(/^lb_ipbans_total(?:\{[^}]*\})? (\d+)/m) };
}

async function run(guard) {
  const dir = join(work, `guard-${guard ? 'on' : 'off'}`);
  mkdirSync(dir, { recursive: true });
  const redis = await startRedis(dir);
  const lb = await startLb(dir, guard);
  const uas = [5070, 5071].map((port) => start('sipp', ['-sf', join(work, 'uas_rr_proxy.xml'), '-i', UAS, '-p', String(port), ...SIPP], { cwd: dir, out: join(dir, `uas${port}.log`) }));
  for (const port of [5070, 5071]) await waitUdp(UAS, port, `sipp uas ${port}`);
  const drops0 = rcvbufErrors();
  const cpu0 = ticks(lb.pid);
  const t0 = Date.now();
  const legitN = LEGIT_RATE * DUR;
  const legit = start('sipp', ['-sf', join(work, 'uac_rr.xml'), `${SUT}:5060`, '-i', LEGIT, '-p', '5061', ...SIPP,
    '-r', String(LEGIT_RATE), '-rp', '1000', '-m', String(legitN), '-l', String(LEGIT_RATE * 4 + 100), '-timeout', `${DUR + 20}s`,
    '-trace_stat', '-stf', 'legit_stat.csv', '-fd', '1'], { cwd: dir, out: join(dir, 'legit.log') });
  await sleep(1000);
  const floodRate = MAX * FACTOR;
  const floodN = floodRate * (DUR - 1);
  const flood = start('sipp', ['-sf', join(work, 'flood.xml'), `${SUT}:5060`, '-i', FLOODER, '-p', '5062', ...SIPP,
    '-r', String(floodRate), '-rp', '1000', '-m', String(floodN), '-l', String(floodN), '-timeout', `${DUR + 10}s`,
    '-trace_stat', '-stf', 'flood_stat.csv', '-fd', '1'], { cwd: dir, out: join(dir, 'flood.log') });
  const hard = setTimeout(() => { void stop(legit, 'SIGKILL'); void stop(flood, 'SIGKILL'); }, (DUR + 30) * 1000);
  await Promise.all([legit.exited, flood.exited]);
  clearTimeout(hard);
  const elapsed = (Date.now() - t0) / 1000;
  const lbCpu = Math.round(((ticks(lb.pid) - cpu0) / HZ / elapsed) * 100);
  const m = await metrics().catch(() => ({ refused: NaN, bans: NaN }));
  const banned = spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), '--scan', '--pattern', 'ipban:*']).stdout.toString().split('\n').filter(Boolean);
  const ls = lastStat(join(dir, 'legit_stat.csv'));
  const fs = lastStat(join(dir, 'flood_stat.csv'));
  const r = {
    guard: guard ? 'on' : 'off', max_requests_per_s: MAX, flood_rate: floodRate, legit_rate: LEGIT_RATE, dur_s: DUR,
    legit: { placed: legitN, ok: Number(ls['SuccessfulCall(C)'] ?? 0), failed: Number(ls['FailedCall(C)'] ?? 0), retrans: Number(ls['Retransmissions(C)'] ?? 0) },
    flood_sent: Number(fs['SuccessfulCall(C)'] ?? 0) + Number(fs['FailedCall(C)'] ?? 0),
    lb_refused: m.refused, bans: m.bans, banned_in_redis: banned.map((k) => k.slice('ipban:'.length)),
    lb_cpu_pct: lbCpu, udp_rcvbuf_drops: rcvbufErrors() - drops0,
  };
  r.legit.unfinished = r.legit.placed - r.legit.ok - r.legit.failed;
  for (const u of uas) await stop(u);
  await stop(lb, 'SIGTERM', 10000);
  await stop(redis);
  return r;
}

const results = { started: new Date().toISOString(), cpus: cpus().length, loadavg_start: loadavg(), runs: [] };
for (const g of GUARD) {
  log(`guard ${g}: legit ${LEGIT_RATE} calls/s from ${LEGIT}, flood ${MAX * FACTOR} OPTIONS/s from ${FLOODER} (threshold ${MAX}/s), ${DUR} s`);
  const r = await run(g === 'on');
  results.runs.push(r);
  log(`guard ${g}: legit ${r.legit.ok}/${r.legit.placed} ok, ${r.legit.failed} failed, ${r.legit.unfinished} unfinished, ${r.legit.retrans} retrans; flood sent ${r.flood_sent}, refused ${r.lb_refused}, banned ${r.banned_in_redis.join(',') || '-'}; lb CPU ${r.lb_cpu_pct} %, rcvbuf drops ${r.udp_rcvbuf_drops}`);
}
results.loadavg_end = loadavg();
console.log(JSON.stringify(results, null, 1));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1));
rmSync(work, { recursive: true, force: true });
const on = results.runs.find((r) => r.guard === 'on');
process.exitCode = on && (on.legit.failed > 0 || on.legit.unfinished > 0 || !on.banned_in_redis.includes(FLOODER)) ? 1 : 0;
