/**
 * Test nodes: a node root in a temp dir, an apps dir whose daemons are the dummy of
 * fixtures/dummy-daemon.mjs (or, with `realApps`, the checkout's built daemons), a node
 * overlay putting every port that could be bound on a free port (never the defaults),
 * and the commands run either in-process (`cmd`) or as the real executables (`exe`).
 * `cleanup()` stops the node's pm2 (by its home) and removes the dir.
 *
 * Shared: the cli's tests import this file directly, the e2e suite (test/e2e) through
 * the package's `@ngcp/cli/testing` export.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { allocatePortRange, freeConsecutivePorts, freePort, releasePort } from '@ngcp/testkit';
import { main as down } from '../src/commands/ngcp-down.js';
import { main as service } from '../src/commands/ngcp-service.js';
import { main as status } from '../src/commands/ngcp-status.js';
import { main as makeRole } from '../src/commands/ngcp-make-role.js';
import { main as motd } from '../src/commands/ngcp-motd.js';
import { main as up } from '../src/commands/ngcp-up.js';
import { main as checkActive } from '../src/commands/ngcp-check-active.js';
import { main as ngcpcfg } from '../src/commands/ngcpcfg.js';
import type { Io } from '../src/commands/lib/io.js';
import { alive, Pm2 } from '../src/commands/lib/pm2.js';

export const CHECKOUT = join(import.meta.dirname, '../../..');
export const DIST_BIN = join(CHECKOUT, 'apps/cli/dist/bin');
const DUMMY = join(import.meta.dirname, 'fixtures/dummy-daemon.mjs');
const execFileP = promisify(execFile);

export interface Result {
  code: number;
  out: string;
  err: string;
}

const COMMANDS = { ngcpcfg, 'ngcp-service': service, 'ngcp-status': status, 'ngcp-up': up, 'ngcp-down': down, 'ngcp-check-active': checkActive,
  'ngcp-make-active': (argv: string[], io: Io, env?: NodeJS.ProcessEnv) => makeRole('active', argv, io, env),
  'ngcp-make-standby': (argv: string[], io: Io, env?: NodeJS.ProcessEnv) => makeRole('standby', argv, io, env),
  'ngcp-motd': motd,
} as const;
export type Command = keyof typeof COMMANDS;

export interface TestNode {
  dir: string;
  root: string;
  configDir: string;
  env: NodeJS.ProcessEnv;
  ports: Record<string, number>;
  /** In-process. */
  cmd(c: Command, args: string[]): Promise<Result>;
  /** The real executable (apps/cli/dist/bin). */
  exe(c: Command, args: string[]): Promise<Result>;
  read(rel: string): string;
  /** The rtpengine media port range of this node. */
  rtpRange: { min: number; max: number };
  /** PIDs by process name from pm2. */
  pids(): Promise<Record<string, number>>;
  pm2: Pm2;
  cleanup(): Promise<void>;
}

export interface NodeOptions {
  node?: string;
  /** Dummy daemons in a private apps dir (default lb and proxy); ignored with `realApps`. */
  dummies?: string[];
  /** Run the checkout's built daemons (apps/<name>/dist/main.js, as `./ngcp up` does). */
  realApps?: boolean;
  /** Also put the SIP listeners (lb public/TLS/internal, proxy, sbc, appserver) on free
   *  ports: needed when real daemons run (default: with `realApps`). */
  sipPorts?: boolean;
  /** Extra YAML appended to the node overlay. */
  overlay?: (ports: Record<string, number>) => string;
  /** Keys merged into the overlay's sections (e.g. `{ lb: { tls_enable: true } }`). */
  sections?: OverlaySections;
  /** Which infrastructure runs (default: only redis). */
  infra?: { mariadb?: boolean; redis?: boolean; rtpengine?: boolean };
  dir?: string;
  init?: boolean;
}

export async function makeNode(opts: NodeOptions = {}): Promise<TestNode> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ngcp-cli-test-'));
  const node = opts.node ?? 'self';
  const root = join(dir, node);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NGCP_ROOT;
  delete env.NGCP_NODE;
  delete env.NGCP_APPS_DIR;
  if (!opts.realApps) {
    const apps = join(dir, 'apps');
    for (const d of opts.dummies ?? ['lb', 'proxy']) {
      mkdirSync(join(apps, d, 'dist'), { recursive: true });
      writeFileSync(join(apps, d, 'dist/main.js'), `import ${JSON.stringify(DUMMY)};\n`);
    }
    mkdirSync(apps, { recursive: true });
    env.NGCP_APPS_DIR = apps;
  }
  const ports: Record<string, number> = {};
  // internal (127.0.0.2): control endpoints, infrastructure, internal SIP
  for (const k of INTERNAL_PORTS) if (k !== 'proxy_sip') ports[k] = await freePort({ tcp: true, udp: true, host: '127.0.0.2' });
  // the proxy's workers listen on proxy_sip + i (PROXY_WORKERS of them): a block of ports
  ports.proxy_sip = await freeConsecutivePorts(PROXY_WORKERS, { tcp: true, udp: true, host: '127.0.0.2' });
  // public (127.0.0.1): the lb's SIP listeners and the API
  for (const k of PUBLIC_PORTS) ports[k] = await freePort({ tcp: true, udp: true, host: '127.0.0.1' });
  const infra = { mariadb: false, redis: true, rtpengine: false, ...opts.infra };
  // rtpengine's media ports (4 per call: RTP and RTCP each side). A node running calls gets 400:
  // a call that dies without BYE keeps its ports until rtpengine's own timeout (60 s without
  // media), and a suite that leaves 20 such calls, then forwards 20 calls at once, ran out of 100
  // (a production node has 10,000: rtpproxy.minport..maxport)
  const range = await allocatePortRange(infra.rtpengine ? 400 : 100, { udp: true, host: '127.0.0.1' });
  const rtpRange = { min: range.min, max: range.max };
  const io = (): { io: Io; result: () => Result } => {
    let out = '';
    let err = '';
    return { io: { out: (s) => (out += `${s}\n`), err: (s) => (err += `${s}\n`) }, result: () => ({ code: 0, out, err }) };
  };
  const t: TestNode = {
    dir,
    root,
    configDir: join(root, 'etc/ngcp-config'),
    env,
    ports,
    rtpRange,
    async cmd(c, args) {
      const { io: i, result } = io();
      const code = await COMMANDS[c](['--root', root, ...args], i, env);
      return { ...result(), code };
    },
    async exe(c, args) {
      try {
        const r = await execFileP(process.execPath, [join(DIST_BIN, `${c}.js`), '--root', root, ...args], { env, timeout: 170_000 });
        return { code: 0, out: r.stdout, err: r.stderr };
      } catch (e) {
        const x = e as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof x.code === 'number' ? x.code : 1, out: x.stdout ?? '', err: x.stderr ?? '' };
      }
    },
    read: (rel) => readFileSync(join(root, rel), 'utf8'),
    pm2: new Pm2(join(root, 'var/pm2'), join(root, 'var/run/pm2')),
    async pids() {
      return Object.fromEntries((await t.pm2.list()).filter((p) => p.status === 'online').map((p) => [p.name, p.pid]));
    },
    async cleanup() {
      if (existsSync(join(root, 'var/pm2'))) await t.pm2.kill().catch(() => undefined);
      if (!process.env.NGCP_TEST_KEEP_NODE) rmSync(dir, { recursive: true, force: true });
      range.release();
      for (let i = 0; i < PROXY_WORKERS; i++) releasePort(ports.proxy_sip! + i);
    },
  };
  if (opts.init !== false) {
    const r = await t.cmd('ngcpcfg', ['init', '--node', node]);
    if (r.code !== 0) throw new Error(`init failed: ${r.err}`);
    writeOverlay(t, node, infra, opts.overlay, opts.sections, opts.sipPorts ?? opts.realApps === true);
    const a = await t.cmd('ngcpcfg', ['apply', 'test ports and services']);
    if (a.code !== 0) throw new Error(`apply failed: ${a.out}${a.err}`);
  }
  return t;
}

/** Proxy worker processes of a test node with real SIP ports (proxy.workers; docs/workers.md). */
export const PROXY_WORKERS = 2;

/** Ports on the internal address (127.0.0.2). */
export const INTERNAL_PORTS = [
  'lb_control', 'proxy_control', 'mediactl_control', 'sbc_control', 'appserver_control', 'mediator_control', 'hb_control',
  'redis', 'database', 'ng', 'lb_internal', 'proxy_sip', 'sbc_sip', 'appserver_sip',
] as const;
/** Ports on the public address (127.0.0.1). */
export const PUBLIC_PORTS = ['sip', 'tls', 'api'] as const;

/** Per section, keys and values; a value that is an object or array is written as JSON (YAML flow style), e.g. `security: { ipban: {…} }`. */
export type OverlaySections = Record<string, Record<string, unknown>>;

export function writeOverlay(t: TestNode, node: string, infra: { mariadb?: boolean; redis?: boolean; rtpengine?: boolean }, extra?: (p: Record<string, number>) => string, more: OverlaySections = {}, sipPorts = false): void {
  const p = t.ports;
  const sip = (m: Record<string, number>): Record<string, number> => (sipPorts ? m : {});
  const sections: OverlaySections = {
    lb: { ...sip({ sip_port: p.sip!, tls_port: p.tls!, internal_port: p.lb_internal! }), control_port: p.lb_control! },
    proxy: { ...sip({ port: p.proxy_sip!, workers: PROXY_WORKERS }), control_port: p.proxy_control! },
    mediactl: { control_port: p.mediactl_control! },
    sbc: { ...sip({ port: p.sbc_sip! }), control_port: p.sbc_control! },
    appserver: { ...sip({ port: p.appserver_sip! }), control_port: p.appserver_control! },
    mediator: { control_port: p.mediator_control! },
    heartbeat: { control_port: p.hb_control! },
    api: { port: p.api! },
    redis: { enable: infra.redis === true, port: p.redis! },
    database: { enable: infra.mariadb === true, port: p.database!, buffer_pool_size: '32M' },
    rtpproxy: { enable: infra.rtpengine === true, ng_port: p.ng!, minport: t.rtpRange.min, maxport: t.rtpRange.max },
    supervision: { health_timeout_ms: 5000, restart_delay_ms: 0 },
  };
  for (const [k, v] of Object.entries(more)) sections[k] = { ...sections[k], ...v };
  const flow = (m: Record<string, unknown>): string => `{ ${Object.entries(m).map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join(', ')} }`;
  writeFileSync(
    join(t.configDir, `config.node.${node}.yml`),
    ['# test node: every port that could be bound is a free one', ...Object.entries(sections).map(([k, m]) => `${k}: ${flow(m)}`), extra?.(p) ?? ''].join('\n'),
  );
}

/** Polls until fn returns a value (not undefined) or the timeout. */
export async function until<T>(fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) return undefined;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** JSON-RPC `health` of a dummy daemon: its PID, or undefined if it does not answer. */
export async function dummyPid(port: number): Promise<number | undefined> {
  try {
    const r = await fetch(`http://127.0.0.2:${port}/`, { method: 'POST', body: '{"jsonrpc":"2.0","id":1,"method":"health"}', signal: AbortSignal.timeout(300) });
    const j = (await r.json()) as { result?: { pid?: number } };
    return j.result?.pid;
  } catch {
    return undefined;
  }
}

/** Running (a zombie counts as gone). */
export const pidAlive = alive;
