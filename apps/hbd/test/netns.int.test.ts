/**
 * hbd in network namespaces of this test's own (`hbt-<id>-a`, `-b`, `-gw`; never the
 * lab's sp1/sp2): a bridge 10.79.0.0/24 in the gw namespace (gw .1 = the ping node, a .11,
 * b .12, shared IP .10 on eth0) and a crosslink veth 10.79.1.1/.2 (eth1). The real
 * shared_ip and arp steps run (`ip addr add … label eth0:ha`, `arping -U`); Redis,
 * MariaDB, notify and jobs are off. Cases: one active holding the IP; SIGKILL → the IP
 * and the gateway's ARP entry move to the other node, the dead node keeps a stale IP;
 * restart → the stale IP is dropped first and the node joins standby; crosslink down →
 * nothing changes (bridge path); bridge down on the active → the standby, reaching more
 * ping nodes, takes over. Everything is removed afterwards (namespaces, processes).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileP = promisify(execFile);
const MAIN = resolve(import.meta.dirname, '../dist/main.js');
const ID = randomBytes(2).toString('hex');
const NS = { a: `hbt-${ID}-a`, b: `hbt-${ID}-b`, gw: `hbt-${ID}-gw` };
const SHARED = '10.79.0.10';
const KEY = 'netns-test-key-0123456789abcdef';
const CONTROL_PORT = 9094;
const DEADTIME = 300;

interface Node {
  name: 'a' | 'b';
  ns: string;
  ip: string;
  cross: string;
  mac: string;
  configPath: string;
  child?: ChildProcess;
  exited?: Promise<number | null>;
  out: string;
}

let dir: string;
const nodes = {} as Record<'a' | 'b', Node>;
/** The node that is active / standby at the start of each case. */
let act: Node;
let sby: Node;
const created: string[] = [];

async function sh(...argv: string[]): Promise<string> {
  const [cmd, ...args] = argv;
  const r = await execFileP(cmd as string, args, { timeout: 10_000 });
  return r.stdout;
}

async function setup(): Promise<void> {
  for (const ns of Object.values(NS)) {
    await sh('ip', 'netns', 'add', ns);
    created.push(ns);
    await sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
  await sh('ip', '-n', NS.gw, 'link', 'add', 'br0', 'type', 'bridge');
  await sh('ip', '-n', NS.gw, 'addr', 'add', '10.79.0.1/24', 'dev', 'br0');
  await sh('ip', '-n', NS.gw, 'link', 'set', 'br0', 'up');
  for (const [n, ns, ip] of [['a', NS.a, '10.79.0.11'], ['b', NS.b, '10.79.0.12']] as const) {
    // created in the gw namespace, one end moved: no name ever lives in the root namespace
    await sh('ip', '-n', NS.gw, 'link', 'add', `p${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await sh('ip', '-n', NS.gw, 'link', 'set', `p${n}`, 'master', 'br0', 'up');
    await sh('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
    await sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    await sh('ip', 'netns', 'exec', ns, 'sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1');
  }
  await sh('ip', '-n', NS.a, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', NS.b);
  await sh('ip', '-n', NS.a, 'addr', 'add', '10.79.1.1/30', 'dev', 'eth1');
  await sh('ip', '-n', NS.b, 'addr', 'add', '10.79.1.2/30', 'dev', 'eth1');
  await sh('ip', '-n', NS.a, 'link', 'set', 'eth1', 'up');
  await sh('ip', '-n', NS.b, 'link', 'set', 'eth1', 'up');
}

async function macOf(ns: string, dev: string): Promise<string> {
  const out = await sh('ip', '-n', ns, '-o', 'link', 'show', dev);
  return /link\/ether ([0-9a-f:]+)/.exec(out)?.[1] ?? '?';
}

function configText(n: Node, peer: Node): string {
  return [
    `node: ${n.name}`,
    `peer: ${peer.name}`,
    `control: { address: 127.0.0.1, port: ${CONTROL_PORT} }`,
    'log: { level: info }',
    'interval_ms: 100',
    `deadtime_ms: ${DEADTIME}`,
    `key: ${JSON.stringify(KEY)}`,
    'paths:',
    `  - { name: crosslink, address: ${n.cross}, peer_address: ${peer.cross}, port: 694 }`,
    `  - { name: bridge, address: ${n.ip}, peer_address: ${peer.ip}, port: 694 }`,
    'pingnodes: [10.79.0.1]',
    'ping: { method: tcp, port: 7, interval_ms: 100, timeout_ms: 100 }',
    `shared_ips: [{ ip: ${SHARED}, prefix: 24, dev: eth0 }]`,
    'disabled_steps: [redis, mariadb, notify, jobs]',
    'switchover_timeout_ms: 3000',
    'step_timeout_ms: 2000',
    '',
  ].join('\n');
}

function startNode(n: Node): void {
  n.out = '';
  const child = spawn('ip', ['netns', 'exec', n.ns, process.execPath, MAIN, '--config', n.configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (n.out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (n.out += d.toString()));
  n.child = child;
  n.exited = new Promise((r) => child.once('exit', (code) => r(code)));
}

async function role(n: Node): Promise<string | null> {
  try {
    const out = await sh('ip', 'netns', 'exec', n.ns, 'curl', '-s', '-m', '1', '-H', 'content-type: application/json', '-d', '{"jsonrpc":"2.0","id":1,"method":"ha.status"}', `http://127.0.0.1:${CONTROL_PORT}/`);
    return (JSON.parse(out) as { result?: { role?: string } }).result?.role ?? null;
  } catch {
    return null;
  }
}

/** Until `n` reports `want` (null: any role, i.e. it answers). */
async function waitRole(n: Node, want: string | null, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    const r = await role(n);
    if (want === null ? r !== null : r === want) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${n.name} not ${want} within ${timeoutMs} ms:\n${n.out.slice(-3000)}`);
}

async function hasShared(n: Node): Promise<boolean> {
  const out = await sh('ip', '-n', n.ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0');
  return out.includes(`inet ${SHARED}/24`);
}

async function gwNeighbour(): Promise<string> {
  const out = await sh('ip', '-n', NS.gw, 'neigh', 'show', SHARED);
  return /lladdr ([0-9a-f:]+)/.exec(out)?.[1] ?? '';
}

async function roles(ms: number): Promise<Set<string>> {
  const seen = new Set<string>();
  const end = performance.now() + ms;
  while (performance.now() < end) {
    seen.add(`${await role(nodes.a)}/${await role(nodes.b)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return seen;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hbd-netns-'));
  await setup();
  nodes.a = { name: 'a', ns: NS.a, ip: '10.79.0.11', cross: '10.79.1.1', mac: await macOf(NS.a, 'eth0'), configPath: join(dir, 'a.yml'), out: '' };
  nodes.b = { name: 'b', ns: NS.b, ip: '10.79.0.12', cross: '10.79.1.2', mac: await macOf(NS.b, 'eth0'), configPath: join(dir, 'b.yml'), out: '' };
  writeFileSync(nodes.a.configPath, configText(nodes.a, nodes.b));
  writeFileSync(nodes.b.configPath, configText(nodes.b, nodes.a));
}, 60_000);

afterAll(async () => {
  for (const n of Object.values(nodes)) {
    if (n.child && n.child.exitCode === null && n.child.signalCode === null) {
      n.child.kill('SIGKILL');
      await n.exited;
    }
  }
  for (const ns of created) await sh('ip', 'netns', 'del', ns).catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  const left = await sh('ip', 'netns', 'list');
  expect(left).not.toContain(`hbt-${ID}`);
}, 60_000);

describe('hbd in network namespaces: shared IP and gratuitous ARP', () => {
  it('one node becomes active and holds the shared IP with its label; the gateway resolves it to that node', async () => {
    startNode(nodes.a);
    startNode(nodes.b);
    // a loaded machine may take long to start two node processes: wait for both to answer first
    await Promise.all([waitRole(nodes.a, null, 60_000), waitRole(nodes.b, null, 60_000)]);
    const end = performance.now() + 10_000;
    let seen = '';
    while (performance.now() < end) {
      seen = `${await role(nodes.a)}/${await role(nodes.b)}`;
      if (seen === 'active/standby' || seen === 'standby/active') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen, nodes.a.out + nodes.b.out).toMatch(/^(active\/standby|standby\/active)$/);
    [act, sby] = seen === 'active/standby' ? [nodes.a, nodes.b] : [nodes.b, nodes.a];
    expect(await hasShared(act)).toBe(true);
    expect(await hasShared(sby)).toBe(false);
    const label = await sh('ip', '-n', act.ns, '-o', '-4', 'addr', 'show', 'label', 'eth0:ha');
    expect(label).toContain(`inet ${SHARED}/24`);
    // the gateway talks to the shared IP (a TCP SYN, answered by a reset), so it has an ARP entry the gratuitous ARP must move later
    await sh('ip', 'netns', 'exec', NS.gw, 'curl', '-s', '-m', '1', `http://${SHARED}:9/`).catch(() => undefined);
    expect(await gwNeighbour()).toBe(act.mac);
    // the kernel ignores a new ARP answer for an entry younger than locktime (1 s)
    await new Promise((r) => setTimeout(r, 1100));
  }, 120_000);

  it('SIGKILL of the active: the IP and the gateway ARP entry move to the other node; the dead node keeps a stale IP', async () => {
    const t0 = performance.now();
    act.child?.kill('SIGKILL');
    await waitRole(sby, 'active', 5000);
    const until = performance.now() + 3000;
    while (performance.now() < until && (await gwNeighbour()) !== sby.mac) await new Promise((r) => setTimeout(r, 20));
    console.log(`hbd netns: SIGKILL → gateway ARP entry on the new node after ${Math.round(performance.now() - t0)} ms`);
    expect(await gwNeighbour()).toBe(sby.mac);
    expect(await hasShared(sby)).toBe(true);
    await act.exited;
    expect(await hasShared(act)).toBe(true); // stale: nobody removed it
    [act, sby] = [sby, act];
  });

  it('the dead node restarts: drops the stale IP first and joins as standby', async () => {
    startNode(sby);
    await waitRole(sby, 'standby', 60_000);
    expect(await hasShared(sby)).toBe(false);
    expect(await roles(1000)).toEqual(new Set([pair()]));
    expect(await hasShared(act)).toBe(true);
  }, 120_000);

  it('crosslink down: the bridge path keeps the peer alive, nothing changes', async () => {
    await sh('ip', '-n', NS.a, 'link', 'set', 'eth1', 'down');
    try {
      expect(await roles(1500)).toEqual(new Set([pair()]));
      const st = JSON.parse(await sh('ip', 'netns', 'exec', sby.ns, 'curl', '-s', '-m', '1', '-H', 'content-type: application/json', '-d', '{"jsonrpc":"2.0","id":1,"method":"ha.status"}', `http://127.0.0.1:${CONTROL_PORT}/`)) as {
        result: { peer: { alive: boolean; paths: Record<string, { alive: boolean }> } };
      };
      expect(st.result.peer).toMatchObject({ alive: true, paths: { crosslink: { alive: false }, bridge: { alive: true } } });
    } finally {
      await sh('ip', '-n', NS.a, 'link', 'set', 'eth1', 'up');
    }
    await new Promise((r) => setTimeout(r, 500));
  });

  it('bridge down on the active: the standby reaches more ping nodes and takes over; one active', async () => {
    await sh('ip', '-n', act.ns, 'link', 'set', 'eth0', 'down');
    try {
      const took = await waitRole(sby, 'active', 5000);
      console.log(`hbd netns: bridge down on the active → the standby active after ${Math.round(took)} ms`);
      await waitRole(act, 'standby', 3000);
      [act, sby] = [sby, act];
      expect(await roles(1000)).toEqual(new Set([pair()]));
      expect(await hasShared(act)).toBe(true);
      expect(await hasShared(sby)).toBe(false);
      expect(act.out).toMatch(/"rule":"R5"/);
    } finally {
      await sh('ip', '-n', sby.ns, 'link', 'set', 'eth0', 'up');
    }
    // the link is back: no flapping back
    expect(await roles(1000)).toEqual(new Set([pair()]));
  });
});

/** The roles of a/b as `roles()` reports them, for the current act/sby. */
function pair(): string {
  return act === nodes.a ? 'active/standby' : 'standby/active';
}
