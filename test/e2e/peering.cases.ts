/**
 * Issue #10 peering "Done when", end to end on one node brought up by the real `ngcp up`
 * (node.ts): peering groups, servers and rules provisioned through the REST API like an
 * operator would; the peering servers are sipp UAS on their own loopback addresses
 * (127.0.0.5x — the proxy tells a peer from a subscriber by source address); callers are
 * sipp UACs against the lb's public address. Checked: sipp's exit codes, which peer got
 * what, RTP through rtpengine on a peer call, the acc rows with the peer; a call forward to an
 * external number leaving through a peer.
 */
import { describe, expect, it } from 'vitest';
import { freePort } from '@ngcp/testkit';
import { until } from '@ngcp/cli/testing';
import { INTERNAL, type E2eNode } from './node.js';
import { expectOk, useProvisionedNode } from './harness.js';
import { DOMAIN, type Sub, type SubName } from './provision.js';
import { RtpEndpoint } from './rtp.js';
import { bound, type SippRun } from './sipp.js';
import { peeringHelpers } from './peers.js';

let node: E2eNode;
let subs: Record<SubName, Sub>;

// a short attempt timeout keeps the "no answer" cases quick
const { closers, run, lb } = useProvisionedNode((n, s) => {
  node = n;
  subs = s;
}, { sections: { proxy: { peering_attempt_timeout_ms: 1500, peering_down_after: 1, peering_probe_interval_ms: 1000, peering_probe_timeout_ms: 500 } } });



const { peeringGroup, peer, accRows, groups, proxyRpc } = peeringHelpers({ node: () => node, run, closers });

function callOut(from: Sub, to: string, scenario: string, o: { rtpPort?: number; pauseMs?: number } = {}): Promise<SippRun> {
  return freePort({ udp: true }).then((port) => run({
    scenario, remote: lb(), localPort: port, service: to,
    auth: { user: from.user, password: from.password, uri: `${to}@${DOMAIN}` },
    keys: { user: from.user, rtp_port: o.rtpPort ?? 9 }, pauseMs: o.pauseMs, limitMs: 60_000,
  }));
}


describe('peering (issue #10 "Done when")', { timeout: 120_000 }, () => {
  it('a call to an external number: the first server answers 503, the second 200 — both hit, RTP through rtpengine, BYE ok, acc names the peer', async () => {
    const p503 = await peer('127.0.0.51', 'uas-peer-503-expect-ack.xml');
    const p200 = await peer('127.0.0.52', 'uas-answer-expect-bye.xml');
    // weight 0 comes after every weighted server of the group: the 503 one first, deterministically
    const [, id200] = await peeringGroup(1, '49', [{ address: '127.0.0.51', port: p503.port, weight: 1 }, { address: '127.0.0.52', port: p200.port, weight: 0 }]);
    const a = await RtpEndpoint.open();
    closers.push(() => a.close());
    const uac = await callOut(subs.alice, '4930123456', 'uac-call-expect-200.xml', { rtpPort: a.port, pauseMs: 4000 });
    // the 503 server saw the call first, then the 200 one: the same Call-ID
    const callId = (await p503.run.logged('CALL_ID', 30_000)).trim();
    expect((await p200.run.logged('CALL_ID', 30_000)).trim()).toBe(callId);
    const towardsA = Number((await uac.logged('RTP', 30_000)).split(' ').at(-1));
    const towardsPeer = Number((await p200.run.logged('RTP')).split(' ').at(-1));
    expect([towardsA, towardsPeer]).not.toContain(a.port);
    expect([towardsA, towardsPeer]).not.toContain(p200.rtp.port);
    await Promise.all([a.send('127.0.0.1', towardsA, 25, 20), p200.rtp.send('127.0.0.1', towardsPeer, 25, 20)]);
    await until(async () => (a.from(p200.rtp.ssrc) && p200.rtp.from(a.ssrc) ? true : undefined), 5000);
    expect(a.received.packets).toBeGreaterThanOrEqual(20);
    expect(p200.rtp.received.packets).toBeGreaterThanOrEqual(20);
    expectOk(await uac.done);
    expectOk(await p503.run.done);
    expectOk(await p200.run.done);
    // accounted under the caller's Call-ID (the same as the peers' without the sbc; with it, the peers see the sbc's)
    const rows = await accRows((await uac.logged('CALL_ID')).trim(), 2);
    expect(rows.map((r) => [r.method, r.sip_code, r.peering_server_id])).toEqual([['INVITE', '200', id200], ['BYE', '200', id200]]);
    expect(rows[0]!.src_user).toBe('alice');
  });

  it('a group failing over to the next group: every server of group 1 fails (503, 500), group 2 answers', async () => {
    const s1 = await peer('127.0.0.53', 'uas-peer-503-expect-ack.xml');
    const s2 = await peer('127.0.0.54', 'uas-peer-500-expect-ack.xml');
    const s3 = await peer('127.0.0.55', 'uas-answer-expect-bye.xml');
    await peeringGroup(1, '4420', [{ address: '127.0.0.53', port: s1.port, weight: 1 }, { address: '127.0.0.54', port: s2.port, weight: 0 }]);
    const [id3] = await peeringGroup(2, '4420', [{ address: '127.0.0.55', port: s3.port }]);
    const uac = await callOut(subs.alice, '442071234567', 'uac-call-expect-200.xml', { pauseMs: 500 });
    expectOk(await uac.done);
    expectOk(await s1.run.done);
    expectOk(await s2.run.done);
    expectOk(await s3.run.done);
    const callId = (await s3.run.logged('CALL_ID')).trim();
    expect((await s1.run.logged('CALL_ID')).trim()).toBe(callId);
    expect((await s2.run.logged('CALL_ID')).trim()).toBe(callId);
    expect((await accRows((await uac.logged('CALL_ID')).trim(), 2)).map((r) => [r.method, r.sip_code, r.peering_server_id])).toEqual([['INVITE', '200', id3], ['BYE', '200', id3]]);
  });

  it('a call from a peer to a subscriber: no digest, the subscriber answers, BYE ok; an unknown source gets the 407 challenge', async () => {
    const port = await freePort({ udp: true });
    const rtp = await RtpEndpoint.open();
    closers.push(() => rtp.close());
    // bob registered from `port`, answering there
    const reg = await run({ scenario: 'uac-register-expect-200.xml', remote: lb(), localPort: port, auth: { user: 'bob', password: subs.bob.password, uri: DOMAIN }, keys: { user: 'bob' } }).done;
    expectOk(reg);
    const bob = run({ scenario: 'uas-answer-expect-bye.xml', localPort: port, keys: { user: 'bob', rtp_port: rtp.port }, limitMs: 60_000 });
    await bound(port);
    const [peerId] = await peeringGroup(3, null, [{ address: '127.0.0.56', port: 5060 }]);
    const peerPort = await freePort({ udp: true });
    const uac = run({ scenario: 'uac-peer-call-expect-200.xml', remote: lb(), localIp: '127.0.0.56', localPort: peerPort, service: subs.bob.number, keys: { user: '4989111222' }, pauseMs: 500, limitMs: 60_000 });
    expectOk(await uac.done);
    expectOk(await bob.done);
    const callId = (await uac.logged('CALL_ID')).trim();
    const rows = await accRows(callId, 2);
    expect(rows.map((r) => [r.method, r.sip_code, r.peering_server_id, r.dst_user])).toEqual([['INVITE', '200', peerId, 'bob'], ['BYE', '200', peerId, 'bob']]);

    const strangerPort = await freePort({ udp: true });
    const stranger = run({ scenario: 'uac-call-without-auth-expect-407.xml', remote: lb(), localIp: '127.0.0.57', localPort: strangerPort, service: subs.bob.number, keys: { user: '4989111222' }, limitMs: 30_000 });
    expectOk(await stranger.done);
    await run({ scenario: 'uac-unregister-expect-200.xml', remote: lb(), localPort: port, auth: { user: 'bob', password: subs.bob.password, uri: DOMAIN }, keys: { user: 'bob' } }).done;
  });

  it('a call forward to an external number: bob forwards everything to a carrier number, alice\'s call to bob leaves through the peer, acc typed cfu with the peer', async () => {
    const carrier = await peer('127.0.0.60', 'uas-answer-expect-bye.xml');
    const [peerId] = await peeringGroup(1, '3630', [{ address: '127.0.0.60', port: carrier.port }]);
    const before = (await proxyRpc<{ changes: { messages: number } }>('proxy.stats')).changes.messages;
    await node.api.ok('PUT', `/api/callforwards/${subs.bob.id}`, { cfu: { destinations: [{ type: 'number', destination: '+3630123456' }] } });
    expect(await until(async () => ((await proxyRpc<{ changes: { messages: number } }>('proxy.stats')).changes.messages > before ? true : undefined), 10_000, 50)).toBe(true);
    const uac = await callOut(subs.alice, 'bob', 'uac-call-forwarded-expect-200.xml', { pauseMs: 300 });
    expectOk(await uac.done);
    expectOk(await carrier.run.done);
    const rows = await accRows((await uac.logged('CALL_ID')).trim(), 2);
    expect(rows.map((r) => [r.method, r.sip_code, r.peering_server_id, r.dst_user, r.call_type])).toEqual([['INVITE', '200', peerId, '3630123456', 'cfu'], ['BYE', '200', peerId, '3630123456', 'cfu']]);
    await node.api.ok('PUT', `/api/callforwards/${subs.bob.id}`, {});
  });

  it('a peer that challenges is authenticated (issue #11): credentials set through the API, the INVITE re-sent through the lb with Authorization (sipp verifies it), one 200, BYE ok', async () => {
    // the scenario of the proxy's own test (apps/proxy/test/scenarios): 401, then verifyauth for trunk-user/trunk-secret
    const p = await peer('127.0.0.61', '../../../apps/proxy/test/scenarios/uas-peer-401-verify-auth-then-answer.xml');
    const [id] = await peeringGroup(1, '3640', [{ address: '127.0.0.61', port: p.port }]);
    const s = await node.api.ok<Record<string, unknown>>('GET', `/api/peeringservers/${id}`);
    const before = (await proxyRpc<{ changes: { messages: number } }>('proxy.stats')).changes.messages;
    await node.api.ok('PUT', `/api/peeringservers/${id}`, { group_id: s.group_id, name: s.name, host: s.host, port: s.port, auth_username: 'trunk-user', auth_password: 'trunk-secret' });
    expect(await until(async () => ((await proxyRpc<{ changes: { messages: number } }>('proxy.stats')).changes.messages > before ? true : undefined), 10_000, 50)).toBe(true);
    // every proxy worker gets the change; give the others a moment to reload
    await new Promise((r) => setTimeout(r, 500));
    const uac = await callOut(subs.alice, '3640123456', 'uac-call-expect-200.xml', { pauseMs: 300 });
    expectOk(await uac.done);
    expectOk(await p.run.done);
    expect((await accRows((await uac.logged('CALL_ID')).trim(), 2)).map((r) => [r.method, r.sip_code, r.peering_server_id])).toEqual([['INVITE', '200', id], ['BYE', '200', id]]);
  });

  it('outbound registration (issue #11): the platform REGISTERs at a carrier through the lb — Contact at the lb\'s public address, the 401 answered (sipp verifies it), refreshed, un-REGISTERed when disabled', async () => {
    // the carrier's registrar of the proxy's own test: 401, then verifyauth for trunk-user/trunk-secret, 200 granting 4 s; ends after the un-REGISTER
    const p = await peer('127.0.0.62', '../../../apps/proxy/test/scenarios/uas-registrar-401-verify-auth.xml');
    const [id] = await peeringGroup(1, null, [{ address: '127.0.0.62', port: p.port }]);
    const s = await node.api.ok<Record<string, unknown>>('GET', `/api/peeringservers/${id}`);
    const put = { group_id: s.group_id, name: s.name, host: s.host, port: s.port, auth_username: 'trunk-user', auth_password: 'trunk-secret', register_enable: true, register_expires_s: 60 };
    await node.api.ok('PUT', `/api/peeringservers/${id}`, put);
    type Reg = { state: string; expires_at: string | null; last_code: number | null };
    const reg = async (): Promise<Reg> => (await node.api.ok<{ registration: Reg }>('GET', `/api/peeringservers/${id}`)).registration;
    const first = await until(async () => ((await reg()).state === 'registered' ? reg() : undefined), 15_000, 100);
    expect(first?.last_code).toBe(200);
    // it left through the lb's public listener, with the lb's public address in the Contact
    const line = await p.run.logged('REGISTER');
    expect(line).toContain(`Contact: <sip:trunk-user@${lb().address}:${lb().port}>`);
    expect(line).toMatch(new RegExp(`Via: SIP/2.0/UDP ${lb().address.replace(/\./g, '\\.')}:${lb().port};`));
    // a refresh before the 4 s grant runs out moves expires_at
    const refreshed = await until(async () => {
      const r = await reg();
      return r.state === 'registered' && r.expires_at !== first!.expires_at ? r : undefined;
    }, 10_000, 100);
    expect(Date.parse(refreshed!.expires_at!)).toBeGreaterThan(Date.parse(first!.expires_at!));
    await node.api.ok('PUT', `/api/peeringservers/${id}`, { ...put, enabled: false });
    // sipp ends only after answering a REGISTER with Expires 0
    expectOk(await p.run.done);
    expect((await reg()).state).toBe('disabled');
  });

  it('all peers down: nothing answers — 408 after the attempts, not a hung call; then both marked down on every worker: 480 at once', async () => {
    const dead1 = await freePort({ udp: true });
    const dead2 = await freePort({ udp: true });
    await peeringGroup(1, '4430', [{ address: '127.0.0.58', port: dead1, weight: 1 }, { address: '127.0.0.59', port: dead2, weight: 1 }]);
    const t0 = Date.now();
    const uac = await callOut(subs.alice, '44301234567', 'uac-call-expect-408.xml');
    expectOk(await uac.done);
    // two attempts of peering_attempt_timeout_ms each (1.5 s), far below Timer B
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(await accRows((await uac.logged('CALL_ID')).trim(), 1).then((r) => r.map((x) => [x.method, x.sip_code]))).toEqual([['INVITE', '408']]);
    // both are marked down now (peering_down_after 1) — by the worker that tried them, and through
    // Redis peer:state by the other worker within a probe round: the next call is not tried at all
    await new Promise((r) => setTimeout(r, 2500));
    const metrics = await (await fetch(`http://${INTERNAL}:${node.t.ports.proxy_control!}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`proxy_peer_up\\{server="peer-${groups()}-1"[^}]*\\} 0`));
    expect(metrics).toMatch(new RegExp(`proxy_peer_up\\{server="peer-${groups()}-2"[^}]*\\} 0`));
    for (let i = 0; i < 2; i++) {
      const again = await callOut(subs.alice, `4430123456${i}`, 'uac-call-offline-expect-480.xml');
      expectOk(await again.done);
    }
  });
});
