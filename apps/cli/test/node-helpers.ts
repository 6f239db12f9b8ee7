/**
 * Test nodes: a node root in a temp dir, an apps dir whose daemons are the dummy of
 * fixtures/dummy-daemon.mjs, a node overlay putting every port that will really be
 * bound on a free port (never the defaults), and the commands run either in-process
 * (`cmd`) or as the real executables (`exe`). `cleanup()` stops the node's pm2 (by its
 * home) and removes the dir.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '@ngcp/testkit';
import { main as down } from '../src/commands/ngcp-down.js';
import { main as service } from '../src/commands/ngcp-service.js';
import { main as status } from '../src/commands/ngcp-status.js';
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

const COMMANDS = { ngcpcfg, 'ngcp-service': service, 'ngcp-status': status, 'ngcp-up': up, 'ngcp-down': down, 'ngcp-check-active': checkActive } as const;
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
  /** PIDs by process name from pm2. */
  pids(): Promise<Record<string, number>>;
  pm2: Pm2;
  cleanup(): Promise<void>;
}

export interface NodeOptions {
  node?: string;
  dummies?: string[];
  /** Extra YAML appended to the node overlay. */
  overlay?: (ports: Record<string, number>) => string;
  /** Which infrastructure runs (default: only redis). */
  infra?: { mariadb?: boolean; redis?: boolean; rtpengine?: boolean };
  dir?: string;
  init?: boolean;
}

export async function makeNode(opts: NodeOptions = {}): Promise<TestNode> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ngcp-cli-test-'));
  const node = opts.node ?? 'self';
  const root = join(dir, node);
  const apps = join(dir, 'apps');
  for (const d of opts.dummies ?? ['lb', 'proxy']) {
    mkdirSync(join(apps, d, 'dist'), { recursive: true });
    writeFileSync(join(apps, d, 'dist/main.js'), `import ${JSON.stringify(DUMMY)};\n`);
  }
  mkdirSync(apps, { recursive: true });
  const env: NodeJS.ProcessEnv = { ...process.env, NGCP_APPS_DIR: apps };
  delete env.NGCP_ROOT;
  delete env.NGCP_NODE;
  const ports: Record<string, number> = {};
  for (const k of ['lb_control', 'proxy_control', 'redis', 'database', 'ng', 'api', 'hb_control']) ports[k] = await freePort({ tcp: true, udp: true, host: '127.0.0.2' });
  const infra = { mariadb: false, redis: true, rtpengine: false, ...opts.infra };
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
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.init !== false) {
    const r = await t.cmd('ngcpcfg', ['init', '--node', node]);
    if (r.code !== 0) throw new Error(`init failed: ${r.err}`);
    writeOverlay(t, node, infra, opts.overlay);
    const a = await t.cmd('ngcpcfg', ['apply', 'test ports and services']);
    if (a.code !== 0) throw new Error(`apply failed: ${a.out}${a.err}`);
  }
  return t;
}

export function writeOverlay(t: TestNode, node: string, infra: { mariadb?: boolean; redis?: boolean; rtpengine?: boolean }, extra?: (p: Record<string, number>) => string): void {
  const p = t.ports;
  writeFileSync(
    join(t.configDir, `config.node.${node}.yml`),
    [
      '# test node: every bound port is a free one',
      `lb: { control_port: ${p.lb_control} }`,
      `proxy: { control_port: ${p.proxy_control} }`,
      `heartbeat: { control_port: ${p.hb_control} }`,
      `api: { port: ${p.api} }`,
      `redis: { enable: ${infra.redis === true}, port: ${p.redis} }`,
      `database: { enable: ${infra.mariadb === true}, port: ${p.database}, buffer_pool_size: 32M }`,
      `rtpproxy: { enable: ${infra.rtpengine === true}, ng_port: ${p.ng}, minport: 41000, maxport: 41099 }`,
      'supervision: { health_timeout_ms: 5000, restart_delay_ms: 0 }',
      extra?.(p) ?? '',
    ].join('\n'),
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
