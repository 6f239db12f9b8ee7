/**
 * Call forwards through the proxy in-process (real MariaDB and Redis, forwards provisioned through
 * /api/callforwards and heard of through ngcp:changes): CFU, CFB on 486, CFNA (not registered),
 * CFT after the ring timeout (the ringing branch CANCELled), serial destinations, chains, a loop
 * (482) and a chain too long (483), a forward to an off-net number through a peer, a forward of
 * a call from a peer, CANCEL from the caller reaching the forward target, the acc records
 * (call_type, destination) and the concurrent-call sets back at zero.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { peeringServer, RPC_CTX, subscriberParties, until, useHarness, type Party } from './harness.js';
import { PeerUa, Ua } from './ua.js';

const PROMPT = 2000;
/** a serial destination's no-answer time when the forward has no ring timeout (s) */
const h = useHarness({ calls: { ttl_s: 600, auth: true, forward_max_hops: 3, forward_ring_timeout_s: 2 } });
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

/** Subscribers of a new domain with their UAs (harness.ts); those in `unregistered` do not register. */
const parties = (names: string[], unregistered: string[] = []) => subscriberParties(h(), names, { started, unregistered });

type Dest = { type: 'number' | 'uri' | 'voicemail'; destination: string | null };
/** PUT /api/callforwards/:id and wait until the proxy heard of it. */
async function forwards(sub: Party, doc: Record<string, { destinations: Dest[]; ringtimeout?: number; enabled?: boolean }>): Promise<void> {
  const before = ((await h().proxy.stats()).changes as { messages: number }).messages;
  const r = await h().api('PUT', `/api/callforwards/${sub.id}`, doc);
  expect(r.status, JSON.stringify(r.data)).toBe(200);
  await until(async () => ((await h().proxy.stats()).changes as { messages: number }).messages > before, 'change notification at the proxy');
}
const to = (p: Party): Dest => ({ type: 'number', destination: p.number });

async function counts(p: Party): Promise<number> {
  const r = (await h().proxy.methods['features.limits']!({ subscriber_id: p.id }, RPC_CTX)) as { subscriber: { calls: number } };
  return r.subscriber.calls;
}
const allZero = (...ps: Party[]) => until(async () => (await Promise.all(ps.map(counts))).every((n) => n === 0), 'counters back at zero', PROMPT);

async function accRows(callId: string) {
  return until(async () => {
    const rows = await h().db('acc').where({ callid: callId }).orderBy('id');
    return rows.length > 0 ? rows : undefined;
  }, 'acc rows');
}

interface ForwardStats { taken: { cfu: number; cfb: number; cfna: number; cft: number }; skipped: { voicemail: number; 'foreign-uri': number; loop: number } }
const stats = async (): Promise<ForwardStats> => structuredClone((await h().proxy.stats()).forwards as ForwardStats);

describe('call forwards', { timeout: 60_000 }, () => {
  it('CFU to another subscriber: B never rings, C gets the call with 181 upstream and a Diversion; acc says cfu and C; counted at C, not B, back at zero after BYE', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cfu: { destinations: [to(p.c!)] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const inc = await p.c!.ua.next('INVITE');
    expect(inc.req.getAll('diversion')).toEqual([`<sip:${p.b!.number}@${domain}>;reason=unconditional;counter=1`]);
    expect(inc.req.uri).toContain(p.c!.ua.contact.replace(/^sip:/, ''));
    expect(p.b!.ua.pending('INVITE')).toBe(0);
    expect(await counts(p.c!)).toBe(1);
    expect(await counts(p.b!)).toBe(0);
    p.c!.ua.answer(inc, 180, false);
    const dialog = p.c!.ua.answer(inc, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect(r.provisionals.map((x) => x.status)).toContain(181);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    await allZero(p.a!, p.b!, p.c!);
    const rows = await until(async () => {
      const x = await h().db('acc').where({ callid: r.req.callId() }).orderBy('id');
      return x.length >= 2 ? x : undefined;
    }, 'start and stop');
    const start = rows!.find((x: { kind: string }) => x.kind === 'start');
    expect(start).toMatchObject({ call_type: 'cfu', dst_subscriber_id: p.c!.id, dst_user: 'c', dst_ouser: 'b', src_subscriber_id: p.a!.id });
    expect(p.b!.ua.pending('INVITE')).toBe(0);
  });

  it('CFB: B answers 486 → C rings (reason user-busy); C busy too → the caller gets 486; acc failure says cfb; counters at zero', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cfb: { destinations: [to(p.c!)] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const incB = await p.b!.ua.next('INVITE');
    p.b!.ua.answer(incB, 486);
    const incC = await p.c!.ua.next('INVITE');
    expect(incC.req.get('diversion')).toBe(`<sip:${p.b!.number}@${domain}>;reason=user-busy;counter=1`);
    p.c!.ua.answer(incC, 486);
    const r = await calling;
    expect(r.final.status).toBe(486);
    expect((await accRows(r.req.callId()))![0]).toMatchObject({ kind: 'failure', call_type: 'cfb', sip_code: '486', dst_subscriber_id: p.c!.id });
    await allZero(p.a!, p.b!, p.c!);
  });

  it('CFNA: B not registered → C answers', async () => {
    const { domain, p } = await parties(['a', 'b', 'c'], ['b']);
    await forwards(p.b!, { cfna: { destinations: [to(p.c!)] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const inc = await p.c!.ua.next('INVITE');
    expect(inc.req.get('diversion')).toContain('reason=unavailable');
    const dialog = p.c!.ua.answer(inc, 200)!;
    expect((await calling).final.status).toBe(200);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    await allZero(p.a!, p.b!, p.c!);
  });

  it('CFNA on 480/408 from every branch, not on 603', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cfna: { destinations: [to(p.c!)] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 480);
    const inc = await p.c!.ua.next('INVITE');
    p.c!.ua.answer(inc, 486);
    expect((await calling).final.status).toBe(486);
    const declined = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 603);
    expect((await declined).final.status).toBe(603);
    expect(p.c!.ua.pending('INVITE')).toBe(0);
  });

  it('CFT: no answer within the ring timeout → B\'s ringing branch CANCELled, C answers', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cft: { ringtimeout: 5, destinations: [to(p.c!)] } });
    const t0 = Date.now();
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const incB = await p.b!.ua.next('INVITE');
    p.b!.ua.answer(incB, 180, false);
    await until(() => p.b!.ua.cancels.length === 1, 'CANCEL at B', 10_000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4900);
    expect(p.b!.ua.cancels[0]!.callId()).toBe(incB.req.callId());
    const incC = await p.c!.ua.next('INVITE');
    expect(incC.req.get('diversion')).toContain('reason=no-answer');
    const dialog = p.c!.ua.answer(incC, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    expect((await until(async () => (await h().db('acc').where({ callid: r.req.callId(), kind: 'start' }))[0], 'start'))).toMatchObject({ call_type: 'cft', dst_subscriber_id: p.c!.id });
    await allZero(p.a!, p.b!, p.c!);
  });

  it('serial destinations: voicemail skipped without an app-server (counted), an unregistered D fails, a bad URI host skipped, then C; a destination that does not answer in the set\'s ring time gives way to the next', async () => {
    const { domain, p } = await parties(['a', 'b', 'c', 'd', 'e'], ['d']);
    const before = await stats();
    await forwards(p.b!, { cfu: { destinations: [{ type: 'voicemail', destination: null }, to(p.d!), { type: 'uri', destination: 'sip:someone@relay.example' }, to(p.e!), to(p.c!)] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    // E rings and does not answer: after forward_ring_timeout_s (2 s) it is CANCELled and C gets the call
    const incE = await p.e!.ua.next('INVITE');
    p.e!.ua.answer(incE, 180, false);
    await until(() => p.e!.ua.cancels.length === 1, 'CANCEL at E', 5000);
    const incC = await p.c!.ua.next('INVITE', 5000);
    const dialog = p.c!.ua.answer(incC, 200)!;
    expect((await calling).final.status).toBe(200);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    const after = await stats();
    expect(after.skipped.voicemail).toBe(before.skipped.voicemail + 1);
    expect(after.skipped['foreign-uri']).toBe(before.skipped['foreign-uri'] + 1);
    await allZero(p.a!, p.b!, p.c!, p.d!, p.e!);
  });

  it('a chain B → C → D (C\'s own forward applies); a loop B → C → B ends with 482; a chain longer than forward_max_hops with 483', async () => {
    const { domain, p } = await parties(['a', 'b', 'c', 'd', 'e', 'f']);
    await forwards(p.b!, { cfu: { destinations: [to(p.c!)] } });
    await forwards(p.c!, { cfu: { destinations: [to(p.d!)] } });
    const chained = p.a!.ua.invite(`sip:b@${domain}`);
    const inc = await p.d!.ua.next('INVITE');
    expect(inc.req.getAll('diversion')).toEqual([
      `<sip:${p.c!.number}@${domain}>;reason=unconditional;counter=2`, `<sip:${p.b!.number}@${domain}>;reason=unconditional;counter=1`,
    ]);
    p.d!.ua.answer(inc, 486);
    expect((await chained).final.status).toBe(486);

    const loopsBefore = (await stats()).skipped.loop;
    await forwards(p.c!, { cfu: { destinations: [to(p.b!)] } });
    const looped = await p.a!.ua.invite(`sip:b@${domain}`);
    expect(looped.final.status).toBe(482);
    expect((await stats()).skipped.loop).toBe(loopsBefore + 1);
    for (const x of ['b', 'c', 'd']) expect(p[x]!.ua.pending('INVITE')).toBe(0);

    // max 3 hops: B → C → D → E → F is 4
    await forwards(p.c!, { cfu: { destinations: [to(p.d!)] } });
    await forwards(p.d!, { cfu: { destinations: [to(p.e!)] } });
    await forwards(p.e!, { cfu: { destinations: [to(p.f!)] } });
    const long = await p.a!.ua.invite(`sip:b@${domain}`);
    expect(long.final.status).toBe(483);
    expect(p.f!.ua.pending('INVITE')).toBe(0);
    await allZero(p.a!, p.b!, p.c!, p.d!, p.e!, p.f!);
  });

  it('a forward target over its concurrent-call limit is busy: 486 with the callee-limit Reason, or its own CFB applies', async () => {
    const { domain, p } = await parties(['a', 'b', 'c', 'd']);
    const before = ((await h().proxy.stats()).changes as { messages: number }).messages;
    expect((await h().api('PUT', `/api/subscriberpreferences/${p.c!.id}`, { concurrent_max: 1 })).status).toBe(200);
    await until(async () => ((await h().proxy.stats()).changes as { messages: number }).messages > before, 'change notification');
    await forwards(p.b!, { cfu: { destinations: [to(p.c!)] } });
    // d calls c: c's one slot is taken
    const holding = p.d!.ua.invite(`sip:c@${domain}`);
    const held = p.c!.ua.answer(await p.c!.ua.next('INVITE'), 200)!;
    expect((await holding).final.status).toBe(200);

    const refused = await p.a!.ua.invite(`sip:b@${domain}`);
    expect(refused.final.status).toBe(486);
    expect(refused.final.get('reason')).toBe('SIP;cause=486;text="callee concurrent call limit reached"');
    expect(p.c!.ua.pending('INVITE')).toBe(0);

    await forwards(p.c!, { cfb: { destinations: [to(p.d!)] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const inc = await p.d!.ua.next('INVITE');
    expect(inc.req.getAll('diversion').map((d) => /reason=([a-z-]+)/.exec(d)![1])).toEqual(['user-busy', 'unconditional']);
    const dialog = p.d!.ua.answer(inc, 200)!;
    expect((await calling).final.status).toBe(200);
    expect((await p.d!.ua.inDialog(dialog)).status).toBe(200);
    expect((await p.c!.ua.inDialog(held)).status).toBe(200);
    await allZero(p.a!, p.b!, p.c!, p.d!);
  });

  it('CANCEL from the caller reaches the forward target; 487 upstream; counters at zero', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cfb: { destinations: [to(p.c!)] } });
    let inviteTx: { cancel(): unknown } | undefined;
    const calling = p.a!.ua.invite(`sip:b@${domain}`, { onTx: (tx, req) => { if (req.has('proxy-authorization')) inviteTx = tx; } });
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    const incC = await p.c!.ua.next('INVITE');
    p.c!.ua.answer(incC, 180, false);
    await until(() => inviteTx !== undefined, 'authenticated INVITE sent');
    await new Promise((r) => setTimeout(r, 100));
    inviteTx!.cancel();
    // the UA answers the CANCEL and the INVITE (487) itself
    await until(() => p.c!.ua.cancels.length === 1, 'CANCEL at C');
    expect(p.c!.ua.cancels[0]!.callId()).toBe(incC.req.callId());
    expect((await calling).final.status).toBe(487);
    expect(p.b!.ua.cancels.length).toBe(0);
    await allZero(p.a!, p.b!, p.c!);
  });
});

describe('forwards and peering', { timeout: 60_000 }, () => {
  it('CFU to an off-net number goes through the peer (LCR) with the Diversion; a call from the peer to a subscriber with CFU is forwarded too', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    const { peer, serverId } = await peeringServer(h(), '127.0.0.71', '43977');
    started.push(peer);

    await forwards(p.b!, { cfu: { destinations: [{ type: 'number', destination: '+43977123456' }] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const inc = await peer.next('INVITE');
    expect(inc.req.uri).toBe(`sip:43977123456@${peer.host}:${peer.port}`);
    expect(inc.req.get('diversion')).toBe(`<sip:${p.b!.number}@${domain}>;reason=unconditional;counter=1`);
    const from = inc.req.from().uri;
    expect(from.isSip ? from.user : undefined).toBe(p.a!.number);
    const dialog = peer.answer(inc, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect((await peer.inDialog(dialog)).status).toBe(200);
    expect((await until(async () => (await h().db('acc').where({ callid: r.req.callId(), kind: 'start' }))[0], 'start')))
      .toMatchObject({ call_type: 'cfu', peering_server_id: serverId, dst_user: '43977123456', dst_subscriber_id: null });
    await allZero(p.a!, p.b!);

    // from the peer to B's number: B's CFU to C applies
    await forwards(p.b!, { cfu: { destinations: [to(p.c!)] } });
    const fromPeer = peer.invite(`sip:${p.b!.number}@127.0.0.1:${h().proxy.address().port}`);
    const incC = await p.c!.ua.next('INVITE');
    p.c!.ua.answer(incC, 486);
    expect((await fromPeer).final.status).toBe(486);
    await allZero(p.b!, p.c!);
  });

  it('calls from a peer get the callee\'s features: its block_in_list (403 + Reason) and its concurrent-call limit (486), counted and released', async () => {
    const { p } = await parties(['b']);
    const { peer } = await peeringServer(h(), '127.0.0.72', null);
    started.push(peer);
    const target = `sip:${p.b!.number}@127.0.0.1:${h().proxy.address().port}`;
    const setPrefs = async (prefs: Record<string, unknown>) => {
      const before = ((await h().proxy.stats()).changes as { messages: number }).messages;
      expect((await h().api('PUT', `/api/subscriberpreferences/${p.b!.id}`, prefs)).status).toBe(200);
      await until(async () => ((await h().proxy.stats()).changes as { messages: number }).messages > before, 'change notification');
    };

    // a caller whose number the callee's block_in_list names
    await setPrefs({ block_in_list: ['4989111*'] });
    const listed = await new PeerUa('127.0.0.72', h().proxy.address(), '4989111222').start();
    started.push(listed);
    const blocked = await listed.invite(target);
    expect(blocked.final.status).toBe(403);
    expect(blocked.final.get('reason')).toBe('SIP;cause=403;text="caller blocked by callee"');

    await setPrefs({ concurrent_max: 1 });
    const first = peer.invite(target);
    const inc = await p.b!.ua.next('INVITE');
    expect(await counts(p.b!)).toBe(1);
    const second = await peer.invite(target);
    expect(second.final.status).toBe(486);
    expect(second.final.get('reason')).toBe('SIP;cause=486;text="callee concurrent call limit reached"');
    const dialog = p.b!.ua.answer(inc, 200)!;
    expect((await first).final.status).toBe(200);
    expect((await p.b!.ua.inDialog(dialog)).status).toBe(200);
    await allZero(p.b!);
  });
});
