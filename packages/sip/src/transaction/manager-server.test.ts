import { describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { TransactionLayer } from './manager.js';
import { FakeClock, RecordingTransport, sampleRequest } from './testing.js';
import type { ServerTransaction, TransactionUser } from './transaction.js';
import type { Destination } from '../message/transports.js';

const SRC: Destination = { transport: 'UDP', address: '198.51.100.7', port: 5060 };
const SRC_TCP: Destination = { transport: 'TCP', address: '198.51.100.7', port: 49152, connectionId: 'c1' };

function setup(answer?: (tx: ServerTransaction, req: SipRequest) => void, extra: Partial<TransactionUser> = {}) {
  const clock = new FakeClock();
  const transport = new RecordingTransport(clock);
  const log: string[] = [];
  const txs: ServerTransaction[] = [];
  const layer = new TransactionLayer({
    transport,
    scheduler: clock,
    user: {
      onRequest: (tx, req) => {
        log.push(`request ${req.method}`);
        txs.push(tx);
        tx.user = {
          onTimeout: () => log.push('timeout'),
          onTransportError: (e) => log.push(`transport-error ${(e as Error).message}`),
          onTerminated: () => log.push(`terminated ${tx.kind}`),
        };
        answer?.(tx, req);
      },
      onAck: (ack, _src, tx) => log.push(`ack ${tx ? 'in-transaction' : 'stray'}`),
      ...extra,
    },
  });
  const responses = () => transport.sent.filter((s) => s.message.kind === 'response').map((s) => [(s.message as SipResponse).status, s.at]);
  return { clock, transport, layer, log, txs, responses };
}

const reply = (tx: ServerTransaction, status: number, toTag = 'uas1'): SipResponse => {
  // after its final response the transaction no longer holds the request
  const res = createResponse(tx.request ?? sampleRequest(tx.method), status, { toTag });
  tx.respond(res);
  return res;
};
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('IST: 100 Trying (§17.2.1)', () => {
  it('sends 100 Trying after 200 ms when the TU has not answered', () => {
    const { clock, layer, responses } = setup();
    expect(layer.receive(sampleRequest('INVITE'), SRC)).toBe('new');
    clock.advance(199);
    expect(responses()).toEqual([]);
    clock.advance(1);
    expect(responses()).toEqual([[100, 200]]);
  });

  it('sends no 100 when the TU answers within 200 ms', () => {
    const { clock, layer, txs, responses } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    clock.advance(50);
    reply(txs[0]!, 180);
    clock.advance(1000);
    expect(responses()).toEqual([[180, 50]]);
  });

  it('sends 100 on TCP too, to the connection the INVITE came on', () => {
    const { clock, transport, layer } = setup();
    layer.receive(sampleRequest('INVITE', { transport: 'TCP' }), SRC_TCP);
    clock.advance(200);
    expect(transport.sent[0]?.dest).toBe(SRC_TCP);
  });

  it('answers a retransmitted INVITE with the last provisional, without telling the TU again', () => {
    const { clock, layer, log, txs, responses } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    reply(txs[0]!, 180);
    clock.advance(500);
    expect(layer.receive(sampleRequest('INVITE'), SRC)).toBe('server');
    expect(responses()).toEqual([[180, 0], [180, 500]]);
    expect(log).toEqual(['request INVITE']);
    expect(layer.stats().retransmissions.ist).toBe(1);
  });
});

describe('IST: non-2xx final (§17.2.1)', () => {
  it('retransmits on Timer G (500, 1000, 2000, 4000, 4000 …) and reports Timer H', () => {
    const { clock, layer, log, txs, responses } = setup((tx) => reply(tx, 486));
    layer.receive(sampleRequest('INVITE'), SRC);
    clock.advance(32_000);
    expect(responses().map(([, at]) => at)).toEqual([0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500]);
    expect(log).toEqual(['request INVITE', 'timeout', 'terminated ist']);
    expect(txs[0]?.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
    expect(layer.stats().timeouts.ist).toBe(1);
  });

  it('stops on the ACK, absorbs more ACKs in Confirmed, ends after Timer I = T4', () => {
    const { clock, layer, log, txs, responses } = setup((tx) => reply(tx, 486));
    layer.receive(sampleRequest('INVITE'), SRC);
    clock.advance(600);
    expect(layer.receive(sampleRequest('ACK', { toTag: 'uas1' }), SRC)).toBe('server');
    expect(txs[0]?.state).toBe('Confirmed');
    expect(layer.receive(sampleRequest('ACK', { toTag: 'uas1' }), SRC)).toBe('server');
    clock.advance(5000);
    expect(responses()).toEqual([[486, 0], [486, 500]]);
    expect(log).toEqual(['request INVITE', 'terminated ist']);
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(0);
  });

  it('on TCP sends the final once and ends on the ACK (Timer I = 0)', () => {
    const { clock, layer, txs, responses } = setup((tx) => reply(tx, 404));
    layer.receive(sampleRequest('INVITE', { transport: 'TCP' }), SRC_TCP);
    clock.advance(10_000);
    layer.receive(sampleRequest('ACK', { transport: 'TCP', toTag: 'uas1' }), SRC_TCP);
    expect(responses()).toEqual([[404, 0]]);
    expect(txs[0]?.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
  });

  it('discards a second final response (§17.2.2), and says so', () => {
    const { layer, txs, responses } = setup((tx) => reply(tx, 486));
    layer.receive(sampleRequest('INVITE'), SRC);
    const tx = txs[0]!;
    expect(tx.canRespond(200)).toBe(false);
    expect(tx.respond(createResponse(sampleRequest('INVITE'), 200, { toTag: 'uas1' }))).toBe(false);
    expect(responses()).toEqual([[486, 0]]);
    expect(() => tx.respond(createResponse(sampleRequest('INVITE'), 99))).toThrow(expect.objectContaining({ code: 'invalid-response' }));
  });

  it('lets go of the request once the final is sent', () => {
    const { layer, txs } = setup((tx) => reply(tx, 486));
    layer.receive(sampleRequest('INVITE'), SRC);
    expect(txs[0]?.request).toBeUndefined();
  });
});

describe('IST: 2xx and the Accepted state (RFC 6026)', () => {
  it('absorbs INVITE retransmissions, sends the TU 2xx retransmissions, passes ACKs up, ends on Timer L', () => {
    const { clock, layer, log, txs, responses } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    const tx = txs[0]!;
    const ok = createResponse(tx.request!, 200, { toTag: 'uas1' });
    tx.respond(ok);
    expect(tx.state).toBe('Accepted');
    clock.advance(500);
    expect(layer.receive(sampleRequest('INVITE'), SRC)).toBe('server');
    tx.respond(ok); // the TU retransmits its 2xx (§13.3.1.4)
    expect(layer.receive(sampleRequest('ACK', { toTag: 'uas1' }), SRC)).toBe('server'); // same branch: matches
    expect(layer.receive(sampleRequest('ACK', { branch: 'z9hG4bKnew', toTag: 'uas1' }), SRC)).toBe('ack'); // RFC 3261 ACK
    expect(responses()).toEqual([[200, 0], [200, 500]]);
    expect(log).toEqual(['request INVITE', 'ack in-transaction', 'ack stray']);
    expect(tx.respond(createResponse(sampleRequest('INVITE'), 486, { toTag: 'uas1' }))).toBe(false);
    clock.advance(31_500);
    expect(tx.state).toBe('Terminated');
    expect(clock.pending).toBe(0);
  });
});

describe('NIST (§17.2.2)', () => {
  it('absorbs retransmissions while Trying, resends the final while Completed, ends on Timer J', () => {
    const { clock, layer, txs, responses, log } = setup();
    layer.receive(sampleRequest('REGISTER'), SRC);
    clock.advance(500);
    expect(layer.receive(sampleRequest('REGISTER'), SRC)).toBe('server');
    expect(responses()).toEqual([]);
    reply(txs[0]!, 200);
    clock.advance(1000);
    layer.receive(sampleRequest('REGISTER'), SRC);
    expect(responses()).toEqual([[200, 500], [200, 1500]]);
    clock.advance(32_000 - 1000 - 1);
    expect(txs[0]?.state).toBe('Completed');
    clock.advance(1);
    expect(log).toEqual(['request REGISTER', 'terminated nist']);
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(0);
  });

  it('resends the last provisional on a retransmission while Proceeding', () => {
    const { layer, txs, responses } = setup((tx) => reply(tx, 100));
    layer.receive(sampleRequest('MESSAGE'), SRC);
    layer.receive(sampleRequest('MESSAGE'), SRC);
    expect(responses()).toEqual([[100, 0], [100, 0]]);
    expect(txs[0]?.state).toBe('Proceeding');
  });

  it('on TCP terminates as soon as the final is sent (Timer J = 0)', () => {
    const { clock, layer, log } = setup((tx) => reply(tx, 200));
    layer.receive(sampleRequest('OPTIONS', { transport: 'TCP' }), SRC_TCP);
    expect(log).toEqual(['request OPTIONS', 'terminated nist']);
    expect(clock.pending).toBe(0);
    expect(layer.size).toBe(0);
  });

  it('informs the TU of a failed send and terminates (§17.2.4)', async () => {
    const { clock, transport, layer, log, txs } = setup();
    transport.failWith = { mode: 'async', error: new Error('EACCES') };
    layer.receive(sampleRequest('OPTIONS'), SRC);
    reply(txs[0]!, 200);
    await flush();
    expect(log).toEqual(['request OPTIONS', 'transport-error EACCES', 'terminated nist']);
    expect(clock.pending).toBe(0);
  });
});

describe('IST transport errors (RFC 6026 Figure 7)', () => {
  it('informs the TU and stays in its state; Timer H still ends a Completed transaction', async () => {
    const { clock, transport, layer, log, txs } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    transport.failWith = { mode: 'async', error: new Error('EPIPE') };
    reply(txs[0]!, 180);
    await flush();
    expect(txs[0]?.state).toBe('Proceeding');
    reply(txs[0]!, 486);
    await flush();
    expect(txs[0]?.state).toBe('Completed');
    expect(log).toEqual(['request INVITE', 'transport-error EPIPE', 'transport-error EPIPE']);
    transport.failWith = null;
    clock.advance(32_000);
    expect(txs[0]?.state).toBe('Terminated');
    expect(layer.stats().transportErrors.ist).toBe(2);
  });
});

describe('stats', () => {
  it('counts created, live, retransmissions and timeouts per kind', () => {
    const { clock, layer, txs } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    layer.receive(sampleRequest('OPTIONS', { branch: 'z9hG4bKo1' }), SRC);
    layer.receive(sampleRequest('OPTIONS', { branch: 'z9hG4bKo1' }), SRC);
    expect(layer.stats()).toMatchObject({ created: { ist: 1, nist: 1 }, live: { ist: 1, nist: 1 } });
    reply(txs[0]!, 500);
    reply(txs[1]!, 200);
    clock.advance(32_000);
    const s = layer.stats();
    expect(s.live).toEqual({ ict: 0, nict: 0, ist: 0, nist: 0 });
    expect(s.timeouts.ist).toBe(1);
    expect(s.retransmissions.ist).toBe(10);
    expect(layer.size).toBe(0);
  });
});

describe('requests outside transactions', () => {
  it('hands a stray ACK to onAck without a transaction', () => {
    const { layer, log } = setup();
    expect(layer.receive(sampleRequest('ACK', { toTag: 'x' }), SRC)).toBe('ack');
    expect(log).toEqual(['ack stray']);
    expect(layer.stats().stray.acks).toBe(1);
  });

  it('drops a request whose Via is missing', () => {
    const { layer } = setup();
    const req = sampleRequest('OPTIONS');
    req.remove('via');
    expect(layer.receive(req, SRC)).toBe('malformed');
  });

  it('RFC 2543 peer: matches the retransmitted INVITE and the ACK by its To tag', () => {
    const { clock, layer, txs, responses } = setup((tx) => reply(tx, 486, 'uas9'));
    layer.receive(sampleRequest('INVITE', { branch: '1a2b3c' }), SRC);
    clock.advance(400);
    expect(layer.receive(sampleRequest('INVITE', { branch: '1a2b3c' }), SRC)).toBe('server');
    expect(layer.receive(sampleRequest('ACK', { branch: '1a2b3c', toTag: 'uas9' }), SRC)).toBe('server');
    expect(txs[0]?.state).toBe('Confirmed');
    expect(responses()).toEqual([[486, 0], [486, 400]]);
    clock.advance(5000);
    expect(layer.size).toBe(0);
    expect((layer as unknown as { servers: Map<string, unknown> }).servers.size).toBe(0);
  });
});
