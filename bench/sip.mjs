#!/usr/bin/env node
// SIP benchmark: the same sipp load against Kamailio 5.6 (the anchors' configs, adapted)
// and against our daemons, job by job, in ONE run, on 127.0.9.x only.
//
//   node bench/sip.mjs [--jobs registrar,proxy,dispatcher,chain,features,sbc] [--dur 8] [--reg-rates 2000,4000,…]
//                      [--proxy-rates …] [--disp-rates …] [--chain-rates …] [--features-rates …] [--sbc-rates …] [--sides kamailio,kamailio-tm,ours]
//                      [--workers N] [--profile] [--json FILE]
//   ./ngcp bench sip
//
// Jobs (see bench/README.md "SIP"):
//   registrar   sipp register.xml (unique AoR per REGISTER, no auth) → Kamailio registrar.cfg
//               (usrloc db_mode 0, memory) vs our proxy with registrar.auth: false (bindings in Redis)
//   proxy       sipp uac_rr.xml → uas_rr.xml through Kamailio proxy.cfg (tm, record_route, t_relay to
//               a fixed $du) vs our proxy with calls.auth: false, media: false, a private MariaDB
//               (testkit) holding caller and callee, the UAS registered as the callee
//   dispatcher  sipp uac_rr.xml → Kamailio dispatcher.cfg (alg 4 round robin, stateless forward())
//               vs our lb (round-robin, transaction-stateful) → 2 sipp uas_rr.xml acting as proxies;
//               side kamailio-tm: the same cfg with tm loaded and t_relay() for forward() — stateful
//               like our lb, the equal-work row of the summary
//               side kamailio-full: the same cfg doing our proxy's work with the same stores (Redis
//               HGETALL of the callee's location, the call's state HSET/EXPIRE/HSET/HGETALL/DEL,
//               acc start/stop rows in the same MariaDB, inserted asynchronously) — the equal-work row
//   chain       sipp uac_auth_rr.xml (INVITE, 407, INVITE with digest credentials, 200, ACK, BYE) →
//               the full chain: Kamailio dispatcher.cfg with t_relay (the lb) → Kamailio proxy.cfg
//               with digest auth (auth_db over db_text, nonce_count replay check) and acc, vs our
//               lb → our proxy (calls.auth on, nonce counts and call state in Redis, accounting in
//               MariaDB) → uas_rr.xml registered as the callee
//   features    ours only, compared with the chain job's rows of the same run (issue #10 "Speed"): the
//               chain plus number handling and LCR — sipp calls 0<national number> (uac_auth_rr.xml,
//               -s), the domain's rewrite rule set normalises the callee to E.164 (43…), the caller
//               (with a primary number) gets a P-Asserted-Identity, its NCOS and concurrent-call slots
//               are checked, the callee is no subscriber, so a peering rule (prefix 43) picks a group
//               and the peer server: the sipp UAS (uas_rr.xml) on 5070 acting as the carrier.
//               Provisioned through the API app itself (in-process, against the run's MariaDB).
//   sbc         ours only, two sides of equal work in the same run (issue #11): sipp uac_auth_rr.xml (its
//               INVITE has an SDP offer, uas_rr.xml's 200 an SDP answer) through the chain job's lb → proxy
//               with media (proxy.media: every SDP through our mediactl to a real rtpengine: offer on the
//               INVITE, answer on the 200, delete on the BYE) — side `media` — against the same plus the B2BUA
//               (proxy.sbc.enable): lb → proxy (A leg, authenticated) → sbc → proxy (B leg, trusted, call
//               state, media, acc) → lb → UAS — side `sbc`. The sbc runs with config.yml's defaults (session
//               timers 300 s, call length limit, prepaid on with the run's MariaDB). No RTP flows.
// Our daemons run with the V8 flags pm2 gives them in production (SIP_DAEMON_NODE_ARGS), and our
// proxy with --workers processes (default: one per core, as proxy.workers 0 in production; worker i
// on SUT:5060+i, docs/workers.md). In production the lb spreads calls over the workers by Call-ID;
// here, for the "proxy alone" rows, the sipp UAC load is split into one UAC per worker port, each
// with rate/N: the same scenario and total rate Kamailio gets on its one port (bench/README.md).
// Every rate step starts fresh processes (Kamailio or ours, Redis, sipp UASes), runs one
// bounded sipp UAC (≤ --dur s of load), reads sipp -trace_stat, CPU per process from /proc,
// UDP RcvbufErrors from /proc/net/snmp, then stops everything it started, by PID.
// net.core.rmem_max/wmem_max are raised to 8 MiB while it runs and restored at the end.
// Installs kamailio / sip-tester from Debian if missing (here only, never on the test path).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SIP_DAEMON_NODE_ARGS } from '../packages/config/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
// the Kamailio reference (configs, sipp scenarios) lives in shared/anchors beside the checkout
const ANCHORS = process.env.ANCHORS_DIR ?? join(root, '../shared/anchors');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const list = (s) => String(s).split(',').map((x) => x.trim()).filter(Boolean);
const JOBS = list(opt('jobs', 'registrar,proxy,dispatcher,chain,sbc'));
const DUR = Number(opt('dur', '8'));
if (!(DUR > 2 && DUR <= 10)) throw new Error('--dur must be in (2, 10] seconds');
const RATES = {
  registrar: list(opt('reg-rates', '2000,4000,6000,8000,12000,16000')).map(Number),
  proxy: list(opt('proxy-rates', '100,250,500,1000,1500,2000')).map(Number),
  dispatcher: list(opt('disp-rates', '1000,2000,3000,4000,5000')).map(Number),
  chain: list(opt('chain-rates', '100,250,500,750,1000,1500')).map(Number),
  features: list(opt('features-rates', '100,250,500,750,1000,1500')).map(Number),
  sbc: list(opt('sbc-rates', '50,100,250,500,750')).map(Number),
};
const PROFILE = args.includes('--profile');
// kamailio-tm runs for the dispatcher job only (the others are stateful already)
const SIDES = list(opt('sides', 'kamailio,kamailio-tm,kamailio-full,ours'));
for (const x of SIDES) if (!['kamailio', 'kamailio-tm', 'kamailio-full', 'ours'].includes(x)) throw new Error(`unknown side ${x} (kamailio, kamailio-tm, kamailio-full, ours)`);
// kamailio-tm: the dispatcher job only (the others are stateful already); kamailio-full: the proxy job only
// features: ours only (its Kamailio and no-features rows are the chain job's, same run)
// sbc: ours only, its two sides (media: the chain with mediactl + rtpengine; sbc: the same plus the B2BUA)
const sidesOf = (job) => job === 'sbc' ? (SIDES.includes('ours') ? ['media', 'sbc'] : []) : SIDES.filter((x) => (x !== 'kamailio-tm' || job === 'dispatcher') && (x !== 'kamailio-full' || job === 'proxy') && (job !== 'features' || x === 'ours'));
const isKam = (side) => side.startsWith('kamailio');
// the jobs whose calls our proxy authenticates, keeps in Redis and accounts in MariaDB
const CALL_JOBS = new Set(['proxy', 'chain', 'features', 'sbc']);
// proxy job: hold each call this long (sipp -d, the scenario's <pause/>) to measure memory per live call
const HOLD_MS = Number(opt('hold-ms', '0'));
const jsonOut = opt('json', null);
const WORKERS = Number(opt('workers', String(cpus().length)));
if (!(Number.isInteger(WORKERS) && WORKERS >= 1 && WORKERS <= 16)) throw new Error('--workers must be an integer in [1, 16]');

// addresses: 127.0.9.x only, so other workers' 127.0.0.1/127.0.0.2 ports never collide
const SUT = '127.0.9.1'; // Kamailio / our proxy (registrar) / our lb public, port 5060
const UAC = '127.0.9.2'; // sipp client, port 5061
const UAS = '127.0.9.3'; // sipp servers, ports 5070, 5071
const LB_INT = '127.0.9.4'; // our lb's internal side, port 5060
const AUX = '127.0.9.5'; // Redis 6399, control ports 9060/9062
const PROXY = '127.0.9.6'; // chain job: the proxy behind the lb (Kamailio's, or ours on 5060+i)
// sbc job (on AUX): the sbc's SIP listener (config.yml sbc.port) and control port; mediactl's control port
const SBC_PORT = 5080;
const SBC_CONTROL = 9080;
const MEDIACTL_CONTROL = 9090;
const REDIS_PORT = 6399;
// features job: the callee as the caller dials it (national format) and as the peer gets it (E.164)
const FEATURES_DIALED = '01234567';
const FEATURES_E164 = '431234567';
// our daemons' log level (BENCH_LOG_LEVEL=info to see why calls fail; warn while measuring)
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'warn';
// BENCH_PROXY_DIST=apps/proxy/<dir>: run our proxy from another build (a copy of apps/proxy/dist of an
// earlier commit, kept inside apps/proxy so that its imports resolve) for before/after in the same minutes
const PROXY_MAIN = join(process.env.BENCH_PROXY_DIST ?? 'apps/proxy/dist', 'main.js');
const HZ = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());
const NCPU = cpus().length;

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a);

// ---------- process bookkeeping: everything started is stopped by PID ----------
const started = new Set();
const sysctlRestore = [];
let mariadb = null; // the proxy and chain jobs' MariaDB (testkit instance), one per run
const rtpengines = new Set(); // the sbc job's rtpengines (testkit instances), one per step
function cleanup() {
  if (mariadb) try { process.kill(mariadb.pid, 'SIGKILL'); } catch { /* gone */ }
  for (const r of rtpengines) try { process.kill(r.pid, 'SIGKILL'); } catch { /* gone */ }
  rtpengines.clear();
  for (const p of started) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
  started.clear();
  for (const [k, v] of sysctlRestore.splice(0)) spawnSync('sysctl', ['-q', '-w', `${k}=${v}`]);
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { cleanup(); process.exit(130); });

function start(cmd, argv, { cwd, out, env } = {}) {
  const fd = out ? openLog(out) : 'ignore';
  const p = spawn(cmd, argv, { cwd, env: env ?? process.env, stdio: ['ignore', fd, fd] });
  started.add(p);
  p.exited = new Promise((res) => p.on('exit', (code, sig) => { started.delete(p); res(code ?? sig); }));
  return p;
}
function openLog(f) { return openSync(f, 'a'); }
async function stop(p, sig = 'SIGTERM', ms = 5000) {
  if (!p || !started.has(p)) return;
  try { process.kill(p.pid, sig); } catch { return; }
  const t = setTimeout(() => { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }, ms);
  await p.exited;
  clearTimeout(t);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function udpListening(ip, port) {
  const r = spawnSync('ss', ['-Hlun', `src ${ip}:${port}`]).stdout.toString();
  return r.trim().length > 0;
}
async function waitUdp(ip, port, what, ms = 8000) {
  for (let t = 0; t < ms; t += 100) { if (udpListening(ip, port)) return; await sleep(100); }
  throw new Error(`${what} did not listen on udp ${ip}:${port}`);
}

// ---------- /proc readers ----------
function children(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
function ticks(pids) {
  let s = 0;
  for (const p of pids) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      s += Number(rest[11]) + Number(rest[12]); // utime, stime (fields 14, 15)
    } catch { /* gone */ }
  }
  return s;
}
function rssKb(pid) {
  try { return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]); } catch { return NaN; }
}
/** RSS of a process set (our proxy's workers: worker 0 and its children) */
function rssSumKb(pids) {
  return pids.reduce((a, p) => a + rssKb(p), 0);
}
function rcvbufErrors() {
  const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'));
  const h = lines[0].split(/\s+/); const v = lines[1].split(/\s+/);
  return Number(v[h.indexOf('RcvbufErrors')]);
}
function idleTicks() {
  const c = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/);
  return Number(c[4]) + Number(c[5]);
}

// ---------- setup ----------
function install() {
  const have = (b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0;
  const mods = '/usr/lib/x86_64-linux-gnu/kamailio/modules';
  // Kamailio only when a Kamailio side runs (the sbc and features jobs are ours only)
  const needKam = JOBS.some((j) => sidesOf(j).some(isKam));
  if (have('sipp') && (!needKam || (have('kamailio') && have('kamcmd') && existsSync(join(mods, 'db_mysql.so')) && existsSync(join(mods, 'ndb_redis.so'))))) return;
  // kamailio-full needs MySQL (acc) and Redis (ndb_redis) modules
  const pkgs = [...(needKam ? ['kamailio', 'kamailio-mysql-modules', 'kamailio-redis-modules'] : []), 'sip-tester'];
  log(`installing ${pkgs.join(' ')} from Debian`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', ...pkgs], { env, stdio: 'ignore' });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { env, stdio: 'ignore' });
    r = spawnSync('apt-get', ['install', '-y', ...pkgs], { env, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`apt-get install ${pkgs.join(' ')} failed`);
  }
}
function preflight() {
  for (const [ip, port] of [[SUT, 5060], [UAC, 5061], [UAS, 5070], [UAS, 5071], [LB_INT, 5060], [PROXY, 5060], [AUX, SBC_PORT]]) {
    if (udpListening(ip, port)) throw new Error(`udp ${ip}:${port} already in use (not ours); refusing to run`);
  }
  for (const k of ['net.core.rmem_max', 'net.core.wmem_max']) {
    const v = Number(spawnSync('sysctl', ['-n', k]).stdout.toString().trim());
    if (v < 8388608 && spawnSync('sysctl', ['-q', '-w', `${k}=8388608`]).status === 0) sysctlRestore.push([k, v]);
  }
}
for (const d of [PROXY_MAIN, 'apps/lb/dist/main.js', ...(JOBS.includes('sbc') ? ['apps/mediactl/dist/main.js', 'apps/sbc/dist/main.js'] : [])]) {
  if (!existsSync(join(root, d))) throw new Error(`${d} missing: build first (pnpm exec turbo run build)`);
}

const work = mkdtempSync(join(tmpdir(), 'ngcp-bench-sip-'));
const CTLSOCK = join(work, 'kamailio-ctl.sock');
function kamCfg(job, tm = false) {
  let s = readFileSync(join(ANCHORS, `kamailio-${job}.cfg`), 'utf8');
  s = s.replaceAll('127.0.0.1:5070', `${UAS}:5070`).replaceAll('127.0.0.1', SUT);
  // side kamailio-tm: the same dispatcher, stateful (tm's t_relay instead of forward) — the
  // work our lb does (it keeps a transaction per request and answers retransmissions itself)
  // (and the ACK of a negative final, e.g. the chain job's 407, ends its transaction: without
  // t_check_trans() tm would retransmit the 407 until timer H, work our lb does not do)
  if (tm) {
    s = s.replace('loadmodule "sl.so"', 'loadmodule "tm.so"\nloadmodule "sl.so"').replaceAll('forward();', 't_relay();')
      .replace(/request_route \{\n/, 'request_route {\n\tif (is_method("ACK") && t_check_trans()) exit;\n');
    if (!s.includes('t_check_trans()')) throw new Error('kamailio-dispatcher.cfg changed: the kamailio-tm side cannot adapt it');
  }
  const f = join(work, `kamailio-${job}${tm ? '-tm' : ''}.cfg`);
  writeFileSync(f, s);
  return f;
}
writeFileSync(join(work, 'dispatcher.list'), `1 sip:${UAS}:5070\n1 sip:${UAS}:5071\n`);
writeFileSync(join(work, 'dispatcher-chain.list'), `1 sip:${PROXY}:5060\n`);
// chain job, Kamailio's proxy: the anchor's proxy.cfg on PROXY plus what ours does per call —
// digest authentication of the initial INVITE against a subscriber table (db_text, loaded
// into memory; ours reads MariaDB through a cache), a replay check of the nonce count (ours:
// Redis), an accounting record at the answer and at the BYE (acc to its log; ours: MariaDB)
function kamAuthProxyCfg() {
  const dbDir = join(work, 'kamailio-db');
  mkdirSync(dbDir, { recursive: true });
  writeFileSync(join(dbDir, 'version'), 'table_name(string) table_version(int)\nsubscriber:7\n');
  writeFileSync(join(dbDir, 'subscriber'), `id(int,auto) username(string) domain(string) password(string)\n1:sipp:${UAC}:bench-password\n2:service:${UAC}:bench-password\n`);
  let s = readFileSync(join(ANCHORS, 'kamailio-proxy.cfg'), 'utf8');
  s = s.replaceAll('127.0.0.1:5070', `${UAS}:5070`).replaceAll('127.0.0.1', PROXY);
  s = s.replace('loadmodule "ctl.so"', ['loadmodule "ctl.so"', 'loadmodule "db_text.so"', 'loadmodule "auth.so"', 'loadmodule "auth_db.so"', 'loadmodule "acc.so"',
    `modparam("auth_db", "db_url", "text://${dbDir}")`, 'modparam("auth_db", "calculate_ha1", yes)', 'modparam("auth_db", "password_column", "password")',
    'modparam("auth_db", "load_credentials", "")', 'modparam("auth", "nonce_count", 1)',
    'modparam("acc", "log_flag", 1)', 'modparam("acc", "log_level", -1)'].join('\n'));
  // the dialog's BYE is accounted; the initial INVITE is challenged, then accounted
  s = s.replace(/if \(has_totag\(\)\) \{/, 'if (has_totag()) {\n\t\tif (is_method("BYE")) setflag(1);');
  s = s.replace(/\t# absorb retransmissions of initial requests/, [
    '\tif (is_method("INVITE")) {',
    '\t\tif (!proxy_authorize("$fd", "subscriber")) { proxy_challenge("$fd", "0"); exit; }',
    '\t\tconsume_credentials();',
    '\t\tsetflag(1);',
    '\t}',
    '\t# absorb retransmissions of initial requests'].join('\n'));
  if (!s.includes('proxy_authorize') || !s.includes('if (is_method("BYE")) setflag(1);')) throw new Error('kamailio-proxy.cfg changed: the chain job cannot adapt it');
  const f = join(work, 'kamailio-chain-proxy.cfg');
  writeFileSync(f, s);
  return f;
}
for (const x of ['register.xml', 'uac_rr.xml']) writeFileSync(join(work, x), readFileSync(join(ANCHORS, 'sipp', x)));
writeFileSync(join(work, 'uac_auth_rr.xml'), readFileSync(join(here, 'sipp', 'uac_auth_rr.xml')));
// The UASes stand where our proxies stand behind the lb, so they record-route themselves
// like a proxy (their entry on top of the echoed set): in-dialog ACK/BYE then carry a Route
// naming the UAS, which both Kamailio's loose_route() and our lb follow (our lb sends
// requests from clients only to a proxy of its set, named by Route; see bench/README.md).
writeFileSync(join(work, 'uas_rr.xml'), readFileSync(join(ANCHORS, 'sipp', 'uas_rr.xml')));
writeFileSync(join(work, 'uas_rr_proxy.xml'), readFileSync(join(ANCHORS, 'sipp', 'uas_rr.xml'), 'utf8')
  .replaceAll('[last_Record-Route:]', 'Record-Route: <sip:[local_ip]:[local_port];lr>\n      [last_Record-Route:]'));

// proxy job, side kamailio-full: the anchor's proxy.cfg doing the work our proxy does per call,
// with the same stores (our proxy job's MariaDB and a Redis of its own), each with the fewest
// commands: INVITE — HGETALL of the callee's location, HSET + EXPIRE of the call's state;
// 200 — HSET of the answer; BYE — HGETALL and DEL of the call's state; an accounting record in
// MariaDB at the answer and at the BYE (acc, db_insert_mode 2: asynchronous inserts by
// async_workers, so SIP workers never wait for MariaDB — as our batched writer).
function kamFullProxyCfg() {
  let s = readFileSync(join(ANCHORS, 'kamailio-proxy.cfg'), 'utf8');
  s = s.replaceAll('127.0.0.1:5070', `${UAS}:5070`).replaceAll('127.0.0.1', SUT);
  const dbUrl = `mysql://${mariadb.user}:${encodeURIComponent(mariadb.password ?? '')}@${mariadb.host}:${mariadb.port}/${mariadb.database}`;
  s = s.replace('children=4', 'children=4\nasync_workers=2').replace('loadmodule "ctl.so"', ['loadmodule "ctl.so"', 'loadmodule "db_mysql.so"', 'loadmodule "acc.so"', 'loadmodule "ndb_redis.so"',
    `modparam("ndb_redis", "server", "name=ngcp;addr=${AUX};port=${REDIS_PORT}")`,
    `modparam("acc", "db_url", "${dbUrl}")`, 'modparam("acc", "db_flag", 2)', 'modparam("acc", "db_table_acc", "kam_acc")', 'modparam("acc", "db_insert_mode", 2)'].join('\n'));
  s = s.replace(/if \(has_totag\(\)\) \{/, ['if (has_totag()) {',
    '\t\tif (is_method("BYE")) {',
    '\t\t\tredis_cmd("ngcp", "HGETALL call:%s", "$ci", "r"); redis_free("r");',
    '\t\t\tredis_cmd("ngcp", "DEL call:%s", "$ci", "r"); redis_free("r");',
    '\t\t\tsetflag(2);',
    '\t\t}'].join('\n'));
  s = s.replace(/\t# absorb retransmissions of initial requests/, [
    '\tif (is_method("INVITE") && !has_totag()) {',
    '\t\tredis_cmd("ngcp", "HGETALL location:%s@%s", "$rU", "$fd", "r"); redis_free("r");',
    '\t\t$var(who) = $fU + "@" + $fd + " " + $rU + " " + $ft;',
    '\t\tredis_cmd("ngcp", "HSET call:%s state init parties %s", "$ci", "$var(who)", "r"); redis_free("r");',
    '\t\tredis_cmd("ngcp", "EXPIRE call:%s 7200", "$ci", "r"); redis_free("r");',
    '\t\tsetflag(2);',
    '\t\tt_on_reply("ANSWERED");',
    '\t}',
    '\t# absorb retransmissions of initial requests'].join('\n'));
  s += '\nonreply_route[ANSWERED] {\n\tif (t_check_status("200")) { redis_cmd("ngcp", "HSET call:%s state answered to_tag %s", "$ci", "$tt", "r"); redis_free("r"); }\n}\n';
  if (!s.includes('HGETALL location') || !s.includes('DEL call:')) throw new Error('kamailio-proxy.cfg changed: the kamailio-full side cannot adapt it');
  const f = join(work, 'kamailio-proxy-full.cfg');
  writeFileSync(f, s);
  return f;
}

// ---------- the systems under test ----------
async function startKamailio(job, dir, side) {
  const tm = side === 'kamailio-tm';
  if (side === 'kamailio-full') {
    const redis = await startRedis(dir);
    // the callee's binding, as our registrar stores it (the location lookup reads it)
    spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), 'HSET', `location:service@${UAC}`, `sip:service@${UAS}:5070`,
      JSON.stringify({ contact: `sip:service@${UAS}:5070`, expires: Math.floor(Date.now() / 1000) + 3600, q: null, path: [], received: `sip:${UAC}:5061`, socket: `udp:${SUT}:5060`, call_id: 'bench-register-uas', cseq: 1, user_agent: null })]);
    rmSync(CTLSOCK, { force: true });
    const p = start('kamailio', ['-DD', '-E', '-f', kamFullProxyCfg(), '-m', '1024', '-M', '8', '-A', `CTLSOCK="unix:${CTLSOCK}"`], { out: join(dir, 'kamailio.log') });
    await waitUdp(SUT, 5060, 'kamailio (full)');
    await sleep(300);
    return { main: p, ports: [5060], pids: () => [p.pid, ...children(p.pid)], auxPids: () => [redis.pid, mariadb.pid], stop: async () => { await stop(p); await stop(redis); } };
  }
  if (job === 'chain') {
    // the proxy first (auth, acc), then the stateful dispatcher in front of it as the lb
    const sock2 = join(work, 'kamailio-ctl-2.sock');
    rmSync(sock2, { force: true });
    const px = start('kamailio', ['-DD', '-E', '-f', kamAuthProxyCfg(), '-m', '1024', '-M', '8', '-A', `CTLSOCK="unix:${sock2}"`], { out: join(dir, 'kamailio-proxy.log') });
    await waitUdp(PROXY, 5060, 'kamailio (chain proxy)');
    rmSync(CTLSOCK, { force: true });
    const lb = start('kamailio', ['-DD', '-E', '-f', kamCfg('dispatcher', true), '-m', '256', '-M', '8',
      '-A', `DSLIST="${join(work, 'dispatcher-chain.list')}"`, '-A', `CTLSOCK="unix:${CTLSOCK}"`], { out: join(dir, 'kamailio.log') });
    await waitUdp(SUT, 5060, 'kamailio (chain lb)');
    await sleep(300);
    return { main: lb, ports: [5060], pids: () => [lb.pid, ...children(lb.pid), px.pid, ...children(px.pid)], auxPids: () => [], stop: async () => { await stop(lb); await stop(px); } };
  }
  const shm = job === 'dispatcher' ? 256 : 1024;
  rmSync(CTLSOCK, { force: true });
  const p = start('kamailio', ['-DD', '-E', '-f', kamCfg(job, tm), '-m', String(shm), '-M', '8',
    '-A', `DSLIST="${join(work, 'dispatcher.list')}"`, '-A', `CTLSOCK="unix:${CTLSOCK}"`], { out: join(dir, 'kamailio.log') });
  await waitUdp(SUT, 5060, 'kamailio');
  await sleep(300);
  return { main: p, ports: [5060], pids: () => [p.pid, ...children(p.pid)], auxPids: () => [], stop: () => stop(p) };
}
function kamShmUsed() {
  const r = spawnSync('kamcmd', ['-s', `unix:${CTLSOCK}`, 'core.shmmem']).stdout?.toString() ?? '';
  const m = /used:\s*(\d+)/.exec(r);
  return m ? Number(m[1]) : NaN;
}

async function startRedis(dir) {
  const p = start('redis-server', ['--bind', AUX, '--port', String(REDIS_PORT), '--save', '', '--appendonly', 'no', '--dir', dir], { out: join(dir, 'redis.log') });
  for (let t = 0; t < 5000; t += 50) {
    if (spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), 'PING']).stdout?.toString().includes('PONG')) return p;
    await sleep(50);
  }
  throw new Error('redis did not start');
}
function redisUsedMemory() {
  const r = spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), 'INFO', 'memory']).stdout.toString();
  return Number(/used_memory:(\d+)/.exec(r)?.[1] ?? NaN);
}
/** INFO commandstats: total calls per command (our side's Redis) */
function redisCommandStats() {
  const r = spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), 'INFO', 'commandstats']).stdout?.toString() ?? '';
  const o = {};
  for (const m of r.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) o[m[1]] = Number(m[2]);
  return o;
}
/** keys matching a pattern in our side's Redis (db 0 unless given) */
function redisScanCount(pattern, db = 0) {
  return spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), '-n', String(db), '--scan', '--pattern', pattern]).stdout.toString().split('\n').filter(Boolean).length;
}
function redisCli(...a) {
  return spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), ...a]).stdout.toString().trim();
}
function redisKeys() {
  return Number(spawnSync('redis-cli', ['-h', AUX, '-p', String(REDIS_PORT), 'DBSIZE']).stdout.toString().trim());
}

const NO_DB = { host: AUX, port: 3399, user: 'bench', password: '', database: 'ngcp', pool_max: 2 }; // nothing listens: not used by these jobs
const REDIS = { host: AUX, port: REDIS_PORT, db: 0 };
function yaml(o) { return JSON.stringify(o, null, 1); } // JSON is YAML

function nodeArgs(name, dir) {
  // the V8 flags pm2 gives the SIP daemons in production (packages/config ecosystem)
  // no --cpu-prof-name: the proxy's forked workers inherit these flags, each writes its own CPU.<…>.<pid>.…cpuprofile
  const prof = PROFILE && profileNow ? ['--cpu-prof', '--cpu-prof-dir', join(dir, 'cpu-prof')] : [];
  return [...SIP_DAEMON_NODE_ARGS, ...prof];
}
let profileNow = false;

function mariaDbCfg(pool) {
  return { host: mariadb.host, port: mariadb.port, socket: mariadb.socket, user: mariadb.user, password: mariadb.password, database: mariadb.database, pool_max: pool };
}

/** One JSON-RPC call to a daemon's control endpoint on AUX (POST /); the result, or throws. */
async function control(port, method, params) {
  const r = await fetch(`http://${AUX}:${port}/`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, ...(params ? { params } : {}) }),
    signal: AbortSignal.timeout(3000),
  });
  const j = await r.json();
  if (j.error) throw new Error(`${method} on :${port}: ${j.error.message}`);
  return j.result;
}
async function waitHealthy(port, what, ms = 15000) {
  let last;
  for (let t = 0; t < ms; t += 200) {
    try { const h = await control(port, 'health'); if (h.ok) return; last = JSON.stringify(h); } catch (e) { last = e.message; }
    await sleep(200);
  }
  throw new Error(`${what} not healthy within ${ms} ms: ${last}`);
}

/**
 * sbc job: a real rtpengine (testkit: a temp dir, a free ng port and media port block on AUX) as
 * config.yml renders it (log level 5, its calls written to DB 1 of the node's Redis), and our
 * mediactl in front of it on AUX:9090, where the proxy's mediactl.url points.
 */
async function startMedia(dir) {
  const { startRtpengine } = await import(join(root, 'packages/testkit/dist/index.js'));
  const rtp = await startRtpengine({ host: AUX, portCount: 2000, logLevel: 5, redis: { ...REDIS, db: 1 }, redisWrite: { ...REDIS, db: 1 }, noRedisRequired: true });
  rtpengines.add(rtp);
  const cfg = {
    node: 'bench', control: { address: AUX, port: MEDIACTL_CONTROL }, log: { level: LOG_LEVEL },
    rtpengines: [{ id: 'local', ng: `${AUX}:${rtp.ngPort}`, weight: 1 }],
    probe_interval_ms: 1000, probe_failures: 3, ng_timeout_ms: 1000, max_call_s: 21600, redis: REDIS,
  };
  writeFileSync(join(dir, 'mediactl.yml'), yaml(cfg));
  const mc = start(process.execPath, [join(root, 'apps/mediactl/dist/main.js'), '--config', join(dir, 'mediactl.yml')], { cwd: root, out: join(dir, 'mediactl.log') });
  await waitHealthy(MEDIACTL_CONTROL, 'mediactl');
  return { rtp, mediactl: mc, stop: async () => { await stop(mc, 'SIGTERM', 10000); await rtp.stop(); rtpengines.delete(rtp); } };
}

/** sbc job: the B2BUA as config.yml renders it (session timers, call length limit, prepaid with MariaDB) */
async function startSbc(dir) {
  const cfg = {
    node: 'bench', listen: { address: AUX, udp_port: SBC_PORT }, control: { address: AUX, port: SBC_CONTROL }, log: { level: LOG_LEVEL },
    proxy: `${PROXY}:5060`, default_profile: 'default', profiles: { default: {} },
    max_call_length_s: 21600, session_timer_s: 300, min_se_s: 90, call_ttl_s: 86400, prepaid: { enable: true, quota_s: 300 },
    db: mariaDbCfg(4), redis: REDIS,
  };
  writeFileSync(join(dir, 'sbc.yml'), yaml(cfg));
  const p = start(process.execPath, [...nodeArgs('sbc', dir), join(root, 'apps/sbc/dist/main.js'), '--config', join(dir, 'sbc.yml')], { cwd: root, out: join(dir, 'sbc.log') });
  await waitUdp(AUX, SBC_PORT, 'sbc', 15000);
  await waitHealthy(SBC_CONTROL, 'sbc');
  return p;
}

/**
 * chain job: our proxy (auth on) on PROXY:5060+i behind our lb on SUT:5060, as `ngcp up` wires them.
 * sbc job: `media` adds mediactl + rtpengine (proxy.media on), `sbc` also the B2BUA (proxy.sbc.enable).
 */
async function startOurChain(dir, { media = false, sbc = false } = {}) {
  const redis = await startRedis(dir);
  const m = media ? await startMedia(dir) : null;
  const sbcProc = sbc ? await startSbc(dir) : null;
  const proxyCfg = {
    node: 'bench', listen: { address: PROXY, udp_port: 5060 }, control: { address: AUX, port: 9062 }, workers: WORKERS,
    registrar: { min_expires: 60, max_expires: 43200, default_expires: 3600, max_contacts: 10, auth: false },
    auth: { nonce_secret: 'bench-nonce-secret', nonce_ttl_s: 300 }, media,
    mediactl: { url: `http://${AUX}:${MEDIACTL_CONTROL}/`, timeout_ms: 2000 }, calls: { ttl_s: 7200 }, lb: `${LB_INT}:5060`,
    ...(sbc ? { sbc: { enable: true, address: `${AUX}:${SBC_PORT}`, profile: 'default' } } : {}),
    db: mariaDbCfg(10), redis: REDIS, log: { level: LOG_LEVEL },
  };
  const lbCfg = {
    node: 'bench', public: { address: SUT, udp_port: 5060, tcp_port: 5060, tls_enable: false, tls_port: 5061 },
    tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), generate: false, hostnames: ['localhost'], days: 1 },
    internal: { address: LB_INT, udp_port: 5060 }, control: { address: AUX, port: 9060 }, log: { level: LOG_LEVEL },
    dispatch: { algorithm: 'hash-callid', proxies: Array.from({ length: WORKERS }, (_, i) => ({ address: PROXY, port: 5060 + i, weight: 1 })), probe: { interval_ms: 0 } },
    db: mariaDbCfg(2), redis: REDIS,
  };
  writeFileSync(join(dir, 'proxy.yml'), yaml(proxyCfg));
  writeFileSync(join(dir, 'lb.yml'), yaml(lbCfg));
  const px = start(process.execPath, [...nodeArgs('proxy', dir), join(root, PROXY_MAIN), '--config', join(dir, 'proxy.yml')], { cwd: root, out: join(dir, 'proxy.log') });
  for (let i = 0; i < WORKERS; i++) await waitUdp(PROXY, 5060 + i, `proxy worker ${i}`, 15000);
  const lb = start(process.execPath, [...nodeArgs('lb', dir), join(root, 'apps/lb/dist/main.js'), '--config', join(dir, 'lb.yml')], { cwd: root, out: join(dir, 'lb.log') });
  await waitUdp(SUT, 5060, 'lb', 15000);
  await sleep(1000); // the lb's domain list from MariaDB
  // CPU per process (our daemons; rtpengine apart, not in `pids`)
  const parts = () => ({
    lb: [lb.pid, ...children(lb.pid)], proxy: [px.pid, ...children(px.pid)],
    ...(sbcProc ? { sbc: [sbcProc.pid] } : {}), ...(m ? { mediactl: [m.mediactl.pid], rtpengine: [m.rtp.pid] } : {}),
  });
  return {
    main: lb, redis, media: m, sbc: sbcProc, ports: [5060], parts,
    pids: () => Object.entries(parts()).filter(([k]) => k !== 'rtpengine').flatMap(([, p]) => p), auxPids: () => [redis.pid, mariadb.pid],
    stop: async () => {
      await stop(lb, 'SIGTERM', 10000); await stop(px, 'SIGTERM', 10000);
      if (sbcProc) await stop(sbcProc, 'SIGTERM', 10000);
      if (m) await m.stop();
      await stop(redis);
    },
  };
}

async function startOurs(job, dir, side) {
  if (job === 'chain' || job === 'features') return startOurChain(dir);
  if (job === 'sbc') return startOurChain(dir, { media: true, sbc: side === 'sbc' });
  const redis = await startRedis(dir);
  let cfg; let app; let name;
  if (job === 'registrar' || job === 'proxy') {
    // the same proxy for both jobs: the registrar job needs no database (REGISTER without
    // auth touches only Redis); the proxy job routes calls unchallenged with a real MariaDB
    name = 'proxy';
    app = PROXY_MAIN;
    const db = job === 'proxy' ? mariaDbCfg(10) : NO_DB;
    cfg = {
      node: 'bench', listen: { address: SUT, udp_port: 5060 }, control: { address: AUX, port: 9062 }, workers: WORKERS,
      registrar: { min_expires: 60, max_expires: 43200, default_expires: 3600, max_contacts: 10, auth: false },
      auth: { nonce_secret: 'bench-nonce-secret', nonce_ttl_s: 300 }, media: false,
      mediactl: { url: `http://${AUX}:9090/`, timeout_ms: 2000 }, calls: { ttl_s: 7200, ...(job === 'proxy' ? { auth: false } : {}) },
      db, redis: REDIS, log: { level: LOG_LEVEL },
    };
  } else {
    name = 'lb';
    app = 'apps/lb/dist/main.js';
    cfg = {
      node: 'bench', public: { address: SUT, udp_port: 5060, tcp_port: 5060, tls_enable: false, tls_port: 5061 },
      tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), generate: false, hostnames: ['localhost'], days: 1 },
      internal: { address: LB_INT, udp_port: 5060 }, control: { address: AUX, port: 9060 }, log: { level: LOG_LEVEL },
      dispatch: { algorithm: 'round-robin', proxies: [{ address: UAS, port: 5070, weight: 1 }, { address: UAS, port: 5071, weight: 1 }], probe: { interval_ms: 0 } },
      db: NO_DB, redis: REDIS,
    };
  }
  const f = join(dir, `${name}.yml`);
  writeFileSync(f, yaml(cfg));
  const p = start(process.execPath, [...nodeArgs(name, dir), join(root, app), '--config', f], { cwd: root, out: join(dir, `${name}.log`) });
  await waitUdp(SUT, 5060, name, 15000);
  // the proxy's other workers (forked by worker 0) on 5061…
  const ports = name === 'proxy' ? Array.from({ length: WORKERS }, (_, i) => 5060 + i) : [5060];
  for (const port of ports) await waitUdp(SUT, port, `${name} worker ${port - 5060}`, 15000);
  await sleep(500);
  return {
    main: p, redis, ports, pids: () => [p.pid, ...children(p.pid)], auxPids: () => (job === 'proxy' ? [redis.pid, mariadb.pid] : [redis.pid]),
    stop: async () => { await stop(p, 'SIGTERM', 10000); await stop(redis); },
  };
}

// ---------- the proxy job's directory: MariaDB with the caller and the callee ----------
// sipp's uac_rr.xml sends From sip:sipp@<UAC>, R-URI sip:service@<SUT>: the R-URI host is an
// address, so the callee is `service` at the caller's domain, here the UAC's address.
async function startDirectory() {
  const { startMariaDb } = await import(join(root, 'packages/testkit/dist/index.js'));
  const { createDb, migrate, subscriberHa1 } = await import(join(root, 'packages/db/dist/index.js'));
  mariadb = await startMariaDb({});
  const db = createDb({ host: mariadb.host, port: mariadb.port, socket: mariadb.socket, user: mariadb.user, password: mariadb.password, database: mariadb.database, pool: { max: 2 } });
  try {
    await migrate.latest(db);
    // the kamailio-full side's accounting table: Kamailio's own acc schema
    await db.raw('CREATE TABLE kam_acc (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, method VARCHAR(16) NOT NULL DEFAULT \'\', from_tag VARCHAR(128) NOT NULL DEFAULT \'\', to_tag VARCHAR(128) NOT NULL DEFAULT \'\', callid VARCHAR(255) NOT NULL DEFAULT \'\', sip_code VARCHAR(3) NOT NULL DEFAULT \'\', sip_reason VARCHAR(128) NOT NULL DEFAULT \'\', time DATETIME NOT NULL, INDEX (callid)) ENGINE=InnoDB');
    const [domainId] = await db('domains').insert({ domain: UAC });
    for (const [i, username] of ['sipp', 'service'].entries()) {
      await db('subscribers').insert({
        uuid: `00000000-0000-4000-8000-00000000000${i}`, domain_id: domainId, username, ...subscriberHa1(username, UAC, 'bench-password'),
      });
    }
  } finally {
    await db.destroy();
  }
}
/**
 * features job: rewrite rules, a primary number for the caller and LCR to the sipp UAS, through
 * the API app itself (its validation, the rows it writes), in-process on the run's MariaDB with
 * a Redis of its own for the change notifications (the proxy reads everything at its start).
 */
let featuresProvisioned = false;
async function provisionFeatures() {
  if (featuresProvisioned) return;
  const dir = join(work, 'features-provision');
  mkdirSync(dir, { recursive: true });
  const redisProc = await startRedis(dir);
  const { buildApp, ensureAdmin, resolveConfig } = await import(join(root, 'apps/api/dist/index.js'));
  const { createDb } = await import(join(root, 'packages/db/dist/index.js'));
  const { Redis } = await import(join(root, 'apps/api/node_modules/ioredis/built/index.js'));
  const dbCfg = { host: mariadb.host, port: mariadb.port, user: mariadb.user, password: mariadb.password, database: mariadb.database };
  const admin = { login: 'bench-admin', password: 'bench-admin-password-1' };
  const config = resolveConfig({ tls: { enabled: false }, db: dbCfg, redis: { host: AUX, port: REDIS_PORT }, admin, log: { level: 'silent', requests: false } });
  const db = createDb({ ...dbCfg, pool: { max: 2 } });
  const redis = new Redis({ host: AUX, port: REDIS_PORT, lazyConnect: true });
  const app = buildApp(config, { db, redis });
  try {
    await app.ready();
    await ensureAdmin(db, config);
    const auth = `Basic ${Buffer.from(`${admin.login}:${admin.password}`).toString('base64')}`;
    const api = async (method, url, body) => {
      const r = await app.inject({ method, url, headers: { authorization: auth, 'content-type': 'application/json' }, ...(body ? { payload: JSON.stringify(body) } : {}) });
      if (r.statusCode < 200 || r.statusCode > 299) throw new Error(`features provisioning: ${method} ${url}: ${r.statusCode} ${r.body}`);
      return r.body ? JSON.parse(r.body) : undefined;
    };
    const domain = (await api('GET', `/api/domains?domain=${UAC}`)).items[0];
    const sub = (await api('GET', `/api/subscribers?username=sipp&domain=${UAC}`)).items[0];
    if (!domain || !sub) throw new Error('features provisioning: the directory has no domain/subscriber sipp');
    const r = await app.inject({ method: 'PATCH', url: `/api/subscribers/${sub.id}`, headers: { authorization: auth, 'content-type': 'application/json-patch+json' }, payload: JSON.stringify([{ op: 'replace', path: '/primary_number', value: '4311111111' }]) });
    if (r.statusCode !== 200) throw new Error(`features provisioning: the caller's number: ${r.statusCode} ${r.body}`);
    const set = await api('POST', '/api/rewriterulesets', { name: 'bench-at' });
    await api('POST', '/api/rewriterules', { set_id: set.id, direction: 'in', field: 'callee', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '43$1', priority: 10 });
    await api('POST', '/api/rewriterules', { set_id: set.id, direction: 'in', field: 'caller', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '43$1', priority: 10 });
    await api('POST', '/api/rewriterules', { set_id: set.id, direction: 'out', field: 'caller', match_pattern: '^43([1-9][0-9]+)$', replace_pattern: '0$1', priority: 10 });
    await api('PUT', `/api/domainpreferences/${domain.id}`, { rewrite_rule_set_id: set.id });
    const group = await api('POST', '/api/peeringgroups', { name: 'bench-carrier', priority: 1 });
    await api('POST', '/api/peeringrules', { group_id: group.id, callee_prefix: '43' });
    await api('POST', '/api/peeringservers', { group_id: group.id, name: 'bench-uas', host: UAS, port: 5070, weight: 1, probe: false });
    featuresProvisioned = true;
  } finally {
    await app.close().catch(() => undefined);
    await db.destroy().catch(() => undefined);
    redis.disconnect();
    await stop(redisProc);
  }
}

/** Rows in an accounting table of the proxy job's MariaDB (ours: acc, kamailio-full: kam_acc). */
function accRows(table) {
  const r = spawnSync('mariadb', ['-S', mariadb.socket, '-u', mariadb.user, `-p${mariadb.password ?? ''}`, '-N', '-B', '-e', `SELECT COUNT(*) FROM ${table}`, mariadb.database]);
  return Number(r.stdout.toString().trim());
}

/**
 * sbc job, after a step: what is left of its calls anywhere (every count must be 0) — our call
 * state (`call:*`, counted by the caller), mediactl's pins (`media:*`) and live sessions, the calls
 * rtpengine itself holds (ng `list`) and wrote to Redis (DB 1), the sbc's keys (`sbc:call:*`,
 * `sbc:leg:*`, the ringing calls' `sbc:early:*` and `sbc:early-a:*`, the sets `sbc:calls`, `sbc:timers`, `sbc:deadlines`) and its own count (`stats`).
 */
async function leftovers(sut) {
  const left = {
    media_pins: redisScanCount('media:*'),
    mediactl_sessions: (await control(MEDIACTL_CONTROL, 'stats')).sessions_live,
    rtpengine_calls: ((await sut.media.rtp.ng('list', { limit: 10000 })).calls ?? []).length,
    rtpengine_redis_keys: Number(redisCli('-n', '1', 'DBSIZE')),
  };
  if (sut.sbc) {
    const st = await control(SBC_CONTROL, 'stats');
    Object.assign(left, {
      sbc_calls: st.calls, sbc_early: st.early,
      sbc_keys: redisScanCount('sbc:call:*') + redisScanCount('sbc:leg:*') + redisScanCount('sbc:early:*') + redisScanCount('sbc:early-a:*'),
      sbc_sets: Number(redisCli('SCARD', 'sbc:calls')) + Number(redisCli('ZCARD', 'sbc:timers')) + Number(redisCli('ZCARD', 'sbc:deadlines')),
    });
  }
  return left;
}

/**
 * Bind service@<UAC> to the sipp UAS (one REGISTER, registrar.auth false), before the load.
 * Through our lb (chain job) the REGISTER is sent from the UAS's own address and port: the lb
 * routes to the address a REGISTER came from (NAT handling, its Path), as for any client.
 */
async function registerUas(from = { address: UAC, port: 0 }) {
  const { createSocket } = await import('node:dgram');
  const sock = createSocket('udp4');
  await new Promise((res) => sock.bind(from.port, from.address, res));
  const port = sock.address().port;
  const msg = [
    `REGISTER sip:${SUT}:5060 SIP/2.0`, `Via: SIP/2.0/UDP ${UAC}:${port};branch=z9hG4bK-bench-reg;rport`,
    `From: <sip:service@${UAC}>;tag=bench`, `To: <sip:service@${UAC}>`, `Call-ID: bench-register-uas`, 'CSeq: 1 REGISTER',
    `Contact: <sip:service@${UAS}:5070>`, 'Expires: 3600', 'Max-Forwards: 70', 'Content-Length: 0', '', '',
  ].join('\r\n');
  try {
    const got = new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error('REGISTER of the UAS: no answer')), 5000);
      sock.on('message', (m) => { const line = m.toString().split('\r\n')[0]; if (!/^SIP\/2\.0 1/.test(line)) { clearTimeout(t); res(line); } });
    });
    sock.send(msg, 5060, SUT);
    const line = await got;
    if (!/^SIP\/2\.0 200/.test(line)) throw new Error(`REGISTER of the UAS answered ${line}`);
  } finally {
    sock.close();
  }
}

// ---------- sipp ----------
const SIPP_COMMON = ['-nostdin', '-buff_size', '4194304', '-default_behaviors', 'all,-abortunexp', '-trace_err'];
async function startUas(dir, port, scenario) {
  const p = start('sipp', ['-sf', join(work, scenario), '-i', UAS, '-p', String(port), ...SIPP_COMMON, '-trace_stat', '-stf', `uas${port}_stat.csv`, '-fd', '1'],
    { cwd: dir, out: join(dir, `uas${port}.log`) });
  await waitUdp(UAS, port, `sipp uas ${port}`);
  return p;
}
function lastStat(file) {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const h = lines[0].split(';'); const v = lines.at(-1).split(';');
  const o = {};
  h.forEach((k, i) => { o[k] = v[i]; });
  return o;
}
const epoch = (s) => Number(String(s).trim().split(/\s+/).at(-1));

/**
 * The scenario of UAC i: register.xml's AoR is u<call_number>@SUT, the same sequence in every
 * UAC, so UAC i > 0 gets its own users (u<i>x<call_number>): every REGISTER binds a new AoR, as
 * with one UAC. The call scenario needs no change.
 */
function uacScenario(scenario, i) {
  if (i === 0 || scenario !== 'register.xml') return join(work, scenario);
  const f = join(work, `register-uac${i}.xml`);
  if (!existsSync(f)) writeFileSync(f, readFileSync(join(work, scenario), 'utf8').replaceAll('u[call_number]', `u${i}x[call_number]`));
  return f;
}

/**
 * One rate step: the UAC load against the SUT's ports (Kamailio, our lb: 5060; our proxy: one
 * UAC per worker port 5060+i, each rate/N, together the same rate); CPU sampled every 0.5 s,
 * window 2 s .. DUR-1 s.
 */
async function runUac(dir, scenario, rate, sut, uasProcs, { extra = [], onMid } = {}) {
  const n = rate * DUR;
  const drop0 = rcvbufErrors();
  const ports = sut.ports;
  const share = (i) => Math.floor(rate / ports.length) + (i < rate % ports.length ? 1 : 0);
  const uacs = ports.map((port, i) => start('sipp', ['-sf', uacScenario(scenario, i), `${SUT}:${port}`, '-i', UAC, '-p', String(5061 + i), ...SIPP_COMMON,
    '-r', String(share(i)), '-m', String(share(i) * DUR), '-l', String(2 * share(i) + 100), '-timeout', `${DUR + 15}s`,
    '-trace_stat', '-stf', `uac${i}_stat.csv`, '-fd', '1', ...(process.env.BENCH_SIPP_TRACE ? ['-trace_msg'] : []), ...extra], { cwd: dir, out: join(dir, `uac${i}.log`) }));
  const hard = setTimeout(() => { for (const u of uacs) stop(u, 'SIGKILL'); }, (DUR + 25) * 1000);
  const samples = [];
  const t0 = Date.now();
  const uasPids = uasProcs.map((p) => p.pid);
  let done = false;
  let mid;
  const allExited = Promise.all(uacs.map((u) => u.exited));
  allExited.then(() => { done = true; });
  while (!done) {
    if (onMid && mid === undefined && (Date.now() - t0) / 1000 >= DUR - 1) mid = onMid();
    const parts = sut.parts ? Object.fromEntries(Object.entries(sut.parts()).map(([k, p]) => [k, ticks(p)])) : undefined;
    samples.push({ t: (Date.now() - t0) / 1000, sut: ticks(sut.pids()), aux: ticks(sut.auxPids()), uac: ticks(uacs.map((u) => u.pid)), uas: ticks(uasPids), idle: idleTicks(), rss: rssSumKb(sut.pids()), parts });
    await Promise.race([sleep(500), allExited]);
  }
  clearTimeout(hard);
  const drops = rcvbufErrors() - drop0;
  const win = samples.filter((s) => s.t >= 2 && s.t <= DUR - 1);
  const cpu = {};
  if (win.length >= 2) {
    const a = win[0]; const b = win.at(-1); const e = b.t - a.t;
    for (const k of ['sut', 'aux', 'uac', 'uas']) cpu[k] = Math.round(((b[k] - a[k]) / HZ / e) * 100);
    // CPU-ms of the SUT per unit of work (call / REGISTER) over the window, at the offered rate:
    // robust to a busy machine as long as the step is clean
    cpu.sut_ms_per_unit = Math.round((((b.sut - a.sut) / HZ) * 1000 / (e * rate)) * 100) / 100;
    // the same per process (sbc job: lb, proxy, sbc, mediactl; rtpengine apart)
    if (b.parts) cpu.ms_per_call = Object.fromEntries(Object.keys(b.parts).map((k) => [k, Math.round((((b.parts[k] - (a.parts[k] ?? 0)) / HZ) * 1000 / (e * rate)) * 100) / 100]));
    cpu.machine = Math.round((NCPU - (b.idle - a.idle) / HZ / e) * 100);
  }
  // the UACs' counts summed; the elapsed time of the longest
  const sts = ports.map((_, i) => lastStat(join(dir, `uac${i}_stat.csv`)));
  const sum = (k) => sts.reduce((a, st) => a + Number(st[k]), 0);
  const ok = sum('SuccessfulCall(C)'); const failed = sum('FailedCall(C)');
  const elapsed = Math.max(...sts.map((st) => epoch(st.CurrentTime) - epoch(st.StartTime)));
  const uas = {};
  for (const f of readdirSync(dir).filter((x) => /^uas\d+_stat\.csv$/.test(x))) {
    const u = lastStat(join(dir, f));
    uas[f.slice(3, 7)] = { in: Number(u['IncomingCall(C)']), failed: Number(u['FailedCall(C)']) };
  }
  return {
    target: rate, sent: n, uacs: ports.length, ok, failed, unfinished: n - ok - failed, retrans: sum('Retransmissions(C)'), warn: sum('Warnings(C)'),
    ...(mid !== undefined ? { mid } : {}),
    dead: sum('DeadCallMsgs(C)'), elapsed: Math.round(elapsed * 100) / 100, achieved: Math.round(elapsed > 0 ? ok / elapsed : 0),
    udp_rcvbuf_drops: drops, cpu, uas, rss_kb_end: samples.at(-1)?.rss,
  };
}

// ---------- jobs ----------
const results = { started: new Date().toISOString(), cpus: NCPU, loadavg_start: loadavg(), dur_s: DUR, steps: [] };
const isClean = (r) => r.failed === 0 && r.unfinished === 0 && r.achieved >= 0.95 * r.target;
const isStrict = (r) => isClean(r) && r.retrans === 0;

async function step(job, side, rate) {
  const dir = join(work, job, side, `r${rate}`);
  mkdirSync(dir, { recursive: true });
  const sut = isKam(side) ? await startKamailio(job, dir, side) : await startOurs(job, dir, side);
  const ours = !isKam(side);
  const uas = [];
  let r;
  try {
    if (job === 'dispatcher') {
      uas.push(await startUas(dir, 5070, 'uas_rr_proxy.xml'), await startUas(dir, 5071, 'uas_rr_proxy.xml'));
    } else if (job === 'proxy') {
      uas.push(await startUas(dir, 5070, 'uas_rr.xml'));
      if (side === 'ours') await registerUas();
    } else if (job === 'chain' || job === 'sbc') {
      if (ours) await registerUas({ address: UAS, port: 5070 });
      uas.push(await startUas(dir, 5070, 'uas_rr.xml'));
    } else if (job === 'features') {
      uas.push(await startUas(dir, 5070, 'uas_rr.xml')); // the peer server: no registration
    }
    const accTable = side === 'kamailio-full' ? 'kam_acc' : CALL_JOBS.has(job) && ours ? 'acc' : null;
    const acc0 = accTable ? accRows(accTable) : 0;
    const mem0 = isKam(side) ? kamShmUsed() : redisUsedMemory();
    const cmd0 = ours || side === 'kamailio-full' ? redisCommandStats() : null;
    const rss0 = rssSumKb(sut.pids());
    const hold = job === 'proxy' && HOLD_MS > 0;
    const scenario = { registrar: 'register.xml', chain: 'uac_auth_rr.xml', features: 'uac_auth_rr.xml', sbc: 'uac_auth_rr.xml' }[job] ?? 'uac_rr.xml';
    // the digest uri is the Request-URI (sipp's default is the remote address), as our proxy checks (RFC 3261 §22.4)
    const callee = job === 'features' ? FEATURES_DIALED : 'service';
    const auth = job === 'chain' || job === 'features' || job === 'sbc' ? ['-au', 'sipp', '-ap', 'bench-password', '-auth_uri', `${callee}@${SUT}:5060`, '-s', callee] : [];
    r = await runUac(dir, scenario, rate, sut, uas, !hold ? { extra: auth } : {
      extra: ['-d', String(HOLD_MS)],
      // near the end of the sending: ≈ rate × hold calls are established at once
      onMid: () => {
        if (isKam(side)) return { shm_used_delta: kamShmUsed() - mem0 };
        const calls = redisKeys() - 1; // every key but the UAS's location:
        return { calls_live: calls, redis_bytes_per_call: Math.round((redisUsedMemory() - mem0) / Math.max(1, calls)),
          proxy_rss_bytes_per_call: Math.round(((rssSumKb(sut.pids()) - rss0) * 1024) / Math.max(1, calls)) };
      },
    });
    if (hold) r.hold_ms = HOLD_MS;
    if (cmd0) {
      // Redis commands per unit of work (successful calls / REGISTERs), by command
      const cmd1 = redisCommandStats();
      const per = {};
      let total = 0;
      for (const [k, v] of Object.entries(cmd1)) {
        const d = v - (cmd0[k] ?? 0);
        if (d > 0 && k !== 'info') { per[k] = Math.round((d / Math.max(1, r.ok)) * 100) / 100; total += d; }
      }
      r.redis_cmds_per_unit = Math.round((total / Math.max(1, r.ok)) * 100) / 100;
      r.redis_cmds = per;
    }
    // both sides of an equal-work row account every call (start + stop); the writers are asynchronous
    if (accTable) {
      await sleep(1000);
      r.acc_rows = accRows(accTable) - acc0;
      r.acc_rows_per_call = Math.round((r.acc_rows / Math.max(1, r.ok)) * 100) / 100;
    }
    if (CALL_JOBS.has(job) && ours) r.calls_left_in_redis = redisScanCount('call:*');
    if (job === 'sbc') {
      r.left = await leftovers(sut).catch((e) => ({ error: e.message }));
      r.left_clean = r.calls_left_in_redis === 0 && Object.values(r.left).every((v) => v === 0);
    }
    if (job === 'registrar') {
      const rss1 = rssSumKb(sut.pids());
      if (isKam(side)) {
        const shm1 = kamShmUsed();
        r.mem = { shm_bytes_per_binding: Math.round((shm1 - mem0) / Math.max(1, r.ok)) };
      } else {
        const used1 = redisUsedMemory();
        r.mem = {
          bindings_in_redis: redisKeys(),
          redis_bytes_per_binding: Math.round((used1 - mem0) / Math.max(1, r.ok)),
          proxy_rss_bytes_per_binding: Math.round(((rss1 - rss0) * 1024) / Math.max(1, r.ok)),
          proxy_rss_mb: Math.round(rss1 / 1024),
        };
      }
    }
  } finally {
    if (process.env.BENCH_HOLD_S) { log(`holding the step ${process.env.BENCH_HOLD_S} s (BENCH_HOLD_S) for a look at ${dir}`); await sleep(Number(process.env.BENCH_HOLD_S) * 1000); }
    for (const u of uas) await stop(u);
    await sut.stop();
  }
  Object.assign(r, { job, side });
  if (profileNow && ours) {
    const profDir = join(dir, 'cpu-prof');
    const profs = existsSync(profDir) ? readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f)) : [];
    if (profs.length > 0) r.profile = profs.length === 1 ? profs[0] : profs;
    for (const prof of profs) log(`profile ${prof}:\n${spawnSync(process.execPath, [join(here, 'cpuprofile-summary.mjs'), prof]).stdout.toString()}`);
  }
  results.steps.push(r);
  const c = r.cpu;
  log(`${job.padEnd(10)} ${side.padEnd(11)} target=${rate} ok=${r.ok} failed=${r.failed} unfinished=${r.unfinished} retrans=${r.retrans} warn=${r.warn} rcvbuf_drops=${r.udp_rcvbuf_drops} achieved=${r.achieved}/s cpu% sut=${c.sut} redis${CALL_JOBS.has(job) ? '+mariadb' : ''}=${c.aux} uac=${c.uac} uas=${c.uas ?? '-'} machine=${c.machine}/${NCPU * 100} sut_ms/unit=${c.sut_ms_per_unit}${r.redis_cmds_per_unit !== undefined ? ` redis_cmds/unit=${r.redis_cmds_per_unit} ${JSON.stringify(r.redis_cmds)}` : ''}${r.acc_rows !== undefined ? ` acc_rows=${r.acc_rows}` : ''}${c.ms_per_call ? ` cpu_ms/call=${JSON.stringify(c.ms_per_call)}` : ''}${r.left ? ` left=${JSON.stringify(r.left)}` : ''}${r.mem ? ` mem=${JSON.stringify(r.mem)}` : ''}${r.mid ? ` mid-step=${JSON.stringify(r.mid)}` : ''}`);
  return r;
}

function best(job, side, pred) {
  return results.steps.filter((r) => r.job === job && r.side === side && pred(r)).sort((a, b) => b.achieved - a.achieved)[0];
}

/**
 * The sbc job's closing figures: each side's best clean rate, their ratio, and CPU-ms per call of
 * our processes (lb + proxy + sbc + mediactl; rtpengine apart) at the highest rate where both sides
 * were clean (the same offered load; per call is not constant over the ladder), else null.
 */
function sbcSummary() {
  const s = best('sbc', 'sbc', isClean); const m = best('sbc', 'media', isClean);
  const both = results.steps.filter((r) => r.job === 'sbc' && r.side === 'sbc' && isClean(r))
    .map((r) => r.target).filter((t) => results.steps.some((x) => x.job === 'sbc' && x.side === 'media' && x.target === t && isClean(x)));
  const at = both.length ? Math.max(...both) : null;
  const stepAt = (side) => results.steps.find((r) => r.job === 'sbc' && r.side === side && r.target === at);
  const ours = (r) => (r ? Math.round(Object.entries(r.cpu.ms_per_call ?? {}).filter(([k]) => k !== 'rtpengine').reduce((a, [, v]) => a + v, 0) * 100) / 100 : null);
  return {
    sbc_clean: s?.achieved ?? 0, media_clean: m?.achieved ?? 0,
    ratio: m?.achieved ? Math.round(((s?.achieved ?? 0) / m.achieved) * 100) / 100 : null,
    cpu_at: at,
    cpu_ms_per_call: { sbc: ours(stepAt('sbc')), media: ours(stepAt('media')) },
    by_process: { sbc: stepAt('sbc')?.cpu.ms_per_call ?? null, media: stepAt('media')?.cpu.ms_per_call ?? null },
    rtpengine_ms_per_call: { sbc: stepAt('sbc')?.cpu.ms_per_call?.rtpengine ?? null, media: stepAt('media')?.cpu.ms_per_call?.rtpengine ?? null },
  };
}

async function main() {
  install();
  preflight();
  log(`work dir ${work}; ${NCPU} cores; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${spawnSync('kamailio', ['-v']).stdout?.toString().split('\n')[0] || 'no kamailio'}; ${/SIPp v[^ ]*/.exec(spawnSync('sipp', ['-v']).stdout.toString())?.[0]}`);
  for (const job of JOBS) {
    if (!RATES[job]) throw new Error(`unknown job ${job} (registrar, proxy, dispatcher, chain, features, sbc)`);
    if (CALL_JOBS.has(job) && !mariadb) await startDirectory();
    if (job === 'features') await provisionFeatures();
    for (const side of sidesOf(job)) {
      let bad = 0;
      for (const rate of RATES[job]) {
        profileNow = PROFILE && !isKam(side);
        const r = await step(job, side, rate);
        // a ladder stops after two steps that were not clean (0 failed, ≥ 95 % of target)
        if (!isClean(r)) bad++;
        if (bad >= 2) break;
      }
    }
  }
  results.summary = [];
  const rowOf = (job, label, kam) => {
    const row = { job: label };
    for (const [key, side] of [['kamailio', kam], ['ours', 'ours']]) {
      const c = best(job, side, isClean); const s = best(job, side, isStrict);
      row[key] = { clean: c?.achieved ?? 0, clean_cpu: c?.cpu.sut, strict: s?.achieved ?? 0, strict_cpu: s?.cpu.sut };
    }
    row.ratio_clean = row.kamailio.clean ? Math.round((row.ours.clean / row.kamailio.clean) * 100) / 100 : null;
    row.ratio_strict = row.kamailio.strict ? Math.round((row.ours.strict / row.kamailio.strict) * 100) / 100 : null;
    return row;
  };
  for (const job of JOBS) {
    const sides = sidesOf(job);
    if (!sides.includes('ours')) continue;
    if (sides.includes('kamailio')) results.summary.push(rowOf(job, job, 'kamailio'));
    if (sides.includes('kamailio-tm')) results.summary.push(rowOf(job, `${job} (Kamailio t_relay: equal work)`, 'kamailio-tm'));
    if (sides.includes('kamailio-full')) results.summary.push(rowOf(job, `${job} (Kamailio with Redis call state + MariaDB acc: equal work)`, 'kamailio-full'));
  }
  // issue #10: the features' cost = the chain with them against the chain without them, same run
  if (JOBS.includes('features') && JOBS.includes('chain') && SIDES.includes('ours')) {
    const f = { clean: best('features', 'ours', isClean), strict: best('features', 'ours', isStrict) };
    const c = { clean: best('chain', 'ours', isClean), strict: best('chain', 'ours', isStrict) };
    const k = SIDES.includes('kamailio') ? best('chain', 'kamailio', isClean) : undefined;
    results.features = {
      features_clean: f.clean?.achieved ?? 0, chain_clean: c.clean?.achieved ?? 0, kamailio_chain_clean: k?.achieved ?? null,
      ratio_to_chain: c.clean?.achieved ? Math.round(((f.clean?.achieved ?? 0) / c.clean.achieved) * 100) / 100 : null,
      ratio_to_kamailio: k?.achieved ? Math.round(((f.clean?.achieved ?? 0) / k.achieved) * 100) / 100 : null,
      cpu_per_call_ms: { features: f.clean ? Math.round((f.clean.cpu.sut * 10) / f.clean.achieved * 100) / 100 : null, chain: c.clean ? Math.round((c.clean.cpu.sut * 10) / c.clean.achieved * 100) / 100 : null },
    };
  }
  // issue #11: the full chain with the sbc against the chain with media without it, same run
  if (JOBS.includes('sbc') && SIDES.includes('ours')) results.sbc = sbcSummary();
  results.ended = new Date().toISOString();
  results.loadavg_end = loadavg();
  console.log('\n| job | Kamailio 0 failed | ours 0 failed | ratio | Kamailio 0 failed + 0 retrans | ours 0 failed + 0 retrans | ratio |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results.summary) {
    console.log(`| ${r.job} | ${r.kamailio.clean}/s (${r.kamailio.clean_cpu ?? '-'} %) | ${r.ours.clean}/s (${r.ours.clean_cpu ?? '-'} %) | ${r.ratio_clean ?? '-'} | ${r.kamailio.strict}/s | ${r.ours.strict}/s | ${r.ratio_strict ?? '-'} |`);
  }
  if (results.features) {
    const f = results.features;
    console.log(`\nfeatures (rewrite rules, NCOS, concurrent-call slots, PAI, one LCR lookup per call): ${f.features_clean}/s at 0 failed; the chain without them ${f.chain_clean}/s → ${f.ratio_to_chain ?? '-'}× (cost ${f.ratio_to_chain === null ? '-' : `${Math.round((1 - f.ratio_to_chain) * 100)} %`}); Kamailio's chain ${f.kamailio_chain_clean ?? '-'}/s → ${f.ratio_to_kamailio ?? '-'}×; our lb+proxy CPU-ms per call ${f.cpu_per_call_ms.features} vs ${f.cpu_per_call_ms.chain}`);
  }
  if (results.sbc) {
    console.log('\n| sbc job side | offered/s | achieved/s | failed | unfinished | retrans | CPU-ms per call: lb | proxy | sbc | mediactl | ours total | rtpengine | acc rows per call | nothing left |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of results.steps.filter((x) => x.job === 'sbc')) {
      const p = r.cpu.ms_per_call ?? {};
      const total = Math.round(Object.entries(p).filter(([k]) => k !== 'rtpengine').reduce((a, [, v]) => a + v, 0) * 100) / 100;
      console.log(`| ${r.side} | ${r.target} | ${r.achieved} | ${r.failed} | ${r.unfinished} | ${r.retrans} | ${p.lb ?? '-'} | ${p.proxy ?? '-'} | ${p.sbc ?? '-'} | ${p.mediactl ?? '-'} | ${total} | ${p.rtpengine ?? '-'} | ${r.acc_rows_per_call ?? '-'} | ${r.left_clean ? 'yes' : `no ${JSON.stringify({ calls: r.calls_left_in_redis, ...r.left })}`} |`);
    }
    const b = results.sbc;
    const fmt = (x) => (x === null ? '-' : x);
    console.log(`\nsbc: ${b.sbc_clean}/s at 0 failed; the chain with media without the sbc ${b.media_clean}/s → ${fmt(b.ratio)}×; CPU-ms per call ${fmt(b.cpu_ms_per_call.sbc)} vs ${fmt(b.cpu_ms_per_call.media)}${b.cpu_at !== null ? ` (at ${b.cpu_at} calls/s; rtpengine ${fmt(b.rtpengine_ms_per_call.sbc)} vs ${fmt(b.rtpengine_ms_per_call.media)})` : ''}`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 2));
  log(`per-step logs kept in ${work}`);
}

try {
  await main();
} finally {
  if (mariadb) await mariadb.stop().catch(() => undefined);
  mariadb = null;
  cleanup();
}
