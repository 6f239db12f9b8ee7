import { parseMessage, type SipRequest } from '@ngcp/sip';
import { describe, expect, it } from 'vitest';
import { consumeCredentials } from './auth.js';

const invite = (...auth: string[]): SipRequest => parseMessage(Buffer.from([
  'INVITE sip:bob@example.org SIP/2.0',
  'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1',
  'From: <sip:alice@example.org>;tag=a1',
  'To: <sip:bob@example.org>',
  'Call-ID: c1@192.0.2.10',
  'CSeq: 2 INVITE',
  'Max-Forwards: 70',
  ...auth,
  'Content-Length: 0',
  '', '',
].join('\r\n'))) as SipRequest;

const ours = 'Proxy-Authorization: Digest username="alice", realm="Example.ORG", nonce="n1", uri="sip:bob@example.org", response="0123456789abcdef0123456789abcdef"';
const theirs = 'Proxy-Authorization: Digest username="alice", realm="carrier.test", nonce="n2", uri="sip:bob@example.org", response="fedcba9876543210fedcba9876543210"';

describe('consumeCredentials (RFC 3261 §22.3)', () => {
  it('removes the credentials of our realm (case-insensitive) and keeps another realm\'s and unparseable ones', () => {
    const req = invite(ours, theirs, 'Proxy-Authorization: not credentials at all, "');
    expect(consumeCredentials(req, 'example.org')).toBe(1);
    const left = req.getAll('proxy-authorization');
    expect(left).toHaveLength(2);
    expect(left[0]).toContain('realm="carrier.test"');
    expect(left[1]).toContain('not credentials');
    expect(req.toBuffer().toString()).not.toContain('realm="Example.ORG"');
  });

  it('leaves a request without our credentials as it was', () => {
    const req = invite(theirs);
    expect(consumeCredentials(req, 'example.org')).toBe(0);
    expect(req.getAll('proxy-authorization')).toEqual([theirs.slice('Proxy-Authorization: '.length)]);
    expect(consumeCredentials(invite(), 'example.org')).toBe(0);
  });
});
