/** runDaemon as a real process: the fake daemon of fixtures/ under its own node, talked to over RPC and signals. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RPC_ERRORS, RpcClient, RpcError } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ngcp-daemon-run-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Proc {
  child: ChildProcess;
  output: () => string;
  lines: () => Record<string, unknown>[];
  exited: Promise<number | null>;
}

const started: Proc[] = [];
afterEach(() => {
  for (const p of started.splice(0)) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
});

function run(configLines: string[] | null, env: Record<string, string> = {}): Proc {
  const args = ['--conditions=source', '--import', 'tsx', join(here, 'fixtures/fake-daemon.ts'), '--run'];
  if (configLines) {
    const p = join(dir, `fake-${started.length}-${Date.now()}.yml`);
    writeFileSync(p, `${configLines.join('\n')}\n`);
    args.push('--config', p);
  }
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], cwd: join(here, '..') });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const proc: Proc = {
    child,
    output: () => out,
    lines: () =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    exited,
  };
  started.push(proc);
  return proc;
}

/** Waits (generously: the machine is shared) for a log line with this msg. */
async function line(p: Proc, msg: string, timeoutMs = 45_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = p.lines().find((x) => x.msg === msg);
    if (l) return l;
    if (p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode} before "${msg}":\n${p.output()}`);
    if (Date.now() > deadline) throw new Error(`no "${msg}" within ${timeoutMs} ms:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const CONFIG = ['control:', '  address: 127.0.0.1', '  port: 0', 'redis:', '  password: "pw-never-logged"', 'fake:', '  label: child', '  drain_ms: 300'];

describe('runDaemon', () => {
  it('serves health, stats, reload, methods and its own methods over RPC; SIGTERM drains and exits 0', async () => {
    const p = run(CONFIG);
    const ready = await line(p, 'daemon ready');
    const url = ready.control as string;
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const c = new RpcClient(url);
    try {
      expect(await c.call('health')).toEqual({ ok: true, label: 'child' });
      expect(await c.call('methods')).toEqual(['fake.crash', 'fake.metric', 'fake.sick', 'health', 'methods', 'reload', 'stats']);
      expect(await c.call('reload')).toEqual({ reloaded: true });
      expect(await c.call('stats')).toMatchObject({ daemon: 'fake', pid: p.child.pid, reloads: 1 });
      p.child.kill('SIGHUP');
      await line(p, 'reloaded'); // the RPC reload logged one already; wait for the second
      for (let i = 0; i < 200 && ((await c.call<{ reloads: number }>('stats')).reloads < 2); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await c.call('stats')).toMatchObject({ reloads: 2 });
      expect(await c.call<number>('fake.metric')).toBeGreaterThan(5);

      // metrics: default process metrics, plain names, labelled with the daemon
      const text = await fetch(`${url}metrics`).then((r) => r.text());
      expect(text).toMatch(/^process_cpu_user_seconds_total\{daemon="fake"\} /m);
      expect(text).toMatch(/^rpc_requests_total\{method="health",outcome="ok",daemon="fake"\} 1$/m);
      expect(text).not.toMatch(/ngcp_fake_/);

      // unhealthy → UNAVAILABLE with the report as data
      await c.call('fake.sick');
      const e = await c.call('health').catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RpcError);
      expect(e).toMatchObject({ code: RPC_ERRORS.UNAVAILABLE, message: 'fake is unhealthy', data: { ok: false, reason: 'told to be sick' } });
    } finally {
      c.close();
    }
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
    const msgs = p.lines().map((l) => l.msg);
    expect(msgs.slice(msgs.indexOf('stopping'))).toEqual(['stopping', 'fake draining', 'fake drained', 'stopped']);
    expect(p.output()).not.toContain('pw-never-logged');
    expect(JSON.stringify(p.lines().find((l) => l.msg === 'fake started'))).toContain('"password":"[redacted]"');
  }, 90_000);

  it('refuses a bad config with exit code 78, naming file:line: key: problem', async () => {
    const p = run(['control:', '  address: 127.0.0.1', '  port: 70000', 'fake:', '  colour: blue']);
    expect(await p.exited).toBe(78);
    const refused = p.lines().find((l) => l.msg === 'config refused');
    const file = (p.child.spawnargs.at(-1) as string);
    expect(refused).toMatchObject({ level: 60, code: 'DAEMON_CONFIG_INVALID', issues: [`${file}:3: control.port: must be <= 65535 (got 70000)`, `${file}:5: fake.colour: unknown key`] });
    expect(p.output()).toContain(`ngcp-fake: the configuration is invalid:\n  ${file}:3: control.port: must be <= 65535 (got 70000)`);
    expect(p.output()).not.toContain('daemon ready');
  }, 60_000);

  it('refuses to start without a config file (exit 78 naming the variable)', async () => {
    const p = run(null, { NGCP_FAKE_CONFIG: '' });
    expect(await p.exited).toBe(78);
    expect(p.output()).toContain('set NGCP_FAKE_CONFIG or pass --config FILE');
  }, 60_000);

  it('reads NGCP_<NAME>_CONFIG, and exits 1 after logging an uncaught exception', async () => {
    const cfg = join(dir, 'env.yml');
    writeFileSync(cfg, CONFIG.join('\n'));
    const p = run(null, { NGCP_FAKE_CONFIG: cfg });
    const c = new RpcClient((await line(p, 'daemon ready')).control as string);
    try {
      await c.call('fake.crash');
    } finally {
      c.close();
    }
    expect(await p.exited).toBe(1);
    expect(p.lines().find((l) => l.msg === 'uncaught exception')).toMatchObject({ level: 60, err: { message: 'boom from fake.crash' } });
  }, 90_000);
});
