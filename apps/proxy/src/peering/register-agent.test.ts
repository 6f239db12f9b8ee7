/**
 * The registration agent's state machine with a fake clock and a scripted registrar (no
 * network): refresh timing, the challenge answered once, 423, backoff, the role, the
 * un-REGISTER, and carrying a binding on from the stored state.
 */
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PeerRegistration } from '@ngcp/db';
import { SipResponse, type SipRequest } from '@ngcp/sip';
import { backoffMs, grantedExpires, refreshDelayMs } from './peer-register.js';
import { PeerRegisterAgent, type PeerRegStore, type RegisterFinal } from './register-agent.js';
import type { PeerServer } from './selection.js';

const CONTACT = { address: '203.0.113.10', port: 5060, tlsPort: 5061 };

function server(over: Partial<PeerServer> = {}): PeerServer {
  return {
    id: 7, groupId: 1, name: 'carrier', host: '192.0.2.7', port: 5060, transport: 'udp', weight: 1, probe: false, e164ToRuri: false, rewriteSetId: null,
    auth: { username: 'trunk', password: 'secret', realm: null },
    register: { user: 'trunk', domain: 'carrier.example', contactUser: 'trunk', expires: 600 },
    ...over,
  };
}

class MemStore implements PeerRegStore {
  m = new Map<number, PeerRegistration>();
  async read(id: number) {
    const v = this.m.get(id);
    return v ? structuredClone(v) : null;
  }
  async write(id: number, r: PeerRegistration) {
    this.m.set(id, structuredClone(r));
  }
  async remove(id: number) {
    this.m.delete(id);
  }
}

type Answer = SipResponse | 'timeout';
const ok = (headers: Array<[string, string]> = [['Expires', '100']]): SipResponse => new SipResponse(200, 'OK', headers);
const challenge = (): SipResponse => new SipResponse(401, 'Unauthorized', [['WWW-Authenticate', 'Digest realm="carrier.example", nonce="abc123", algorithm=MD5']]);

let sent: SipRequest[];
let script: (req: SipRequest) => Answer;
let store: MemStore;

function agent(o: { retryMinMs?: number; retryMaxMs?: number } = {}): PeerRegisterAgent {
  return new PeerRegisterAgent({
    send: async (req): Promise<RegisterFinal> => {
      sent.push(req);
      const a = script(req);
      return a === 'timeout' ? { res: new SipResponse(408, 'Request Timeout'), origin: 'timeout' } : { res: a, origin: 'network' };
    },
    store, targets: async (s) => [{ transport: s.transport, address: s.host, port: s.port, family: 4, host: s.host, domain: s.host, via: 'numeric' }],
    lb: { address: '127.0.0.2', port: 5062 }, self: () => ({ address: '127.0.0.1', port: 5070 }), contact: () => CONTACT, node: 'sp1',
    retryMinMs: o.retryMinMs ?? 30_000, retryMaxMs: o.retryMaxMs ?? 600_000, logger: pino({ level: 'silent' }),
  });
}

const cseq = (r: SipRequest): number => r.cseq().seq;
/** Let queued promises run without moving the clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await vi.advanceTimersByTimeAsync(0);
}

/** An active agent following `servers`, once its first registrations ran. */
async function running(servers: PeerServer[] = [server()], o: Parameters<typeof agent>[0] = {}): Promise<PeerRegisterAgent> {
  const a = agent(o);
  a.setActive(true);
  a.update(servers);
  await settle();
  return a;
}

beforeEach(() => {
  vi.useFakeTimers();
  sent = [];
  store = new MemStore();
  // the registrar: challenges every REGISTER without credentials, grants 100 s
  script = (req) => (req.get('authorization') ? ok() : challenge());
});
afterEach(() => vi.useRealTimers());

describe('pure timing', () => {
  it('refreshes at 80 % of the grant; backs off 30 s → 60 s → … capped at the max', () => {
    expect(refreshDelayMs(600)).toBe(480_000);
    expect(refreshDelayMs(4)).toBe(3200);
    expect(refreshDelayMs(0)).toBe(500);
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffMs(n, 30_000, 600_000))).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000, 600_000]);
  });

  it('the grant of our Contact: its expires parameter over the Expires header', () => {
    const c = 'sip:trunk@203.0.113.10:5060';
    expect(grantedExpires(ok([['Contact', '<sip:other@198.51.100.1>;expires=900'], ['Contact', '<sip:trunk@203.0.113.10:5060;ob>;expires=50'], ['Expires', '300']]), c)).toBe(50);
    expect(grantedExpires(ok([['Contact', '<sip:other@198.51.100.1>;expires=900'], ['Expires', '300']]), c)).toBe(300);
    expect(grantedExpires(ok([]), c)).toBeUndefined();
  });
});

describe('registration agent', () => {
  it('registers through the lb: challenge answered once (same Call-ID, CSeq + 1), then refreshes at 80 % of the grant with the next CSeq', async () => {
    const a = await running();
    expect(sent).toHaveLength(2);
    const [r1, r2] = sent as [SipRequest, SipRequest];
    expect(r1.uri).toBe('sip:carrier.example');
    expect(r1.get('route')).toBe('<sip:127.0.0.2:5062;lr;received=sip:192.0.2.7:5060>');
    expect(r1.get('from')).toMatch(/^<sip:trunk@carrier\.example>;tag=/);
    expect(r1.get('to')).toBe('<sip:trunk@carrier.example>');
    expect(r1.get('contact')).toBe('<sip:trunk@203.0.113.10:5060>');
    expect(r1.get('expires')).toBe('600');
    expect(r1.get('authorization')).toBeUndefined();
    expect(r2.get('authorization')).toMatch(/^Digest .*username="trunk".*realm="carrier.example"/);
    expect(r2.callId()).toBe(r1.callId());
    expect(cseq(r2)).toBe(cseq(r1) + 1);
    expect(r2.get('via')).not.toBe(r1.get('via'));
    const rec = store.m.get(7)!;
    expect(rec).toMatchObject({ state: 'registered', call_id: r1.callId(), cseq: cseq(r2), last_code: 200, granted_s: 100, failures: 0 });
    expect(rec.expires_at).toBe(Date.now() + 100_000);
    // no refresh before 80 s; one right after
    await vi.advanceTimersByTimeAsync(79_900);
    expect(sent).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(sent).toHaveLength(4);
    expect(sent.map((r) => r.callId())).toEqual(Array(4).fill(r1.callId()));
    expect(sent.map(cseq)).toEqual([1, 2, 3, 4]);
    a.stop();
  });

  it('honours a shorter grant (Contact expires) and never counts on more than it asked for', async () => {
    script = () => ok([['Contact', '<sip:trunk@203.0.113.10:5060>;expires=50']]);
    const a = await running();
    await vi.advanceTimersByTimeAsync(39_000);
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1500);
    expect(sent).toHaveLength(2);
    a.stop();
    sent = [];
    script = () => ok([['Expires', '7200']]);
    const b = await running([server({ id: 8 })]);
    expect(store.m.get(8)?.granted_s).toBe(600);
    b.stop();
  });

  it('423 Interval Too Brief: asks again at once with Min-Expires, and keeps asking for it', async () => {
    script = (req) => (Number(req.get('expires')) < 900 ? new SipResponse(423, 'Interval Too Brief', [['Min-Expires', '900']]) : ok([['Expires', '900']]));
    const a = await running();
    expect(sent.map((r) => r.get('expires'))).toEqual(['600', '900']);
    expect(sent.map(cseq)).toEqual([1, 2]);
    expect(store.m.get(7)).toMatchObject({ state: 'registered', granted_s: 900 });
    await vi.advanceTimersByTimeAsync(720_001);
    expect(sent.map((r) => r.get('expires'))).toEqual(['600', '900', '900']);
    a.stop();
  });

  it('failures: refused credentials (a second challenge) → failed, retried with a doubling backoff up to the max; success resets it', async () => {
    script = () => challenge(); // the registrar never accepts
    const a = await running([server()], { retryMinMs: 1000, retryMaxMs: 4000 });
    // answered once, not twice
    expect(sent).toHaveLength(2);
    expect(store.m.get(7)).toMatchObject({ state: 'failed', last_code: 401, last_reason: 'challenged again (credentials refused)', failures: 1 });
    const times: number[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) {
      const n = sent.length;
      while (sent.length === n) await vi.advanceTimersByTimeAsync(100);
      times.push(Date.now() - t0);
    }
    // 1 s, then +2 s, +4 s, +4 s (capped), +4 s
    expect(times.map((t, i) => Math.round((t - (times[i - 1] ?? 0)) / 1000))).toEqual([1, 2, 4, 4, 4]);
    script = (req) => (req.get('authorization') ? ok() : challenge());
    const n = sent.length;
    while (sent.length === n) await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(store.m.get(7)).toMatchObject({ state: 'registered', failures: 0 });
    a.stop();
  });

  it('403, 5xx and no answer fail with their code', async () => {
    for (const [answer, code, reason] of [[new SipResponse(403, 'Forbidden'), 403, '403 Forbidden'], [new SipResponse(503, 'Service Unavailable'), 503, '503 Service Unavailable'], ['timeout', 408, '408 Request Timeout']] as const) {
      script = () => answer;
      store = new MemStore();
      const a = await running();
      expect(store.m.get(7), String(code)).toMatchObject({ state: 'failed', last_code: code, last_reason: reason });
      a.stop();
    }
  });

  it('a standby agent sends nothing; becoming active it refreshes the stored binding: same Call-ID and From tag, the next CSeq', async () => {
    const first = await running();
    const made = store.m.get(7)!;
    first.stop(); // the old active node is gone
    sent = [];
    const other = agent();
    other.update([server()]); // the table is loaded while standby
    other.setActive(false);
    await vi.advanceTimersByTimeAsync(200_000);
    expect(sent).toHaveLength(0);
    other.setActive(true);
    await settle();
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]!.callId()).toBe(made.call_id);
    expect(sent[0]!.get('from')).toContain(`tag=${made.from_tag}`);
    expect(cseq(sent[0]!)).toBe(made.cseq + 1);
    expect(store.m.get(7)).toMatchObject({ state: 'registered', call_id: made.call_id });
    // back to standby: no more refreshes from here
    other.setActive(false);
    const n = sent.length;
    await vi.advanceTimersByTimeAsync(500_000);
    expect(sent).toHaveLength(n);
  });

  it('a server removed (disabled/deleted) is un-REGISTERed (Expires: 0, same Call-ID) and its state deleted', async () => {
    const a = await running();
    const callId = sent[0]!.callId();
    sent = [];
    a.update([]);
    await a.idle();
    await settle();
    expect(sent.map((r) => r.get('expires'))).toEqual(['0', '0']); // challenged, answered
    expect(sent.every((r) => r.callId() === callId)).toBe(true);
    expect(sent[0]!.get('contact')).toBe('<sip:trunk@203.0.113.10:5060>');
    expect(store.m.has(7)).toBe(false);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(sent).toHaveLength(2);
    a.stop();
  });

  it('new credentials: the old binding removed with the old ones, a new Call-ID registered with the new ones', async () => {
    const a = await running();
    const oldCallId = sent[0]!.callId();
    sent = [];
    a.update([server({ auth: { username: 'trunk', password: 'new-secret', realm: null } })]);
    await settle();
    await settle();
    expect(sent.map((r) => [r.get('expires'), r.callId() === oldCallId])).toEqual([['0', true], ['0', true], ['600', false], ['600', false]]);
    expect(store.m.get(7)).toMatchObject({ state: 'registered' });
    expect(store.m.get(7)!.call_id).not.toBe(oldCallId);
    // a new Expires only: the same binding, asked from the next refresh on
    sent = [];
    a.update([server({ auth: { username: 'trunk', password: 'new-secret', realm: null }, register: { user: 'trunk', domain: 'carrier.example', contactUser: 'trunk', expires: 120 } })]);
    await settle();
    expect(sent).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(80_100);
    expect(sent[0]!.get('expires')).toBe('120');
    a.stop();
  });
});
