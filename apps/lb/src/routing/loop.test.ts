import { describe, expect, it } from 'vitest';
import { SipRequest, parseMessage, type Via } from '@ngcp/sip';
import { ackBranch, forwardBranch, isLoop } from './loop.js';

const SECRET = 's3cret';
const ours = (v: Via) => v.host === '127.0.0.2' && (v.port ?? 5060) === 5060;

function invite(uri = 'sip:bob@example.org'): SipRequest {
  return new SipRequest('INVITE', uri, [
    ['Via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKclient;rport=5060;received=10.0.0.1'],
    ['From', '<sip:a@example.org>;tag=1'], ['To', '<sip:bob@example.org>'], ['Call-ID', 'call-1'], ['CSeq', '1 INVITE'], ['Max-Forwards', '70'],
  ]);
}

/** What comes back when `req` is forwarded by us and returns (through a proxy that adds its Via). */
function comeBack(req: SipRequest, newUri?: string): SipRequest {
  const out = parseMessage(req.toBuffer()) as SipRequest;
  out.pushVia(`SIP/2.0/UDP 127.0.0.2:5060;branch=${forwardBranch(req, SECRET, 0)};rport`);
  out.pushVia('SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKproxy');
  if (newUri) out.setUri(newUri);
  return out;
}

describe('loop detection', () => {
  it('a branch is stable per attempt and differs between attempts', () => {
    const r = invite();
    expect(forwardBranch(r, SECRET, 0)).toBe(forwardBranch(invite(), SECRET, 0));
    expect(forwardBranch(r, SECRET, 1)).not.toBe(forwardBranch(r, SECRET, 0));
    expect(forwardBranch(r, SECRET, 0)).toMatch(/^z9hG4bKlb[0-9a-f]{20}\.0$/);
  });

  it('an ACK for an error response gets the INVITE\'s branch (attempt 0); an ACK for a 2xx one of its own', () => {
    const inv = invite();
    const ackFor = (viaBranch: string): SipRequest => new SipRequest('ACK', inv.uri, [
      ['Via', `SIP/2.0/UDP 10.0.0.1:5060;branch=${viaBranch};rport=5060;received=10.0.0.1`],
      ['From', '<sip:a@example.org>;tag=1'], ['To', '<sip:bob@example.org>;tag=callee'], ['Call-ID', 'call-1'], ['CSeq', '1 ACK'], ['Max-Forwards', '70'],
    ]);
    // §17.1.1.3: the same branch as the INVITE, the response's To tag
    expect(ackBranch(ackFor('z9hG4bKclient'), SECRET)).toBe(forwardBranch(inv, SECRET, 0));
    expect(ackBranch(ackFor('z9hG4bKclient'), 'other')).not.toBe(forwardBranch(inv, SECRET, 0));
    // §13.2.2.4: a new transaction
    expect(ackBranch(ackFor('z9hG4bKack2xx'), SECRET)).not.toBe(forwardBranch(inv, SECRET, 0));
  });

  it.each([
    ['a request that comes back unchanged has looped', undefined, true],
    ['a spiral (Request-URI changed) has not', 'sip:bob@10.0.0.9:5060', false],
  ])('%s', (_name, newUri, looped) => {
    expect(isLoop(comeBack(invite(), newUri), ours, SECRET)).toBe(looped);
  });

  it('an in-dialog request passing lb → proxy → lb (our Route entries popped on the way) is a spiral, not a loop', () => {
    const bye = new SipRequest('BYE', 'sip:bob@10.0.0.9:5060', [
      ['Via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKbye;rport=5060;received=10.0.0.1'],
      ['From', '<sip:a@example.org>;tag=1'], ['To', '<sip:bob@example.org>;tag=2'], ['Call-ID', 'call-1'], ['CSeq', '2 BYE'],
      // what is left after the lb popped its first two entries: the proxy, then the lb again
      ['Route', '<sip:127.0.0.2:5062;lr>, <sip:127.0.0.2;lr;r2=on>, <sip:127.0.0.1;lr;r2=on>'],
    ]);
    const back = parseMessage(bye.toBuffer()) as SipRequest;
    back.pushVia(`SIP/2.0/UDP 127.0.0.2:5060;branch=${forwardBranch(bye, SECRET, 0)};rport`);
    back.removeFirstElement('route'); // the proxy pops itself
    back.pushVia('SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKproxy');
    back.removeFirstElement('route'); // the lb pops its own two entries before checking
    back.removeFirstElement('route');
    expect(isLoop(back, ours, SECRET)).toBe(false);
  });

  it('a fresh request, or one whose Via only looks like ours, is no loop', () => {
    expect(isLoop(invite(), ours, SECRET)).toBe(false);
    const r = invite();
    r.pushVia('SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKlb0123456789abcdef0123.0');
    expect(isLoop(r, ours, SECRET)).toBe(false);
    expect(isLoop(comeBack(invite()), ours, 'other secret')).toBe(false);
  });
});
