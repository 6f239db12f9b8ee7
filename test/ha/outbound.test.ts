/**
 * TCP clients at a failover (issue #9: "TCP/TLS clients lose their connection when the IP
 * moves: report how long until such a client is reachable again, and make it short (RFC
 * 5626 keep-alives, Flow-Timer)"). In the lab (root only): an RFC 5626 UA over TCP
 * (outbound-client.ts, in the `client` namespace) registers at the shared IP and gets
 * `Require: outbound` and `Flow-Timer`; the active node is killed (SIGKILL of every process
 * in its namespace, its bridge link down first so that nothing of it reaches the UA, as
 * with a machine that died); the UA's next keep-alive meets the new node's reset, it registers
 * again over a new connection, and a call to it through the new active node reaches it.
 * The time from the kill to the new registration is printed and bounded by Flow-Timer
 * plus a margin (docs/ha.md "TCP and TLS clients at a failover").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipp } from '../e2e/sipp.js';
import { acquireLabLock, apiCurl, cli, labSkipReason, presentNamespaces, recordedLabDir, run, TEST_DIR_PREFIX } from './lab.js';

const skip = labSkipReason();
const SHARED = '10.77.0.10';
const CLIENT = '10.77.0.100';
const DOMAIN = 'ob.test';
const USERS = { alice: 'alice-ob-secret-1', bob: 'bob-ob-secret-1' } as const;
const FLOW_TIMER_S = 15; // proxy.flow_timer as shipped
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface UaEvent {
  ev: string;
  t: number;
  status?: number;
  flow_timer?: number;
  require?: string | null;
  msg?: string;
}

describe.skipIf(skip !== undefined)(`TCP client with outbound keep-alives across a failover${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let release: (() => void) | undefined;
  let dir = '';
  let api: { user: string; pass: string };
  let ua: ChildProcess | undefined;
  const events: UaEvent[] = [];
  let uaOut = '';

  beforeAll(async () => {
    release = await acquireLabLock();
    if (recordedLabDir()?.includes(TEST_DIR_PREFIX) || presentNamespaces().length) await cli('ngcp-lab', ['down', '--purge'], { limitMs: 120_000 });
    dir = mkdtempSync(join(tmpdir(), TEST_DIR_PREFIX));
    const r = await cli('ngcp-lab', ['up', '--dir', dir], { limitMs: 240_000 });
    if (r.code !== 0) throw new Error(`lab up failed: ${r.out.slice(-3000)}\n${r.err}`);
    const env = readFileSync(join(dir, 'sp1/var/api.env'), 'utf8');
    api = { user: /API_USER=(.*)/.exec(env)![1]!, pass: /API_PASS=(.*)/.exec(env)![1]! };
    expect((await apiCurl(api, SHARED, 'POST', '/api/domains', { domain: DOMAIN })).status).toBe(201);
    for (const [username, password] of Object.entries(USERS)) {
      const s = await apiCurl(api, SHARED, 'POST', '/api/subscribers', { domain: DOMAIN, username, password });
      expect(s.status, JSON.stringify(s.json)).toBe(201);
    }
  }, 400_000);

  afterAll(async () => {
    if (ua?.pid && ua.exitCode === null) ua.kill('SIGTERM');
    if (dir && (recordedLabDir() === dir || presentNamespaces().length)) await cli('ngcp-lab', ['down', '--purge'], { limitMs: 120_000 });
    if (dir) rmSync(dir, { recursive: true, force: true });
    release?.();
  }, 180_000);

  async function waitFor(pred: (e: UaEvent) => boolean, ms: number, what: string): Promise<UaEvent> {
    const until = Date.now() + ms;
    for (;;) {
      const e = events.find(pred);
      if (e) return e;
      if (Date.now() > until) throw new Error(`no ${what} within ${ms} ms; the UA said:\n${uaOut.slice(-3000)}`);
      await sleep(50);
    }
  }

  async function onlyActive(node: 'sp1' | 'sp2', ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const [a, b] = await Promise.all(['sp1', 'sp2'].map((n) => cli('ngcp-check-active', ['-q'], { ns: n, limitMs: 20_000 })));
      const codes = { sp1: a!.code, sp2: b!.code };
      if (codes[node] === 0 && codes[node === 'sp1' ? 'sp2' : 'sp1'] !== 0) return;
      if (Date.now() > until) throw new Error(`${node} not the only active node: ${JSON.stringify(codes)}`);
      await sleep(200);
    }
  }

  it('registers with Require: outbound and the Flow-Timer', async () => {
    await onlyActive('sp1', 30_000);
    const script = resolve(import.meta.dirname, 'outbound-client.ts');
    ua = spawn('ip', ['netns', 'exec', 'client', process.execPath, '--import', 'tsx', script,
      '--dest', `${SHARED}:5060`, '--user', 'bob', '--password', USERS.bob, '--domain', DOMAIN, '--contact-host', CLIENT, '--duration-ms', '150000'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(import.meta.dirname, '..') });
    ua.stdout!.on('data', (d: Buffer) => {
      uaOut += d.toString();
      for (const line of d.toString().split('\n')) {
        if (line.startsWith('{')) events.push(JSON.parse(line) as UaEvent);
      }
    });
    ua.stderr!.on('data', (d: Buffer) => (uaOut += d.toString()));
    const reg = await waitFor((e) => e.ev === 'registered', 30_000, 'registration');
    expect(reg.status, uaOut).toBe(200);
    expect(reg.require).toBe('outbound');
    expect(reg.flow_timer).toBe(FLOW_TIMER_S);
  }, 60_000);

  it('SIGKILL of the active node: the UA finds the lost connection by its keep-alive, registers again through sp2 within Flow-Timer, and a call reaches it', async () => {
    const pids = (await run('ip', ['netns', 'pids', 'sp1'])).out.split('\n').map(Number).filter((p) => p > 0);
    expect(pids.length).toBeGreaterThan(5);
    // a dead machine sends nothing: its link goes first, so the kernel of the killed node's
    // namespace (which lives on) cannot close the client's connection with a FIN for it
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth0', 'down']);
    const killedAt = Date.now();
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await onlyActive('sp2', 15_000);

    const closed = await waitFor((e) => e.ev === 'closed' && e.t >= killedAt, (FLOW_TIMER_S + 5) * 1000, 'connection loss');
    const again = await waitFor((e) => e.ev === 'registered' && e.t >= killedAt && e.status === 200, 10_000, 'registration through the new node');
    const reachableAfterMs = again.t - killedAt;
    console.log(`[outbound] kill → connection loss seen ${closed.t - killedAt} ms, → registered again ${reachableAfterMs} ms (Flow-Timer ${FLOW_TIMER_S} s)`);
    // the keep-alive comes within 80–100 % of Flow-Timer of the last one: at most Flow-Timer after the kill, plus one REGISTER
    expect(reachableAfterMs).toBeLessThan(FLOW_TIMER_S * 1000 + 3000);

    // reachable: alice's call through the new active node arrives at bob's new connection (he is busy)
    const invitesBefore = events.filter((e) => e.ev === 'invite').length;
    const call = await sipp({
      scenario: 'uac-call-busy-expect-486.xml', ns: 'client', localIp: CLIENT, remote: { address: SHARED, port: 5060 }, localPort: 5074, service: 'bob',
      auth: { user: 'alice', password: USERS.alice, uri: `bob@${DOMAIN}` }, keys: { user: 'alice', domain: DOMAIN, contact_host: CLIENT, rtp_port: 9 }, limitMs: 30_000,
    }).done;
    expect(call.code, call.report).toBe(0);
    expect(events.filter((e) => e.ev === 'invite').length).toBe(invitesBefore + 1);
  }, 90_000);
});
