/** Calls through the proxy: 407, forking, best response, CANCEL, BYE from either side, call:<id>, acc, media, restart. */
import { afterEach, describe, expect, it } from 'vitest';
import { redisKeys } from '@ngcp/db';
import { freePort } from '@ngcp/testkit';
import { provision, RPC_CTX, until, useHarness } from './harness.js';
import { sdp, Ua } from './ua.js';

const h = useHarness();
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

async function ua(user: string, domain: string, password: string): Promise<Ua> {
  const u = await new Ua(user, domain, password, h().proxy.address()).start();
  started.push(u);
  return u;
}

/** Two registered subscribers A and B of a fresh domain. */
async function pair(opts: { registerB?: boolean; numberB?: string } = {}) {
  const domain = await provision(h(), [{ username: 'a', password: 'a-password' }, { username: 'b', password: 'b-password', ...(opts.numberB ? { number: opts.numberB } : {}) }]);
  const a = await ua('a', domain, 'a-password');
  const b = await ua('b', domain, 'b-password');
  expect((await a.register()).final.status).toBe(200);
  if (opts.registerB !== false) expect((await b.register()).final.status).toBe(200);
  return { domain, a, b };
}

const accRows = (callId: string) => h().db('acc').where('callid', callId).orderBy('id').select('method', 'sip_code', 'src_user', 'dst_user', 'from_tag', 'to_tag');

describe('calls', () => {
  it('A calls B: 407, 180, 200 with SDP through mediactl, call:<id> while it lasts, B hangs up', async () => {
    const { domain, a, b } = await pair();
    const challenge = await a.send(a.build('INVITE', `sip:b@${domain}`, `<sip:b@${domain}>`, [], 'v=0\r\n'), { auth: false });
    expect(challenge.final.status).toBe(407);
    expect(challenge.final.getAll('proxy-authenticate').join()).toMatch(/SHA-256[\s\S]*MD5|MD5[\s\S]*SHA-256/);

    const calling = a.invite(`sip:b@${domain}`);
    const inc = await b.next('INVITE');
    expect(inc.req.uri).toBe(b.contact);
    expect(inc.req.get('record-route')).toBe(`<sip:127.0.0.1:${h().proxy.address().port};lr>`);
    expect(inc.req.body.toString()).toContain('c=IN IP4 203.0.113.1');
    b.answer(inc, 180, false);
    const callId = inc.req.callId();
    await until(async () => (await h().redis.hget(redisKeys.call(callId), 'state')) === 'ringing', 'ringing');
    const bDialog = b.answer(inc, 200)!;
    const answered = await calling;
    expect(answered.final.status).toBe(200);
    expect(answered.provisionals.map((r) => r.status)).toContain(180);
    expect(answered.final.body.toString()).toContain('c=IN IP4 203.0.113.1');
    await until(() => b.acks.length > 0, 'ACK at B');

    const call = await h().redis.hgetall(redisKeys.call(callId));
    expect(call).toMatchObject({ call_id: callId, state: 'answered', caller: `a@${domain}`, callee: `b@${domain}`, media: '1', node: 'sp1', from_tag: answered.req.from().tag, to_tag: answered.final.to().tag });
    const listed = await h().api('GET', '/api/calls');
    expect(listed.data.items.map((c: { call_id?: string; id?: string }) => c.call_id ?? c.id)).toContain(callId);
    expect(h().media.of(callId)).toEqual(['offer', 'answer']);

    const bye = await b.inDialog(bDialog);
    expect(bye.status).toBe(200);
    await until(async () => (await h().redis.exists(redisKeys.call(callId))) === 0, 'call key removed');
    await until(() => h().media.of(callId).includes('delete'), 'media deleted');
    await until(async () => (await accRows(callId)).length === 2, 'acc rows');
    expect(await accRows(callId)).toEqual([
      { method: 'INVITE', sip_code: '200', src_user: 'a', dst_user: 'b', from_tag: answered.req.from().tag, to_tag: answered.final.to().tag },
      expect.objectContaining({ method: 'BYE', sip_code: '200', src_user: 'a', dst_user: 'b' }),
    ]);
  });

  it('a call (INVITE with credentials, 180, 200, ACK, BYE) costs the proxy six Redis round trips', async () => {
    // Redis counts the reads it processes on client sockets: one per round trip (a pipelined batch is one).
    // nonce count; admission + the callee's bindings (one batch); the call stored; ringing; answered; removed at the BYE
    const reads = async (): Promise<number> => Number(/total_reads_processed:(\d+)/.exec(await h().redis.info('stats'))![1]);
    const { domain, a, b } = await pair();
    const calls = 4;
    let total = 0;
    for (let i = 0; i < calls; i++) {
      const r0 = await reads();
      const calling = a.invite(`sip:b@${domain}`);
      const inc = await b.next('INVITE');
      b.answer(inc, 180, false);
      await new Promise((r) => setTimeout(r, 50)); // the ringing update apart from the answer, as on a real phone
      const bDialog = b.answer(inc, 200)!;
      expect((await calling).final.status).toBe(200);
      await until(() => b.acks.length > i, 'ACK at B');
      expect((await b.inDialog(bDialog)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 200)); // the removal, issued with the BYE's 200, reaches Redis
      total += (await reads()) - r0 - 1; // −1: the INFO itself
    }
    await until(async () => (await h().redis.keys('call:*')).length === 0, 'calls removed');
    expect(total / calls).toBeGreaterThanOrEqual(6);
    expect(total / calls).toBeLessThan(6.5); // 7 when the callee lookup waited for the admission
  });

  it('A calls B by number and hangs up himself', async () => {
    const { a, b } = await pair({ numberB: '4319990001' });
    const calling = a.invite('sip:4319990001@127.0.0.1');
    const inc = await b.next('INVITE');
    b.answer(inc, 200);
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
    await b.next('BYE');
    await until(async () => (await h().redis.exists(redisKeys.call(r.req.callId()))) === 0, 'call key removed');
  });

  it('busy: 486 relayed, failure record', async () => {
    const { domain, a, b } = await pair();
    const calling = a.invite(`sip:b@${domain}`);
    const inc = await b.next('INVITE');
    b.answer(inc, 486);
    const r = await calling;
    expect(r.final.status).toBe(486);
    const callId = r.req.callId();
    await until(async () => (await accRows(callId)).length === 1, 'acc failure row');
    expect((await accRows(callId))[0]).toMatchObject({ method: 'INVITE', sip_code: '486' });
    expect(await h().redis.exists(redisKeys.call(callId))).toBe(0);
    await until(() => h().media.of(callId).includes('delete'), 'media deleted');
  });

  it('480 when B is not registered, 404 for nobody', async () => {
    const { domain, a } = await pair({ registerB: false });
    expect((await a.invite(`sip:b@${domain}`)).final.status).toBe(480);
    expect((await a.invite(`sip:nobody@${domain}`)).final.status).toBe(404);
    expect((await a.invite('sip:4300000000@127.0.0.1')).final.status).toBe(404);
  });

  it('CANCEL before answer reaches B; A gets 487', async () => {
    const { domain, a, b } = await pair();
    let inviteTx: { cancel(): unknown } | undefined;
    const calling = a.invite(`sip:b@${domain}`, { onTx: (tx, req) => { if (req.has('proxy-authorization')) inviteTx = tx; } });
    const inc = await b.next('INVITE');
    b.answer(inc, 180, false);
    await until(() => inviteTx !== undefined, 'authenticated INVITE sent');
    await until(async () => (await h().redis.hget(redisKeys.call(inc.req.callId()), 'state')) === 'ringing', 'ringing');
    inviteTx!.cancel();
    const r = await calling;
    expect(r.final.status).toBe(487);
    await until(() => b.cancels.length === 1, 'CANCEL at B');
    await until(async () => (await h().redis.exists(redisKeys.call(inc.req.callId()))) === 0, 'call key removed');
  });

  it('two contacts ring in parallel; the other is cancelled on answer', async () => {
    const { domain, a, b } = await pair();
    const b2 = await ua('b', domain, 'b-password');
    expect((await b2.register()).final.status).toBe(200);
    const calling = a.invite(`sip:b@${domain}`);
    const [i1, i2] = await Promise.all([b.next('INVITE'), b2.next('INVITE')]);
    b.answer(i1, 180, false);
    b2.answer(i2, 180, false);
    b2.answer(i2, 200);
    const r = await calling;
    expect(r.final.status).toBe(200);
    await until(() => b.cancels.length === 1, 'CANCEL at the other contact');
    expect(b2.cancels).toHaveLength(0);
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
  });

  it('mediactl unavailable: 503 at once, nothing left behind', async () => {
    const { domain, a, b } = await pair();
    h().media.unavailable = true;
    try {
      const r = await a.invite(`sip:b@${domain}`);
      expect(r.final.status).toBe(503);
      expect(b.pending('INVITE')).toBe(0);
      expect(await h().redis.exists(redisKeys.call(r.req.callId()))).toBe(0);
    } finally {
      h().media.unavailable = false;
    }
  });

  it('a new proxy instance ends a call established by the old one (state from Redis and Route)', async () => {
    const { domain, a, b } = await pair();
    const calling = a.invite(`sip:b@${domain}`);
    const inc = await b.next('INVITE');
    const bDialog = b.answer(inc, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    const callId = r.req.callId();
    await until(async () => (await h().redis.hget(redisKeys.call(callId), 'state')) === 'answered', 'answered in Redis');
    await h().restartProxy();
    expect((await b.inDialog(bDialog)).status).toBe(200);
    await a.next('BYE');
    await until(async () => (await h().redis.exists(redisKeys.call(callId))) === 0, 'call key removed');
    await until(() => h().media.of(callId).includes('delete'), 'media deleted by the new instance');
    await until(async () => (await accRows(callId)).some((x) => x.method === 'BYE'), 'stop record');
  });

  it('a BYE answered while Redis is a read-only replica (the moment of a takeover) still ends the call once Redis leads: call key removed, stop record', async () => {
    const { domain, a, b } = await pair();
    const calling = a.invite(`sip:b@${domain}`);
    const inc = await b.next('INVITE');
    b.answer(inc, 200);
    const r = await calling;
    expect(r.final.status).toBe(200);
    const callId = r.req.callId();
    await until(async () => (await h().redis.hget(redisKeys.call(callId), 'state')) === 'answered', 'answered in Redis');
    // as on the new active node between the shared IP's move and hbd's REPLICAOF NO ONE
    const nowhere = await freePort({ tcp: true, host: '127.0.0.1' });
    await h().redis.call('REPLICAOF', '127.0.0.1', String(nowhere));
    try {
      expect((await a.inDialog(r.dialog!)).status).toBe(200);
      await b.next('BYE');
      await new Promise((res) => setTimeout(res, 600));
      expect(await h().redis.exists(redisKeys.call(callId))).toBe(1); // nothing could be written yet
    } finally {
      await h().redis.call('REPLICAOF', 'NO', 'ONE');
    }
    await until(async () => (await h().redis.exists(redisKeys.call(callId))) === 0, 'call key removed once Redis leads');
    await until(async () => (await accRows(callId)).some((x) => x.method === 'BYE'), 'stop record');
  });

  it('control methods and metrics show the live call and registrations', async () => {
    const { domain, a, b } = await pair();
    const calling = a.invite(`sip:b@${domain}`);
    const inc = await b.next('INVITE');
    b.answer(inc, 200);
    const r = await calling;
    const callId = r.req.callId();
    await until(async () => (await h().redis.hget(redisKeys.call(callId), 'state')) === 'answered', 'answered');
    const list = (await h().proxy.methods['calls.list']!({}, RPC_CTX)) as { calls: Array<{ call_id: string; state: string }> };
    expect(list.calls).toContainEqual(expect.objectContaining({ call_id: callId, state: 'answered' }));
    const regs = (await h().proxy.methods['location.list']!({}, RPC_CTX)) as { registrations: Array<{ aor: string }> };
    expect(regs.registrations.map((x) => x.aor)).toEqual(expect.arrayContaining([`a@${domain}`, `b@${domain}`]));
    const text = await h().metrics.metrics();
    expect(text).toMatch(/sip_requests_total\{method="INVITE"\} [1-9]/);
    expect(text).toMatch(/sip_responses_total\{method="INVITE",status="200"\} [1-9]/);
    expect(text).toMatch(/sip_responses_total\{method="INVITE",status="407"\} [1-9]/);
    expect(text).toMatch(/calls_live [1-9]/);
    expect(text).toMatch(/registrations_active [1-9]/);
    expect(text).toMatch(/media_rpc_seconds_count\{method="media.offer"\} [1-9]/);
    expect(text).toMatch(/sip_transactions_live \d+/);
    expect((await h().proxy.stats())).toMatchObject({ accounting: { written: expect.any(Number) } });
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
  });
});

describe('late offer (RFC 3261 §13.2.1)', () => {
  it("INVITE without SDP: the 200's offer goes to media.offer under the callee's tag, the ACK's answer to media.answer (from_tag callee, to_tag caller)", async () => {
    const { domain, a, b } = await pair();
    a.ackSdp = sdp(4002);
    const calling = a.invite(`sip:b@${domain}`, { body: null });
    const inc = await b.next('INVITE');
    expect(inc.req.body.length).toBe(0);
    const callId = inc.req.callId();
    const bDialog = b.answer(inc, 200)!; // B's SDP: the offer
    const answered = await calling;
    expect(answered.final.status).toBe(200);
    expect(answered.final.body.toString()).toContain('c=IN IP4 203.0.113.1');
    await until(() => b.acks.some((x) => x.callId() === callId), 'ACK at B');
    const ack = b.acks.find((x) => x.callId() === callId)!;
    expect(ack.body.toString(), 'the answer in the ACK went through mediactl').toContain('c=IN IP4 203.0.113.1');
    const callerTag = answered.req.from().tag;
    const calleeTag = answered.final.to().tag;
    const steps = h().media.calls.filter((c) => c.params.call_id === callId).map((c) => [c.method, c.params.from_tag, c.params.to_tag]);
    expect(steps).toEqual([['offer', calleeTag, undefined], ['answer', calleeTag, callerTag]]);
    expect(await h().redis.hmget(redisKeys.call(callId), 'media', 'late_offer')).toEqual(['1', '1']);
    expect((await b.inDialog(bDialog)).status).toBe(200);
    await until(() => h().media.of(callId).includes('delete'), 'media deleted');
  });

  it('an unanswered late offer deletes nothing at mediactl (nothing was offered)', async () => {
    const { domain, a, b } = await pair();
    const calling = a.invite(`sip:b@${domain}`, { body: null });
    const inc = await b.next('INVITE');
    b.answer(inc, 486);
    expect((await calling).final.status).toBe(486);
    await until(async () => (await h().redis.exists(redisKeys.call(inc.req.callId()))) === 0, 'call key removed');
    expect(h().media.of(inc.req.callId())).toEqual([]);
  });
});
