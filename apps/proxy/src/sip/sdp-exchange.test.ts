import { describe, expect, it } from 'vitest';
import { sdpExchange, type SdpCarrier } from './sdp-exchange.js';

// caller's tag "a", callee's tag "b"; From/To as the message itself carries them
const A = 'a';
const B = 'b';

describe('sdpExchange: ng operation and tags of an SDP body', () => {
  it.each<[string, SdpCarrier, ReturnType<typeof sdpExchange>]>([
    ['INVITE with SDP (early offer)', { kind: 'request', method: 'INVITE', requestHadSdp: true, fromTag: A, toTag: '' }, { op: 'offer', fromTag: A }],
    ['its 200 (answer)', { kind: 'response', method: 'INVITE', requestHadSdp: true, fromTag: A, toTag: B }, { op: 'answer', fromTag: A, toTag: B }],
    ['its 183 with SDP (early media answer)', { kind: 'response', method: 'INVITE', requestHadSdp: true, fromTag: A, toTag: B }, { op: 'answer', fromTag: A, toTag: B }],
    ['200 to an INVITE without SDP (late offer: the callee offers)', { kind: 'response', method: 'INVITE', requestHadSdp: false, fromTag: A, toTag: B }, { op: 'offer', fromTag: B }],
    ['ACK with SDP (late offer: the caller answers)', { kind: 'ack', method: 'INVITE', requestHadSdp: false, fromTag: A, toTag: B }, { op: 'answer', fromTag: B, toTag: A }],
    ['re-INVITE from the caller', { kind: 'request', method: 'INVITE', requestHadSdp: true, fromTag: A, toTag: B }, { op: 'offer', fromTag: A }],
    ['re-INVITE from the callee (From/To swapped)', { kind: 'request', method: 'INVITE', requestHadSdp: true, fromTag: B, toTag: A }, { op: 'offer', fromTag: B }],
    ["…and the caller's 200 to it", { kind: 'response', method: 'INVITE', requestHadSdp: true, fromTag: B, toTag: A }, { op: 'answer', fromTag: B, toTag: A }],
    ['re-INVITE without SDP from the callee: the caller offers in the 200', { kind: 'response', method: 'INVITE', requestHadSdp: false, fromTag: B, toTag: A }, { op: 'offer', fromTag: A }],
    ['…and the callee answers in the ACK', { kind: 'ack', method: 'INVITE', requestHadSdp: false, fromTag: B, toTag: A }, { op: 'answer', fromTag: A, toTag: B }],
    ['UPDATE with SDP', { kind: 'request', method: 'UPDATE', requestHadSdp: true, fromTag: A, toTag: B }, { op: 'offer', fromTag: A }],
    ['200 to UPDATE with SDP', { kind: 'response', method: 'UPDATE', requestHadSdp: true, fromTag: A, toTag: B }, { op: 'answer', fromTag: A, toTag: B }],
    ['SDP in a 200 to an UPDATE without SDP: no offer/answer', { kind: 'response', method: 'UPDATE', requestHadSdp: false, fromTag: A, toTag: B }, undefined],
    ['SDP in the ACK of an INVITE that had SDP: no offer/answer (RFC 3264 §5)', { kind: 'ack', method: 'INVITE', requestHadSdp: true, fromTag: A, toTag: B }, undefined],
  ])('%s', (_name, m, want) => {
    expect(sdpExchange(m)).toEqual(want);
  });

  it('offer and answer of one exchange always name the same offerer (rtpengine matches the answer to the offer by from-tag)', () => {
    for (const [from, to] of [[A, B], [B, A]] as const) {
      const early = [sdpExchange({ kind: 'request', method: 'INVITE', requestHadSdp: true, fromTag: from, toTag: to }), sdpExchange({ kind: 'response', method: 'INVITE', requestHadSdp: true, fromTag: from, toTag: to })];
      const late = [sdpExchange({ kind: 'response', method: 'INVITE', requestHadSdp: false, fromTag: from, toTag: to }), sdpExchange({ kind: 'ack', method: 'INVITE', requestHadSdp: false, fromTag: from, toTag: to })];
      for (const [offer, answer] of [early, late]) {
        expect(offer?.op).toBe('offer');
        expect(answer?.op).toBe('answer');
        expect(answer?.fromTag).toBe(offer?.fromTag);
        expect(answer && 'toTag' in answer ? answer.toTag : undefined).not.toBe(offer?.fromTag);
      }
    }
  });
});
