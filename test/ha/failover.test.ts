/**
 * Failover in the lab (root only; issue #9 "Failover tests"): the pair up with hbd on both
 * nodes, sipp in the `client` namespace registers bob and calls him from alice through the
 * shared IP; then, with the call established,
 *  - the active node is killed (SIGKILL of every process in its namespace): the standby is
 *    active once and only once, bob's registration is there, the call ends with BYE → 200 on
 *    both sides through the new active node, accounting has one start and one stop;
 *  - the killed node is brought back (`ngcp lab up`): it joins as standby and its stores
 *    follow the active one, no preemption;
 *  - the active node's bridge link goes down (its crosslink stays up): the other node takes
 *    over (it reaches more ping nodes) and a REGISTER at the shared IP is answered;
 *  - `ngcp-make-standby` on the active node with a call up: a planned switchover, the call
 *    ends cleanly through the other node;
 *  - the crosslink goes down alone: still exactly one active node.
 * One lab at a time (test/ha/lab.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipp, type SippRun } from '../e2e/sipp.js';
import { acquireLabLock, apiCurl, cli, labSkipReason, presentNamespaces, recordedLabDir, run, TEST_DIR_PREFIX } from './lab.js';

const skip = labSkipReason();
const SHARED = '10.77.0.10';
const CLIENT = '10.77.0.100';
const DOMAIN = 'fo.test';
const USERS = { alice: 'alice-fo-secret-1', bob: 'bob-fo-secret-1' } as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(skip !== undefined)(`failover in the lab${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let release: (() => void) | undefined;
  let dir = '';
  let api: { user: string; pass: string };

  beforeAll(async () => {
    release = await acquireLabLock();
    if (recordedLabDir()?.includes(TEST_DIR_PREFIX) || presentNamespaces().length) await cli('ngcp-lab', ['down', '--purge'], { limitMs: 120_000 });
    dir = mkdtempSync(join(tmpdir(), TEST_DIR_PREFIX));
    const r = await cli('ngcp-lab', ['up', '--dir', dir], { limitMs: 240_000 });
    if (r.code !== 0) throw new Error(`lab up failed: ${r.out.slice(-3000)}\n${r.err}`);
    const env = readFileSync(join(dir, 'sp1/var/api.env'), 'utf8');
    api = { user: /API_USER=(.*)/.exec(env)![1]!, pass: /API_PASS=(.*)/.exec(env)![1]! };
    expect((await curl(SHARED, 'POST', '/api/domains', { domain: DOMAIN })).status).toBe(201);
    for (const [username, password] of Object.entries(USERS)) {
      const s = await curl(SHARED, 'POST', '/api/subscribers', { domain: DOMAIN, username, password });
      expect(s.status, JSON.stringify(s.json)).toBe(201);
    }
  }, 400_000);

  afterAll(async () => {
    for (const n of ['sp1', 'sp2']) for (const dev of ['eth0', 'eth1']) await run('ip', ['-n', n, 'link', 'set', dev, 'up']).catch(() => undefined);
    if (dir && (recordedLabDir() === dir || presentNamespaces().length)) await cli('ngcp-lab', ['down', '--purge'], { limitMs: 120_000 });
    if (dir) rmSync(dir, { recursive: true, force: true });
    release?.();
  }, 180_000);

  const curl = (host: string, method: string, path: string, body?: unknown) => apiCurl(api, host, method, path, body);

  /** `ngcp-check-active` of each node: 0 active, 1 standby, 3 unknown. */
  async function roles(): Promise<Record<'sp1' | 'sp2', number | null>> {
    const [a, b] = await Promise.all(['sp1', 'sp2'].map((n) => cli('ngcp-check-active', ['-q'], { ns: n, limitMs: 20_000 })));
    return { sp1: a!.code, sp2: b!.code };
  }
  async function ipHolders(): Promise<string[]> {
    const out: string[] = [];
    for (const n of ['sp1', 'sp2']) {
      const r = await run('ip', ['-n', n, '-4', '-o', 'addr', 'show', 'dev', 'eth0']).catch(() => ({ out: '' }));
      if (r.out.includes(` ${SHARED}/`)) out.push(n);
    }
    return out;
  }
  async function waitActive(node: 'sp1' | 'sp2', ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const r = await roles();
      const other = node === 'sp1' ? 'sp2' : 'sp1';
      if (r[node] === 0 && r[other] !== 0) return;
      if (Date.now() > until) throw new Error(`${node} not the only active node: ${JSON.stringify(r)}`);
      await sleep(200);
    }
  }
  function register(user: keyof typeof USERS, port: number, expires = 300): SippRun {
    return sipp({
      scenario: 'uac-register-expect-200.xml', ns: 'client', localIp: CLIENT, remote: { address: SHARED, port: 5060 }, localPort: port,
      auth: { user, password: USERS[user], uri: DOMAIN }, keys: { user, domain: DOMAIN, contact_host: CLIENT, expires }, limitMs: 20_000,
    });
  }
  /** bob answers at `bobPort` (registered there), alice calls him and talks for `pauseMs`: both sipp runs and the Call-ID. */
  async function callUp(bobPort: number, alicePort: number, pauseMs: number): Promise<{ uac: SippRun; uas: SippRun; callId: string }> {
    const reg = await register('bob', bobPort).done;
    expect(reg.code, reg.report).toBe(0);
    const uas = sipp({ scenario: 'uas-answer-expect-bye.xml', ns: 'client', localIp: CLIENT, localPort: bobPort, keys: { user: 'bob', domain: DOMAIN, contact_host: CLIENT, rtp_port: 9 }, limitMs: 60_000 });
    await sleep(300);
    const uac = sipp({
      scenario: 'uac-call-expect-200.xml', ns: 'client', localIp: CLIENT, remote: { address: SHARED, port: 5060 }, localPort: alicePort, service: 'bob',
      auth: { user: 'alice', password: USERS.alice, uri: `bob@${DOMAIN}` }, keys: { user: 'alice', domain: DOMAIN, contact_host: CLIENT, rtp_port: 9 },
      pauseMs, limitMs: 60_000,
    });
    return { uac, uas, callId: (await uac.logged('CALL_ID', 20_000)).trim() };
  }
  async function accKinds(node: 'sp1' | 'sp2', callId: string): Promise<string[]> {
    const root = join(dir, node);
    const pw = /db_root_password: "?([^"\n]+)"?/.exec(readFileSync(join(root, 'etc/ngcp-config/constants.yml'), 'utf8'))![1]!;
    const r = await run('mariadb', ['-S', join(root, 'var/run/mysqld.sock'), '-uroot', `-p${pw}`, '-N', '-B', 'ngcp', '-e', `SELECT kind FROM acc WHERE callid = '${callId.replace(/'/g, '')}' ORDER BY kind`], { limitMs: 10_000 });
    return r.out.split('\n').map((x) => x.trim()).filter(Boolean);
  }

  it('the pair starts with exactly one active node holding the shared IP', async () => {
    await waitActive('sp1', 30_000);
    expect(await ipHolders()).toEqual(['sp1']);
  }, 60_000);

  it('SIGKILL of the active node with a call up: sp2 takes over once, the registration is there, the call ends with BYE → 200 on both sides, one acc start and one stop', async () => {
    const { uac, uas, callId } = await callUp(5080, 5072, 12_000);
    // the call is established (listed by the active node) and replicated to the standby
    let listed = '';
    for (let i = 0; i < 50 && !listed.includes(callId); i++) {
      listed = JSON.stringify((await curl('10.77.0.12', 'GET', '/api/calls')).json);
      await sleep(100);
    }
    expect(listed).toContain(callId);

    const pids = (await run('ip', ['netns', 'pids', 'sp1'])).out.split('\n').map(Number).filter((p) => p > 0);
    expect(pids.length).toBeGreaterThan(5);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    await waitActive('sp2', 15_000);
    expect((await roles()).sp2).toBe(0);
    // the dead node's namespace keeps its address (as a dead kernel would not answer, its link goes down)
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth0', 'down']);

    const [a, b] = await Promise.all([uac.done, uas.done]);
    expect(a.code, a.report).toBe(0);
    expect(b.code, b.report).toBe(0);
    const regs = JSON.stringify((await curl(SHARED, 'GET', '/api/registrations')).json);
    expect(regs).toContain(`bob@${DOMAIN}`);
    let kinds: string[] = [];
    for (let i = 0; i < 50 && kinds.length < 2; i++) {
      kinds = await accKinds('sp2', callId);
      await sleep(200);
    }
    expect(kinds).toEqual(['start', 'stop']);
  }, 180_000);

  it('the killed node comes back as standby and follows; the active node stays active (no preemption)', async () => {
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth0', 'up']);
    const r = await cli('ngcp-lab', ['up', '--dir', dir], { limitMs: 240_000 });
    expect(r.code, r.out.slice(-3000) + r.err).toBe(0);
    await sleep(1000);
    expect(await roles()).toEqual({ sp1: 1, sp2: 0 });
    expect(await ipHolders()).toEqual(['sp2']);
    let rep: Record<string, { redis: { role: string }; mariadb: { role: string } }> = {};
    for (let i = 0; i < 50; i++) {
      const x = await cli('ngcp-lab', ['replication', '--json']);
      rep = JSON.parse(x.out) as typeof rep;
      if (rep.sp1?.mariadb.role === 'follow' && rep.sp1?.redis.role === 'slave') break;
      await sleep(300);
    }
    expect(rep.sp1).toMatchObject({ redis: { role: 'slave' }, mariadb: { role: 'follow' } });
    expect(rep.sp2).toMatchObject({ redis: { role: 'master' }, mariadb: { role: 'lead' } });
    // bob's registration survived on the new standby too
    const regs = JSON.stringify((await curl('10.77.0.11', 'GET', '/api/registrations')).json);
    expect(regs).toContain(`bob@${DOMAIN}`);
  }, 300_000);

  it("the active node's bridge link down: the other node takes over and answers at the shared IP", async () => {
    await run('ip', ['-n', 'sp2', 'link', 'set', 'eth0', 'down']);
    try {
      await waitActive('sp1', 15_000);
      expect(await ipHolders()).toContain('sp1');
      const reg = await register('alice', 5074).done;
      expect(reg.code, reg.report).toBe(0);
    } finally {
      await run('ip', ['-n', 'sp2', 'link', 'set', 'eth0', 'up']);
    }
    await sleep(1500);
    // back together: still one active, the one that took over
    expect(await roles()).toEqual({ sp1: 0, sp2: 1 });
    expect(await ipHolders()).toEqual(['sp1']);
  }, 120_000);

  it('ngcp-make-standby on the active node with a call up: the other node takes over, the call ends with BYE → 200 on both sides, one acc start and one stop', async () => {
    const { uac, uas, callId } = await callUp(5082, 5076, 8000);
    await sleep(1500);
    const sw = await cli('ngcp-make-standby', [], { ns: 'sp1', limitMs: 60_000 });
    expect(sw.code, sw.out + sw.err).toBe(0);
    await waitActive('sp2', 10_000);
    expect(await ipHolders()).toEqual(['sp2']);
    const [a, b] = await Promise.all([uac.done, uas.done]);
    expect(a.code, a.report).toBe(0);
    expect(b.code, b.report).toBe(0);
    let kinds: string[] = [];
    for (let i = 0; i < 50 && kinds.length < 2; i++) {
      kinds = await accKinds('sp2', callId);
      await sleep(200);
    }
    expect(kinds).toEqual(['start', 'stop']);
  }, 120_000);

  it('the crosslink down alone changes nothing: still exactly one active node', async () => {
    const before = await roles();
    const active = before.sp1 === 0 ? 'sp1' : 'sp2';
    expect(before[active]).toBe(0);
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth1', 'down']);
    try {
      await sleep(2000);
      expect(await roles()).toEqual(before);
      expect(await ipHolders()).toEqual([active]);
    } finally {
      await run('ip', ['-n', 'sp1', 'link', 'set', 'eth1', 'up']);
    }
  }, 60_000);
});
