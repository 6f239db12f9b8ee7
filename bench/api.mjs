#!/usr/bin/env node
// API benchmark: the real API (apps/api/dist/main.js) on ONE core, against a private
// MariaDB and Redis (testkit), loaded by wrk (C, keep-alive HTTPS, Lua scripts in
// bench/wrk/). With two or more cores the API is pinned to core 0 (taskset) and MariaDB,
// Redis and wrk share the others, so the API's figures are what one core does; the
// API's CPU share is measured from /proc and printed beside each phase.
//
//   phase "create"     POST /api/subscribers for --create-seconds            (creates/s)
//   phase "provision"  POST /api/subscribers until --provision subscribers exist
//   phase "get"        GET  /api/subscribers/:id, ids at random over all of them (reads/s)
//   phase "baseline"   a bare fastify route over HTTPS on the same core and client:
//                      what the machine allows before any API work
//
// Every phase is bounded in time (wrk -d) and the provisioning also in count. A phase
// fails the run when any answer is not the expected status (201 / 200).
//
// Run: node bench/api.mjs [--connections 16] [--create-seconds 10] [--get-seconds 10]
//                         [--provision 100000] [--provision-seconds 900] [--quick]
//                         [--no-pin] [--json out.json]
// Needs the build (pnpm exec turbo run build), mariadb-server, redis-server and wrk
// (all installed by ./ngcp bootstrap).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { startMariaDb, startRedis } = await import(join(here, '../packages/testkit/dist/index.js'));

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const QUICK = argv.includes('--quick');
const CONNECTIONS = Number(opt('connections', 16));
const CREATE_SECONDS = Number(opt('create-seconds', QUICK ? 3 : 10));
const GET_SECONDS = Number(opt('get-seconds', QUICK ? 3 : 10));
const PROVISION = Number(opt('provision', QUICK ? 10_000 : 100_000));
const PROVISION_SECONDS = Number(opt('provision-seconds', 900));
const NCPU = cpus().length;
const PIN = !argv.includes('--no-pin') && NCPU >= 2;
const jsonOut = opt('json', null);

if (spawnSync('wrk', ['--version']).error) {
  console.error('bench/api.mjs needs wrk (apt-get install wrk; ./ngcp bootstrap installs it)');
  process.exit(2);
}

const TICK = 100; // USER_HZ on Linux
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime + stime
  } catch {
    return NaN;
  }
}
/** Pin every thread of `pid` to `cpuList` (taskset syntax). */
function pin(pid, cpuList) {
  if (PIN) execFileSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' });
}
const API_CPU = '0';
const OTHER_CPUS = `1-${NCPU - 1}`;
/** argv prefix that runs a command on the API's core / on the other cores */
const onApiCore = (cmd) => (PIN ? ['taskset', '-c', API_CPU, ...cmd] : cmd);
const onOtherCores = (cmd) => (PIN ? ['taskset', '-c', OTHER_CPUS, ...cmd] : cmd);

const dir = mkdtempSync(join(tmpdir(), 'ngcp-bench-api-'));
const idsFile = join(dir, 'ids.txt');
const children = [];
let db;
let redis;
let cleaning;
const cleanup = () =>
  (cleaning ??= (async () => {
    // newest first (a running wrk before the API it loads); SIGKILL whatever is still there after 5 s
    for (const c of [...children].reverse()) {
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise((r) => c.once('exit', r));
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
    }
    await redis?.stop();
    await db?.stop();
    rmSync(dir, { recursive: true, force: true });
  })());

/** Start a node program on the API core; resolve with what `ready(stdout)` extracts. */
function startNode(args, env, ready) {
  const [cmd, ...rest] = onApiCore([process.execPath, ...args]);
  const child = spawn(cmd, rest, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${args.join(' ')} did not start:\n${out}`)), 60_000);
    child.stdout.on('data', (c) => {
      out += c;
      const v = ready(out);
      if (v !== undefined) {
        clearTimeout(t);
        resolve({ child, value: v });
      }
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}:\n${out}`)));
  });
}

/** One wrk run; resolves with its JSON line plus throughput and the CPU shares of the API and MariaDB. */
async function wrk(name, { url, script, seconds, env, pid }) {
  const cpuApi0 = cpuSeconds(pid);
  const cpuDb0 = cpuSeconds(db.pid);
  const t0 = performance.now();
  const [cmd, ...args] = onOtherCores(['wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--timeout', '10s', '-s', join(here, 'wrk', script), url]);
  const child = spawn(cmd, args, { env: { ...process.env, WRK_DIR: join(here, 'wrk'), IDS_FILE: idsFile, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => (stdout += c));
  child.stderr.on('data', (c) => {
    stderr += c;
    if (stderr.includes('wrk-thread-done')) child.kill('SIGINT'); // the request cap is reached: end now, with the report
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), (seconds + 60) * 1000);
  await new Promise((resolve) => child.once('close', resolve));
  clearTimeout(guard);
  const wall = (performance.now() - t0) / 1000;
  const line = stdout.split('\n').find((l) => l.startsWith('{"wrk"'));
  if (!line) throw new Error(`wrk (${name}) gave no result:\n${stdout}\n${stderr}`);
  const w = JSON.parse(line);
  const elapsed = w.duration_us / 1e6;
  const apiCpu = cpuSeconds(pid) - cpuApi0;
  const res = {
    name, requests: w.requests, ok: w.ok, unexpected: w.unexpected, socket_errors: w.socket_errors, timeouts: w.timeouts,
    seconds: +elapsed.toFixed(2), per_second: Math.round(w.ok / elapsed),
    p50_ms: +(w.p50_us / 1000).toFixed(2), p99_ms: +(w.p99_us / 1000).toFixed(2), connections: CONNECTIONS,
    api_cpu_percent: Math.round((apiCpu / wall) * 100), db_cpu_percent: Math.round(((cpuSeconds(db.pid) - cpuDb0) / wall) * 100),
    per_api_cpu_second: Math.round(w.ok / apiCpu),
  };
  if (w.first_unexpected) res.first_unexpected = w.first_unexpected;
  console.log(
    `${name.padEnd(30)} ${String(res.per_second).padStart(6)}/s ${String(res.ok).padStart(7)} ok ${String(res.unexpected + res.socket_errors + res.timeouts).padStart(3)} bad` +
      `  p50 ${res.p50_ms} ms  p99 ${res.p99_ms} ms  api cpu ${res.api_cpu_percent}%  db cpu ${res.db_cpu_percent}%  (${res.per_api_cpu_second}/api-cpu-s)`,
  );
  if (res.first_unexpected) console.log(`  first unexpected answer: ${res.first_unexpected}`);
  return res;
}

// stopped from outside (Ctrl-C, timeout): stop wrk, the API, MariaDB and Redis before leaving
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    console.error(`${sig}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

let failures = 0;
const check = (r) => {
  if (r.unexpected || r.socket_errors || r.timeouts || !r.ok) failures++;
  return r;
};

try {
  // the node's own settings for what matters here (ngcp-config config.yml: database.*): a
  // redo log with room for bulk inserts — the testkit's 16 MB default stalls writers
  db = await startMariaDb({ bufferPoolSize: '512M', extraArgs: ['--innodb-log-file-size=256M'] });
  redis = await startRedis();
  pin(db.pid, OTHER_CPUS);
  pin(redis.pid, OTHER_CPUS);
  const ADMIN = 'bench-admin-pw';
  const configPath = join(dir, 'api.json');
  writeFileSync(configPath, JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), hostnames: ['127.0.0.1'] },
    db: { socket: db.socket, user: db.user, password: db.password, database: db.database, pool_max: CONNECTIONS },
    redis: { host: redis.host, port: redis.port },
    admin: { login: 'admin', password: ADMIN },
    log: { level: 'info', requests: false },
  }));
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  const api = await startNode([...nodeArgs, join(here, '../apps/api/dist/main.js')], { NGCP_API_CONFIG: configPath }, (out) => {
    const line = out.split('\n').find((l) => l.includes('"api listening"'));
    return line ? JSON.parse(line).url : undefined;
  });
  const url = api.value;
  const apiPid = api.child.pid;
  const ca = readFileSync(join(dir, 'cert.pem'));
  const AUTH = `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}`;

  // one-off calls from here (setup and checks), not part of any measurement
  const agent = new Agent({ keepAlive: true, ca });
  const call = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request(`${url}${path}`, { method, agent, headers: { authorization: AUTH, ...(payload ? { 'content-type': 'application/json' } : {}) } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
      });
      req.on('error', reject);
      req.end(payload);
    });
  const domain = 'bench.example';
  const d = await call('POST', '/api/domains', { domain });
  if (d.status !== 201) throw new Error(`cannot create the domain: ${d.status} ${d.body}`);
  const count = async () => {
    const r = await call('GET', '/api/subscribers?rows=1');
    if (r.status !== 200) throw new Error(`GET /api/subscribers?rows=1: ${r.status} ${r.body.slice(0, 300)}`);
    return JSON.parse(r.body).total_count;
  };
  console.log(`api ${url} (pid ${apiPid}${PIN ? `, core ${API_CPU}; MariaDB, Redis and wrk on cores ${OTHER_CPUS}` : ', not pinned'}), ${CONNECTIONS} keep-alive HTTPS connections`);

  let batch = 0;
  const post = (name, seconds, stopAfter = 0) =>
    wrk(name, { url, script: 'post.lua', seconds, pid: apiPid, env: { AUTH, EXPECT: '201', DOMAIN: domain, PREFIX: `b${++batch}`, NUMBASE: String(4900000000000 + batch * 10_000_000), STOP_AFTER: String(stopAfter) } });
  const results = {};
  await post('warm-up POST', 3);
  results.create = check(await post('POST /api/subscribers', CREATE_SECONDS));
  const have = await count();
  if (PROVISION > have) {
    results.provision = check(await post(`provision to ${PROVISION}`, PROVISION_SECONDS, PROVISION - have));
  }
  const total = await count();
  const idCount = readFileSync(idsFile, 'utf8').split('\n').filter(Boolean).length;
  console.log(`subscribers in the database: ${total} (ids seen in Location headers: ${idCount})`);
  // a phase that ends on time (or on its cap) leaves up to one request per connection
  // answered after wrk stopped listening: created, but not seen
  if (idCount > total || total - idCount > 4 * CONNECTIONS || (PROVISION > have && total < PROVISION)) failures++;

  const get = (name, seconds, target = url, pid = apiPid) => wrk(name, { url: target, script: 'get.lua', seconds, pid, env: { AUTH, EXPECT: '200' } });
  await get('warm-up GET', 3);
  results.get = check(await get(`GET /api/subscribers/:id (of ${total})`, GET_SECONDS));
  agent.destroy();

  // the same client and core against a bare fastify route over HTTPS (same certificate)
  const fastifyUrl = pathToFileURL(join(here, '../apps/api/node_modules/fastify/fastify.js')).href;
  const src = `
    const { default: Fastify } = await import(${JSON.stringify(fastifyUrl)});
    const { readFileSync } = await import('node:fs');
    const app = Fastify({ https: { key: readFileSync(${JSON.stringify(join(dir, 'key.pem'))}), cert: readFileSync(${JSON.stringify(join(dir, 'cert.pem'))}) } });
    app.get('/api/subscribers/:id', async (req) => ({ id: Number(req.params.id), username: 'hello', domain: 'bench.example' }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    console.log('port ' + app.server.address().port);`;
  const bare = await startNode(['--input-type=module', '-e', src], {}, (out) => /port (\d+)/.exec(out)?.[1]);
  await get('warm-up baseline', 2, `https://127.0.0.1:${bare.value}`, bare.child.pid);
  results.baseline = check(await get('baseline: bare fastify HTTPS', Math.min(GET_SECONDS, 5), `https://127.0.0.1:${bare.value}`, bare.child.pid));

  const summary = {
    date: new Date().toISOString(), node: process.version, cpus: NCPU, pinned: PIN, loadavg: loadavg().map((l) => +l.toFixed(2)), connections: CONNECTIONS,
    get_per_second: results.get.per_second, create_per_second: results.create.per_second,
    provision_subscribers: total, provision_seconds: results.provision?.seconds ?? null, provision_per_second: results.provision?.per_second ?? null,
    get_per_api_cpu_second: results.get.per_api_cpu_second, create_per_api_cpu_second: results.create.per_api_cpu_second,
    baseline_hello_per_second: results.baseline.per_second, failures, phases: results,
  };
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(summary, null, 2));
  console.log(
    `\nGET ${summary.get_per_second}/s, POST ${summary.create_per_second}/s, provisioning ${summary.provision_per_second ?? '-'}/s` +
      ` (${total} subscribers); bare fastify ${summary.baseline_hello_per_second}/s${failures ? `; ${failures} phase(s) with errors` : ''}`,
  );
} finally {
  await cleanup();
}
process.exit(failures ? 1 : 0);
