/**
 * Worker processes (docs/workers.md): the daemon as pm2 runs it (from source here) with
 * `workers: 2` forks worker 1 on `udp_port + 1`. Both answer SIP; a binding written through
 * one worker routes a call set up through the other (the state is in Redis); the control
 * endpoint of worker 0 sums both workers' metrics; a SIGKILLed worker 1 is forked again; a
 * SIGKILLed worker 0 takes worker 1 with it (no orphan keeps the port); SIGTERM stops both;
 * hbd's `ha.role` at worker 0 reaches worker 1 (and a worker 1 forked again).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freeConsecutivePorts, freePort, releasePort } from '@ngcp/testkit';
import { provision, until, useHarness } from './harness.js';
import { Ua } from './ua.js';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');
const h = useHarness();
const dir = mkdtempSync(join(tmpdir(), 'proxy-workers-'));
const uas: Ua[] = [];
let child: ChildProcess | undefined;
let ports: number[] = [];

afterEach(async () => {
  for (const u of uas.splice(0)) await u.stop();
  if (child && child.exitCode === null && child.signalCode === null) {
    const c = child;
    await new Promise<void>((ok) => {
      c.once('exit', () => ok());
      c.kill('SIGKILL');
    });
  }
  child = undefined;
  for (const p of ports.splice(0)) releasePort(p);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Started { port: number; control: string; out: () => string }

async function startWorkers(extra: Record<string, unknown> = {}): Promise<Started> {
  const port = await freeConsecutivePorts(2, { udp: true, host: '127.0.0.1' });
  ports = [port, port + 1];
  const controlPort = await freePort();
  const config = { ...h().config, media: false, workers: 2, listen: { address: '127.0.0.1', udp_port: port }, control: { address: '127.0.0.1', port: controlPort }, log: { level: 'info' }, ...extra };
  const file = join(dir, `proxy-${port}.json`);
  writeFileSync(file, JSON.stringify(config));
  const p = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(import.meta.dirname, '..') });
  child = p;
  let out = '';
  p.stdout!.on('data', (d: Buffer) => void (out += d.toString()));
  p.stderr!.on('data', (d: Buffer) => void (out += d.toString()));
  const started = (w: number): boolean => out.split('\n').some((l) => l.includes('"msg":"proxy started"') && l.includes(`"worker":${w}`));
  await until(() => (p.exitCode !== null ? Promise.reject(new Error(`proxy exited: ${out}`)) : started(0) && started(1)), 'both workers started', 90_000);
  return { port, control: `http://127.0.0.1:${controlPort}/`, out: () => out };
}

async function rpc(url: string, method: string, params?: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  const j = (await r.json()) as { result?: Record<string, unknown>; error?: unknown };
  if (!j.result) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
  return j.result;
}

async function ua(user: string, domain: string, password: string, port: number): Promise<Ua> {
  const u = await new Ua(user, domain, password, { address: '127.0.0.1', port }).start();
  uas.push(u);
  return u;
}

const metricValue = (text: string, line: RegExp): number => Number(line.exec(text)?.[1] ?? NaN);
const workerPids = async (url: string): Promise<Array<number | null>> =>
  ((await rpc(url, 'stats')).workers as Array<{ pid: number | null }>).map((w) => w.pid);

describe('proxy workers', { timeout: 180_000 }, () => {
  it('two workers on port and port+1 share the state: register through one, call through the other; metrics summed', async () => {
    const w = await startWorkers();
    const domain = await provision(h(), [{ username: 'a', password: 'a-password' }, { username: 'b', password: 'b-password' }]);
    const a = await ua('a', domain, 'a-password', w.port + 1); // alice talks to worker 1
    const b = await ua('b', domain, 'b-password', w.port); // bob registers through worker 0
    expect((await a.register()).final.status).toBe(200);
    expect((await b.register()).final.status).toBe(200);
    // worker 0's control endpoint sees both bindings (Redis)
    const reg = (await rpc(w.control, 'location.lookup', { aor: `a@${domain}` })) as { bindings: Array<{ socket: string }> };
    expect(reg.bindings.map((x) => x.socket)).toEqual([`udp:127.0.0.1:${w.port + 1}`]);

    const calling = a.invite(`sip:b@${domain}`);
    const inc = await b.next('INVITE');
    // the Record-Route names the worker that handled the INVITE, so in-dialog requests return to it
    expect(inc.req.getAll('record-route').join(',')).toContain(`127.0.0.1:${w.port + 1};lr`);
    const dlg = b.answer(inc, 200)!;
    const res = await calling;
    expect(res.final.status).toBe(200);
    expect((await b.inDialog(dlg, 'BYE')).status).toBe(200);

    // /metrics of worker 0 = the sum over both: REGISTERs went to each worker, both counted
    const text = await (await fetch(`${w.control}metrics`)).text();
    expect(metricValue(text, /^sip_requests_total\{[^}]*method="REGISTER"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(4); // 2 challenges + 2 authenticated
    expect(metricValue(text, /^sip_requests_total\{[^}]*method="INVITE"[^}]*\} (\d+)/m)).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, /^registrations_active\{[^}]*\} (\d+)/m)).toBe(2); // not counted once per worker
    const health = await rpc(w.control, 'health');
    expect(health.workers).toEqual({ configured: 2, running: 2 });
  });

  it('a SIGKILLed worker 1 is forked again and answers; SIGKILL of worker 0 takes worker 1 with it', async () => {
    const w = await startWorkers();
    const domain = await provision(h(), [{ username: 'c', password: 'c-password' }]);
    const [pid1] = await workerPids(w.control);
    expect(pid1).toBeGreaterThan(0);
    process.kill(pid1!, 'SIGKILL');
    const pid1b = await until(async () => {
      const [p] = await workerPids(w.control);
      return p !== null && p !== pid1 ? p : undefined;
    }, 'worker 1 forked again', 60_000);
    const c = await ua('c', domain, 'c-password', w.port + 1);
    const reg = await until(async () => {
      const r = await c.register();
      return r.final.status === 200 ? r : undefined;
    }, 'REGISTER through the new worker 1', 60_000);
    expect(reg!.final.status).toBe(200);

    // worker 0 killed: worker 1 notices its IPC channel closing and exits
    const p = child!;
    await new Promise<void>((ok) => {
      p.once('exit', () => ok());
      p.kill('SIGKILL');
    });
    const gone = await until(() => {
      try {
        process.kill(pid1b!, 0);
        return undefined;
      } catch {
        return true;
      }
    }, 'worker 1 exited with worker 0', 10_000);
    expect(gone).toBe(true);
  });

  it('SIGTERM to worker 0 stops both workers cleanly', async () => {
    const w = await startWorkers();
    const [pid1] = await workerPids(w.control);
    const p = child!;
    const code = await new Promise<number | null>((ok) => {
      p.once('exit', (c) => ok(c));
      p.kill('SIGTERM');
    });
    expect(code, w.out()).toBe(0);
    expect(() => process.kill(pid1!, 0)).toThrow();
  });

  it("hbd's ha.role at worker 0 reaches worker 1 (acc_target summed over both), and a worker 1 forked again asks for it", async () => {
    // the peer's MariaDB: any address will do, nothing is written here
    const w = await startWorkers({ accounting: { peer_db: { host: h().config.db.host, port: h().config.db.port } } });
    const target = async (t: 'local' | 'peer'): Promise<number> =>
      metricValue(await (await fetch(`${w.control}metrics`)).text(), new RegExp(`^acc_target\\{target="${t}"[^}]*\\} (\\d+)`, 'm'));
    await until(async () => (await target('local')) === 2, 'both workers writing to their own node');
    expect(await rpc(w.control, 'ha.role', { role: 'standby', epoch: 2, node: 'sp1' })).toEqual({ role: 'standby', accounting: 'peer' });
    await until(async () => (await target('peer')) === 2, 'both workers writing to the peer');
    const [pid1] = await workerPids(w.control);
    process.kill(pid1!, 'SIGKILL');
    await until(async () => {
      const [p] = await workerPids(w.control);
      return p !== null && p !== pid1;
    }, 'worker 1 forked again', 60_000);
    await until(async () => (await target('peer')) === 2, 'the new worker 1 asked worker 0 for the role', 60_000);
    await rpc(w.control, 'ha.role', { role: 'active', epoch: 3, node: 'sp1' });
    await until(async () => (await target('local')) === 2, 'both workers back to local');
    await expect(rpc(w.control, 'ha.role', { role: 'primary' })).rejects.toThrow(/params\.role/);
  });
});
