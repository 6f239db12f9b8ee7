#!/usr/bin/env node
// API benchmark: the real API (apps/api/dist/main.js, one process = one core for its event
// loop) as a child over HTTPS, against a private MariaDB and Redis (testkit). This process
// is the client: N concurrent workers with keep-alive on 127.0.0.1, each phase bounded in
// requests and in time.
//
//   phase "create"    POST /api/subscribers            (creates/s)
//   phase "get"       GET  /api/subscribers/:id         (reads/s, random ids)
//   phase "provision" POST /api/subscribers until N subscribers exist (total time)
//   phase "baseline"  a bare fastify "hello" over the same HTTPS/keep-alive client: the
//                     ceiling this machine allows, to read the API figures against
//
// Run: node bench/api.mjs [--concurrency 32] [--creates 5000] [--get-seconds 10]
//                         [--provision 100000] [--quick] [--json out.json]
// Needs the build (pnpm exec turbo run build) and mariadb-server + redis-server.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
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
const CONCURRENCY = Number(opt('concurrency', 32));
const CREATES = Number(opt('creates', QUICK ? 1000 : 5000));
const CREATE_SECONDS = Number(opt('create-seconds', 30));
const GET_SECONDS = Number(opt('get-seconds', QUICK ? 3 : 10));
const GET_MAX = Number(opt('get-max', 1_000_000));
const PROVISION = Number(opt('provision', QUICK ? 10_000 : 100_000));
const PROVISION_SECONDS = Number(opt('provision-seconds', 900));
const jsonOut = opt('json', null);

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

const dir = mkdtempSync(join(tmpdir(), 'ngcp-bench-api-'));
let child;
let db;
let redis;
const cleanup = async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await redis?.stop();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
};

try {
  db = await startMariaDb({ bufferPoolSize: '512M' });
  redis = await startRedis();
  const ADMIN = 'bench-admin-pw';
  const configPath = join(dir, 'api.json');
  writeFileSync(configPath, JSON.stringify({
    listen: { host: '127.0.0.1', port: 0 },
    tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem'), hostnames: ['127.0.0.1'] },
    db: { socket: db.socket, user: db.user, password: db.password, database: db.database, pool_max: 16 },
    redis: { host: redis.host, port: redis.port },
    admin: { login: 'admin', password: ADMIN },
    log: { level: 'info', requests: false },
  }));
  const nodeArgs = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof
  child = spawn(process.execPath, [...nodeArgs, join(here, '../apps/api/dist/main.js')], { env: { ...process.env, NGCP_API_CONFIG: configPath }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  // per-request logs are off; the startup lines (info) tell the URL
  const url = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`api did not start:\n${out}`)), 60_000);
    const check = () => {
      const line = out.split('\n').find((l) => l.includes('"api listening"'));
      if (line) {
        clearTimeout(t);
        resolve(JSON.parse(line).url);
      }
    };
    child.stdout.on('data', check);
    child.once('exit', (code) => reject(new Error(`api exited ${code}:\n${out}`)));
  });
  const ca = readFileSync(join(dir, 'cert.pem'));
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca });
  const auth = `Basic ${Buffer.from(`admin:${ADMIN}`).toString('base64')}`;
  const { hostname, port } = new URL(url);

  const call = (method, path, body) =>
    new Promise((resolve) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = request({ hostname, port, method, path, agent, headers: { authorization: auth, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      });
      req.on('error', (err) => resolve({ status: 0, body: String(err) }));
      if (payload) req.write(payload);
      req.end();
    });

  const phase = (name, o) => phaseWith(call, child.pid, name, o);
  async function phaseWith(callFn, pid, name, { count, seconds, concurrency = CONCURRENCY, make, expect }) {
    let issued = 0;
    let ok = 0;
    let errors = 0;
    let firstError;
    const lat = [];
    const cpuApi0 = cpuSeconds(pid);
    const cpuDb0 = cpuSeconds(db.pid);
    const t0 = performance.now();
    const deadline = t0 + seconds * 1000;
    const worker = async () => {
      while (issued < count && performance.now() < deadline) {
        const i = issued++;
        const s = performance.now();
        const res = await callFn(...make(i));
        lat.push(performance.now() - s);
        if (res.status === expect) ok++;
        else {
          errors++;
          firstError ??= `${res.status} ${res.body.slice(0, 200)}`;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const elapsed = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))] ?? NaN;
    const apiCpu = cpuSeconds(pid) - cpuApi0;
    const r = {
      name, requests: ok + errors, ok, errors, seconds: +elapsed.toFixed(2), per_second: Math.round(ok / elapsed),
      p50_ms: +pct(50).toFixed(2), p99_ms: +pct(99).toFixed(2), concurrency,
      api_cpu_percent: Math.round((apiCpu / elapsed) * 100), db_cpu_percent: Math.round(((cpuSeconds(db.pid) - cpuDb0) / elapsed) * 100),
      per_api_cpu_second: Math.round(ok / apiCpu),
    };
    if (firstError) r.first_error = firstError;
    console.log(
      `${name.padEnd(28)} ${String(r.per_second).padStart(7)}/s  ${String(r.ok).padStart(7)} ok ${String(errors).padStart(4)} err` +
        `  p50 ${r.p50_ms} ms  p99 ${r.p99_ms} ms  api cpu ${r.api_cpu_percent}%  db cpu ${r.db_cpu_percent}%  (${r.per_api_cpu_second}/api-cpu-s)`,
    );
    if (firstError) console.log(`  first error: ${firstError}`);
    return r;
  }

  const domain = 'bench.example';
  const d = await call('POST', '/api/domains', { domain });
  if (d.status !== 201) throw new Error(`cannot create the domain: ${d.status} ${d.body}`);
  console.log(`api ${url} (pid ${child.pid}), MariaDB ${db.port}, Redis ${redis.port}, ${CONCURRENCY} concurrent, keep-alive HTTPS`);

  const ids = [];
  let n = 0;
  const newSubscriber = () => {
    const k = n++;
    return ['POST', '/api/subscribers', { domain, username: `u${k}`, password: `pw-${k}-secret`, primary_number: String(4900000000 + k) }];
  };
  const results = [];
  // warm-up: JIT, pool connections, auth cache
  await phase('warm-up POST', { count: 300, seconds: 10, make: newSubscriber, expect: 201 });
  results.push(await phase('POST /api/subscribers', { count: CREATES, seconds: CREATE_SECONDS, make: newSubscriber, expect: 201 }));
  const listed = await call('GET', '/api/subscribers?rows=1000&page=1');
  for (const s of JSON.parse(listed.body).items) ids.push(s.id);
  await phase('warm-up GET', { count: 2000, seconds: 10, make: (i) => ['GET', `/api/subscribers/${ids[i % ids.length]}`], expect: 200 });
  results.push(await phase('GET /api/subscribers/:id', { count: GET_MAX, seconds: GET_SECONDS, make: () => ['GET', `/api/subscribers/${ids[Math.floor(Math.random() * ids.length)]}`], expect: 200 }));
  const have = n;
  const prov = await phase(`provision to ${PROVISION}`, { count: Math.max(0, PROVISION - have), seconds: PROVISION_SECONDS, make: newSubscriber, expect: 201 });
  const total = JSON.parse((await call('GET', '/api/subscribers?rows=1')).body).total_count;
  prov.subscribers_total = total;
  results.push(prov);
  console.log(`provisioned: ${total} subscribers in the database (${prov.seconds} s for the last ${prov.ok})`);
  results.push(await baseline(ca));
  const os = await import('node:os');
  const summary = {
    date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg().map((l) => +l.toFixed(2)), concurrency: CONCURRENCY,
    get_per_second: results[1].per_second, create_per_second: results[0].per_second, provision_seconds: prov.seconds,
    get_per_api_cpu_second: results[1].per_api_cpu_second, create_per_api_cpu_second: results[0].per_api_cpu_second,
    baseline_hello_per_second: results[3].per_second,
    provision_subscribers: total, phases: results,
  };
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(summary, null, 2));
  agent.destroy();

  /** The same client against a bare fastify route over HTTPS (same cert): what the box allows. */
  async function baseline(caPem) {
    const fastifyUrl = pathToFileURL(join(here, '../apps/api/node_modules/fastify/fastify.js')).href;
    const src = `
      const { default: Fastify } = await import(${JSON.stringify(fastifyUrl)});
      const { readFileSync } = await import('node:fs');
      const app = Fastify({ https: { key: readFileSync(${JSON.stringify(join(dir, 'key.pem'))}), cert: readFileSync(${JSON.stringify(join(dir, 'cert.pem'))}) } });
      app.get('/api/subscribers/:id', async (req) => ({ id: Number(req.params.id), username: 'hello', domain: 'bench.example' }));
      await app.listen({ host: '127.0.0.1', port: 0 });
      console.log(app.server.address().port);`;
    const b = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['ignore', 'pipe', 'inherit'] });
    const bport = await new Promise((resolve) => b.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
    const bagent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: caPem });
    const bcall = (method, path) =>
      new Promise((resolve) => {
        const req = request({ hostname, port: bport, method, path, agent: bagent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode, body: '' }));
        });
        req.on('error', (err) => resolve({ status: 0, body: String(err) }));
        req.end();
      });
    const r = await phaseWith(bcall, b.pid, 'baseline: bare fastify HTTPS', { count: GET_MAX, seconds: Math.min(GET_SECONDS, 5), make: (i) => ['GET', `/api/subscribers/${i}`], expect: 200 });
    bagent.destroy();
    b.kill('SIGTERM');
    await new Promise((res) => b.once('exit', res));
    return r;
  }
} finally {
  await cleanup();
}
