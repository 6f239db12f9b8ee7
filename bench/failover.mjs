#!/usr/bin/env node
// Failover benchmark (issue #9 "Speed"): fault on the active node → first SIP answer from
// the new active node, probed from a client every 20 ms, with the same SIP answerer on both
// nodes under each HA daemon, side by side in ONE run:
//   keepalived        VRRPv2, advert 1 s (the common production setting)
//   keepalived-fast   VRRPv3, advert 0.2 s
//   ours              apps/hbd (beats every 100 ms on crosslink + bridge, deadtime 300 ms)
//   ours-rtp          the same plus each node's Redis and rtpengine (pair config) and hbd's
//                     redis + media steps; one call with RTP every 20 ms both ways: also
//                     fault → first RTP packet relayed by the new active node
// Faults: kill (SIGKILL of every process of the active node: HA daemon and answerer) and
// linkdown (the active node's bridge link set down; its crosslink stays up).
//
//   node bench/failover.mjs [--sides keepalived,keepalived-fast,ours,ours-rtp] [--faults kill,linkdown]
//                           [--runs 6] [--json FILE]
//   ./ngcp bench failover
//
// Needs root (network namespaces). Own namespaces fob-gw, fob-a, fob-b, fob-c (never the
// lab's sp1/sp2), bridge 10.77.0.0/24 (a .11, b .12, shared IP .10, client .100, gw .1),
// crosslink 10.78.0.1/.2. Installs keepalived from Debian if missing (here only, never on
// the test path). Everything it starts is stopped by process group; the namespaces are
// removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : d; };
const list = (s) => String(s).split(',').map((x) => x.trim()).filter(Boolean);
const SIDES = list(opt('sides', 'keepalived,keepalived-fast,ours,ours-rtp'));
const FAULTS = list(opt('faults', 'kill,linkdown'));
const RUNS = Number(opt('runs', '6'));
const jsonOut = opt('json', null);
if (!(RUNS >= 1 && RUNS <= 50)) throw new Error('--runs in [1, 50]');
for (const f of FAULTS) if (!['kill', 'linkdown'].includes(f)) throw new Error(`unknown fault ${f} (kill, linkdown)`);

const NS = { gw: 'fob-gw', a: 'fob-a', b: 'fob-b', c: 'fob-c' };
const IP = { gw: '10.77.0.1', a: '10.77.0.11', b: '10.77.0.12', c: '10.77.0.100', vip: '10.77.0.10', xa: '10.78.0.1', xb: '10.78.0.2' };
const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 23)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), 'ngcp-failover-'));

if (process.getuid?.() !== 0) { console.error('bench/failover.mjs needs root (network namespaces)'); process.exit(2); }

// ---------- processes: each started in its own process group, stopped by group ----------
const groups = new Set();
function startIn(ns, cmd, argv, out, { stdin = false } = {}) {
  const fd = openSync(join(work, out), 'a');
  const p = spawn('ip', ['netns', 'exec', ns, cmd, ...argv], { detached: true, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', fd] });
  groups.add(p.pid);
  p.exited = new Promise((res) => p.on('exit', () => { groups.delete(p.pid); res(); }));
  return p;
}
function killGroup(p, sig = 'SIGKILL') {
  try { process.kill(-p.pid, sig); } catch { /* gone */ }
}
function sh(cmd, { ok = false } = {}) {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0 && !ok) throw new Error(`${cmd}: ${r.stderr.trim()}`);
  return r.stdout;
}

// ---------- the network ----------
function netDown() {
  for (const n of Object.values(NS)) sh(`ip netns del ${n} 2>/dev/null`, { ok: true });
}
function netUp() {
  netDown();
  for (const n of Object.values(NS)) sh(`ip netns add ${n}`);
  sh(`ip -n ${NS.gw} link add br0 type bridge && ip -n ${NS.gw} link set br0 up && ip -n ${NS.gw} addr add ${IP.gw}/24 dev br0 && ip -n ${NS.gw} link set lo up`);
  for (const x of ['a', 'b', 'c']) {
    sh(`ip link add eth0 netns ${NS[x]} type veth peer name v-${x} netns ${NS.gw}`);
    sh(`ip -n ${NS.gw} link set v-${x} master br0 up && ip -n ${NS[x]} link set eth0 up && ip -n ${NS[x]} link set lo up && ip -n ${NS[x]} addr add ${IP[x]}/24 dev eth0`);
  }
  sh(`ip link add eth1 netns ${NS.a} type veth peer name eth1 netns ${NS.b}`);
  sh(`ip -n ${NS.a} addr add ${IP.xa}/30 dev eth1 && ip -n ${NS.a} link set eth1 up && ip -n ${NS.b} addr add ${IP.xb}/30 dev eth1 && ip -n ${NS.b} link set eth1 up`);
  for (const x of ['a', 'b']) sh(`ip netns exec ${NS[x]} sysctl -q -w net.ipv4.ip_nonlocal_bind=1`);
}
function hasVip(x) {
  return sh(`ip -n ${NS[x]} -4 -o addr show dev eth0`, { ok: true }).includes(` ${IP.vip}/`);
}
function resetNodes() {
  for (const x of ['a', 'b']) {
    sh(`ip -n ${NS[x]} link set eth0 up`, { ok: true });
    if (hasVip(x)) sh(`ip -n ${NS[x]} addr del ${IP.vip}/24 dev eth0`, { ok: true });
  }
  sh(`ip -n ${NS.c} neigh flush all`, { ok: true });
  sh(`ip -n ${NS.gw} neigh flush all`, { ok: true });
}

// ---------- the HA daemons ----------
function installKeepalived() {
  if (spawnSync('sh', ['-c', 'command -v keepalived']).status === 0) return;
  log('installing keepalived (Debian)');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', 'keepalived'], { env, stdio: 'ignore' });
  if (r.status !== 0) { spawnSync('apt-get', ['update'], { env, stdio: 'ignore' }); r = spawnSync('apt-get', ['install', '-y', 'keepalived'], { env, stdio: 'inherit' }); }
  if (r.status !== 0) throw new Error('keepalived could not be installed');
}

let runSeq = 0;
const SIDE = {
  keepalived: { advert: 1, version: 2 },
  'keepalived-fast': { advert: 0.2, version: 3 },
};

function startKeepalived(side, x) {
  const { advert, version } = SIDE[side];
  const dir = join(work, `${side}-${x}-${++runSeq}`); // fresh pid files each run
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'keepalived.conf');
  writeFileSync(conf, `global_defs {
  router_id ${NS[x]}
  vrrp_version ${version}
  script_user root
  enable_script_security
}
vrrp_instance VI_77 {
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 77
  priority ${x === 'a' ? 150 : 100}
  advert_int ${advert}
  virtual_ipaddress {
    ${IP.vip}/24 dev eth0 label eth0:ka
  }
}
`);
  return startIn(NS[x], 'keepalived', ['-n', '-l', '-P', '-f', conf, '-p', join(dir, 'k.pid'), '-r', join(dir, 'v.pid'), '-c', join(dir, 'c.pid')], `${side}-${x}.log`);
}

/** Our HA daemon (apps/hbd) for node x; null while apps/hbd is not built. */
let startOurs = null;
try {
  const m = await import(join(root, 'bench/failover/ours.mjs'));
  startOurs = (x, media = false) => m.startHbd({ x, ns: NS[x], ip: IP, work, startIn, root, media });
} catch (e) {
  if (SIDES.some((s) => s.startsWith('ours'))) log(`side ours unavailable: ${e.message}`);
}
const media = await import(join(root, 'bench/failover/media.mjs'));

function startNode(side, x) {
  const procs = [startIn(NS[x], process.execPath, [join(here, 'failover/responder.mjs'), '--ip', IP.vip, '--node', NS[x]], `${side}-responder-${x}.log`)];
  if (side === 'ours-rtp') procs.push(...media.startMediaNode({ x, ns: NS[x], ip: IP, work, startIn }), startOurs(x, true));
  else procs.push(side === 'ours' ? startOurs(x) : startKeepalived(side, x));
  return procs;
}

/** ours-rtp: one call through a's rtpengine, RTP both ways from the client every 20 ms, b's rtpengine holding it (foreign). */
async function mediaUp(agents) {
  await until(() => media.replicaUp(NS.b), 15_000, "b's Redis replicating a's");
  const caller = await media.startAgent({ root, ns: NS.c, address: IP.c, startIn });
  agents.push(caller.proc);
  const callee = await media.startAgent({ root, ns: NS.c, address: IP.c, startIn });
  agents.push(callee.proc);
  const call = media.ngCall({ here, ns: NS.a, caller: `${IP.c}:${caller.port}`, callee: `${IP.c}:${callee.port}` });
  caller.send(IP.vip, call.toCaller);
  callee.send(IP.vip, call.toCallee);
  const end = Date.now() + 10_000;
  while ((await caller.count()) < 25 || (await callee.count()) < 25) { if (Date.now() > end) throw new Error('RTP not flowing through a'); await sleep(50); }
  await until(() => (media.sessions(NS.b)?.foreign ?? 0) >= 1, 10_000, "b's rtpengine holding the call");
  return { caller, callee };
}

// ---------- one run ----------
function startProbe() {
  const p = startIn(NS.c, process.execPath, [join(here, 'failover/probe.mjs'), '--ip', IP.vip, '--interval', '20', '--max-s', '120'], 'probe.log');
  p.answers = [];
  let buf = '';
  p.stdout.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const [t, node] = buf.slice(0, i).split(' ');
      buf = buf.slice(i + 1);
      p.answers.push({ t: Number(t), node });
    }
  });
  return p;
}

async function until(pred, ms, what) {
  const end = Date.now() + ms;
  while (Date.now() < end) { if (pred()) return; await sleep(20); }
  throw new Error(`timeout: ${what}`);
}

async function run(side, fault, i) {
  resetNodes();
  const a = startNode(side, 'a');
  // a alone first: it takes the role; b then joins as standby (no preemption on either side)
  await until(() => hasVip('a'), 15_000, `${side}: node a active`);
  const b = startNode(side, 'b');
  const probe = startProbe();
  let rtp = null;
  const agents = [];
  try {
    if (side === 'ours-rtp') rtp = await mediaUp(agents);
    await until(() => probe.answers.slice(-25).length === 25 && probe.answers.slice(-25).every((r) => r.node === NS.a), 15_000, 'steady answers from a');
    await sleep(2000 + Math.random() * 1000); // b settled as standby; fault at a random phase of the beats/adverts
    if (hasVip('b')) throw new Error(`${side}: b holds the shared IP before the fault`);
    const t0 = Date.now();
    if (fault === 'kill') for (const p of a) killGroup(p);
    else sh(`ip -n ${NS.a} link set eth0 down`);
    await until(() => probe.answers.some((r) => r.t >= t0 && r.node === NS.b), 12_000, `${side} ${fault}: answer from b`);
    const first = probe.answers.find((r) => r.t >= t0 && r.node === NS.b);
    const ms = first.t - t0;
    if (!rtp) {
      log(`${side.padEnd(15)} ${fault.padEnd(8)} run ${i + 1}: ${ms} ms`);
      return ms;
    }
    await sleep(2000);
    const [toCaller, toCallee] = (await Promise.all([rtp.caller.stop(), rtp.callee.stop()])).map((r) => media.rtpResume(r.arrivals, t0));
    const rtpMs = toCaller && toCallee ? Math.max(toCaller.resume_ms, toCallee.resume_ms) : null;
    log(`${side.padEnd(15)} ${fault.padEnd(8)} run ${i + 1}: ${ms} ms (SIP); RTP resumed ${rtpMs ?? 'never'} ms (to caller ${JSON.stringify(toCaller)}, to callee ${JSON.stringify(toCallee)})`);
    if (rtpMs === null) throw new Error('RTP did not resume');
    return { ms, rtpMs };
  } finally {
    for (const g of agents) killGroup(g);
    killGroup(probe, 'SIGTERM');
    for (const p of [...a, ...b]) killGroup(p);
    await Promise.all([probe, ...a, ...b].map((p) => Promise.race([p.exited, sleep(3000)])));
  }
}

const median = (xs) => { const s = [...xs].sort((x, y) => x - y); const n = s.length; return n === 0 ? null : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

async function main() {
  if (SIDES.some((s) => s.startsWith('keepalived'))) installKeepalived();
  netUp();
  const results = { started: new Date().toISOString(), runs: RUNS, rows: [] };
  for (const side of SIDES) {
    if (side.startsWith('ours') && !startOurs) { log(`side ${side} skipped: apps/hbd not available`); continue; }
    if (!side.startsWith('ours') && !SIDE[side]) throw new Error(`unknown side ${side}`);
    for (const fault of FAULTS) {
      const ms = [];
      const rtpMs = [];
      for (let i = 0; i < RUNS; i++) {
        let r = null;
        try { r = await run(side, fault, i); } catch (e) { log(`${side} ${fault} run ${i + 1} failed: ${e.message}`); }
        ms.push(typeof r === 'number' ? r : r?.ms ?? null);
        rtpMs.push(r?.rtpMs ?? null);
      }
      const ok = ms.filter((x) => x !== null);
      const row = { side, fault, ms, median_ms: median(ok), min_ms: ok.length ? Math.min(...ok) : null, max_ms: ok.length ? Math.max(...ok) : null, failed_runs: ms.length - ok.length };
      if (side === 'ours-rtp') {
        const rok = rtpMs.filter((x) => x !== null);
        Object.assign(row, { rtp_ms: rtpMs, rtp_median_ms: median(rok), rtp_min_ms: rok.length ? Math.min(...rok) : null, rtp_max_ms: rok.length ? Math.max(...rok) : null });
      }
      results.rows.push(row);
    }
  }
  results.ended = new Date().toISOString();
  console.log('\n| side | fault | median | min | max | runs (ms) |');
  console.log('|---|---|---|---|---|---|');
  for (const r of results.rows) console.log(`| ${r.side} | ${r.fault} | ${r.median_ms ?? '-'} ms | ${r.min_ms ?? '-'} | ${r.max_ms ?? '-'} | ${r.ms.map((x) => x ?? 'fail').join(', ')} |`);
  const rtpRows = results.rows.filter((r) => r.rtp_ms);
  if (rtpRows.length) {
    console.log('\nRTP at failover (fault → first RTP packet relayed by the new active node, the later of both directions; a packet every 20 ms each way):');
    console.log('| side | fault | median | min | max | runs (ms) |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rtpRows) console.log(`| ${r.side} | ${r.fault} | ${r.rtp_median_ms ?? '-'} ms | ${r.rtp_min_ms ?? '-'} | ${r.rtp_max_ms ?? '-'} | ${r.rtp_ms.map((x) => x ?? 'fail').join(', ')} |`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
  log(`logs in ${work}`);
}

function cleanup() {
  for (const pid of groups) try { process.kill(-pid, 'SIGKILL'); } catch { /* gone */ }
  groups.clear();
  netDown();
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { cleanup(); process.exit(130); });
try {
  await main();
} finally {
  cleanup();
}
