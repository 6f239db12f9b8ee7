import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest } from '@ngcp/sip';
import { dialogBranch } from './branch.js';

const KEY = 'the-nonce-secret-of-both-nodes';

function req(o: { method?: string; cseq?: number; viaBranch?: string; toTag?: string; route?: string; body?: string } = {}): SipRequest {
  const method = o.method ?? 'INVITE';
  const body = o.body ?? '';
  const text = [
    `${method} sip:b@10.77.0.100:5084 SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.2;branch=${o.viaBranch ?? 'z9hG4bKlb9f660d02062915180369.0'};rport=5060;received=127.0.0.2`,
    'Via: SIP/2.0/UDP 10.77.0.100:5074;branch=z9hG4bK-1-11;rport=5074',
    `Route: ${o.route ?? '<sip:127.0.0.2:5062;lr>, <sip:127.0.0.2:5060;lr;r2=on>'}`,
    'Max-Forwards: 69',
    'From: <sip:a@fo.test>;tag=ft1',
    `To: <sip:b@fo.test>;tag=${o.toTag ?? 'tt1'}`,
    'Call-ID: c1@10.77.0.100',
    `CSeq: ${o.cseq ?? 3} ${method}`,
    `Content-Length: ${body.length}`,
    '',
    body,
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

describe('dialogBranch (the Via branch of an in-dialog request the proxy forwards)', () => {
  it('is an RFC 3261 branch, the same for every copy of a request on either node (same key)', () => {
    const b = dialogBranch(req(), KEY);
    expect(b).toMatch(/^z9hG4bKpx[0-9a-f]{24}$/);
    // a retransmission arriving at the other node: a new parse, a body the proxy never looks at
    expect(dialogBranch(req({ body: 'v=0\r\n' }), KEY)).toBe(b);
  });

  it('is the INVITE’s for its CANCEL and for the ACK of its error response (the method is not hashed)', () => {
    expect(dialogBranch(req({ method: 'CANCEL' }), KEY)).toBe(dialogBranch(req(), KEY));
    expect(dialogBranch(req({ method: 'ACK' }), KEY)).toBe(dialogBranch(req(), KEY));
  });

  it.each([
    ['another CSeq number', { cseq: 4 }],
    ['another branch of the previous hop (a new transaction, e.g. the ACK for a 2xx)', { viaBranch: 'z9hG4bKlbother.0' }],
    ['another To tag', { toTag: 'tt2' }],
    ['another Route set', { route: '<sip:127.0.0.2:5063;lr>, <sip:127.0.0.2:5060;lr;r2=on>' }],
  ] as const)('differs with %s', (_n, o) => {
    expect(dialogBranch(req(o), KEY)).not.toBe(dialogBranch(req(), KEY));
  });

  it('differs with another key (a node of another pair)', () => {
    expect(dialogBranch(req(), 'another-secret')).not.toBe(dialogBranch(req(), KEY));
  });
});
