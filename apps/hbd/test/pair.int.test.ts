/**
 * Two real hbd processes (dist/main.js) on loopback: crosslink 127.0.0.11 ↔ .12, bridge
 * 127.0.0.21 ↔ .22. Each node has its own private Redis (the redis step really runs
 * REPLICAOF), a jobs step that keeps a marker file, and a notify target (a small
 * JSON-RPC server of this test); shared_ip, arp and mariadb are disabled (no namespace
 * here). The cases run in order on the same pair: start → exactly one active; SIGKILL
 * the active → the other within deadtime + margin; restart → joins standby, no
 * preemption; SIGSTOP/SIGCONT → takeover, the frozen one steps down, no flapping;
 * make_standby / make_active; forged and replayed beats dropped; SIGTERM on the active =
 * planned switchover.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcClient } from '@ngcp/rpc';
import { freePort, redisRaw, startRedis, type RedisInstance } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBeat } from '../src/beat.js';

const MAIN = resolve(import.meta.dirname, '../dist/main.js');
const KEY = 'test-heartbeat-key-0123456789abcdef';
const INTERVAL = 100;
const DEADTIME = 300;
/** Takeover budget: deadtime + one interval + the steps (Redis, a job, an RPC) + scheduling slack on a shared 2-core box. */
const TAKEOVER_BUDGET_MS = DEADTIME + 900;

type Name = 'sp1' | 'sp2';
interface Node {
  name: Name;
  peer: Name;
  controlPort: number;
  redis: RedisInstance;
  marker: string;
  configPath: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
  out: string;
  rpc: RpcClient;
}

let dir: string;
let ports: { crosslink: number; bridge: number };
const nodes = {} as Record<Name, Node>;
let notifyServer: Server;
let notifyPort: number;
const notified: Array<{ node: string; role: string; epoch: number }> = [];

function configText(n: Node, other: Node): string {
  const i = n.name === 'sp1' ? 1 : 2;
  const j = 3 - i;
  return [
    `node: ${n.name}`,
    `peer: ${n.peer}`,
    `control: { address: 127.0.0.1, port: ${n.controlPort} }`,
    'log: { level: info }',
    `interval_ms: ${INTERVAL}`,
    `deadtime_ms: ${DEADTIME}`,
    `key: ${JSON.stringify(KEY)}`,
    'paths:',
    `  - { name: crosslink, address: 127.0.0.1${i}, peer_address: 127.0.0.1${j}, port: ${ports.crosslink} }`,
    `  - { name: bridge, address: 127.0.0.2${i}, peer_address: 127.0.0.2${j}, port: ${ports.bridge} }`,
    'pingnodes: []',
    `redis: { host: 127.0.0.1, port: ${n.redis.port}, peer_host: 127.0.0.1, peer_port: ${other.redis.port} }`,
    `notify: [{ name: probe, url: "http://127.0.0.1:${notifyPort}/" }]`,
    `jobs: [{ name: marker, start: [touch, ${JSON.stringify(n.marker)}], stop: [rm, -f, ${JSON.stringify(n.marker)}] }]`,
    'disabled_steps: [shared_ip, arp, mariadb]',
    'switchover_timeout_ms: 3000',
    'step_timeout_ms: 1000',
    'audit_interval_ms: 300',
    '',
  ].join('\n');
}

function startNode(n: Node): void {
  n.out = '';
  const child = spawn(process.execPath, [MAIN, '--config', n.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (n.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (n.out += d.toString()));
  n.child = child;
  n.exited = new Promise((r) => child.once('exit', (code) => r(code)));
}

async function role(n: Node): Promise<'active' | 'standby' | null> {
  try {
    const s = await n.rpc.call<{ role: 'active' | 'standby'; applied: string }>('ha.status');
    return s.role;
  } catch {
    return null;
  }
}

/** Until `n` reports `want` (null: any role, i.e. it answers). */
async function waitRole(n: Node, want: 'active' | 'standby' | null, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const r = await role(n);
    if (want === null ? r !== null : r === want) return performance.now() - t0;
    await sleep(10);
  }
  throw new Error(`${n.name} not ${want} within ${timeoutMs} ms; its log:\n${n.out.slice(-3000)}`);
}

/** Samples both roles for `ms`; returns every sample (null = did not answer). */
async function sample(ms: number): Promise<Array<[string | null, string | null]>> {
  const out: Array<[string | null, string | null]> = [];
  const end = performance.now() + ms;
  while (performance.now() < end) {
    out.push([await role(nodes.sp1), await role(nodes.sp2)]);
    await sleep(40);
  }
  return out;
}

async function redisRole(n: Node): Promise<string> {
  const info = await redisRaw('127.0.0.1', n.redis.port, [['INFO', 'replication']]);
  return /role:(\w+)/.exec(info)?.[1] ?? '?';
}

/** Sum of a metric's samples whose labels include `labels`. */
async function metric(n: Node, name: string, labels: Record<string, string> = {}): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${n.controlPort}/metrics`);
  const text = await res.text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!(line.startsWith(`${name}{`) || line.startsWith(`${name} `))) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.split(' ').pop());
  }
  return sum;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function killAndWait(n: Node, sig: NodeJS.Signals): Promise<number | null> {
  n.child?.kill(sig);
  return n.exited ?? null;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hbd-pair-'));
  ports = { crosslink: await freePort({ udp: true, host: '127.0.0.1' }), bridge: await freePort({ udp: true, host: '127.0.0.1' }) };
  notifyServer = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const j = JSON.parse(body) as { id: number; method: string; params: { node: string; role: string; epoch: number } };
      if (j.method === 'ha.role') notified.push(j.params);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ jsonrpc: '2.0', id: j.id, result: { ok: true } }));
    });
  });
  notifyPort = await freePort({ tcp: true, host: '127.0.0.1' });
  await new Promise<void>((r) => notifyServer.listen(notifyPort, '127.0.0.1', r));
  const [r1, r2] = await Promise.all([startRedis(), startRedis()]);
  for (const [name, peer, redis] of [['sp1', 'sp2', r1], ['sp2', 'sp1', r2]] as const) {
    const controlPort = await freePort({ tcp: true, host: '127.0.0.1' });
    nodes[name] = { name, peer, controlPort, redis, marker: join(dir, `${name}.job`), configPath: join(dir, `${name}.yml`), out: '', rpc: new RpcClient(`http://127.0.0.1:${controlPort}/`, { timeoutMs: 400 }) };
  }
  writeFileSync(nodes.sp1.configPath, configText(nodes.sp1, nodes.sp2));
  writeFileSync(nodes.sp2.configPath, configText(nodes.sp2, nodes.sp1));
}, 120_000);

afterAll(async () => {
  for (const n of Object.values(nodes)) {
    if (n.child && n.child.exitCode === null && n.child.signalCode === null) {
      n.child.kill('SIGCONT');
      n.child.kill('SIGKILL');
      await n.exited;
    }
    n.rpc.close();
  }
  await Promise.allSettled(Object.values(nodes).map((n) => n.redis.stop()));
  await new Promise((r) => notifyServer?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

function activeOf(samples: Array<[string | null, string | null]>): Array<Name | 'both' | 'none'> {
  return samples.map(([a, b]) => (a === 'active' && b === 'active' ? 'both' : a === 'active' ? 'sp1' : b === 'active' ? 'sp2' : 'none'));
}

describe('a pair of hbd processes on loopback', () => {
  let active: Node;
  let standby: Node;

  it('started together: exactly one becomes active, stays so; Redis, jobs and notify follow', async () => {
    startNode(nodes.sp1);
    startNode(nodes.sp2);
    // a loaded machine may take long to start two node processes: wait for both to answer first
    await Promise.all([waitRole(nodes.sp1, null, 60_000), waitRole(nodes.sp2, null, 60_000)]);
    const end = performance.now() + 10_000;
    let roles: Array<string | null> = [null, null];
    while (performance.now() < end) {
      roles = [await role(nodes.sp1), await role(nodes.sp2)];
      if (roles.includes('active') && roles.includes('standby')) break;
      await sleep(50);
    }
    expect(roles.sort(), nodes.sp1.out + nodes.sp2.out).toEqual(['active', 'standby']);
    active = (await role(nodes.sp1)) === 'active' ? nodes.sp1 : nodes.sp2;
    standby = active === nodes.sp1 ? nodes.sp2 : nodes.sp1;
    // Which one: sp1 by R7 (lower node id) if both listened at the same time; the first
    // one up by R3 if the other's process took longer than a deadtime to start.
    expect(active.out + standby.out).toMatch(/"rule":"R[37]"/);
    const s = activeOf(await sample(1000));
    expect(new Set(s)).toEqual(new Set([active.name]));
    expect(await redisRole(active)).toBe('master');
    expect(await redisRole(standby)).toBe('slave');
    expect(existsSync(active.marker)).toBe(true);
    expect(existsSync(standby.marker)).toBe(false);
    expect(notified).toContainEqual(expect.objectContaining({ node: active.name, role: 'active' }));
    const st = await active.rpc.call<{ last_transition: { steps: Array<{ step: string; ok: boolean }> }; peer: { alive: boolean; paths: Record<string, { alive: boolean }> } }>('ha.status');
    expect(st.last_transition.steps.map((x) => x.step)).toEqual(['redis', 'media', 'notify', 'jobs']);
    expect(st.last_transition.steps.every((x) => x.ok), JSON.stringify(st.last_transition)).toBe(true);
    expect(st.peer).toMatchObject({ alive: true, paths: { crosslink: { alive: true }, bridge: { alive: true } } });
  }, 120_000);

  it('forged and replayed beats are dropped and counted, and change nothing', async () => {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    const forged = encodeBeat({ node: standby.name, role: 'active', epoch: 999, pings: 9, priority: 1000, yielding: false, seq: Date.now() * 2000, ts: Date.now() }, 'wrong-key-wrong-key-wrong-key');
    const replay = encodeBeat({ node: standby.name, role: 'active', epoch: 999, pings: 9, priority: 1000, yielding: false, seq: 1, ts: Date.now() }, KEY);
    for (const pkt of [forged, replay, Buffer.from('hello')]) await new Promise((r) => sock.send(pkt, ports.crosslink, `127.0.0.1${active.name === 'sp1' ? 1 : 2}`, r));
    sock.close();
    await sleep(200);
    expect(await metric(active, 'hbd_beats_dropped_total', { path: 'crosslink', reason: 'bad_signature' })).toBe(1);
    expect(await metric(active, 'hbd_beats_dropped_total', { path: 'crosslink', reason: 'replay' })).toBe(1);
    expect(await metric(active, 'hbd_beats_dropped_total', { path: 'crosslink', reason: 'short' })).toBe(1);
    expect(await role(active)).toBe('active');
  });

  it('the audit puts drifted Redis roles back: a standby Redis made master follows again, an active one made replica leads again', async () => {
    const before = await metric(standby, 'hbd_drift_total', { step: 'redis' });
    await redisRaw('127.0.0.1', standby.redis.port, [['REPLICAOF', 'NO', 'ONE']]); // as after a restart of Redis: master
    expect(await redisRole(standby)).toBe('master');
    const until = performance.now() + 5000;
    while (performance.now() < until && (await redisRole(standby)) !== 'slave') await sleep(50);
    expect(await redisRole(standby), standby.out.slice(-2000)).toBe('slave');
    expect(await metric(standby, 'hbd_drift_total', { step: 'redis' })).toBeGreaterThan(before);
    expect(standby.out).toMatch(/"drift":"Redis is master on a standby node"/);

    await redisRaw('127.0.0.1', active.redis.port, [['REPLICAOF', '127.0.0.1', String(standby.redis.port)]]);
    const until2 = performance.now() + 5000;
    while (performance.now() < until2 && (await redisRole(active)) !== 'master') await sleep(50);
    expect(await redisRole(active), active.out.slice(-2000)).toBe('master');
    // roles untouched: an audit re-runs a step, never decides a role
    expect([await role(active), await role(standby)]).toEqual(['active', 'standby']);
  }, 30_000);

  it('SIGKILL of the active: the standby is active within deadtime + margin', async () => {
    const t0 = performance.now();
    active.child?.kill('SIGKILL');
    const took = await waitRole(standby, 'active', 5000);
    const total = performance.now() - t0;
    console.log(`hbd pair: SIGKILL → peer active after ${Math.round(total)} ms (deadtime ${DEADTIME} ms)`);
    expect(total).toBeLessThan(TAKEOVER_BUDGET_MS);
    expect(took).toBeGreaterThan(DEADTIME - 2 * INTERVAL);
    await active.exited;
    await sleep(300);
    expect(await redisRole(standby)).toBe('master');
    expect(existsSync(standby.marker)).toBe(true);
    [active, standby] = [standby, active];
  });

  it('the killed node restarts and joins as standby: no preemption, no flapping, its Redis follows', async () => {
    startNode(standby);
    await waitRole(standby, 'standby', 60_000);
    const s = activeOf(await sample(1500));
    expect(new Set(s)).toEqual(new Set([active.name]));
    expect(await redisRole(standby)).toBe('slave');
    expect(existsSync(standby.marker)).toBe(false);
  }, 120_000);

  it('under CPU load (3 busy processes on the 2 cores for 3 s): no false takeover, no role change', async () => {
    const before = (await metric(active, 'hbd_transitions_total')) + (await metric(standby, 'hbd_transitions_total'));
    const hogs = Array.from({ length: 3 }, () => spawn(process.execPath, ['-e', 'const end = Date.now() + 3000; while (Date.now() < end) {}'], { stdio: 'ignore' }));
    try {
      const s = activeOf(await sample(3000));
      expect(new Set(s)).toEqual(new Set([active.name]));
    } finally {
      for (const h of hogs) if (h.exitCode === null) h.kill('SIGKILL');
    }
    const after = (await metric(active, 'hbd_transitions_total')) + (await metric(standby, 'hbd_transitions_total'));
    expect(after).toBe(before);
    for (const n of [active, standby]) {
      const max = await metric(n, 'hbd_event_loop_delay_recent_max_seconds');
      console.log(`hbd pair under load: ${n.name} worst event-loop pause in the last 10 s ${Math.round(max * 1000)} ms`);
      expect(max * 1000).toBeLessThan(DEADTIME);
    }
  });

  it('SIGSTOP of the active: takeover; SIGCONT: the frozen one steps down at once (epoch rule), no flapping', async () => {
    const frozen = active;
    const t0 = performance.now();
    frozen.child?.kill('SIGSTOP');
    await waitRole(standby, 'active', 5000);
    const took = performance.now() - t0;
    console.log(`hbd pair: SIGSTOP → peer active after ${Math.round(took)} ms`);
    expect(took).toBeLessThan(TAKEOVER_BUDGET_MS);
    const before = await standby.rpc.call<{ epoch: number }>('ha.status');
    await sleep(500);
    frozen.child?.kill('SIGCONT');
    await waitRole(frozen, 'standby', 3000);
    const s = activeOf(await sample(2000));
    expect(new Set(s)).toEqual(new Set([standby.name]));
    const after = await standby.rpc.call<{ epoch: number }>('ha.status');
    expect(after.epoch).toBe(before.epoch);
    expect(frozen.out).toMatch(/"rule":"R6"/);
    expect(await redisRole(frozen)).toBe('slave');
    [active, standby] = [standby, frozen];
  });

  it('make_standby hands over to the peer; make_active takes the role back', async () => {
    const r = await new RpcClient(`http://127.0.0.1:${active.controlPort}/`, { timeoutMs: 5000 }).call<{ role: string; switched: boolean }>('ha.make_standby');
    expect(r).toMatchObject({ role: 'standby', switched: true });
    expect(await role(standby)).toBe('active');
    let s = activeOf(await sample(800));
    expect(new Set(s)).toEqual(new Set([standby.name]));
    [active, standby] = [standby, active];

    const a = await new RpcClient(`http://127.0.0.1:${standby.controlPort}/`, { timeoutMs: 5000 }).call<{ role: string }>('ha.make_active');
    expect(a.role).toBe('active');
    await waitRole(active, 'standby', 2000);
    s = activeOf(await sample(800));
    expect(new Set(s)).toEqual(new Set([standby.name]));
    [active, standby] = [standby, active];
    expect(existsSync(active.marker)).toBe(true);
    expect(existsSync(standby.marker)).toBe(false);
  });

  it('exposes its worst event-loop pause: since start (a SIGSTOP counts) and over the last 10 s', async () => {
    const frozen = standby; // the node frozen by SIGSTOP above is standby now
    const total = await metric(frozen, 'hbd_event_loop_delay_max_seconds');
    console.log(`hbd pair: worst event-loop pause since start of the node frozen earlier ${Math.round(total * 1000)} ms`);
    expect(total * 1000).toBeGreaterThan(400);
    const st = await active.rpc.call<{ event_loop_delay_max_ms: number; event_loop_delay_recent_max_ms: number }>('ha.status');
    expect(st.event_loop_delay_recent_max_ms).toBeGreaterThan(0);
    expect(st.event_loop_delay_recent_max_ms).toBeLessThanOrEqual(st.event_loop_delay_max_ms);
  });

  it('SIGTERM on the active is a planned switchover: the peer takes over, the process exits 0', async () => {
    const t0 = performance.now();
    const code = killAndWait(active, 'SIGTERM');
    await waitRole(standby, 'active', 4000);
    console.log(`hbd pair: SIGTERM → peer active after ${Math.round(performance.now() - t0)} ms`);
    expect(await code).toBe(0);
    expect(active.out).toMatch(/peer took over/);
    expect(existsSync(active.marker)).toBe(false);
    expect(await redisRole(active)).toBe('slave');
  });

  it('make_standby with no live peer is refused: the pair keeps its active node', async () => {
    await sleep(DEADTIME + 200);
    await expect(new RpcClient(`http://127.0.0.1:${standby.controlPort}/`, { timeoutMs: 3000 }).call('ha.make_standby')).rejects.toThrow(/refused: the peer is not alive/);
    expect(await role(standby)).toBe('active');
  });
});
