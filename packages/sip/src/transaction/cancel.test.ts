import { describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { buildCancel } from './build.js';
import { TransactionLayer } from './manager.js';
import { FakeClock, RecordingTransport, sampleRequest, sampleResponse } from './testing.js';
import type { ServerTransaction, TransactionUser } from './transaction.js';
import type { Destination } from '../message/transports.js';

const DEST: Destination = { transport: 'UDP', address: '192.0.2.10', port: 5060 };
const SRC: Destination = { transport: 'UDP', address: '198.51.100.7', port: 5060 };

function setup(user: Partial<TransactionUser> = {}) {
  const clock = new FakeClock();
  const transport = new RecordingTransport(clock);
  const invites: ServerTransaction[] = [];
  const layer = new TransactionLayer({ transport, scheduler: clock, user: { onRequest: (tx) => invites.push(tx), ...user } });
  const sent = () => transport.sent.map((s) => (s.message.kind === 'request' ? s.message.method : `${(s.message as SipResponse).status} ${(s.message as SipResponse).cseq().method}`));
  return { clock, transport, layer, invites, sent };
}

describe('CANCEL construction (§9.1)', () => {
  const invite = sampleRequest('INVITE', { route: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'] });
  const cancel = buildCancel(invite, { reason: 'SIP;cause=200;text="Call completed elsewhere"' });
  it('copies Request-URI, Call-ID, To, From and the CSeq number, method CANCEL', () => {
    expect(cancel.method).toBe('CANCEL');
    expect(cancel.uri).toBe(invite.uri);
    expect(cancel.get('call-id')).toBe(invite.get('call-id'));
    expect(cancel.get('to')).toBe(invite.get('to'));
    expect(cancel.get('from')).toBe(invite.get('from'));
    expect(cancel.cseq()).toEqual({ seq: invite.cseq().seq, method: 'CANCEL' });
  });
  it('has a single Via equal to the top Via of the INVITE, and its Route', () => {
    expect(cancel.getAll('via')).toEqual([invite.elements('via')[0]]);
    expect(cancel.getAll('route')).toEqual(['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    expect(cancel.get('reason')).toContain('cause=200');
  });
});

describe('client CANCEL', () => {
  it('waits for a provisional response before sending the CANCEL', () => {
    const { clock, layer, transport, sent } = setup();
    const invite = sampleRequest('INVITE');
    const tx = layer.sendRequest(invite, DEST);
    expect(tx.cancel()).toBe('pending');
    expect(tx.cancel()).toBe('pending');
    clock.advance(100);
    expect(sent()).toEqual(['INVITE']);
    layer.receive(sampleResponse(invite, 180, 'b1'), DEST);
    expect(sent()).toEqual(['INVITE', 'CANCEL']);
    expect(transport.sent[1]?.dest).toBe(DEST);
    expect(tx.cancel()).toBe('sent');
    expect(sent()).toEqual(['INVITE', 'CANCEL']);
  });

  it('sends at once in Proceeding; the CANCEL has its own transaction and the 487 is ACKed', () => {
    const { layer, sent } = setup();
    const invite = sampleRequest('INVITE');
    const finals: string[] = [];
    const tx = layer.sendRequest(invite, DEST, { onFinal: (r) => finals.push(`invite ${r.status}`) });
    layer.receive(sampleResponse(invite, 100), DEST);
    expect(tx.cancel({ user: { onFinal: (r) => finals.push(`cancel ${r.status}`) } })).toBe('sent');
    const cancel = sampleRequest('CANCEL');
    expect(layer.receive(sampleResponse(cancel, 200, 'b1'), DEST)).toBe('client');
    layer.receive(sampleResponse(invite, 487, 'b1'), DEST);
    expect(finals).toEqual(['cancel 200', 'invite 487']);
    expect(sent()).toEqual(['INVITE', 'CANCEL', 'ACK']);
  });

  it('considers the INVITE cancelled when no final response comes 64*T1 after the CANCEL (§9.1)', () => {
    const { clock, layer } = setup();
    const invite = sampleRequest('INVITE');
    const finals: string[] = [];
    const tx = layer.sendRequest(invite, DEST, { onFinal: (r, _t, origin) => finals.push(`${r.status} ${origin}`) });
    layer.receive(sampleResponse(invite, 180, 'b1'), DEST);
    clock.advance(1000);
    tx.cancel();
    clock.advance(31_999);
    expect(tx.state).toBe('Proceeding');
    clock.advance(1);
    expect(finals).toEqual(['487 timeout']);
    expect(tx.state).toBe('Terminated');
    expect(layer.stats().timeouts.ict).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it('drops a pending CANCEL when a final response comes first', () => {
    const { layer, sent } = setup();
    const invite = sampleRequest('INVITE');
    const tx = layer.sendRequest(invite, DEST);
    tx.cancel();
    layer.receive(sampleResponse(invite, 200, 'b1'), DEST);
    expect(sent()).toEqual(['INVITE']);
    expect(tx.cancel()).toBe('too-late');
  });

  it('cancels INVITE only', () => {
    const { layer } = setup();
    const tx = layer.sendRequest(sampleRequest('OPTIONS'), DEST);
    expect(() => tx.cancel()).toThrow(expect.objectContaining({ code: 'not-invite' }));
  });
});

describe('server CANCEL (§9.2), default UAS behaviour', () => {
  it('answers 200 to the CANCEL and 487 to the INVITE with the same To tag', () => {
    const { layer, invites, sent, transport } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    const ist = invites[0]!;
    ist.respond(createResponse(ist.request!, 180, { toTag: 'ring1' }));
    expect(layer.receive(sampleRequest('CANCEL'), SRC)).toBe('new');
    expect(sent()).toEqual(['180 INVITE', '200 CANCEL', '487 INVITE']);
    const tags = transport.sent.map((s) => (s.message as SipResponse).to().tag);
    expect(tags).toEqual(['ring1', 'ring1', 'ring1']);
    expect(ist.state).toBe('Completed');
    // the ACK for the 487 completes the INVITE transaction
    expect(layer.receive(sampleRequest('ACK', { toTag: 'ring1' }), SRC)).toBe('server');
    expect(ist.state).toBe('Confirmed');
  });

  it('answers a retransmitted CANCEL from its transaction', () => {
    const { layer, sent } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    layer.receive(sampleRequest('CANCEL'), SRC);
    expect(layer.receive(sampleRequest('CANCEL'), SRC)).toBe('server');
    expect(sent()).toEqual(['200 CANCEL', '487 INVITE', '200 CANCEL']);
  });

  it('answers 481 when no INVITE transaction matches', () => {
    const { layer, sent } = setup();
    layer.receive(sampleRequest('CANCEL'), SRC);
    expect(sent()).toEqual(['481 CANCEL']);
    expect(layer.stats().stray.cancels).toBe(1);
  });

  it('answers only 200 when the INVITE already has its final response', () => {
    const { layer, invites, sent } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    invites[0]!.respond(createResponse(invites[0]!.request!, 200, { toTag: 'ok' }));
    layer.receive(sampleRequest('CANCEL'), SRC);
    expect(sent()).toEqual(['200 INVITE', '200 CANCEL']);
  });

  it("lets the INVITE transaction's TU answer when it has onCancel", () => {
    const { layer, invites, sent } = setup();
    const seen: string[] = [];
    layer.receive(sampleRequest('INVITE'), SRC);
    invites[0]!.user = { onCancel: (c, tx) => seen.push(`${c.method} for ${tx.method}`) };
    layer.receive(sampleRequest('CANCEL'), SRC);
    expect(seen).toEqual(['CANCEL for INVITE']);
    expect(sent()).toEqual(['200 CANCEL']);
  });

  it('matches a CANCEL from an RFC 2543 peer', () => {
    const { layer, sent } = setup();
    layer.receive(sampleRequest('INVITE', { branch: 'old1' }), SRC);
    layer.receive(sampleRequest('CANCEL', { branch: 'old1' }), SRC);
    expect(sent()).toEqual(['200 CANCEL', '487 INVITE']);
  });
});

describe('server CANCEL with an onCancel hook (proxy)', () => {
  it('hands the CANCEL, its transaction and the INVITE transaction to the TU', () => {
    const calls: Array<[string, string, string | undefined]> = [];
    const { layer } = setup({
      onCancel: (cancel: SipRequest, cancelTx, inviteTx) => {
        calls.push([cancel.method, cancelTx.method, inviteTx?.method]);
        cancelTx.respond(createResponse(cancel, 200, { toTag: 'p' }));
      },
    });
    layer.receive(sampleRequest('INVITE'), SRC);
    layer.receive(sampleRequest('CANCEL'), SRC);
    layer.receive(sampleRequest('CANCEL', { branch: 'z9hG4bKunknown' }), SRC);
    expect(calls).toEqual([['CANCEL', 'CANCEL', 'INVITE'], ['CANCEL', 'CANCEL', undefined]]);
  });
});
