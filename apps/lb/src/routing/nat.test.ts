import { describe, expect, it } from 'vitest';
import { parseMessage, parseNameAddr, parseUri, type SipRequest, type SipUri } from '@ngcp/sip';
import { addContactAlias, buildPath, decodeAlias, decodeReceived, encodeAlias, takeUriAlias, wantsOutbound } from './nat.js';

describe('alias encode/decode', () => {
  it.each([
    [{ transport: 'udp', address: '198.51.100.7', port: 5060 }, '198.51.100.7~5060~1'],
    [{ transport: 'tcp', address: '198.51.100.7', port: 40123 }, '198.51.100.7~40123~2'],
    [{ transport: 'tls', address: '2001:db8::1', port: 5061 }, '[2001:db8::1]~5061~3'],
  ] as const)('%o ↔ %s', (addr, text) => {
    expect(encodeAlias(addr)).toBe(text);
    expect(decodeAlias(text)).toEqual(addr);
  });

  it.each(['', 'x~1~1', '1.2.3.4~0~1', '1.2.3.4~70000~1', '1.2.3.4~5060~4', '1.2.3.4~5060', 'host.example~5060~1', null, undefined])('refuses %s', (v) => {
    expect(decodeAlias(v)).toBeNull();
  });

  it('adds alias to a Contact and takes it off a Request-URI', () => {
    const c = parseNameAddr('"Al" <sip:alice@10.0.0.5:5060;ob>;expires=60', 'contact');
    expect(addContactAlias(c, { transport: 'tcp', address: '198.51.100.7', port: 40000 })).toBe(true);
    expect(c.toString()).toBe('"Al" <sip:alice@10.0.0.5:5060;ob;alias=198.51.100.7~40000~2>;expires=60');
    const uri = parseUri('sip:alice@10.0.0.5:5060;ob;alias=198.51.100.7~40000~2') as SipUri;
    expect(takeUriAlias(uri)).toEqual({ transport: 'tcp', address: '198.51.100.7', port: 40000 });
    expect(uri.toString()).toBe('sip:alice@10.0.0.5:5060;ob');
    expect(takeUriAlias(uri)).toBeNull();
  });

  it('does not alias a non-SIP Contact', () => {
    expect(addContactAlias(parseNameAddr('<tel:+4312345>', 'contact'), { transport: 'udp', address: '1.2.3.4', port: 5 })).toBe(false);
  });
});

describe('Path with received', () => {
  it('marks the hop `ob` for an outbound REGISTER (RFC 5626 §5.1) only', () => {
    expect(buildPath({ address: '127.0.0.2', port: 5060 }, { transport: 'tcp', address: '198.51.100.7', port: 40001 }, true)).toBe('<sip:127.0.0.2:5060;lr;ob;received=sip:198.51.100.7:40001%3Btransport%3Dtcp>');
    const reg = (contact: string, supported: string) =>
      parseMessage(Buffer.from(`REGISTER sip:example.test SIP/2.0\r\nVia: SIP/2.0/TCP 198.51.100.7:40001;branch=z9hG4bK1\r\nFrom: <sip:a@example.test>;tag=1\r\nTo: <sip:a@example.test>\r\nCall-ID: c1\r\nCSeq: 1 REGISTER\r\nContact: ${contact}\r\nSupported: ${supported}\r\nContent-Length: 0\r\n\r\n`)) as SipRequest;
    expect(wantsOutbound(reg('<sip:a@198.51.100.7:40001;transport=tcp>;+sip.instance="<urn:uuid:1>";reg-id=1', 'path, outbound'))).toBe(true);
    expect(wantsOutbound(reg('<sip:a@198.51.100.7:40001;transport=tcp>;+sip.instance="<urn:uuid:1>"', 'path, outbound'))).toBe(false);
    expect(wantsOutbound(reg('<sip:a@198.51.100.7:40001;transport=tcp>;reg-id=1', 'path'))).toBe(false);
  });

  it.each([
    [{ transport: 'udp', address: '198.51.100.7', port: 5060 }, '<sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:5060>'],
    [{ transport: 'tcp', address: '198.51.100.7', port: 40001 }, '<sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:40001%3Btransport%3Dtcp>'],
    [{ transport: 'tls', address: '198.51.100.7', port: 40002 }, '<sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:40002%3Btransport%3Dtls>'],
  ] as const)('%o → %s and back', (src, path) => {
    expect(buildPath({ address: '127.0.0.2', port: 5060 }, src)).toBe(path);
    const na = parseNameAddr(path, 'path');
    expect(decodeReceived((na.uri as SipUri).param('received'))).toEqual(src);
  });

  it.each(['', 'garbage', 'sip:host.example:5060', 'tel:+1', 'sip:1.2.3.4;transport=sctp'])('received %s is unusable', (v) => {
    expect(decodeReceived(v)).toBeNull();
  });

  it('defaults the port per transport', () => {
    expect(decodeReceived('sip:1.2.3.4')).toEqual({ transport: 'udp', address: '1.2.3.4', port: 5060 });
    expect(decodeReceived('sip:1.2.3.4;transport=tls')).toEqual({ transport: 'tls', address: '1.2.3.4', port: 5061 });
  });
});
