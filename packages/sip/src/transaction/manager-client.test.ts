import { describe, expect, it, vi } from 'vitest';
import type { SipRequest, SipResponse } from '../message/message.js';
import { TransactionError } from './errors.js';
import { TransactionLayer } from './manager.js';
import { FakeClock, RecordingTransport, sampleRequest, sampleResponse } from './testing.js';
import type { ClientTransaction, ClientTransactionUser, FinalOrigin } from './transaction.js';
import type { Destination } from '../message/transports.js';

const UDP: Destination = { transport: 'UDP', address: '192.0.2.10', port: 5060 };
const TCP: Destination = { transport: 'TCP', address: '192.0.2.10', port: 5060, connectionId: 7 };
const FROM: Destination = { transport: 'UDP', address: '192.0.2.10', port: 5060 };

function setup() {
  const clock = new FakeClock();
  const transport = new RecordingTransport(clock);
  const strays: SipResponse[] = [];
  const layer = new TransactionLayer({ transport, scheduler: clock, user: { onRequest: () => {}, onStrayResponse: (r) => strays.push(r) } });
  const log: string[] = [];
  const user: ClientTransactionUser = {
    onProvisional: (r) => log.push(`provisional ${r.status}`),
    onFinal: (r, _tx, origin: FinalOrigin) => log.push(`final ${r.status} ${origin}`),
    onTimeout: () => log.push('timeout'),
    onTransportError: (e) => log.push(`transport-error ${(e as Error).message}`),
    onTerminated: (tx) => log.push(`terminated ${tx.kind}`),
  };
  const sendTimes = (method: string) => transport.sent.filter((s) => s.message.kind === 'request' && s.message.method === method).map((s) => s.at);
  return { clock, transport, layer, log, user, strays, sendTimes };
}

const flush = () => new Promise<void>((r) => setImmediate(r));

describe('ICT on UDP', () => {
  it('retransmits on Timer A at 500, 1000, 2000 … and times out on Timer B (64*T1)', () => {
    const { clock, layer, log, user, sendTimes } = setup();
    const tx = layer.sendRequest(sampleRequest('INVITE'), UDP, user);
    expect(tx.state).toBe('Calling');
    clock.advance(32_000);
    expect(sendTimes('INVITE')).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(log).toEqual(['timeout', 'terminated ict']);
    expect(tx.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(0);
    expect(layer.stats()).toMatchObject({ timeouts: { ict: 1 }, retransmissions: { ict: 6 }, live: { ict: 0 }, created: { ict: 1 } });
  });

  it('stops retransmitting on a provisional response and waits without Timer B', () => {
    const { clock, layer, log, user, sendTimes } = setup();
    const invite = sampleRequest('INVITE');
    layer.sendRequest(invite, UDP, user);
    clock.advance(600);
    expect(layer.receive(sampleResponse(invite, 180, 'b1'), FROM)).toBe('client');
    clock.advance(120_000);
    expect(sendTimes('INVITE')).toEqual([0, 500]);
    expect(log).toEqual(['provisional 180']);
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(1);
  });

  it('acknowledges a non-2xx itself, resends the ACK on retransmissions, ends after Timer D', () => {
    const { clock, transport, layer, log, user } = setup();
    const invite = sampleRequest('INVITE', { route: ['<sip:p1.example.com;lr>'] });
    const tx = layer.sendRequest(invite, UDP, user);
    const busy = sampleResponse(invite, 486, 'b1');
    layer.receive(busy, FROM);
    expect(tx.state).toBe('Completed');
    const ack = transport.sent[1];
    expect(ack?.message.startLine()).toBe('ACK sip:bob@biloxi.example.com SIP/2.0');
    expect(ack?.dest).toBe(UDP);
    const m = ack?.message as SipRequest;
    expect(m.to().tag).toBe('b1');
    expect(m.getAll('route')).toEqual(['<sip:p1.example.com;lr>']);
    expect(m.topVia()?.branch).toBe(invite.topVia()?.branch);
    layer.receive(sampleResponse(invite, 486, 'b1'), FROM);
    expect(transport.lines().filter((l) => l.startsWith('ACK'))).toHaveLength(2);
    expect(log).toEqual(['final 486 network']);
    clock.advance(31_999);
    expect(tx.state).toBe('Completed');
    clock.advance(1);
    expect(tx.state).toBe('Terminated');
    expect(log).toEqual(['final 486 network', 'terminated ict']);
    expect(clock.pending).toBe(0);
    expect(layer.stats().retransmissions.ict).toBe(1);
  });

  it('passes every 2xx up while Accepted (RFC 6026), then forgets the transaction after Timer M', () => {
    const { clock, layer, log, user, strays } = setup();
    const invite = sampleRequest('INVITE');
    const tx = layer.sendRequest(invite, UDP, user);
    layer.receive(sampleResponse(invite, 200, 'b1'), FROM);
    expect(tx.state).toBe('Accepted');
    clock.advance(4000);
    layer.receive(sampleResponse(invite, 200, 'b1'), FROM); // retransmission
    layer.receive(sampleResponse(invite, 200, 'fork2'), FROM); // another fork
    expect(log).toEqual(['final 200 network', 'final 200 network', 'final 200 network']);
    clock.advance(28_000);
    expect(tx.state).toBe('Terminated');
    expect(layer.receive(sampleResponse(invite, 200, 'b1'), FROM)).toBe('stray-response');
    expect(strays).toHaveLength(1);
    expect(clock.pending).toBe(0);
  });
});

describe('ICT and NICT on TCP (no retransmissions)', () => {
  it('sends the INVITE once and times out after 64*T1', () => {
    const { clock, transport, layer, log, user } = setup();
    layer.sendRequest(sampleRequest('INVITE', { transport: 'TCP' }), TCP, user);
    clock.advance(31_999);
    expect(transport.sent).toHaveLength(1);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(['timeout', 'terminated ict']);
    expect(transport.sent[0]?.dest.connectionId).toBe(7);
  });

  it('terminates at once after acknowledging a non-2xx (Timer D = 0)', () => {
    const { clock, transport, layer, log, user } = setup();
    const invite = sampleRequest('INVITE', { transport: 'TCP' });
    const tx = layer.sendRequest(invite, TCP, user);
    layer.receive(sampleResponse(invite, 603, 'b1'), FROM);
    expect(transport.lines()).toEqual(['INVITE sip:bob@biloxi.example.com SIP/2.0', 'ACK sip:bob@biloxi.example.com SIP/2.0']);
    expect(tx.state).toBe('Terminated');
    expect(log).toEqual(['final 603 network', 'terminated ict']);
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(0);
  });

  it('NICT: one send, terminated on the final response (Timer K = 0)', () => {
    const { clock, transport, layer, log, user } = setup();
    const options = sampleRequest('OPTIONS', { transport: 'TCP' });
    layer.sendRequest(options, TCP, user);
    clock.advance(10_000);
    layer.receive(sampleResponse(options, 200, 'b1'), FROM);
    expect(transport.sent).toHaveLength(1);
    expect(log).toEqual(['final 200 network', 'terminated nict']);
    expect(clock.pending).toBe(0);
  });
});

describe('NICT on UDP', () => {
  it('retransmits on Timer E capped at T2 and times out on Timer F', () => {
    const { clock, layer, log, user, sendTimes } = setup();
    layer.sendRequest(sampleRequest('REGISTER'), UDP, user);
    clock.advance(32_000);
    expect(sendTimes('REGISTER')).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(log).toEqual(['timeout', 'terminated nict']);
    expect(clock.pending).toBe(0);
  });

  it('retransmits every T2 once Proceeding', () => {
    const { clock, layer, user, sendTimes } = setup();
    const bye = sampleRequest('BYE');
    layer.sendRequest(bye, UDP, user);
    clock.advance(100);
    layer.receive(sampleResponse(bye, 100), FROM);
    clock.advance(12_000); // E fires at 500 (→ T2), 4500, 8500, 12500
    expect(sendTimes('BYE')).toEqual([0, 500, 4500, 8500]);
  });

  it('absorbs retransmitted finals in Completed and ends after Timer K = T4', () => {
    const { clock, layer, log, user } = setup();
    const bye = sampleRequest('BYE');
    const tx = layer.sendRequest(bye, UDP, user);
    layer.receive(sampleResponse(bye, 200, 'b1'), FROM);
    expect(layer.receive(sampleResponse(bye, 200, 'b1'), FROM)).toBe('client');
    expect(log).toEqual(['final 200 network']);
    clock.advance(5000);
    expect(tx.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
  });

  it('hands a TU without onTimeout a local 408 (§8.1.3.1)', () => {
    const { clock, layer } = setup();
    const finals: Array<[number, FinalOrigin]> = [];
    layer.sendRequest(sampleRequest('OPTIONS'), UDP, { onFinal: (r, _tx, o) => finals.push([r.status, o]) });
    clock.advance(32_000);
    expect(finals).toEqual([[408, 'timeout']]);
  });
});

describe('transport errors (§17.1.4)', () => {
  it('a rejected send informs the TU and terminates', async () => {
    const { clock, transport, layer, log, user } = setup();
    transport.failWith = { mode: 'async', error: new Error('ECONNREFUSED') };
    const tx = layer.sendRequest(sampleRequest('INVITE'), UDP, user);
    expect(log).toEqual([]);
    await flush();
    expect(log).toEqual(['transport-error ECONNREFUSED', 'terminated ict']);
    expect(tx.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
    expect(layer.stats().transportErrors.ict).toBe(1);
  });

  it('a send that throws is reported after sendRequest() returns; without onTransportError the TU gets a 503', async () => {
    const { transport, layer } = setup();
    transport.failWith = { mode: 'sync', error: new Error('EMSGSIZE') };
    const finals: Array<[number, FinalOrigin]> = [];
    let returned: ClientTransaction | undefined;
    returned = layer.sendRequest(sampleRequest('MESSAGE'), UDP, {
      onFinal: (r, tx, o) => {
        expect(tx).toBe(returned);
        finals.push([r.status, o]);
      },
    });
    expect(finals).toEqual([]);
    await flush();
    expect(finals).toEqual([[503, 'transport-error']]);
  });

  it('a failing retransmission ends the NICT', async () => {
    const { clock, transport, layer, log, user } = setup();
    layer.sendRequest(sampleRequest('OPTIONS'), UDP, user);
    transport.failWith = { mode: 'async', error: new Error('ENETDOWN') };
    clock.advance(500);
    await flush();
    expect(log).toEqual(['transport-error ENETDOWN', 'terminated nict']);
    expect(clock.pending).toBe(0);
  });
});

describe('memory hygiene', () => {
  it('keeps the request until the TU has had the final response, then lets go', () => {
    const { layer } = setup();
    const invite = sampleRequest('INVITE');
    let during: SipRequest | undefined;
    const tx = layer.sendRequest(invite, UDP, { onFinal: (_r, t) => (during = t.request) });
    expect(tx.request).toBe(invite);
    expect(tx.method).toBe('INVITE');
    layer.receive(sampleResponse(invite, 200, 'b1'), FROM);
    expect(during).toBe(invite);
    expect(tx.request).toBeUndefined();
    expect(tx.method).toBe('INVITE');
  });

  it('runs on the default scheduler (one Node timer per duration)', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
    try {
      const transport = new RecordingTransport();
      const layer = new TransactionLayer({ transport, user: { onRequest: () => {} } });
      const timeouts: string[] = [];
      for (let i = 0; i < 100; i++) layer.sendRequest(sampleRequest('OPTIONS', { branch: `z9hG4bKq${i}` }), UDP, { onTimeout: (t) => timeouts.push(t.method) });
      expect(vi.getTimerCount()).toBe(2); // E (500) and F (32000)
      vi.advanceTimersByTime(32_000);
      expect(timeouts).toHaveLength(100);
      expect(transport.sent).toHaveLength(1100);
      expect(layer.size).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('sendRequest', () => {
  it('adds a branch to a Via without one (§8.1.1.7)', () => {
    const { layer } = setup();
    const req = sampleRequest('OPTIONS', { branch: null });
    const tx = layer.sendRequest(req, UDP);
    expect(req.topVia()?.branch).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    expect(tx.key).toBe(`${req.topVia()?.branch} OPTIONS`);
  });
  it('refuses ACK, a request without Via, and a second transaction with the same key', () => {
    const { layer } = setup();
    expect(() => layer.sendRequest(sampleRequest('ACK'), UDP)).toThrow(TransactionError);
    const noVia = sampleRequest('OPTIONS');
    noVia.remove('via');
    expect(() => layer.sendRequest(noVia, UDP)).toThrow(expect.objectContaining({ code: 'no-via' }));
    layer.sendRequest(sampleRequest('OPTIONS'), UDP);
    expect(() => layer.sendRequest(sampleRequest('OPTIONS'), UDP)).toThrow(expect.objectContaining({ code: 'duplicate-transaction' }));
  });
});

describe('robustness', () => {
  it('drops a response whose CSeq is malformed', () => {
    const { layer } = setup();
    const res = sampleResponse(sampleRequest('INVITE'), 200, 'x');
    res.set('cseq', 'garbage');
    expect(layer.receive(res, FROM)).toBe('malformed');
    expect(layer.stats().malformed).toBe(1);
  });

  it('stays consistent when a TU callback throws, then rethrows', () => {
    const { clock, layer } = setup();
    const invite = sampleRequest('INVITE', { transport: 'TCP' });
    const tx = layer.sendRequest(invite, TCP, { onFinal: () => { throw new Error('tu bug'); } });
    expect(() => layer.receive(sampleResponse(invite, 486, 'b1'), FROM)).toThrow('tu bug');
    expect(tx.state).toBe('Terminated');
    expect(layer.size).toBe(0);
    expect(clock.pending).toBe(0);
  });

  it('close() stops every timer and forgets every transaction', () => {
    const { clock, layer } = setup();
    layer.sendRequest(sampleRequest('INVITE'), UDP);
    layer.sendRequest(sampleRequest('OPTIONS'), UDP);
    expect(clock.pending).toBe(4);
    layer.close();
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(0);
    expect(layer.receive(sampleResponse(sampleRequest('INVITE'), 200, 'x'), FROM)).toBe('closed');
    expect(() => layer.sendRequest(sampleRequest('BYE'), UDP)).toThrow(expect.objectContaining({ code: 'closed' }));
  });
});
