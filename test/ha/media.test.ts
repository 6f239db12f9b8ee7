/**
 * RTP across a failover in the lab (root only; issue #9 "media … RTP continues", "RTP
 * resumes"): the pair up with hbd, alice calls bob through the shared IP (sipp in `client`,
 * the SDP of each side pointing at an RTP agent in `client`), RTP flows both ways through
 * sp1's rtpengine every 20 ms; sp2's rtpengine holds the call as a foreign one (learned from
 * its Redis replica's keyspace notifications). sp1 is killed (SIGKILL of every process in
 * its namespace): RTP resumes both ways through sp2, whose rtpengine now owns the call, the
 * gap is printed and bounded, and the call ends with BYE → 200 on both sides, after which
 * sp2's rtpengine holds no call. Before that, the same with a planned switchover
 * (`ngcp-make-standby` on sp1; then back). After it, sp1 returns as standby and hbd
 * reconciles its restarted rtpengine with the replica (the killed call it restored from its
 * own Redis is dropped). One lab at a time (test/ha/lab.ts).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { sipp } from '../e2e/sipp.js';
import { apiCurl, cli, freshLab, hbdStory, LAB_SETUP_TIMEOUT_MS, labSkipReason, presentNamespaces, recordedLabDir, run } from './lab.js';
import { RtpAgent, rtpFlowing, rtpGap } from './rtp-flow.js';

const skip = labSkipReason();
const SHARED = '10.77.0.10';
const CLIENT = '10.77.0.100';
const DOMAIN = 'media.test';
const USERS = { alice: 'alice-media-secret-1', bob: 'bob-media-secret-1' } as const;
/** Generous: the benchmark measures the gap precisely; this only catches media that does not come back in time. */
const GAP_BOUND_MS = 3000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `list numsessions` on a node's rtpengine CLI (rtpproxy.cli_port on the internal address). */
async function rtpengineSessions(node: 'sp1' | 'sp2'): Promise<{ own: number; foreign: number } | null> {
  const r = await run('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.2/9900 && echo "list numsessions" >&3 && timeout 3 cat <&3'], { ns: node, limitMs: 10_000 });
  const own = /sessions own: (\d+)/.exec(r.out)?.[1];
  const foreign = /sessions foreign: (\d+)/.exec(r.out)?.[1];
  return own === undefined || foreign === undefined ? null : { own: Number(own), foreign: Number(foreign) };
}

describe.skipIf(skip !== undefined)(`media across a failover in the lab${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let release: (() => void) | undefined;
  let dir = '';
  let api: { user: string; pass: string };
  const agents: RtpAgent[] = [];

  beforeAll(async () => {
    ({ release, dir, api } = await freshLab({ sharedIp: SHARED, domain: DOMAIN, users: USERS }));
  }, LAB_SETUP_TIMEOUT_MS);

  afterEach((ctx) => {
    if (ctx.task.result?.state === 'fail' && dir) console.log(`hbd on both nodes after the failed test "${ctx.task.name}":\n${hbdStory(dir)}`);
  });

  afterAll(async () => {
    for (const a of agents) a.kill();
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth0', 'up']).catch(() => undefined);
    if (dir && (recordedLabDir() === dir || presentNamespaces().length)) await cli('ngcp-lab', ['down', '--purge'], { limitMs: 120_000 });
    if (dir) rmSync(dir, { recursive: true, force: true });
    release?.();
  }, 180_000);

  async function waitRoles(active: 'sp1' | 'sp2', ms: number): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      const [a, b] = await Promise.all(['sp1', 'sp2'].map((n) => cli('ngcp-check-active', ['-q'], { ns: n, limitMs: 20_000 })));
      const r = { sp1: a!.code, sp2: b!.code };
      if (r[active] === 0 && r[active === 'sp1' ? 'sp2' : 'sp1'] === 1) return;
      if (Date.now() > until) throw new Error(`want ${active} active, the other standby: ${JSON.stringify(r)}`);
      await sleep(200);
    }
  }

  /**
   * bob registered at `bobPort`, alice calls him (talking `pauseMs`), each SDP pointing at an
   * RTP agent; RTP flowing both ways through `active`'s rtpengine, the standby's holding the
   * call as foreign.
   */
  async function callWithRtp(active: 'sp1' | 'sp2', bobPort: number, alicePort: number, pauseMs: number) {
    const standbyNode = active === 'sp1' ? 'sp2' : 'sp1';
    const alice = await RtpAgent.start('client', CLIENT);
    const bob = await RtpAgent.start('client', CLIENT);
    agents.push(alice, bob);
    const reg = await sipp({
      scenario: 'uac-register-expect-200.xml', ns: 'client', localIp: CLIENT, remote: { address: SHARED, port: 5060 }, localPort: bobPort,
      auth: { user: 'bob', password: USERS.bob, uri: DOMAIN }, keys: { user: 'bob', domain: DOMAIN, contact_host: CLIENT, expires: 300 }, limitMs: 20_000,
    }).done;
    expect(reg.code, reg.report).toBe(0);
    const uas = sipp({ scenario: 'uas-answer-expect-bye.xml', ns: 'client', localIp: CLIENT, localPort: bobPort, keys: { user: 'bob', domain: DOMAIN, contact_host: CLIENT, rtp_port: bob.port }, limitMs: 90_000 });
    await sleep(300);
    const uac = sipp({
      scenario: 'uac-call-expect-200.xml', ns: 'client', localIp: CLIENT, remote: { address: SHARED, port: 5060 }, localPort: alicePort, service: 'bob',
      auth: { user: 'alice', password: USERS.alice, uri: `bob@${DOMAIN}` }, keys: { user: 'alice', domain: DOMAIN, contact_host: CLIENT, rtp_port: alice.port },
      pauseMs, limitMs: 90_000,
    });
    // the media address and port rtpengine put in the SDP each side received
    const sdp = async (r: typeof uac): Promise<{ address: string; port: number }> => ({
      address: (await r.logged('CONN', 30_000)).split(' ').at(-1)!,
      port: Number((await r.logged('RTP', 30_000)).split(' ').at(-1)),
    });
    const [toAlice, toBob] = await Promise.all([sdp(uac), sdp(uas)]);
    expect(toAlice.address).toBe(SHARED);
    expect(toBob.address).toBe(SHARED);
    alice.sendTo(toAlice.address, toAlice.port);
    bob.sendTo(toBob.address, toBob.port);
    await rtpFlowing({ alice, bob }, 25, 10_000);

    // the standby's rtpengine learned the call from its Redis replica: a foreign session, not its own
    let standby: Awaited<ReturnType<typeof rtpengineSessions>> = null;
    for (let i = 0; i < 50 && !(standby && standby.foreign >= 1); i++) {
      standby = await rtpengineSessions(standbyNode);
      await sleep(100);
    }
    expect(standby).toEqual({ own: 0, foreign: 1 });
    expect(await rtpengineSessions(active)).toMatchObject({ own: 1 });
    return { alice, bob, uac, uas, toAlice, toBob };
  }

  /**
   * Stops both agents; each direction's gap around `faultAt`, printed, bounded, RTP from the
   * shared IP. `timed`: fault → resume bounded too (not for a switchover started by a CLI,
   * whose own start-up lies between `faultAt` and the switch).
   */
  async function assertResumed(what: string, c: Awaited<ReturnType<typeof callWithRtp>>, faultAt: number, timed = true): Promise<void> {
    const stoppedAt = Date.now();
    const [ra, rb] = await Promise.all([c.alice.stop(), c.bob.stop()]);
    const gaps = { towardsAlice: rtpGap(ra.arrivals, faultAt, stoppedAt), towardsBob: rtpGap(rb.arrivals, faultAt, stoppedAt) };
    console.log(`RTP at ${what} (a packet every 20 ms each way): ${JSON.stringify(gaps)}`);
    for (const g of Object.values(gaps)) {
      expect(g.before).toBeGreaterThanOrEqual(25);
      expect(g.resumed).toBe(true);
      expect(g.after).toBeGreaterThanOrEqual(50); // RTP flows on (3 s at 50 packets/s), not one stray packet
      if (timed) expect(g.resumeMs!).toBeLessThan(GAP_BOUND_MS);
      expect(g.gapMs).toBeLessThan(GAP_BOUND_MS);
    }
    expect(ra.sources).toEqual([`${SHARED}:${c.toAlice.port}`]);
    expect(rb.sources).toEqual([`${SHARED}:${c.toBob.port}`]);
  }

  /** The call ends with BYE → 200 on both sides and `node`'s rtpengine lets it go. */
  async function assertEnded(c: Awaited<ReturnType<typeof callWithRtp>>, node: 'sp1' | 'sp2'): Promise<void> {
    const [a, b] = await Promise.all([c.uac.done, c.uas.done]);
    expect(a.code, a.report).toBe(0);
    expect(b.code, b.report).toBe(0);
    let after = await rtpengineSessions(node);
    for (let i = 0; i < 50 && after?.own !== 0; i++) {
      await sleep(100);
      after = await rtpengineSessions(node);
    }
    expect(after).toEqual({ own: 0, foreign: 0 });
  }

  it('ngcp-make-standby on the active node with RTP flowing both ways: RTP goes on through the other node, the call ends cleanly there and leaves neither rtpengine', async () => {
    await waitRoles('sp1', 20_000);
    const c = await callWithRtp('sp1', 5094, 5096, 12_000);
    const faultAt = Date.now();
    const sw = await cli('ngcp-make-standby', [], { ns: 'sp1', limitMs: 60_000 });
    expect(sw.code, sw.out + sw.err).toBe(0);
    await waitRoles('sp2', 10_000);
    await sleep(3000);
    await assertResumed('a planned switchover (make_standby)', c, faultAt, false);
    // hbd's media steps: sp2 owns the call, sp1 holds it as foreign again
    expect(await rtpengineSessions('sp2')).toEqual({ own: 1, foreign: 0 });
    expect(await rtpengineSessions('sp1')).toEqual({ own: 0, foreign: 1 });
    await assertEnded(c, 'sp2');
    // the delete on sp2 reached sp1's rtpengine as a keyspace event
    let old = await rtpengineSessions('sp1');
    for (let i = 0; i < 50 && old?.foreign !== 0; i++) {
      await sleep(100);
      old = await rtpengineSessions('sp1');
    }
    expect(old).toEqual({ own: 0, foreign: 0 });
    // back to sp1 for the next case (a new call's INVITE is answered by sp1, where the domain was provisioned)
    const back = await cli('ngcp-make-standby', [], { ns: 'sp2', limitMs: 60_000 });
    expect(back.code, back.out + back.err).toBe(0);
    await waitRoles('sp1', 10_000);
  }, 240_000);

  it('SIGKILL of the active node with RTP flowing both ways: RTP resumes both ways through the new active node, the call ends cleanly', async () => {
    await waitRoles('sp1', 20_000);
    const c = await callWithRtp('sp1', 5090, 5092, 15_000);

    const faultAt = Date.now();
    const pids = (await run('ip', ['netns', 'pids', 'sp1'])).out.split('\n').map(Number).filter((p) => p > 0);
    expect(pids.length).toBeGreaterThan(5);
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    // the dead node's namespace keeps its address (a dead kernel would not answer): its link goes down
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth0', 'down']);
    for (let i = 0; ; i++) {
      if ((await cli('ngcp-check-active', ['-q'], { ns: 'sp2', limitMs: 20_000 })).code === 0) break;
      if (i > 100) throw new Error('sp2 did not become active');
      await sleep(100);
    }
    await sleep(3000);
    await assertResumed('failover (SIGKILL of the active node)', c, faultAt);
    // hbd's media step: the new active node's rtpengine owns the call now
    expect(await rtpengineSessions('sp2')).toEqual({ own: 1, foreign: 0 });
    // the call ends through the new active node; its rtpengine lets the call go
    await assertEnded(c, 'sp2');
  }, 240_000);

  it("the killed node comes back as standby: hbd reconciles its restarted rtpengine with the replica (no call left from before the kill)", async () => {
    const log = join(dir, 'sp1/var/log/hbd.log');
    const before = readFileSync(log, 'utf8').split('\n').length;
    await run('ip', ['-n', 'sp1', 'link', 'set', 'eth0', 'up']);
    const r = await cli('ngcp-lab', ['up', '--dir', dir], { limitMs: 240_000 });
    expect(r.code, r.out.slice(-3000) + r.err).toBe(0);
    await waitRoles('sp2', 20_000);
    // its rtpengine restored calls from its own Redis as it was at the kill; hbd's media step,
    // once that Redis follows sp2's, drops what sp2 no longer has (and adds what it lacks)
    let line: string | undefined;
    for (let i = 0; i < 150 && !line; i++) {
      line = readFileSync(log, 'utf8').split('\n').slice(before - 1).find((l) => l.includes("rtpengine's calls reconciled with the replica"));
      if (!line) await sleep(200);
    }
    console.log(`sp1 after its return: ${line ?? 'no reconciliation logged'}`);
    expect(line).toBeDefined();
    expect(await rtpengineSessions('sp1')).toEqual({ own: 0, foreign: 0 });
  }, 300_000);
});
