/**
 * State that survives a takeover (issue 9): proxy A — a real process, started here — forwards
 * the INVITE (or challenges a REGISTER) and is killed with SIGKILL while the call rings;
 * proxy B starts on the same address with the same Redis and MariaDB and nothing in memory.
 * What the users see is asserted: the callee's answer reaches the caller and the call is
 * established and ended through B with one start and one stop record; an error response
 * reaches the caller, its ACK is absorbed and the callee is ACKed (no retransmissions); the
 * caller's CANCEL reaches every ringing branch and the 487 flows back; a replayed digest
 * nonce-count is refused by B.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@ngcp/testkit';
import { redisKeys } from '@ngcp/db';
import { parseMessage, type SipRequest, type SipResponse, type ClientTransaction } from '@ngcp/sip';
import { createProxyService, type ProxyService } from '../src/service.js';
import type { ProxyConfig } from '../src/config.js';
import { provision, until, useHarness } from './harness.js';
import { sdp, Ua } from './ua.js';

const MAIN = resolve(import.meta.dirname, '../src/main.ts');
const h = useHarness();
const dir = mkdtempSync(join(tmpdir(), 'proxy-takeover-'));
const uas: Ua[] = [];
let child: ChildProcess | undefined;
let b: ProxyService | undefined;
let bMetrics: Registry;

afterEach(async () => {
  for (const u of uas.splice(0)) await u.stop();
  if (child && child.exitCode === null && child.signalCode === null) await kill(child);
  child = undefined;
  // the case is over: B need not wait for its transactions (Timer J would hold a graceful stop 5 s)
  await b?.stop({ drainMs: 0 });
  b = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Proxy A: the daemon as pm2 runs it (from source here), media off, on udp 127.0.0.1:port. */
async function startA(port: number): Promise<ChildProcess> {
  const base = h().config;
  const config = {
    ...base, media: false, listen: { address: '127.0.0.1', udp_port: port }, control: { address: '127.0.0.1', port: await freePort() },
    log: { level: 'info' },
  };
  const file = join(dir, `proxy-${port}.json`);
  writeFileSync(file, JSON.stringify(config));
  const p = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', MAIN, '--config', file], { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(import.meta.dirname, '..') });
  let out = '';
  await new Promise<void>((ok, fail) => {
    const t = setTimeout(() => fail(new Error(`proxy A did not start: ${out}`)), 90_000);
    const on = (d: Buffer): void => {
      out += d.toString();
      if (out.includes('"msg":"proxy started"')) {
        clearTimeout(t);
        ok();
      }
    };
    p.stdout!.on('data', on);
    p.stderr!.on('data', on);
    p.once('exit', (code) => {
      clearTimeout(t);
      fail(new Error(`proxy A exited (${code}): ${out}`));
    });
  });
  p.stdout!.resume();
  p.stderr!.resume();
  return p;
}

/** SIGKILL of the process we started; resolves when it is gone (its UDP port free again). */
function kill(p: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (p.exitCode !== null || p.signalCode !== null) return ok();
    p.removeAllListeners('exit');
    p.once('exit', () => ok());
    p.kill('SIGKILL');
  });
}

/** Proxy B: a fresh instance in this process on A's address, same Redis and MariaDB. */
async function startB(port: number): Promise<ProxyService> {
  const config: ProxyConfig = { ...h().config, listen: { address: '127.0.0.1', udp_port: port } };
  bMetrics = new Registry();
  const svc = createProxyService({ config, logger: pino({ level: process.env.TEST_LOG ?? 'silent' }), metrics: bMetrics, media: h().media, db: h().db });
  await svc.start();
  return svc;
}

async function takeover(port: number): Promise<void> {
  await kill(child!);
  b = await startB(port);
}

async function events(): Promise<Record<string, number>> {
  return ((await b!.stats()) as { takeover: Record<string, number> }).takeover;
}

async function ua(user: string, domain: string, password: string, port: number): Promise<Ua> {
  const u = await new Ua(user, domain, password, { address: '127.0.0.1', port }).start();
  uas.push(u);
  return u;
}

async function setup(opts: { contactsB?: number } = {}) {
  const port = await freePort({ udp: true });
  child = await startA(port);
  const domain = await provision(h(), [{ username: 'a', password: 'a-password' }, { username: 'b', password: 'b-password' }]);
  const a = await ua('a', domain, 'a-password', port);
  const callees: Ua[] = [];
  for (let i = 0; i < (opts.contactsB ?? 1); i++) callees.push(await ua('b', domain, 'b-password', port));
  expect((await a.register()).final.status).toBe(200);
  for (const c of callees) expect((await c.register()).final.status).toBe(200);
  return { port, domain, a, callees };
}

const accRows = (callId: string) => h().db('acc').where('callid', callId).orderBy('id').select('method', 'kind', 'sip_code', 'src_user', 'dst_user');
const callState = (callId: string) => h().redis.hget(redisKeys.call(callId), 'state');

/** A calls B through A; B's contacts ring (180 relayed by proxy A). */
async function ringing(a: Ua, callees: Ua[], domain: string) {
  let tx: ClientTransaction | undefined;
  const calling = a.invite(`sip:b@${domain}`, { onTx: (t, req) => { if (req.has('proxy-authorization')) tx = t; } });
  const incoming = [];
  for (const c of callees) {
    const inc = await c.next('INVITE');
    c.answer(inc, 180, false);
    incoming.push(inc);
  }
  const callId = incoming[0]!.req.callId();
  await until(async () => (await callState(callId)) === 'ringing', 'ringing');
  await until(() => (tx?.machine as { name?: string } | undefined)?.name === 'Proceeding', '180 at the caller');
  return { calling, incoming, callId, tx: tx! };
}

// each case starts a daemon process from source (tsx): seconds on a loaded machine
describe('proxy takeover: a call ringing at proxy A carries on at proxy B', { timeout: 150_000 }, () => {
  it('the 200 reaches the caller through B, the call is established there and ends with BYE; one start and one stop record', async () => {
    const { port, domain, a, callees: [callee] } = await setup();
    const { calling, incoming: [inc], callId } = await ringing(a, [callee!], domain);
    await takeover(port);

    const calleeDialog = callee!.answer(inc!, 200)!;
    const answered = await calling;
    expect(answered.final.status).toBe(200);
    const toTag = calleeDialog.id.localTag;
    expect(answered.final.to().tag).toBe(toTag);
    await until(() => callee!.acks.length > 0, 'the caller’s ACK at the callee (through B)');
    expect(await h().redis.hgetall(redisKeys.call(callId))).toMatchObject({ state: 'answered', to_tag: toTag });
    await until(async () => (await accRows(callId)).length === 1, 'start record');

    const bye = await a.inDialog(answered.dialog!);
    expect(bye.status).toBe(200);
    await callee!.next('BYE');
    await until(async () => (await h().redis.exists(redisKeys.call(callId))) === 0, 'call ended');
    await until(async () => (await accRows(callId)).length === 2, 'stop record');
    await new Promise((r) => setTimeout(r, 300));
    expect(await accRows(callId)).toEqual([
      { method: 'INVITE', kind: 'start', sip_code: '200', src_user: 'a', dst_user: 'b' },
      { method: 'BYE', kind: 'stop', sip_code: '200', src_user: 'a', dst_user: 'b' },
    ]);
    expect(await events()).toMatchObject({ 'call-answered': 1, 'response-relayed': expect.any(Number) });
  });

  it('a 486 reaches the caller through B, the caller’s ACK is absorbed, the callee is ACKed; one failure record', async () => {
    const { port, domain, a, callees: [callee] } = await setup();
    const { calling, incoming: [inc], callId } = await ringing(a, [callee!], domain);
    await takeover(port);

    callee!.answer(inc!, 486);
    const r = await calling;
    expect(r.final.status).toBe(486);
    await until(async () => (await events())['ack-absorbed'] === 1, 'the caller’s ACK absorbed at B');
    await until(async () => (await accRows(callId)).length === 1, 'failure record');
    expect(await h().redis.exists(redisKeys.call(callId))).toBe(0);
    // the callee got B's ACK: it does not retransmit the 486 (T1 = 500 ms: it would have by now)
    await new Promise((r) => setTimeout(r, 1800));
    const ev = await events();
    expect(ev).toMatchObject({ 'ack-sent': 1, 'response-relayed': 1, 'call-failed': 1, 'ack-absorbed': 1 });
    expect(await accRows(callId)).toEqual([{ method: 'INVITE', kind: 'failure', sip_code: '486', src_user: 'a', dst_user: 'b' }]);
  });

  it('the caller’s CANCEL at B reaches both ringing contacts, their 487s come back as one 487; one failure record', async () => {
    const { port, domain, a, callees } = await setup({ contactsB: 2 });
    const { calling, callId, tx } = await ringing(a, callees, domain);
    const call = await h().redis.hgetall(redisKeys.call(callId));
    expect(JSON.parse(call.branches!)).toHaveLength(2);
    await takeover(port);

    (tx as unknown as { cancel(): void }).cancel();
    const r = await calling;
    expect(r.final.status).toBe(487);
    for (const c of callees) expect(c.cancels).toHaveLength(1);
    await until(async () => (await accRows(callId)).length === 1, 'failure record');
    await until(async () => (await events())['ack-absorbed'] === 1, 'the caller’s ACK absorbed at B');
    expect(await events()).toMatchObject({ 'cancel-forwarded': 1, 'response-held': 1, 'response-relayed': 1, 'ack-sent': 2, 'call-failed': 1 });
    expect(await accRows(callId)).toEqual([{ method: 'INVITE', kind: 'failure', sip_code: '487', src_user: 'a', dst_user: 'b' }]);
    expect(await h().redis.exists(redisKeys.call(callId))).toBe(0);
  });

  it('two contacts answer 486 and then 480 at B: the caller gets the best of them (486, §16.7); one failure record', async () => {
    const { port, domain, a, callees } = await setup({ contactsB: 2 });
    const { calling, incoming, callId } = await ringing(a, callees, domain);
    await takeover(port);

    callees[0]!.answer(incoming[0]!, 486);
    await until(async () => (await events())['response-held'] === 1, 'the first error held at B');
    callees[1]!.answer(incoming[1]!, 480);
    const r = await calling;
    expect(r.final.status).toBe(486);
    await until(async () => (await accRows(callId)).length === 1, 'failure record');
    expect(await accRows(callId)).toEqual([{ method: 'INVITE', kind: 'failure', sip_code: '486', src_user: 'a', dst_user: 'b' }]);
    expect(await events()).toMatchObject({ 'ack-sent': 2, 'response-relayed': 1, 'call-failed': 1 });
  });

  it('a re-INVITE forwarded by A, answered after the takeover: the caller’s retransmission reaches the callee through B as the same transaction, the 200 reaches the caller, the ACK the callee', async () => {
    const { port, domain, a, callees: [callee] } = await setup();
    const calling = a.invite(`sip:b@${domain}`);
    const inc = await callee!.next('INVITE');
    callee!.answer(inc, 200);
    const answered = await calling;
    expect(answered.final.status).toBe(200);
    await until(() => callee!.acks.length > 0, 'the ACK of the call');
    const callId = inc.req.callId();

    let sent: SipRequest | undefined;
    const reinviting = a.inDialog(answered.dialog!, 'INVITE', (r) => (sent = r));
    const re = await callee!.next('INVITE');
    await takeover(port);
    // a retransmission of the caller's re-INVITE reaches B (sent here, byte for byte from the caller's
    // socket: the caller's own timer stops at A's 100 Trying if A sent it in time), B forwards it to
    // the callee: with the branch A gave it, the callee's INVITE server transaction absorbs it; with
    // another branch it would be a second INVITE in the dialog (a new transaction the callee must refuse)
    await a.stack.send(sent!, { transport: 'udp', address: '127.0.0.1', port });
    await until(async () => (await bMetrics.getSingleMetricAsString('sip_requests_total')).includes('method="INVITE"'), 'the caller’s re-INVITE retransmission at B');
    await new Promise((r) => setTimeout(r, 600));
    expect(callee!.pending('INVITE'), 'INVITEs the callee saw as new transactions after the takeover').toBe(0);

    callee!.answer(re, 200);
    const res = await reinviting;
    expect(res.status).toBe(200);
    await until(() => callee!.acks.some((x) => x.cseq().seq === re.req.cseq().seq), 'the ACK of the re-INVITE at the callee (through B)');
    expect((await a.inDialog(answered.dialog!)).status).toBe(200);
    await callee!.next('BYE');
    await until(async () => (await accRows(callId)).length === 2, 'start and stop records');
    expect((await accRows(callId)).map((r) => r.kind)).toEqual(['start', 'stop']);
  });

  it('a CANCEL for a call B knows nothing of is answered 481', async () => {
    const port = await freePort({ udp: true });
    b = await startB(port);
    const a = await ua('a', 'nowhere.example', 'x', port);
    const invite = a.build('INVITE', 'sip:nobody@127.0.0.1', '<sip:nobody@127.0.0.1>');
    const cancel = a.build('CANCEL', invite.uri, invite.get('to')!, [], undefined, invite.callId());
    const res = await new Promise<SipResponse>((ok) => a.stack.sendRequest(cancel, { transport: 'udp', address: '127.0.0.1', port }, { onFinal: (x) => ok(x) }));
    expect(res.status).toBe(481);
  });
});

describe('proxy takeover: digest nonce-counts', { timeout: 150_000 }, () => {
  it('a REGISTER accepted by A and replayed to B is refused with a stale challenge; a fresh one is accepted', async () => {
    const { port, domain, a } = await setup();
    let authorized: SipRequest | undefined;
    const reg = a.build('REGISTER', `sip:${domain}`, `<sip:${a.aor}>`, [['Contact', `<${a.contact}>`], ['Path', a.path]]);
    const r = await a.send(reg, { onTx: (_t, req) => { if (req.has('authorization')) authorized = req; } });
    expect(r.final.status).toBe(200);
    const creds = authorized!.get('authorization')!;
    const nonce = /nonce="([^"]+)"/.exec(creds)![1]!;
    const ttl = await h().redis.ttl(redisKeys.authNc(nonce, '00000001'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(h().config.auth.nonce_ttl_s);
    await takeover(port);

    // the very same message, byte for byte, from another socket (rport: the answer comes back to it)
    const sock = createSocket('udp4');
    await new Promise<void>((ok) => sock.bind(0, '127.0.0.1', ok));
    try {
      const answer = new Promise<SipResponse>((ok) => sock.once('message', (m) => ok(parseMessage(m) as SipResponse)));
      sock.send(authorized!.toBuffer(), port, '127.0.0.1');
      const res = await answer;
      expect(res.status).toBe(401);
      expect(res.getAll('www-authenticate').join()).toMatch(/stale=true/i);
    } finally {
      sock.close();
    }
    // an honest UA goes on through B
    expect((await a.register()).final.status).toBe(200);
  });
});

describe('proxy takeover with a late offer (INVITE without SDP)', { timeout: 150_000 }, () => {
  it("the 200 answered through B is offered to mediactl under the callee's tag, the caller's ACK answers it (callee → caller)", async () => {
    const { port, domain, a, callees: [callee] } = await setup();
    a.ackSdp = sdp(4002);
    const calling = a.invite(`sip:b@${domain}`, { body: null });
    const inc = await callee!.next('INVITE');
    expect(inc.req.body.length).toBe(0);
    callee!.answer(inc, 180, false);
    const callId = inc.req.callId();
    await until(async () => (await callState(callId)) === 'ringing', 'ringing');
    await takeover(port);
    // proxy A ran with media off (a process of its own, no mediactl): the call record gets what A with
    // media writes for a late offer (test/calls.test.ts checks that it does)
    await h().redis.hset(redisKeys.call(callId), 'media', '1', 'late_offer', '1');

    const calleeDialog = callee!.answer(inc, 200)!; // the callee's SDP: the offer
    const answered = await calling;
    expect(answered.final.status).toBe(200);
    expect(answered.final.body.toString(), 'the offer in the 200 went through mediactl').toContain('c=IN IP4 203.0.113.1');
    await until(() => callee!.acks.some((x) => x.callId() === callId), 'the caller’s ACK at the callee (through B)');
    const ack = callee!.acks.find((x) => x.callId() === callId)!;
    expect(ack.body.toString(), 'the answer in the ACK went through mediactl').toContain('c=IN IP4 203.0.113.1');
    const calleeTag = calleeDialog.id.localTag;
    const callerTag = answered.req.from().tag;
    const steps = h().media.calls.filter((c) => c.params.call_id === callId).map((c) => [c.method, c.params.from_tag, c.params.to_tag]);
    expect(steps).toEqual([['offer', calleeTag, undefined], ['answer', calleeTag, callerTag]]);
    expect((await a.inDialog(answered.dialog!)).status).toBe(200);
    await until(async () => (await h().redis.exists(redisKeys.call(callId))) === 0, 'call ended');
  });
});
