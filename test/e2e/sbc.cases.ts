/**
 * Calls through the B2BUA on a node with `proxy.sbc.enable: true` (docs/sbc.md; run by
 * sbc-bans.test.ts, before the ban cases that share the node):
 * lb → proxy (A leg, authenticated) → sbc → proxy (B leg, trusted: no second challenge)
 * → lb → callee. On the wire: the caller and the callee each see their own leg only (Call-ID,
 * tags), no internal X-NGCP- field; the B leg's SDP goes through mediactl; the call is
 * accounted once, under the caller's (A leg's) Call-ID — the one the caller's phone and the
 * CDR show — and nothing under the B leg's (the sbc's).
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '@ngcp/testkit';
import { until } from '@ngcp/cli/testing';
import { builtDaemon, daemonsBuilt, type E2eNode } from './node.js';
import { DOMAIN, type Sub, type SubName } from './provision.js';
import { expectOk, useProvisionedNode } from './harness.js';
import { peeringHelpers } from './peers.js';
import { bound, type SippRun } from './sipp.js';

const built = daemonsBuilt && builtDaemon('sbc');
let node: E2eNode;
let subs: Record<SubName, Sub>;

const { run, lb, closers } = useProvisionedNode((n, s) => {
  node = n;
  subs = s;
}, { when: built, sections: { proxy: { sbc: { enable: true } } } });
const { peeringGroup, peer, accRows } = peeringHelpers({ node: () => node, run, closers });

async function register(sub: Sub, port: number, expires = 300): Promise<void> {
  expectOk(await run({
    scenario: expires === 0 ? 'uac-unregister-expect-200.xml' : 'uac-register-expect-200.xml', remote: lb(), localPort: port,
    auth: { user: sub.user, password: sub.password, uri: DOMAIN }, keys: { user: sub.user, expires },
  }).done);
}

/** B registered on a fresh port running `scenario`, A calling B with `uacScenario`; both runs and their Call-IDs. */
async function callThroughSbc(uasScenario: string, uacScenario: string, o: { pauseMs?: number } = {}): Promise<{ uac: SippRun; uas: SippRun }> {
  const bPort = await freePort({ udp: true, tcp: true });
  await register(subs.bob, bPort);
  const uas = run({ scenario: uasScenario, localPort: bPort, keys: { user: subs.bob.user, rtp_port: 4002 }, ...(o.pauseMs !== undefined ? { pauseMs: o.pauseMs } : {}), limitMs: 90_000 });
  await bound(bPort);
  const aPort = await freePort({ udp: true, tcp: true });
  const uac = run({
    scenario: uacScenario, remote: lb(), localPort: aPort, service: 'bob',
    auth: { user: subs.alice.user, password: subs.alice.password, uri: `bob@${DOMAIN}` },
    keys: { user: subs.alice.user, rtp_port: 4000 }, ...(o.pauseMs !== undefined ? { pauseMs: o.pauseMs } : {}), limitMs: 90_000,
  });
  try {
    expectOk(await uac.done);
    expectOk(await uas.done);
  } finally {
    await register(subs.bob, bPort, 0).catch(() => undefined);
  }
  return { uac, uas };
}

/** The Call-IDs a sipp trace shows. */
const callIds = (trace: string): Set<string> => new Set([...trace.matchAll(/^Call-ID:\s*(\S+)/gim)].map((m) => m[1]!));

describe.runIf(built)('calls through the sbc (proxy.sbc.enable)', { timeout: 150_000 }, () => {
  it('A calls B: one 407 on the A leg only, two legs that share nothing, SDP through mediactl, accounted once', async () => {
    const { uac, uas } = await callThroughSbc('uas-answer-expect-bye.xml', 'uac-call-expect-200.xml', { pauseMs: 1000 });
    const aCallId = (await uac.logged('CALL_ID')).trim();
    const bCallId = (await uas.logged('CALL_ID')).trim();
    const a = (await uac.done).messages;
    const b = (await uas.done).messages;
    expect(bCallId).not.toBe(aCallId);
    expect(callIds(a)).toEqual(new Set([aCallId]));
    expect(callIds(b)).toEqual(new Set([bCallId]));
    expect(b).not.toContain(aCallId);
    expect(a).not.toContain(bCallId);
    // A's tag and Contact port stay on A's side, B's on B's
    const aTag = /SIPpTag00\d+/.exec(a)![0];
    const bTag = /SIPpTag01\d+/.exec(b)![0];
    expect(b).not.toContain(aTag);
    expect(a).not.toContain(bTag);
    expect(a + b).not.toMatch(/X-NGCP/i);
    // the B leg was not challenged again: the one 407 is A's
    expect([...a.matchAll(/^SIP\/2.0 407/gm)].length).toBeGreaterThanOrEqual(1);
    expect(b).not.toMatch(/^SIP\/2.0 407|^Proxy-Authenticate:/im); // (not any "407": the trace's timestamps and ports have digits)
    // media through mediactl on the B leg: the port B is offered is rtpengine's, not A's 4000
    expect(Number((await uas.logged('RTP')).split(' ').at(-1))).not.toBe(4000);
    expect(Number((await uac.logged('RTP')).split(' ').at(-1))).not.toBe(4002);
    // one call in the accounting: start + stop under the caller's (A leg's) Call-ID, nothing under the sbc's B leg's
    const kinds = await until(async () => {
      const k = await node.acc.kinds(aCallId);
      return k.length >= 2 ? k : undefined;
    }, 10_000, 200);
    expect(kinds).toEqual(['start', 'stop']);
    expect(await node.acc.byCallId(bCallId)).toEqual([]);
  });

  it('a call to an external number: A leg authenticated, the B leg goes out to the peer, accounted once with the peer', async () => {
    const p = await peer('127.0.0.61', 'uas-answer-expect-bye.xml');
    const [peerId] = await peeringGroup(1, '49', [{ address: '127.0.0.61', port: p.port }]);
    const aPort = await freePort({ udp: true, tcp: true });
    const uac = run({
      scenario: 'uac-call-expect-200.xml', remote: lb(), localPort: aPort, service: '4989000111',
      auth: { user: subs.alice.user, password: subs.alice.password, uri: `4989000111@${DOMAIN}` }, keys: { user: subs.alice.user, rtp_port: 4000 }, pauseMs: 500, limitMs: 60_000,
    });
    expectOk(await uac.done);
    expectOk(await p.run.done);
    const aCallId = (await uac.logged('CALL_ID')).trim();
    const bCallId = (await p.run.logged('CALL_ID')).trim();
    expect(bCallId).not.toBe(aCallId);
    expect((await p.run.done).messages).not.toMatch(/X-NGCP/i);
    const rows = await accRows(aCallId, 2);
    expect(rows.map((r) => [r.method, r.sip_code, r.peering_server_id, r.src_user])).toEqual([['INVITE', '200', peerId, 'alice'], ['BYE', '200', peerId, 'alice']]);
    expect(await node.acc.byCallId(bCallId)).toEqual([]);
  });

  it('a call from a peer to a subscriber: no digest on either leg (X-NGCP-Caller names the peer), accounted once with the peer', async () => {
    const bPort = await freePort({ udp: true, tcp: true });
    await register(subs.bob, bPort);
    const bob = run({ scenario: 'uas-answer-expect-bye.xml', localPort: bPort, keys: { user: 'bob', rtp_port: 4002 }, limitMs: 60_000 });
    await bound(bPort);
    const [peerId] = await peeringGroup(3, null, [{ address: '127.0.0.62', port: 5060 }]);
    const uac = run({ scenario: 'uac-peer-call-expect-200.xml', remote: lb(), localIp: '127.0.0.62', localPort: await freePort({ udp: true }), service: subs.bob.number, keys: { user: '4989111222' }, pauseMs: 500, limitMs: 60_000 });
    try {
      expectOk(await uac.done);
      expectOk(await bob.done);
    } finally {
      await register(subs.bob, bPort, 0).catch(() => undefined);
    }
    const aCallId = (await uac.logged('CALL_ID')).trim();
    const bCallId = (await bob.logged('CALL_ID')).trim();
    expect(bCallId).not.toBe(aCallId);
    const rows = await accRows(aCallId, 2);
    expect(rows.map((r) => [r.method, r.sip_code, r.peering_server_id, r.dst_user])).toEqual([['INVITE', '200', peerId, 'bob'], ['BYE', '200', peerId, 'bob']]);
    expect(await node.acc.byCallId(bCallId)).toEqual([]);
  });

  it("the operator ends a call: GET /api/calls/<caller's Call-ID> finds it, DELETE sends BYE to both phones; a second DELETE is 404", async () => {
    const bPort = await freePort({ udp: true, tcp: true });
    await register(subs.bob, bPort);
    const uas = run({ scenario: 'uas-answer-expect-bye.xml', localPort: bPort, keys: { user: subs.bob.user, rtp_port: 4002 }, limitMs: 90_000 });
    await bound(bPort);
    const uac = run({
      scenario: 'uac-call-expect-bye.xml', remote: lb(), localPort: await freePort({ udp: true, tcp: true }), service: 'bob',
      auth: { user: subs.alice.user, password: subs.alice.password, uri: `bob@${DOMAIN}` }, keys: { user: subs.alice.user, rtp_port: 4000 }, limitMs: 90_000,
    });
    try {
      const aCallId = (await uac.logged('CALL_ID')).trim();
      // listed under the B leg's Call-ID, with the caller's beside it, once answered
      const live = await until(async () => (await node.api.calls()).find((c) => c.caller_call_id === aCallId && c.state === 'answered'), 20_000, 100);
      expect(live?.call_id).not.toBe(aCallId);
      // found by the Call-ID the caller's phone shows
      const byA = await node.api.request<{ id: string; caller_call_id: string }>('GET', `/api/calls/${encodeURIComponent(aCallId)}`);
      expect(byA.status).toBe(200);
      expect(byA.body).toMatchObject({ id: live!.id, caller_call_id: aCallId });
      // ended by the operator: both phones get a BYE (each scenario waits for it and answers 200)
      expect((await node.api.request('DELETE', `/api/calls/${encodeURIComponent(aCallId)}`)).status).toBe(204);
      expectOk(await uac.done);
      expectOk(await uas.done);
      expect((await node.api.request('DELETE', `/api/calls/${encodeURIComponent(aCallId)}`)).status).toBe(404);
      // accounted as any call: start and stop under the caller's Call-ID
      const kinds = await until(async () => {
        const k = await node.acc.kinds(aCallId);
        return k.length >= 2 ? k : undefined;
      }, 10_000, 200);
      expect(kinds).toEqual(['start', 'stop']);
    } finally {
      uac.kill();
      uas.kill();
      await register(subs.bob, bPort, 0).catch(() => undefined);
    }
  });

  it('B hangs up: the BYE crosses the sbc to A; a CANCEL from A reaches B', async () => {
    await callThroughSbc('uas-answer-then-bye.xml', 'uac-call-expect-bye.xml', { pauseMs: 500 });
    await callThroughSbc('uas-ring-expect-cancel.xml', 'uac-call-cancel-expect-487.xml');
  });
});
