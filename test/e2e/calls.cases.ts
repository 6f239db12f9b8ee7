/**
 * Issue #8 "Done when", end to end on one node brought up by the real `ngcp up` (see
 * node.ts): sipp and the test's own RTP endpoints talk to the lb's public address only;
 * what is checked is what a user would check — sipp's exit code and call counts, the
 * API's registrations and calls, the acc rows in MariaDB, RTP packets counted on both sides.
 *
 * Run by one-node.test.ts, first, on the node it shares with features.cases.ts and
 * peering.cases.ts. The harness checks run now; the SIP cases need
 * apps/{lb,proxy,mediactl}/dist/main.js.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NgClient } from '@ngcp/ng';
import { newTag } from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';
import { PROXY_WORKERS, until } from '@ngcp/cli/testing';
import type { AccKind } from './acc.js';
import { INTERNAL, PUBLIC, SIP_DAEMONS, builtDaemon, type E2eNode } from './node.js';
import { DOMAIN, type Sub, type SubName } from './provision.js';
import { expectOk, useProvisionedNode } from './harness.js';
import { RtpEndpoint } from './rtp.js';
import { bound, type SippRun } from './sipp.js';
import { SipClient, audioSdp, optionsPing, sdpMedia, udpExchange } from './sip-client.js';

let node: E2eNode;
let subs: Record<SubName, Sub>;
/** calls the mediator must turn into CDRs: Call-ID → the CDR status expected */
const mediated = new Map<string, string>();

const cdrsOf = (callId: string) => node.api.cdrs(callId);
/** The call's CDRs once there is one (empty after 20 s). */
const awaitCdrs = (callId: string) => node.api.awaitCdrs(callId);
/** The mediator's control RPC (`mediator.stats`: passes since its start, the last pass). */
async function mediatorStats(): Promise<{ passes: number; backlog: number }> {
  const r = await fetch(`http://${INTERNAL}:${node.t.ports.mediator_control}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'mediator.stats' }) });
  return ((await r.json()) as { result: { passes: number; backlog: number } }).result;
}

const { closers, run, lb } = useProvisionedNode((n, s) => {
  node = n;
  subs = s;
});


describe('the e2e node (harness)', { timeout: 60_000 }, () => {
  it('`ngcp up` starts MariaDB, Redis, rtpengine, the API and every built SIP daemon, all healthy', async () => {
    expect(node.up.code, node.up.out + node.up.err).toBe(0);
    const expected = ['mariadb', 'redis', 'rtpengine', 'api', ...SIP_DAEMONS.filter(builtDaemon)];
    for (const name of expected) expect(node.up.out).toMatch(new RegExp(`^${name} +online +\\d+ .* ok( +\\S.*)?$`, 'm'));
    const pids = await node.t.pids();
    for (const name of expected) expect(pids[name], name).toBeGreaterThan(0);
    expect(node.up.out).toContain(`${PUBLIC}:${node.sip.port}`);
  });

  it('provisions the domain and subscribers through the REST API (HTTPS, self-signed certificate trusted explicitly)', async () => {
    const list = await node.api.ok<{ total_count: number; items: Array<{ username: string; primary_number: string | null }> }>('GET', `/api/subscribers?domain=${DOMAIN}&rows=100`);
    expect(list.items.map((s) => s.username).sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
    expect(list.items.find((s) => s.username === 'alice')?.primary_number).toMatch(/4311001$/);
    const dup = await node.api.request('POST', '/api/subscribers', { domain: DOMAIN, username: 'alice', password: 'x-Pw-12345678' });
    expect(dup.status).toBe(409);
  });

  it('the live views answer: no registration and no call of the domain yet; the acc table is readable', async () => {
    expect((await node.api.registrations()).filter((r) => r.domain === DOMAIN)).toEqual([]);
    expect(Array.isArray(await node.api.calls())).toBe(true);
    expect(await node.acc.byCallId('no-such-call@e2e')).toEqual([]);
  });

  it("RTP relays both ways through the node's rtpengine (offer/answer over ng, as mediactl will)", async () => {
    const a = await RtpEndpoint.open();
    const b = await RtpEndpoint.open();
    closers.push(() => a.close(), () => b.close());
    const sdp = (port: number): string => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`;
    const callId = `e2e-ng-${Date.now()}`;
    const ng = new NgClient({ host: INTERNAL, port: node.t.ports.ng!, timeoutMs: 2000 });
    closers.push(() => ng.close());
    const offer = await ng.offer({ 'call-id': callId, 'from-tag': 'ta', sdp: sdp(a.port), replace: ['origin', 'session-connection'] });
    const answer = await ng.answer({ 'call-id': callId, 'from-tag': 'ta', 'to-tag': 'tb', sdp: sdp(b.port), replace: ['origin', 'session-connection'] });
    const portOf = (x: unknown): number => Number(/m=audio (\d+)/.exec(String(x))![1]);
    const towardsB = portOf(offer.sdp); // where A's packets go (B sees this in the offer)
    const towardsA = portOf(answer.sdp);
    expect([towardsA, towardsB]).not.toContain(a.port);
    await Promise.all([a.send('127.0.0.1', towardsA, 20, 10), b.send('127.0.0.1', towardsB, 20, 10)]);
    await until(async () => (a.received.packets >= 15 && b.received.packets >= 15 ? true : undefined), 5000);
    await ng.delete({ 'call-id': callId, 'from-tag': 'ta', 'delete-delay': 0 });
    expect(b.from(a.ssrc) && a.from(b.ssrc)).toBe(true);
    expect(b.received.packets).toBeGreaterThanOrEqual(15);
    expect(a.received.packets).toBeGreaterThanOrEqual(15);
    // what B received came from rtpengine's port, not from A
    expect([...b.received.sources]).toEqual([`127.0.0.1:${towardsB}`]);
  });
});

/* ---- SIP through lb → proxy (→ mediactl → rtpengine) ----------------------------------- */


/** REGISTER `sub` from 127.0.0.1:port (so the Path's received is that port), expecting 200. */
async function register(sub: Sub, port: number, o: { transport?: 'udp' | 'tcp'; contactHost?: string; expires?: number } = {}): Promise<string> {
  const r = run({
    scenario: o.expires === 0 ? 'uac-unregister-expect-200.xml' : 'uac-register-expect-200.xml',
    remote: lb(), localPort: port, transport: o.transport,
    auth: { user: sub.user, password: sub.password, uri: DOMAIN },
    keys: { user: sub.user, contact_host: o.contactHost ?? '127.0.0.1', expires: o.expires ?? 300 },
  });
  const res = await r.done;
  expectOk(res);
  return r.logLines().find((l) => l.startsWith('CALL_ID '))?.slice(8) ?? '';
}
const unregister = (sub: Sub, port: number, o: { transport?: 'udp' | 'tcp'; contactHost?: string } = {}): Promise<string> => register(sub, port, { ...o, expires: 0 });

/** A UAS for `sub` on a fresh port, registered there first; unregistered when `fn` is done. */
async function withCallee<T>(sub: Sub, scenario: string, fn: (uas: SippRun, rtp: RtpEndpoint) => Promise<T>, o: { pauseMs?: number; contactHost?: string } = {}): Promise<T> {
  const port = await freePort({ udp: true, tcp: true });
  const rtp = await RtpEndpoint.open();
  closers.push(() => rtp.close());
  await register(sub, port, { contactHost: o.contactHost });
  const uas = run({ scenario, localPort: port, keys: { user: sub.user, rtp_port: rtp.port, contact_host: o.contactHost ?? '127.0.0.1' }, pauseMs: o.pauseMs, limitMs: 90_000 });
  try {
    await bound(port);
    return await fn(uas, rtp);
  } finally {
    uas.kill();
    await uas.done;
    // leave no binding behind for the next case (a failure here must not hide the case's own)
    await unregister(sub, port, { contactHost: o.contactHost }).catch(() => undefined);
  }
}

function call(from: Sub, to: string, scenario: string, o: { rtpPort?: number; pauseMs?: number; transport?: 'udp' | 'tcp'; keys?: Record<string, string | number> } = {}): Promise<{ uac: SippRun; port: number }> {
  return freePort({ udp: true, tcp: true }).then((port) => ({
    port,
    uac: run({
      scenario, remote: lb(), localPort: port, transport: o.transport, service: to,
      auth: { user: from.user, password: from.password, uri: `${to}@${DOMAIN}` },
      keys: { user: from.user, rtp_port: o.rtpPort ?? 9, ...o.keys }, pauseMs: o.pauseMs, limitMs: 90_000,
    }),
  }));
}

/** The (method, code) of the Call-ID's acc rows once one with `code` is there (the proxy writes accounting asynchronously), or what is there after 10 s. */
async function accFailure(callId: string, code: string): Promise<Array<[string, string]>> {
  const pairs = async (): Promise<Array<[string, string]>> => (await node.acc.byCallId(callId)).map((r) => [String(r.method), String(r.sip_code)]);
  return (await until(async () => {
    const p = await pairs();
    return p.some(([, c]) => c === code) ? p : undefined;
  }, 10_000, 200)) ?? (await pairs());
}

const accKinds = async (callId: string, want: AccKind[]): Promise<Array<AccKind | undefined>> =>
  (await until(async () => {
    const k = await node.acc.kinds(callId);
    return k.length >= want.length ? k : undefined;
  }, 10_000, 200)) ?? (await node.acc.kinds(callId));

/** Both sides' SDP ports once the call is answered, then RTP both ways; returns the counts. */
async function mediaBothWays(uac: SippRun, a: RtpEndpoint, uas: SippRun, b: RtpEndpoint): Promise<{ aGot: number; bGot: number; towardsA: number; towardsB: number; conn: string[] }> {
  const towardsA = Number((await uac.logged('RTP', 60_000)).split(' ').at(-1)); // m= of the 200 A received
  const towardsB = Number((await uas.logged('RTP')).split(' ').at(-1)); // m= of the INVITE B received
  const conn = [await uac.logged('CONN'), await uas.logged('CONN')];
  await Promise.all([a.send('127.0.0.1', towardsA, 25, 20), b.send('127.0.0.1', towardsB, 25, 20)]);
  await until(async () => (a.from(b.ssrc) && b.from(a.ssrc) && a.received.packets >= 20 && b.received.packets >= 20 ? true : undefined), 5000);
  return { aGot: a.received.packets, bGot: b.received.packets, towardsA, towardsB, conn };
}

/**
 * After a re-INVITE moved A's media to the port of `a2`: RTP both ways through rtpengine's ports of
 * the new exchange (`towardsA2`, `towardsB2`), and nothing more to A's old port (`a`).
 */
async function mediaMovedToNewPort(ep: { a: RtpEndpoint; a2: RtpEndpoint; b: RtpEndpoint }, towardsA2: number, towardsB2: number): Promise<void> {
  const { a, a2, b } = ep;
  const aBefore = a.received.packets;
  const bBefore = b.received.packets;
  await Promise.all([a2.send('127.0.0.1', towardsA2, 25, 20), b.send('127.0.0.1', towardsB2, 25, 20)]);
  await until(async () => (a2.received.packets >= 20 && b.received.packets - bBefore >= 20 ? true : undefined), 5000);
  expect(a2.received.packets, 'RTP at the new port').toBeGreaterThanOrEqual(20);
  expect(a2.from(b.ssrc)).toBe(true);
  expect([...a2.received.sources]).toEqual([`127.0.0.1:${towardsA2}`]);
  expect(b.received.packets - bBefore, 'RTP from the new port reaches B').toBeGreaterThanOrEqual(20);
  expect(b.from(a2.ssrc)).toBe(true);
  expect(a.received.packets, 'nothing more to the old port').toBe(aBefore);
}

describe('calls through lb, proxy and mediactl (issue #8 "Done when")', { timeout: 120_000 }, () => {
  it('REGISTER with a wrong password is refused (403) and binds nothing', async () => {
    const port = await freePort({ udp: true });
    const r = await run({ scenario: 'uac-register-wrong-password-expect-403.xml', remote: lb(), localPort: port, auth: { user: 'alice', password: 'wrong-password', uri: DOMAIN }, keys: { user: 'alice' } }).done;
    expectOk(r);
    expect(await node.api.registration(subs.alice.aor)).toBeUndefined();
  });

  it('REGISTER with the right password binds (visible in GET /api/registrations with its Path); unregister removes it', async () => {
    const port = await freePort({ udp: true });
    await register(subs.alice, port);
    const reg = await node.api.registration(subs.alice.aor);
    expect(reg?.subscriber_id).toBe(subs.alice.id);
    const c = reg?.contacts.find((x) => x.contact.includes(`127.0.0.1:${port}`));
    expect(c, JSON.stringify(reg)).toBeDefined();
    expect(c!.expires_in).toBeGreaterThan(200);
    expect(c!.path.join(',')).toMatch(new RegExp(`received=sip:127\\.0\\.0\\.1:${port}`));
    // ngcp-status shows the SIP daemons' live counters (from their /metrics)
    const status = await node.t.cmd('ngcp-status', ['--json']);
    const live = Object.fromEntries((JSON.parse(status.out) as Array<{ name: string; live: Record<string, number> | null }>).map((r) => [r.name, r.live]));
    expect(live.proxy?.registrations, status.out).toBeGreaterThanOrEqual(1);
    // the lb's proxy set is every worker of the node's proxy (docs/workers.md)
    expect(live.lb?.proxies_up, status.out).toBe(PROXY_WORKERS);
    expect(live.mediactl?.rtpengines_up, status.out).toBe(1);
    await unregister(subs.alice, port);
    const after = await node.api.registration(subs.alice.aor);
    expect(after?.contacts.some((x) => x.contact.includes(`127.0.0.1:${port}`)) ?? false).toBe(false);
  });

  it('A calls B: answered, RTP both ways through rtpengine, listed in GET /api/calls, A hangs up; acc start + stop', async () => {
    const a = await RtpEndpoint.open();
    closers.push(() => a.close());
    await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (uas, b) => {
      const { uac } = await call(subs.alice, 'bob', 'uac-call-expect-200.xml', { rtpPort: a.port, pauseMs: 4000 });
      const m = await mediaBothWays(uac, a, uas, b);
      const callId = (await uac.logged('CALL_ID')).trim();
      const live = await node.api.calls();
      expect(live.map((c) => c.caller_call_id ?? c.call_id)).toContain(callId);
      expectOk(await uac.done);
      expectOk(await uas.done);
      // SDP rewritten to rtpengine on the node's rtp_ext address, packets counted on both sides
      expect(m.conn).toEqual(['c=IN IP4 127.0.0.1', 'c=IN IP4 127.0.0.1']);
      expect([m.towardsA, m.towardsB]).not.toContain(a.port);
      expect([m.towardsA, m.towardsB]).not.toContain(b.port);
      expect(m.aGot).toBeGreaterThanOrEqual(20);
      expect(m.bGot).toBeGreaterThanOrEqual(20);
      expect([...b.received.sources]).toEqual([`127.0.0.1:${m.towardsB}`]);
      expect([...a.received.sources]).toEqual([`127.0.0.1:${m.towardsA}`]);
      expect(await accKinds(callId, ['start', 'stop'])).toEqual(['start', 'stop']);
      expect((await node.api.calls()).map((c) => c.caller_call_id ?? c.call_id)).not.toContain(callId);
      mediated.set(callId, 'ok');
    });
  });

  it('the answered call has its CDR; then the mediator stops (ngcp-service stop mediator): the failed calls below stay accounting records until it runs again', async () => {
    const [answered] = [...mediated.keys()];
    expect(answered, 'the answered call ran').toBeDefined();
    expect((await awaitCdrs(answered!)).map((c) => c.call_status)).toEqual(['ok']);
    const r = await node.t.cmd('ngcp-service', ['stop', 'mediator']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(await node.pid('mediator')).toBeUndefined();
  });

  it('A calls B, B hangs up: BYE along the route reaches A; acc start + stop', async () => {
    await withCallee(subs.bob, 'uas-answer-then-bye.xml', async (uas) => {
      const { uac } = await call(subs.alice, 'bob', 'uac-call-expect-bye.xml');
      expectOk(await uac.done);
      expectOk(await uas.done);
      expect(await accKinds(await uac.logged('CALL_ID'), ['start', 'stop'])).toEqual(['start', 'stop']);
    }, { pauseMs: 1500 });
  });

  /** alice's call that `uacScenario` expects to fail with `code`: one acc failure record, kept for the CDR case below as `status`. */
  async function failedCall(callee: string, uacScenario: string, code: string, status: string, uas?: SippRun): Promise<void> {
    const { uac } = await call(subs.alice, callee, uacScenario);
    expectOk(await uac.done);
    if (uas) expectOk(await uas.done);
    const callId = await uac.logged('CALL_ID');
    expect(await accFailure(callId, code)).toContainEqual(['INVITE', code]);
    mediated.set(callId.trim(), status);
  }

  it('B busy: 486 relayed to A; acc failure 486', async () => {
    await withCallee(subs.bob, 'uas-busy-expect-486.xml', (uas) => failedCall('bob', 'uac-call-busy-expect-486.xml', '486', 'busy', uas));
  });

  it('B not registered: 480; acc failure 480', async () => {
    await failedCall('dave', 'uac-call-offline-expect-480.xml', '480', 'offline');
  });

  it('unknown callee: 404', async () => {
    const { uac } = await call(subs.alice, 'nobody', 'uac-call-unknown-expect-404.xml');
    expectOk(await uac.done);
  });

  it('CANCEL before answer reaches B (200 + 487); acc failure 487', async () => {
    await withCallee(subs.bob, 'uas-ring-expect-cancel.xml', (uas) => failedCall('bob', 'uac-call-cancel-expect-487.xml', '487', 'cancel', uas));
  });

  it('the mediator started again turns each of those calls into one CDR — the answered one (mediated before the stop) not twice — and a SIGKILLed mediator restarted by pm2 writes none again: GET /api/cdrs and the CSV export', async () => {
    expect(builtDaemon('mediator'), 'apps/mediator is built').toBe(true);
    // stopped: the busy, offline and cancelled calls are records only
    const whileStopped = new Map<string, number>();
    for (const [callId, status] of mediated) if (status !== 'ok') whileStopped.set(callId, (await cdrsOf(callId)).length);
    const started = await node.t.cmd('ngcp-service', ['start', 'mediator']); // first: the later files' cases want it whatever fails here
    expect(started.code, started.out + started.err).toBe(0);
    expect(mediated.size, 'the calls above ran').toBe(4);
    expect([...whileStopped.values()], 'no CDR while the mediator was stopped').toEqual([0, 0, 0]);
    const check = async (): Promise<void> => {
      for (const [callId, status] of mediated) {
        const cdrs = await awaitCdrs(callId);
        expect(cdrs.map((c) => c.call_status), `CDR of ${callId} (mediator log: ${node.logTail('mediator', 5)})`).toEqual([status]);
        const [c] = cdrs;
        expect(c).toMatchObject({ source_user: 'alice', source_subscriber_id: subs.alice.id });
        if (status === 'ok') {
          expect(c!.duration).toBeGreaterThan(1);
          expect(c!.destination_subscriber_id).toBe(subs.bob.id);
          expect(Date.parse(c!.start_time!)).toBeGreaterThanOrEqual(Date.parse(c!.init_time));
        } else expect(c!.duration).toBe(0);
      }
    };
    await check();
    // a hard restart: the new mediator's passes find nothing to write twice
    await node.killAndAwaitRestart('mediator');
    const passed = await until(async () => {
      const st = await mediatorStats().catch(() => undefined);
      return st && st.passes >= 2 && st.backlog === 0 ? st : undefined;
    }, 20_000, 250);
    expect(passed, `the restarted mediator ran its passes (log: ${node.logTail('mediator', 5)})`).toBeDefined();
    await check();
    const csv = await node.api.request<string>('GET', '/api/cdrs/export.csv');
    expect(csv.status).toBe(200);
    for (const callId of mediated.keys()) expect(String(csv.body).split(callId).length - 1, `${callId} once in the CSV`).toBe(1);
  });

  it("two contacts of B ring in parallel; the first to answer wins, the other is CANCELled", async () => {
    await withCallee(subs.bob, 'uas-ring-expect-cancel.xml', async (ringer) => {
      await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (answerer) => {
        expect((await node.api.registration(subs.bob.aor))?.contacts.length).toBe(2);
        const { uac } = await call(subs.alice, 'bob', 'uac-call-expect-200.xml', { pauseMs: 1000 });
        expectOk(await uac.done);
        expectOk(await answerer.done);
        expectOk(await ringer.done);
      });
    });
  });

  it('TCP client: REGISTER over TCP binds (received over tcp); a call from a TCP client to a UDP callee completes', async () => {
    const port = await freePort({ udp: true, tcp: true });
    await register(subs.alice, port, { transport: 'tcp' });
    const c = (await node.api.registration(subs.alice.aor))?.contacts.find((x) => x.contact.includes(`:${port}`));
    expect(c?.contact).toMatch(/transport=tcp/i);
    expect(c?.path.join(',')).toMatch(/transport%3Dtcp/i);
    await unregister(subs.alice, port, { transport: 'tcp' });
    await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (uas) => {
      const { uac } = await call(subs.alice, 'bob', 'uac-call-expect-200.xml', { transport: 'tcp', pauseMs: 1000 });
      expectOk(await uac.done);
      expectOk(await uas.done);
    });
  });

  it("TLS client (@ngcp/sip; Debian's sipp has no TLS): REGISTER over TLS to the lb's TLS port is challenged, then bound", async () => {
    const certFile = join(node.t.root, 'var/lb/tls/cert.pem');
    let ca: Buffer | undefined;
    try {
      ca = readFileSync(certFile);
    } catch {
      ca = undefined; // the lb keeps its certificate elsewhere: accept its self-signed one
    }
    const client = await SipClient.open('tls', { address: PUBLIC, port: node.sip.tlsPort }, ca);
    closers.push(() => client.close());
    const r = await client.register({ user: 'carol', password: subs.carol.password, domain: DOMAIN, expires: 120 });
    expect(r.statuses).toEqual([401, 200]);
    const reg = await node.api.registration(subs.carol.aor);
    expect(reg?.contacts.some((x) => /transport%3Dtls/i.test(x.path.join(',')))).toBe(true);
    const off = await client.register({ user: 'carol', password: subs.carol.password, domain: DOMAIN, expires: 0 });
    expect(off.final.status).toBe(200);
  });

  it('NATed client: Contact with an unreachable private address, still reached through its Path (received)', async () => {
    await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (uas) => {
      const reg = await node.api.registration(subs.carol.aor);
      expect(reg?.contacts.some((x) => x.contact.includes('10.255.255.1'))).toBe(true);
      const { uac } = await call(subs.alice, 'carol', 'uac-call-expect-200.xml', { pauseMs: 1000 });
      expectOk(await uac.done);
      expectOk(await uas.done);
    }, { contactHost: '10.255.255.1' });
  });

  it('the RFC 4475 torture messages sent at the lb leave it answering a valid OPTIONS, same PID', async () => {
    const pid = await node.pid('lb');
    const dir = join(import.meta.dirname, '../../packages/sip/test/fixtures');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Array<{ file: string; rfc: string; transports: string[] }>;
    const udp = manifest.filter((f) => f.rfc === '4475' && f.transports.includes('udp'));
    expect(udp.length).toBeGreaterThan(30);
    for (const f of udp) await udpExchange(readFileSync(join(dir, f.file)), lb(), 20);
    const status = await until(() => optionsPing(lb(), DOMAIN, 1000), 10_000);
    expect(status).toBeGreaterThanOrEqual(200);
    expect(await node.pid('lb')).toBe(pid);
  });

  for (const victim of ['proxy', 'mediactl'] as const) {
    it(`SIGKILL of ${victim} mid-call: pm2 restarts it and the call still ends with BYE → 200`, async () => {
      await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (uas) => {
        const { uac } = await call(subs.alice, 'bob', 'uac-call-expect-200.xml', { pauseMs: 15_000 });
        await uac.logged('RTP', 60_000); // answered, ACK on its way
        await new Promise((r) => setTimeout(r, 300));
        const { before, after } = await node.killAndAwaitRestart(victim);
        expect(after).not.toBe(before);
        const healthy = await until(async () => (await rpcHealth(victimPort(victim)) ? true : undefined), 30_000, 200);
        expect(healthy, node.logTail(victim)).toBe(true);
        expectOk(await uac.done); // BYE sent after the pause → 200
        expectOk(await uas.done);
      });
    });
  }
});

describe('media beyond the plain call: late offer, re-INVITE, TLS calls', { timeout: 120_000 }, () => {
  it('late offer (INVITE without SDP): the offer in the 200 and the answer in the ACK go through rtpengine; RTP both ways; acc start + stop', async () => {
    const a = await RtpEndpoint.open();
    closers.push(() => a.close());
    await withCallee(subs.bob, 'uas-late-offer-expect-bye.xml', async (uas, b) => {
      const { uac } = await call(subs.alice, 'bob', 'uac-call-late-offer-expect-200.xml', { rtpPort: a.port, pauseMs: 4000 });
      // RTP = the port in the 200's offer A received, and in the ACK's answer B received
      const m = await mediaBothWays(uac, a, uas, b);
      const callId = (await uac.logged('CALL_ID')).trim();
      expectOk(await uac.done);
      expectOk(await uas.done);
      expect(await uas.logged('INVITE_CONTENT_LENGTH'), 'the INVITE reached B without SDP').toBe('0');
      expect(m.conn).toEqual(['c=IN IP4 127.0.0.1', 'c=IN IP4 127.0.0.1']);
      expect([m.towardsA, m.towardsB]).not.toContain(a.port);
      expect([m.towardsA, m.towardsB]).not.toContain(b.port);
      expect(b.from(a.ssrc) && a.from(b.ssrc)).toBe(true);
      expect(m.aGot).toBeGreaterThanOrEqual(20);
      expect(m.bGot).toBeGreaterThanOrEqual(20);
      // both ends hear rtpengine, never each other
      expect([...b.received.sources]).toEqual([`127.0.0.1:${m.towardsB}`]);
      expect([...a.received.sources]).toEqual([`127.0.0.1:${m.towardsA}`]);
      expect(await accKinds(callId, ['start', 'stop'])).toEqual(['start', 'stop']);
    });
  });

  it("re-INVITE moving A's media to a new port: offer/answer through rtpengine again, RTP flows to the new port through rtpengine; BYE ends the call", async () => {
    const a = await RtpEndpoint.open();
    const a2 = await RtpEndpoint.open();
    closers.push(() => a.close(), () => a2.close());
    await withCallee(subs.bob, 'uas-answer-reinvite-expect-bye.xml', async (uas, b) => {
      // the re-INVITE leaves 4 s after the ACK, the BYE -d ms after the re-INVITE's ACK
      const { uac } = await call(subs.alice, 'bob', 'uac-call-reinvite-expect-200.xml', { rtpPort: a.port, pauseMs: 3500, keys: { rtp_port2: a2.port } });
      const first = await mediaBothWays(uac, a, uas, b);
      expect(first.aGot).toBeGreaterThanOrEqual(20);
      const callId = (await uac.logged('CALL_ID')).trim();
      const towardsA2 = Number((await uac.logged('RTP2', 30_000)).split(' ').at(-1)); // m= of the 200 to the re-INVITE
      const towardsB2 = Number((await uas.logged('RTP2', 30_000)).split(' ').at(-1)); // m= of the re-INVITE B received
      expect([towardsA2, towardsB2]).not.toContain(a2.port);
      expect([towardsA2, towardsB2]).not.toContain(b.port);
      await mediaMovedToNewPort({ a, a2, b }, towardsA2, towardsB2);
      expect([...b.received.sources].every((s) => s === `127.0.0.1:${towardsB2}` || s === `127.0.0.1:${first.towardsB}`)).toBe(true);
      expectOk(await uac.done);
      expectOk(await uas.done);
      expect(await accKinds(callId, ['start', 'stop'])).toEqual(['start', 'stop']);
      expect((await node.api.calls()).map((c) => c.caller_call_id ?? c.call_id)).not.toContain(callId);
      mediated.set(callId, 'ok');
    });
  });

  it("callee's re-INVITE without SDP (late offer in the dialog): the caller's 200 offers a new port, the callee's ACK answers, both through rtpengine; RTP reaches the caller's new port", async () => {
    const a = await RtpEndpoint.open();
    const a2 = await RtpEndpoint.open();
    closers.push(() => a.close(), () => a2.close());
    await withCallee(subs.bob, 'uas-answer-then-reinvite-without-sdp.xml', async (uas, b) => {
      // B's re-INVITE leaves 3 s after the ACK; A's BYE -d ms after the re-INVITE's ACK
      const { uac } = await call(subs.alice, 'bob', 'uac-call-expect-reinvite-without-sdp.xml', { rtpPort: a.port, pauseMs: 3500, keys: { rtp_port2: a2.port } });
      const first = await mediaBothWays(uac, a, uas, b);
      expect(first.bGot).toBeGreaterThanOrEqual(20);
      const callId = (await uac.logged('CALL_ID')).trim();
      const towardsB2 = Number((await uas.logged('RTP2', 30_000)).split(' ').at(-1)); // m= of the offer in the 200 B received
      const towardsA2 = Number((await uac.logged('RTP2', 30_000)).split(' ').at(-1)); // m= of the answer in the ACK A received
      expect(await uac.logged('REINVITE_CONTENT_LENGTH'), 'the re-INVITE reached A without SDP').toBe('0');
      expect([towardsA2, towardsB2]).not.toContain(a2.port);
      expect([towardsA2, towardsB2]).not.toContain(b.port);
      await mediaMovedToNewPort({ a, a2, b }, towardsA2, towardsB2);
      expectOk(await uac.done);
      expectOk(await uas.done);
      expect(await accKinds(callId, ['start', 'stop'])).toEqual(['start', 'stop']);
    });
  });

  describe('TLS client carol (@ngcp/sip; registered over TLS)', () => {
    let carol: SipClient;
    beforeAll(async () => {
      carol = await SipClient.open('tls', { address: PUBLIC, port: node.sip.tlsPort }, lbCertificate());
      closers.push(() => carol.close());
      const r = await carol.register({ user: 'carol', password: subs.carol.password, domain: DOMAIN, expires: 300 });
      expect(r.statuses).toEqual([401, 200]);
    });
    afterAll(async () => {
      await carol?.register({ user: 'carol', password: subs.carol.password, domain: DOMAIN, expires: 0 }).catch(() => undefined);
    });

    it('carol calls a UDP sipp callee: 407, INVITE with credentials, 180/200, ACK along the Record-Route, RTP through rtpengine, BYE → 200 over her TLS connection; acc start + stop', async () => {
      const c = await RtpEndpoint.open();
      closers.push(() => c.close());
      await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (uas, b) => {
        const r = await carol.invite({ user: 'carol', password: subs.carol.password, domain: DOMAIN, to: `sip:bob@${DOMAIN}`, sdp: audioSdp(c.port) });
        expect(r.statuses[0]).toBe(407);
        expect(r.statuses).toContain(180);
        expect(r.final.status).toBe(200);
        expect(r.dialog?.routeSet[0], 'the first Route is the lb over TLS').toMatch(/transport=tls/i);
        // the SDP carol received names rtpengine, not bob
        const towardsC = sdpMedia(r.final.body.toString());
        expect(towardsC.address).toBe('127.0.0.1');
        expect([c.port, b.port]).not.toContain(towardsC.port);
        const towardsB = Number((await uas.logged('RTP')).split(' ').at(-1));
        expect([c.port, b.port]).not.toContain(towardsB);
        await Promise.all([c.send('127.0.0.1', towardsC.port, 25, 20), b.send('127.0.0.1', towardsB, 25, 20)]);
        await until(async () => (c.from(b.ssrc) && b.from(c.ssrc) && c.received.packets >= 20 && b.received.packets >= 20 ? true : undefined), 5000);
        expect(c.received.packets).toBeGreaterThanOrEqual(20);
        expect(b.received.packets).toBeGreaterThanOrEqual(20);
        expect([...c.received.sources]).toEqual([`127.0.0.1:${towardsC.port}`]);
        const bye = await carol.bye(r.dialog!);
        expect(bye.status).toBe(200);
        expectOk(await uas.done);
        expect(await accKinds(r.dialog!.callId, ['start', 'stop'])).toEqual(['start', 'stop']);
      });
    });

    it("a UDP sipp caller calls carol: the INVITE arrives over carol's own TLS connection, she answers 200 with SDP, ACK and BYE come over the same connection; RTP through rtpengine; acc start + stop", async () => {
      const a = await RtpEndpoint.open();
      const c = await RtpEndpoint.open();
      closers.push(() => a.close(), () => c.close());
      const { uac } = await call(subs.alice, 'carol', 'uac-call-expect-200.xml', { rtpPort: a.port, pauseMs: 3000 });
      const invite = await carol.nextRequest('INVITE', 30_000);
      const conn = invite.source.connectionId;
      expect(invite.source.transport).toBe('tls');
      // carol listens nowhere: her one outbound connection (the one she registered over) is the only way in
      expect(carol.layer.connections().map((x) => [x.id, x.direction])).toEqual([[conn, 'outbound']]);
      const offered = sdpMedia(invite.req.body.toString());
      expect(offered.address).toBe('127.0.0.1');
      expect(offered.port, 'the offer carol receives names rtpengine, not alice').not.toBe(a.port);
      const toTag = newTag();
      await carol.respond(invite, 180, { toTag, user: 'carol' });
      await carol.respond(invite, 200, { toTag, user: 'carol', sdp: audioSdp(c.port) });
      const ack = await carol.nextRequest('ACK', 10_000);
      expect(ack.source.connectionId).toBe(conn);
      // the call carol got is the one alice made: the same Call-ID, or (through the sbc) the live call
      // under carol's Call-ID names alice's as the caller's
      const callId = (await uac.logged('CALL_ID')).trim();
      const live = (await node.api.calls()).find((x) => x.call_id === invite.req.callId());
      expect(live?.caller_call_id ?? live?.call_id, 'the live call carol is in').toBe(callId);
      const towardsA = Number((await uac.logged('RTP', 30_000)).split(' ').at(-1));
      expect([a.port, c.port]).not.toContain(towardsA);
      await Promise.all([a.send('127.0.0.1', towardsA, 25, 20), c.send('127.0.0.1', offered.port, 25, 20)]);
      await until(async () => (a.from(c.ssrc) && c.from(a.ssrc) && a.received.packets >= 20 && c.received.packets >= 20 ? true : undefined), 5000);
      expect(a.received.packets).toBeGreaterThanOrEqual(20);
      expect(c.received.packets).toBeGreaterThanOrEqual(20);
      expect([...c.received.sources]).toEqual([`127.0.0.1:${offered.port}`]);
      const bye = await carol.nextRequest('BYE', 30_000);
      expect(bye.source.connectionId).toBe(conn);
      await carol.respond(bye, 200);
      expectOk(await uac.done);
      expect(await accKinds(callId, ['start', 'stop'])).toEqual(['start', 'stop']);
    });
  });
});

/** The lb's TLS certificate when it is where `up` puts it (else the client accepts the self-signed one). */
function lbCertificate(): Buffer | undefined {
  try {
    return readFileSync(join(node.t.root, 'var/lb/tls/cert.pem'));
  } catch {
    return undefined;
  }
}

const victimPort = (name: 'proxy' | 'mediactl'): number => node.t.ports[name === 'proxy' ? 'proxy_control' : 'mediactl_control']!;

/** JSON-RPC 2.0 `health` on a daemon's control endpoint answers a result. */
async function rpcHealth(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://${INTERNAL}:${port}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"health"}', signal: AbortSignal.timeout(1000) });
    const j = (await r.json()) as { result?: unknown };
    return j.result !== undefined;
  } catch {
    return false;
  }
}
