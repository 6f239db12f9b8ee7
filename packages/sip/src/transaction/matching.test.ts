import { describe, expect, it } from 'vitest';
import { ackKeyOfResponse, clientKeyOfRequest, clientKeyOfResponse, isRfc3261Branch, serverKey } from './matching.js';
import { parseText, sampleRequest, sampleResponse } from './testing.js';
import type { SipRequest } from '../message/message.js';

describe('client matching (§17.1.3)', () => {
  const invite = sampleRequest('INVITE');
  it('matches a response by top Via branch and CSeq method', () => {
    expect(clientKeyOfResponse(sampleResponse(invite, 180, 't1'))).toBe(clientKeyOfRequest(invite));
  });
  it('keeps CANCEL apart from the INVITE it shares a branch with', () => {
    const cancel = sampleRequest('CANCEL');
    expect(clientKeyOfResponse(sampleResponse(cancel, 200, 't1'))).toBe(clientKeyOfRequest(cancel));
    expect(clientKeyOfRequest(cancel)).not.toBe(clientKeyOfRequest(invite));
  });
  it('does not match a response with another branch', () => {
    const other = sampleRequest('INVITE', { branch: 'z9hG4bKother' });
    expect(clientKeyOfResponse(sampleResponse(other, 200, 't1'))).not.toBe(clientKeyOfRequest(invite));
  });
  it('gives no key to a response whose top Via has no branch', () => {
    expect(clientKeyOfResponse(sampleResponse(sampleRequest('INVITE', { branch: null }), 200))).toBeUndefined();
  });
});

describe('server matching, RFC 3261 branch (§17.2.3)', () => {
  const invite = sampleRequest('INVITE');
  const key = serverKey(invite);

  it('matches a retransmission', () => {
    expect(serverKey(sampleRequest('INVITE'))).toBe(key);
  });
  it('needs the same sent-by', () => {
    expect(serverKey(sampleRequest('INVITE', { sentBy: 'evil.example.com' }))).not.toBe(key);
  });
  it('treats a sent-by without port as the default port', () => {
    expect(serverKey(sampleRequest('INVITE', { sentBy: 'pc33.atlanta.example.com:5060' }))).toBe(key);
  });
  it('matches the ACK for a non-2xx (same branch) to the INVITE transaction', () => {
    expect(serverKey(sampleRequest('ACK', { toTag: 'x' }))).toBe(key);
  });
  it('does not match an ACK for a 2xx (new branch)', () => {
    expect(serverKey(sampleRequest('ACK', { branch: 'z9hG4bKack2xx', toTag: 'x' }))).not.toBe(key);
  });
  it('gives CANCEL its own transaction and finds the INVITE with method INVITE (§9.2)', () => {
    const cancel = sampleRequest('CANCEL');
    expect(serverKey(cancel)).not.toBe(key);
    expect(serverKey(cancel, 'INVITE')).toBe(key);
  });
  it('separates methods', () => {
    expect(serverKey(sampleRequest('OPTIONS'))).not.toBe(key);
  });
  it('recognises the magic cookie', () => {
    expect(isRfc3261Branch('z9hG4bK74bf9')).toBe(true);
    expect(isRfc3261Branch('z9hG4bK')).toBe(false);
    expect(isRfc3261Branch('74bf9')).toBe(false);
    expect(isRfc3261Branch(undefined)).toBe(false);
  });
});

describe('server matching, RFC 2543 fallback (§17.2.3)', () => {
  const invite = sampleRequest('INVITE', { branch: '74bf9' });
  const key = serverKey(invite);
  const final = sampleResponse(invite, 486, 'uas77');

  it('matches a retransmitted INVITE by Request-URI, tags, Call-ID, CSeq and top Via', () => {
    expect(serverKey(sampleRequest('INVITE', { branch: '74bf9' }))).toBe(key);
  });
  it.each<[string, SipRequest]>([
    ['Request-URI', sampleRequest('INVITE', { branch: '74bf9', uri: 'sip:carol@chicago.example.com' })],
    ['From tag', sampleRequest('INVITE', { branch: '74bf9', fromTag: 'other' })],
    ['Call-ID', sampleRequest('INVITE', { branch: '74bf9', callId: 'other@x' })],
    ['CSeq', sampleRequest('INVITE', { branch: '74bf9', cseq: 2 })],
    ['top Via', sampleRequest('INVITE', { branch: '74bf9', sentBy: 'other.example.com' })],
    ['To tag', sampleRequest('INVITE', { branch: '74bf9', toTag: 'z' })],
  ])('does not match when the %s differs', (_what, req) => {
    expect(serverKey(req)).not.toBe(key);
  });
  it('works without any branch', () => {
    const bare = sampleRequest('INVITE', { branch: null });
    expect(serverKey(bare)).toBe(serverKey(sampleRequest('INVITE', { branch: null })));
  });
  it('matches the ACK by the To tag of the response sent', () => {
    const ack = sampleRequest('ACK', { branch: '74bf9', toTag: 'uas77' });
    expect(serverKey(ack)).toBe(ackKeyOfResponse(invite, final));
    expect(serverKey(ack)).not.toBe(key);
  });
  it('does not match an ACK carrying another To tag', () => {
    expect(serverKey(sampleRequest('ACK', { branch: '74bf9', toTag: 'stranger' }))).not.toBe(ackKeyOfResponse(invite, final));
  });
  it('needs no extra key when the INVITE already had the tag (re-INVITE)', () => {
    const reinvite = sampleRequest('INVITE', { branch: '74bf9', toTag: 'uas77', cseq: 2 });
    expect(ackKeyOfResponse(reinvite, sampleResponse(reinvite, 486))).toBeUndefined();
    expect(serverKey(sampleRequest('ACK', { branch: '74bf9', toTag: 'uas77', cseq: 2 }))).toBe(serverKey(reinvite));
  });
  it('matches a CANCEL to the INVITE (§9.2)', () => {
    expect(serverKey(sampleRequest('CANCEL', { branch: '74bf9' }), 'INVITE')).toBe(key);
  });
  it('needs no extra key for RFC 3261 requests', () => {
    const modern = sampleRequest('INVITE');
    expect(ackKeyOfResponse(modern, sampleResponse(modern, 486, 'x'))).toBeUndefined();
  });
});

describe('malformed input', () => {
  it('throws SipParseError from the accessors (the layer counts and drops)', () => {
    const bad = parseText('INVITE sip:bob@biloxi.example.com SIP/2.0\nVia: SIP/2.0/UDP host;branch=7\nCSeq: nonsense\nCall-ID: x\nFrom: <sip:a@b>;tag=1\nTo: <sip:b@c>\nContent-Length: 0\n') as SipRequest;
    expect(() => serverKey(bad)).toThrow(/CSeq/);
  });
});
