/**
 * Issue #10 "Done when", number handling and call restrictions, end to end on one node brought
 * up by the real `ngcp up` (node.ts): sipp talks to the lb's public address; provisioning goes
 * through the REST API and reaches the running proxy through ngcp:changes (no restart).
 *  - numbers rewritten: the callee sees the caller in national format (From and P-Asserted-Identity)
 *  - a blocked callee: 403 with a Reason (NCOS)
 *  - a concurrent-call limit hit, and the counters (Redis conc:*, through the proxy's
 *    `features.limits`) back at zero after hundreds of calls ended by BYE, CANCEL, busy and
 *    timeout of a dead call (proxy.call_ttl short on this node).
 *  - call forwards provisioned through /api/callforwards: CFU, CFB on 486, CFNA (dave never
 *    registers), CFT after the ring timeout (5 s), a forward loop ended with 482; the acc rows
 *    typed by the forward, the counters back at zero.
 *  - voicemail (issue #11): a CFU to voicemail recorded by the app-server, MWI, the CDR of call
 *    type voicemail; the retrieval from the phone, the RFC 4733 menu (7 deletes) through rtpengine.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { freePort, stillValue } from '@ngcp/testkit';
import { until } from '@ngcp/cli/testing';
import { INTERNAL, type E2eNode } from './node.js';
import { expectOk, useProvisionedNode } from './harness.js';
import { DOMAIN, type Sub, type SubName } from './provision.js';
import { bound, type SippRun } from './sipp.js';
import { RtpEndpoint } from './rtp.js';
import { SipClient, audioSdp, sdpMedia } from './sip-client.js';

/** s a call:<id> lives without in-dialog traffic: a dead call is released after it */
const CALL_TTL = 10;
let node: E2eNode;
let subs: Record<SubName, Sub>;

const { run, lb } = useProvisionedNode((n, s) => {
  node = n;
  subs = s;
}, { sections: { proxy: { call_ttl: CALL_TTL } } });



async function register(sub: Sub, port: number, expires = 300): Promise<void> {
  const r = run({
    scenario: expires === 0 ? 'uac-unregister-expect-200.xml' : 'uac-register-expect-200.xml',
    remote: lb(), localPort: port, auth: { user: sub.user, password: sub.password, uri: DOMAIN }, keys: { user: sub.user, expires },
  });
  expectOk(await r.done);
}

/** A sipp UAS for `sub` taking `calls` calls, registered from its port first, unregistered after `fn`. */
async function withCallee<T>(sub: Sub, scenario: string, fn: (uas: SippRun) => Promise<T>, o: { calls?: number } = {}): Promise<T> {
  const port = await freePort({ udp: true, tcp: true });
  await register(sub, port);
  const uas = run({ scenario, localPort: port, keys: { user: sub.user }, calls: o.calls ?? 1, limitMs: 120_000 });
  try {
    await bound(port);
    return await fn(uas);
  } finally {
    uas.kill();
    await uas.done;
    await register(sub, port, 0).catch(() => undefined);
  }
}

async function call(from: Sub, to: string, scenario: string, o: { calls?: number; rate?: number; pauseMs?: number } = {}): Promise<SippRun> {
  const port = await freePort({ udp: true, tcp: true });
  return run({
    scenario, remote: lb(), localPort: port, service: to, auth: { user: from.user, password: from.password, uri: `${to}@${DOMAIN}` },
    keys: { user: from.user }, calls: o.calls ?? 1, rate: o.rate, pauseMs: o.pauseMs, limitMs: 120_000,
  });
}

/** bob forwards to carol: alice calls bob, carol answers, bob's phone never rings; `then` checks more while both are registered. */
async function aliceCallsBobCarolAnswers(then?: (uac: SippRun) => Promise<void>): Promise<void> {
  await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (carol) => {
    await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (bob) => {
      const uac = await call(subs.alice, 'bob', 'uac-call-forwarded-expect-200.xml', { pauseMs: 200 });
      expectOk(await uac.done);
      expectOk(await carol.done);
      expect(bob.logLines().some((l) => l.startsWith('CALL_ID '))).toBe(false);
      await then?.(uac);
    });
  });
}

/** JSON-RPC to the proxy's control endpoint (worker 0). */
async function proxyRpc<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`http://${INTERNAL}:${node.t.ports.proxy_control}/`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result as T;
}

interface Counts { calls: number; calls_out: number }
const counts = async (sub: Sub): Promise<Counts> => (await proxyRpc<{ subscriber: Counts }>('features.limits', { subscriber_id: sub.id })).subscriber;
const allZero = async (...list: Sub[]): Promise<boolean> => {
  for (const s of list) {
    const c = await counts(s);
    if (c.calls !== 0 || c.calls_out !== 0) return false;
  }
  return true;
};

/** An API change, then until the proxy has heard of it (ngcp:changes; both workers subscribe alike). */
async function change(method: string, path: string, body: unknown): Promise<void> {
  const messages = async (): Promise<number> => (await proxyRpc<{ changes: { messages: number } }>('proxy.stats')).changes.messages;
  // earlier writes' notifications first (a late one would pass for this change's): the count still for 150 ms
  const before = await stillValue(messages);
  await node.api.ok(method, path, body);
  expect(await until(async () => ((await messages()) > before ? true : undefined), 10_000, 50)).toBe(true);
}

describe('number handling and call restrictions (issue #10 "Done when")', { timeout: 180_000 }, () => {
  it('numbers rewritten both ways: alice dials bob nationally (in → E.164), bob sees alice in national format in From and P-Asserted-Identity (out)', async () => {
    const set = await node.api.ok<{ id: number }>('POST', '/api/rewriterulesets', { name: 'at-national' });
    await node.api.ok('POST', '/api/rewriterules', { set_id: set.id, direction: 'in', field: 'callee', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '43$1', priority: 10 });
    await node.api.ok('POST', '/api/rewriterules', { set_id: set.id, direction: 'out', field: 'caller', match_pattern: '^43([1-9][0-9]+)$', replace_pattern: '0$1', priority: 10 });
    const bad = await node.api.request<{ fields: Array<{ field: string }> }>('POST', '/api/rewriterules', { set_id: set.id, direction: 'in', field: 'caller', match_pattern: '^(0', replace_pattern: '' });
    expect(bad.status).toBe(422);
    expect(bad.body.fields[0]!.field).toBe('match_pattern');
    const domain = (await node.api.ok<{ items: Array<{ id: number; domain: string }> }>('GET', `/api/domains?domain=${DOMAIN}`)).items.find((d) => d.domain === DOMAIN)!;
    await change('PUT', `/api/domainpreferences/${domain.id}`, { rewrite_rule_set_id: set.id });

    const bobNational = `0${subs.bob.number.slice(2)}`;
    const aliceNational = `0${subs.alice.number.slice(2)}`;
    await withCallee(subs.bob, 'uas-answer-log-identity-expect-bye.xml', async (uas) => {
      const uac = await call(subs.alice, bobNational, 'uac-call-expect-200.xml', { pauseMs: 200 });
      expectOk(await uac.done);
      expectOk(await uas.done);
      expect(await uas.logged('FROM')).toBe(`sip:${aliceNational}@${DOMAIN}`);
      expect(await uas.logged('PAI')).toBe(`<sip:${aliceNational}@${DOMAIN}>`);
    });
    // back to no set: the other tests dial by name
    await change('PUT', `/api/domainpreferences/${domain.id}`, {});
  });

  it('a blocked callee: carol’s NCOS level denies bob’s prefix → 403 with Reason, bob’s phone never rings', async () => {
    const level = await node.api.ok<{ id: number }>('POST', '/api/ncoslevels', { level: 'no-4311002', default_action: 'allow', patterns: [{ prefix: subs.bob.number, action: 'deny' }] });
    await change('PUT', `/api/subscriberpreferences/${subs.carol.id}`, { ncos_id: level.id });
    await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (uas) => {
      const uac = await call(subs.carol, 'bob', 'uac-call-expect-403.xml');
      expectOk(await uac.done);
      expect(await uac.logged('REASON')).toBe('SIP;cause=403;text="callee blocked by NCOS"');
      expect(uas.logLines().some((l) => l.startsWith('CALL_ID '))).toBe(false);
    });
  });

  it('a concurrent-call limit hit: alice (concurrent_max_out 1) in a call → her second call gets 403 with Reason; released when the call ends', async () => {
    await change('PUT', `/api/subscriberpreferences/${subs.alice.id}`, { concurrent_max_out: 1 });
    await withCallee(subs.bob, 'uas-answer-expect-bye.xml', async (uas) => {
      const held = await call(subs.alice, 'bob', 'uac-call-expect-200.xml', { pauseMs: 4000 });
      expect(await until(async () => ((await counts(subs.alice)).calls_out === 1 ? true : undefined), 20_000, 100)).toBe(true);
      const second = await call(subs.alice, 'carol', 'uac-call-expect-403.xml');
      expectOk(await second.done);
      expect(await second.logged('REASON')).toBe('SIP;cause=403;text="caller concurrent call limit reached"');
      expectOk(await held.done);
      expectOk(await uas.done);
    });
    expect(await until(async () => ((await allZero(subs.alice, subs.bob)) ? true : undefined), 3000, 100)).toBe(true);
    await change('PUT', `/api/subscriberpreferences/${subs.alice.id}`, {});
  });

  it('counters back at zero after hundreds of calls ended by BYE, CANCEL, busy (each right after its phase) and timeout of a dead call (after proxy.call_ttl)', async () => {
    const N = 70;
    const phases: Array<{ name: string; uac: string; uas: string; calls: number; pauseMs?: number }> = [
      { name: 'BYE', uac: 'uac-call-expect-200.xml', uas: 'uas-answer-expect-bye.xml', calls: N, pauseMs: 300 },
      { name: 'CANCEL', uac: 'uac-call-cancel-expect-487.xml', uas: 'uas-ring-expect-cancel.xml', calls: N },
      { name: 'busy', uac: 'uac-call-busy-expect-486.xml', uas: 'uas-busy-expect-486.xml', calls: N },
    ];
    for (const ph of phases) {
      let peak = 0;
      await withCallee(subs.bob, ph.uas, async (uas) => {
        const uac = await call(subs.alice, 'bob', ph.uac, { calls: ph.calls, rate: 5, pauseMs: ph.pauseMs });
        // counted while they run (BYE phase: calls overlap)
        const watch = (async () => {
          while ((await Promise.race([uac.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])) === false) {
            peak = Math.max(peak, (await counts(subs.bob)).calls);
          }
        })();
        expectOk(await uac.done, ph.calls);
        expectOk(await uas.done, ph.calls);
        await watch;
      }, { calls: ph.calls });
      if (ph.name === 'BYE') expect(peak, 'calls counted while up').toBeGreaterThan(0);
      // released by the end itself, long before call_ttl could prune anything
      expect(await until(async () => ((await allZero(subs.alice, subs.bob)) ? true : undefined), 3000, 100), `after ${ph.name}`).toBe(true);
    }

    // dead calls: answered, then neither side sends BYE (phones gone); the node forgets them after call_ttl
    const DEAD = 20;
    await withCallee(subs.bob, 'uas-answer-expect-ack.xml', async (uas) => {
      const uac = await call(subs.alice, 'bob', 'uac-call-answered-no-bye.xml', { calls: DEAD, rate: 10 });
      expectOk(await uac.done, DEAD);
      expectOk(await uas.done, DEAD);
    }, { calls: DEAD });
    expect(await counts(subs.alice)).toMatchObject({ calls: DEAD, calls_out: DEAD });
    const released = await until(async () => ((await allZero(subs.alice, subs.bob)) ? true : undefined), (CALL_TTL + 10) * 1000, 500);
    if (!released) {
      const live = await proxyRpc<{ calls: unknown[] }>('calls.list');
      expect.fail(`dead calls not released after call_ttl: alice ${JSON.stringify(await counts(subs.alice))}, bob ${JSON.stringify(await counts(subs.bob))}; calls ${JSON.stringify(live.calls.slice(0, 3))} (${live.calls.length})`);
    }
    expect((await node.api.calls()).filter((c) => c.caller === subs.alice.aor)).toEqual([]);
  });
});

describe('call forwards (issue #10 "Done when")', { timeout: 180_000 }, () => {
  const forwards = (sub: Sub, doc: Record<string, unknown>) => change('PUT', `/api/callforwards/${sub.id}`, doc);
  const toNumber = (sub: Sub) => ({ type: 'number', destination: `+${sub.number}` });
  const callIdOf = async (uac: SippRun): Promise<string> => (await uac.logged('CALL_ID')).trim();
  const accOf = async (callId: string, n: number) => (await until(async () => {
    const rows = await node.acc.byCallId(callId);
    return rows.length >= n ? rows : undefined;
  }, 10_000, 200)) ?? (await node.acc.byCallId(callId));

  it('CFU: alice calls bob, who forwards everything to carol — bob\'s phone never rings, carol answers; acc typed cfu with carol as destination; with the mediator stopped during the call, one CDR once it runs again', async () => {
    await forwards(subs.bob, { cfu: { destinations: [toNumber(subs.carol)] } });
    const stopped = await node.t.cmd('ngcp-service', ['stop', 'mediator']);
    expect(stopped.code, stopped.out + stopped.err).toBe(0);
    try {
      await aliceCallsBobCarolAnswers(async (uac) => {
        const rows = await accOf(await callIdOf(uac), 2);
        expect(rows.map((r) => [r.method, r.sip_code, r.dst_user, r.call_type])).toEqual([['INVITE', '200', 'carol', 'cfu'], ['BYE', '200', 'carol', 'cfu']]);
        // the mediator, started again, makes one CDR of it, typed by the forward, from alice to carol, bob as dialled
        const callId = await callIdOf(uac);
        type Cdr = { call_type: string; call_status: string; source_user: string; destination_user: string; destination_user_in: string };
        const cdrOf = async (): Promise<Cdr[]> => (await node.api.ok<{ items: Cdr[] }>('GET', `/api/cdrs?call_id=${encodeURIComponent(callId)}`)).items;
        const beforeStart = await cdrOf();
        const started = await node.t.cmd('ngcp-service', ['start', 'mediator']);
        expect(started.code, started.out + started.err).toBe(0);
        expect(beforeStart, 'no CDR while the mediator was stopped').toEqual([]);
        const cdrs = (await until(async () => ((await cdrOf()).length > 0 ? cdrOf() : undefined), 20_000, 250)) ?? [];
        expect(cdrs.map((c) => [c.call_type, c.call_status, c.source_user, c.destination_user, c.destination_user_in])).toEqual([['cfu', 'ok', 'alice', 'carol', 'bob']]);
      });
    } finally {
      // the later cases want the mediator: started again even if this case failed (a no-op when it runs)
      await node.t.cmd('ngcp-service', ['start', 'mediator']);
    }
    await forwards(subs.bob, {});
  });

  it('CFB: bob answers 486, the call goes on to carol, who answers', async () => {
    await forwards(subs.bob, { cfb: { destinations: [toNumber(subs.carol)] } });
    await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (carol) => {
      await withCallee(subs.bob, 'uas-busy-expect-486.xml', async (bob) => {
        const uac = await call(subs.alice, 'bob', 'uac-call-forwarded-expect-200.xml', { pauseMs: 200 });
        expectOk(await uac.done);
        expectOk(await bob.done);
        expectOk(await carol.done);
        expect((await accOf(await callIdOf(uac), 1))[0]).toMatchObject({ sip_code: '200', dst_user: 'carol', call_type: 'cfb' });
      });
    });
    await forwards(subs.bob, {});
  });

  it('CFNA: dave is not registered, his calls go to carol', async () => {
    await forwards(subs.dave, { cfna: { destinations: [toNumber(subs.carol)] } });
    await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (carol) => {
      const uac = await call(subs.alice, 'dave', 'uac-call-forwarded-expect-200.xml', { pauseMs: 200 });
      expectOk(await uac.done);
      expectOk(await carol.done);
      expect((await accOf(await callIdOf(uac), 1))[0]).toMatchObject({ sip_code: '200', dst_user: 'carol', call_type: 'cfna' });
    });
    await forwards(subs.dave, {});
  });

  it('CFT: bob rings without answering; after the ring timeout (5 s) his phone gets CANCEL and carol answers', async () => {
    await forwards(subs.bob, { cft: { ringtimeout: 5, destinations: [toNumber(subs.carol)] } });
    await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (carol) => {
      await withCallee(subs.bob, 'uas-ring-expect-cancel.xml', async (bob) => {
        const t0 = Date.now();
        const uac = await call(subs.alice, 'bob', 'uac-call-forwarded-expect-200.xml', { pauseMs: 200 });
        expectOk(await bob.done);
        expect(Date.now() - t0).toBeGreaterThanOrEqual(4500);
        expectOk(await uac.done);
        expectOk(await carol.done);
        expect((await accOf(await callIdOf(uac), 1))[0]).toMatchObject({ sip_code: '200', dst_user: 'carol', call_type: 'cft' });
      });
    });
    await forwards(subs.bob, {});
  });

  it('counters back at zero after forwarded calls ended by BYE, CANCEL and busy (bob CFU → carol), and by BYE after CFB (bob busy → carol)', async () => {
    const N = 20;
    await forwards(subs.bob, { cfu: { destinations: [toNumber(subs.carol)] } });
    const phases: Array<{ name: string; uac: string; uas: string; pauseMs?: number }> = [
      { name: 'BYE', uac: 'uac-call-forwarded-expect-200.xml', uas: 'uas-answer-expect-bye.xml', pauseMs: 300 },
      { name: 'CANCEL', uac: 'uac-call-forwarded-cancel-expect-487.xml', uas: 'uas-ring-expect-cancel.xml' },
      { name: 'busy', uac: 'uac-call-forwarded-expect-486.xml', uas: 'uas-busy-expect-486.xml' },
    ];
    for (const ph of phases) {
      let peak = 0;
      await withCallee(subs.carol, ph.uas, async (carol) => {
        const uac = await call(subs.alice, 'bob', ph.uac, { calls: N, rate: 5, pauseMs: ph.pauseMs });
        const watch = (async () => {
          while ((await Promise.race([uac.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])) === false) {
            peak = Math.max(peak, (await counts(subs.carol)).calls);
          }
        })();
        expectOk(await uac.done, N);
        expectOk(await carol.done, N);
        await watch;
      }, { calls: N });
      if (ph.name === 'BYE') expect(peak, 'forwarded calls counted at carol while up').toBeGreaterThan(0);
      expect(await until(async () => ((await allZero(subs.alice, subs.bob, subs.carol)) ? true : undefined), 3000, 100), `after ${ph.name}`).toBe(true);
    }
    await forwards(subs.bob, { cfb: { destinations: [toNumber(subs.carol)] } });
    await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (carol) => {
      await withCallee(subs.bob, 'uas-busy-expect-486.xml', async (bob) => {
        const uac = await call(subs.alice, 'bob', 'uac-call-forwarded-expect-200.xml', { calls: N, rate: 5, pauseMs: 300 });
        expectOk(await uac.done, N);
        expectOk(await bob.done, N);
        expectOk(await carol.done, N);
      }, { calls: N });
    }, { calls: N });
    expect(await until(async () => ((await allZero(subs.alice, subs.bob, subs.carol)) ? true : undefined), 3000, 100), 'after CFB').toBe(true);
    await forwards(subs.bob, {});
  });

  it('a forward loop (bob → carol → bob) ends with 482 Loop Detected, nobody rings; every counter back at zero', async () => {
    await forwards(subs.bob, { cfu: { destinations: [toNumber(subs.carol)] } });
    await forwards(subs.carol, { cfu: { destinations: [toNumber(subs.bob)] } });
    await withCallee(subs.carol, 'uas-answer-expect-bye.xml', async (carol) => {
      const uac = await call(subs.alice, 'bob', 'uac-call-expect-482.xml');
      expectOk(await uac.done);
      expect(carol.logLines().some((l) => l.startsWith('CALL_ID '))).toBe(false);
      expect((await accOf(await callIdOf(uac), 1))[0]).toMatchObject({ sip_code: '482', call_type: 'cfu' });
    });
    await forwards(subs.bob, {});
    await forwards(subs.carol, {});
    expect(await until(async () => ((await allZero(subs.alice, subs.bob, subs.carol, subs.dave)) ? true : undefined), 3000, 100)).toBe(true);
  });
});

describe('star codes through the app-server (issue #11 "Done when": star codes set and clear forwards)', { timeout: 180_000 }, () => {
  type Forwards = { cfu: { destinations: Array<{ type: string; destination: string | null }> } };
  const forwardsOf = async (sub: Sub): Promise<Forwards> => node.api.ok<Forwards>('GET', `/api/callforwards/${sub.id}`);

  /** `sub` dials `code`: the app-server answers through the node's media path, plays its confirmation (counted here), then hangs up. */
  async function dialStarCode(sub: Sub, code: string): Promise<number> {
    const rtp = await RtpEndpoint.open();
    try {
      const port = await freePort({ udp: true, tcp: true });
      const uac = run({
        scenario: 'uac-call-expect-bye.xml', remote: lb(), localPort: port, service: code,
        auth: { user: sub.user, password: sub.password, uri: `${code}@${DOMAIN}` }, keys: { user: sub.user, rtp_port: rtp.port }, limitMs: 60_000,
      });
      // the confirmation comes from rtpengine (the proxy's media path), not from the app-server directly
      const towards = Number((await uac.logged('RTP', 30_000)).split(' ').at(-1));
      await rtp.send('127.0.0.1', towards, 5, 20);
      expectOk(await uac.done); // …and the app-server's BYE ended the call, answered 200
      expect([...rtp.received.sources].every((s) => s === `127.0.0.1:${towards}`), [...rtp.received.sources].join(',')).toBe(true);
      return rtp.received.packets;
    } finally {
      await rtp.close();
    }
  }

  it('*72*<carol> sets bob\'s CFU (heard as an announcement, seen in the API), alice\'s call then reaches carol; #72# clears it', async () => {
    const heard = await dialStarCode(subs.bob, `*72*${subs.carol.number}`);
    expect(heard, 'RTP packets of the confirmation (≥ 0.5 s)').toBeGreaterThanOrEqual(25);
    const set = await forwardsOf(subs.bob);
    expect(set.cfu.destinations).toHaveLength(1);
    expect(set.cfu.destinations[0]!.destination).toContain(subs.carol.number);

    await aliceCallsBobCarolAnswers();

    // '#' is not allowed in a SIP URI's user part: phones send it escaped
    expect(await dialStarCode(subs.bob, '%2372%23')).toBeGreaterThanOrEqual(25);
    expect((await forwardsOf(subs.bob)).cfu.destinations).toEqual([]);
  });
});

describe('voicemail through the app-server (issue #11 "Done when": voicemail deposit, MWI, retrieval; the CDR call type voicemail)', { timeout: 180_000 }, () => {
  type Voicemail = { id: number; subscriber_id: number; folder: string; caller: string; duration: number; is_read: boolean };
  const boxOf = async (sub: Sub): Promise<Voicemail[]> => (await node.api.ok<{ items: Voicemail[] }>('GET', `/api/voicemails?subscriber_id=${sub.id}`)).items;

  /** `sub` calls `dialled` (sipp `scenario`) and stays `talkMs`, sending RTP all along; resolves with the RTP packets it heard and the Call-ID. */
  async function talk(sub: Sub, dialled: string, talkMs: number, scenario: string): Promise<{ packets: number; callId: string }> {
    const rtp = await RtpEndpoint.open();
    try {
      const port = await freePort({ udp: true, tcp: true });
      const uac = run({
        scenario, remote: lb(), localPort: port, service: dialled, pauseMs: talkMs,
        auth: { user: sub.user, password: sub.password, uri: `${dialled}@${DOMAIN}` }, keys: { user: sub.user, rtp_port: rtp.port }, limitMs: talkMs + 60_000,
      });
      const answer = await uac.logged('RTP', 30_000).catch(async (e: Error) => {
        uac.kill();
        throw new Error(`${e.message}\n--- sipp\n${(await uac.done).report}\n--- proxy\n${node.logTail('proxy', 15)}\n--- appserver\n${node.logTail('appserver', 15)}`);
      });
      const towards = Number(answer.split(' ').at(-1));
      await rtp.send('127.0.0.1', towards, Math.floor((talkMs - 500) / 20), 20);
      expectOk(await uac.done); // our BYE after talkMs, answered 200
      return { packets: rtp.received.packets, callId: await uac.logged('CALL_ID') };
    } finally {
      await rtp.close();
    }
  }

  /** The next MWI NOTIFY bob's phone gets (answered 200): its simple-message-summary body. */
  async function nextMwi(phone: SipClient): Promise<string> {
    const inc = await phone.nextRequest('NOTIFY', 20_000);
    await phone.respond(inc, 200);
    expect(inc.req.get('event')).toBe('message-summary');
    return inc.req.body.toString();
  }

  it("bob's CFU to voicemail: alice's call is answered by the app-server and recorded, its CDR of call type voicemail names bob's box and bob as dialled; bob's phone gets MWI (1 new), the message is in /api/voicemails with its WAV; bob calls the voicemail number from that phone offering telephone-event, hears the message (MWI 0/1, read), presses 7 (RFC 4733 through rtpengine): the message is gone from the API and the MWI says 0/0; the retrieval's CDR is of type voicemail too", async () => {
    const phone = await SipClient.open('udp', lb());
    try {
      expect((await phone.register({ user: subs.bob.user, password: subs.bob.password, domain: DOMAIN, expires: 300 })).final.status).toBe(200);
      await change('PUT', `/api/callforwards/${subs.bob.id}`, { cfu: { destinations: [{ type: 'voicemail' }] } });
      // the greeting (≈ 5 s) and the tone, then ≈ 3 s of alice's RTP recorded
      const deposit = await talk(subs.alice, 'bob', 9_000, 'uac-call-forwarded-expect-200.xml'); // 181 Call Is Being Forwarded first
      const mwi = await nextMwi(phone);
      expect(mwi).toMatch(/^Messages-Waiting: yes\r?$/m);
      expect(mwi).toMatch(/^Voice-Message: 1\/0/m);
      const [msg, ...more] = await boxOf(subs.bob);
      expect(more).toEqual([]);
      expect(msg).toMatchObject({ subscriber_id: subs.bob.id, folder: 'INBOX', is_read: false });
      expect(msg!.caller, 'the caller as P-Asserted-Identity names her').toBe(subs.alice.number);
      expect(msg!.duration).toBeGreaterThanOrEqual(1);
      const wav = await node.api.request<string>('GET', `/api/voicemailrecordings/${msg!.id}`);
      expect(wav.status).toBe(200);
      expect(String(wav.body).slice(0, 4)).toBe('RIFF');
      expect(String(wav.body).slice(8, 12)).toBe('WAVE');

      // the deposit's CDR (the mediator's, through the API): a call to voicemail — whose box, whom alice dialled
      const [cdr, ...moreCdrs] = await node.api.awaitCdrs(deposit.callId);
      expect(moreCdrs).toEqual([]);
      expect(cdr, `the CDR of ${deposit.callId}`).toMatchObject({
        call_type: 'voicemail', call_status: 'ok', call_code: '200',
        source_subscriber_id: subs.alice.id, source_user: subs.alice.user, source_cli: subs.alice.number,
        destination_subscriber_id: subs.bob.id, destination_user: `vm-deposit.${subs.bob.id}`, destination_domain: 'voicebox.local', destination_user_in: 'bob',
      });
      expect(cdr!.duration, 'the greeting and the message').toBeGreaterThan(5);

      // retrieval from bob's phone: PCMU and telephone-event offered, media through rtpengine
      const rtp = await RtpEndpoint.open();
      try {
        const call = await phone.invite({ user: subs.bob.user, password: subs.bob.password, domain: DOMAIN, to: `sip:2000@${DOMAIN}`, sdp: audioSdp(rtp.port, 1, { telephoneEvent: 101 }) });
        expect(call.final.status).toBe(200);
        const answer = call.final.body.toString();
        expect(answer, 'the app-server takes DTMF (its answer through rtpengine)').toMatch(/^a=rtpmap:101 telephone-event\/8000\r?$/m);
        const media = sdpMedia(answer);
        const to = media.address ?? '127.0.0.1';
        const speaking = rtp.send(to, media.port, 1500, 20); // bob's phone sends RTP all along (≤ 30 s)
        // the counts, then the message: read as it starts → no new, one old
        const read = await nextMwi(phone);
        expect(read).toMatch(/^Messages-Waiting: no\r?$/m);
        expect(read).toMatch(/^Voice-Message: 0\/1/m);
        expect((await boxOf(subs.bob))[0]).toMatchObject({ id: msg!.id, folder: 'INBOX', is_read: true });
        // this node's proxy.call_ttl is 10 s (the dead-call case above): a longer call keeps its record
        // (and so its stop record and CDR) only with in-dialog traffic, as a phone's keep-alive gives it
        expect((await phone.sendInDialog(call.dialog!, 'OPTIONS')).status).toBe(200);
        // bob hears it out, then presses 7 (delete)
        await sleep((msg!.duration + 1) * 1000);
        expect(rtp.received.packets, 'RTP packets of the prompts and the message').toBeGreaterThanOrEqual(150);
        await rtp.digit('7', to, media.port, 101);
        const deleted = await nextMwi(phone);
        expect(deleted).toMatch(/^Messages-Waiting: no\r?$/m);
        expect(deleted).toMatch(/^Voice-Message: 0\/0/m);
        // bob hangs up ("message deleted" is playing; no message is left)
        expect((await phone.bye(call.dialog!)).status).toBe(200);
        rtp.stop();
        await speaking;
        expect(await boxOf(subs.bob)).toEqual([]);
        expect((await node.api.request('GET', `/api/voicemailrecordings/${msg!.id}`)).status).toBe(404);
        // the retrieval's CDR: a call to voicemail too, bob's own box, the number as dialled
        const [ret] = await node.api.awaitCdrs(call.dialog!.callId);
        expect(ret, `the CDR of ${call.dialog!.callId}; its acc rows: ${JSON.stringify(await node.acc.byCallId(call.dialog!.callId))}`).toMatchObject({
          call_type: 'voicemail', call_status: 'ok', source_subscriber_id: subs.bob.id,
          destination_subscriber_id: subs.bob.id, destination_user: `vm-retrieve.${subs.bob.id}`, destination_domain: 'voicebox.local', destination_user_in: '2000',
        });
      } finally {
        rtp.stop();
        await rtp.close();
      }
    } finally {
      await change('PUT', `/api/callforwards/${subs.bob.id}`, {});
      await phone.register({ user: subs.bob.user, password: subs.bob.password, domain: DOMAIN, expires: 0 }).catch(() => undefined);
      await phone.close();
    }
  });
});
