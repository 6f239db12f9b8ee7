import { describe, expect, it } from 'vitest';
import type { SipRequest, SipResponse } from '../message/message.js';
import { parseVia } from '../message/via.js';
import { forwardResponseStatelessly, statelessBranch, statelessVia, viaHop } from './stateless.js';
import { parseText, sampleRequest, sampleResponse } from './testing.js';

describe('statelessBranch (§16.11)', () => {
  const invite = sampleRequest('INVITE');

  it('is an RFC 3261 branch, the same for a retransmission', () => {
    const b = statelessBranch(invite);
    expect(b).toMatch(/^z9hG4bK[0-9a-f]{32}$/);
    expect(statelessBranch(sampleRequest('INVITE'))).toBe(b);
  });
  it('gives the CANCEL and the ACK for a non-2xx the INVITE branch', () => {
    expect(statelessBranch(sampleRequest('CANCEL'))).toBe(statelessBranch(invite));
    expect(statelessBranch(sampleRequest('ACK', { toTag: 'x' }))).toBe(statelessBranch(invite));
  });
  it('gives another transaction another branch', () => {
    expect(statelessBranch(sampleRequest('INVITE', { branch: 'z9hG4bKother' }))).not.toBe(statelessBranch(invite));
    expect(statelessBranch(sampleRequest('ACK', { branch: 'z9hG4bKack2xx', toTag: 'x' }))).not.toBe(statelessBranch(invite));
    expect(statelessBranch(sampleRequest('INVITE', { sentBy: 'other.example.com' }))).not.toBe(statelessBranch(invite));
  });
  it('changes with the Request-URI (spirals), the secret and the target', () => {
    expect(statelessBranch(sampleRequest('INVITE', { uri: 'sip:bob@192.0.2.4' }))).not.toBe(statelessBranch(invite));
    expect(statelessBranch(invite, { secret: 's' })).not.toBe(statelessBranch(invite));
    expect(statelessBranch(invite, { target: 'sip:a' })).not.toBe(statelessBranch(invite, { target: 'sip:b' }));
  });
  it('falls back to To/From tags, Call-ID, CSeq number, Via and Request-URI without a cookie', () => {
    const old = sampleRequest('INVITE', { branch: '1a2b' });
    const b = statelessBranch(old);
    expect(statelessBranch(sampleRequest('INVITE', { branch: '1a2b' }))).toBe(b);
    expect(statelessBranch(sampleRequest('CANCEL', { branch: '1a2b' }))).toBe(b);
    expect(statelessBranch(sampleRequest('INVITE', { branch: '1a2b', cseq: 2 }))).not.toBe(b);
    expect(statelessBranch(sampleRequest('INVITE', { branch: '1a2b', fromTag: 'f2' }))).not.toBe(b);
    expect(statelessBranch(sampleRequest('INVITE', { branch: null }))).not.toBe(b);
  });
  it('builds the Via to push', () => {
    const v = statelessVia(invite, { transport: 'udp', host: '10.0.0.1', port: 5060 }, { rport: true });
    expect(v).toBe(`SIP/2.0/UDP 10.0.0.1:5060;branch=${statelessBranch(invite)};rport`);
    expect(parseVia(v).branch).toBe(statelessBranch(invite));
  });
});

describe('responses at a stateless element (§16.11)', () => {
  const forwarded = (() => {
    const req = sampleRequest('INVITE', { sentBy: 'lb.example.net:5060', branch: 'z9hG4bKlb1', secondVia: 'SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds;received=192.0.2.101;rport=5070' });
    return req as SipRequest;
  })();
  const ours = (v: { sentBy: string }) => v.sentBy === 'lb.example.net:5060';

  it('pops our Via and forwards to the next one (received + rport)', () => {
    const res = sampleResponse(forwarded, 180, 't');
    const d = forwardResponseStatelessly(res, ours);
    expect(d.action).toBe('forward');
    if (d.action !== 'forward') return;
    expect(d.hop).toEqual({ transport: 'UDP', address: '192.0.2.101', port: 5070, needsResolution: false });
    expect(d.response.vias()).toHaveLength(1);
    const reparsed = parseText(d.response.toString()) as SipResponse;
    expect(reparsed.topVia()?.branch).toBe('z9hG4bK776asdhds');
  });
  it('silently discards a response whose top Via is not ours', () => {
    expect(forwardResponseStatelessly(sampleResponse(sampleRequest('INVITE'), 200, 't'), ours)).toEqual({ action: 'drop', reason: 'not-ours' });
  });
  it('drops a response with nothing below our Via', () => {
    const res = sampleResponse(sampleRequest('INVITE', { sentBy: 'lb.example.net:5060' }), 200, 't');
    expect(forwardResponseStatelessly(res, ours)).toEqual({ action: 'drop', reason: 'no-next-via' });
  });
});

describe('viaHop (§18.2.2, RFC 3581)', () => {
  it.each([
    ['SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK1', { transport: 'UDP', address: 'pc33.atlanta.example.com', port: 5060, needsResolution: true }],
    ['SIP/2.0/UDP 192.0.2.1:5080;branch=z9hG4bK1;received=203.0.113.9', { transport: 'UDP', address: '203.0.113.9', port: 5080, needsResolution: false }],
    ['SIP/2.0/UDP 192.0.2.1;rport=40000;received=203.0.113.9', { transport: 'UDP', address: '203.0.113.9', port: 40000, needsResolution: false }],
    ['SIP/2.0/UDP 192.0.2.1;rport', { transport: 'UDP', address: '192.0.2.1', port: 5060, needsResolution: false }],
    ['SIP/2.0/UDP host.example.com:5070;maddr=239.255.255.1;ttl=1', { transport: 'UDP', address: '239.255.255.1', port: 5070, needsResolution: false }],
    ['SIP/2.0/TLS [2001:db8::1]', { transport: 'TLS', address: '2001:db8::1', port: 5061, needsResolution: false }],
  ])('%s', (value, hop) => {
    expect(viaHop(parseVia(value))).toEqual(hop);
  });
});
