import { describe, expect, it } from 'vitest';
import { SipParseError } from './errors.js';
import { SipUri, parseUri, unescapeUri } from './uri.js';

describe('parseUri', () => {
  it('parses SIP URIs into parts and writes them back unchanged', () => {
    for (const s of [
      'sip:alice@atlanta.example.com',
      'sips:alice:secret@atlanta.example.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent',
      'sip:+1-212-555-1212:1234@gateway.example.com;user=phone',
      'sip:[2001:db8::10]:5070;maddr=[2001:db8::1]',
      'sip:user;par=u%40example.net@example.com',
      'sip:192.0.2.4',
    ]) {
      const u = parseUri(s);
      expect(u).toBeInstanceOf(SipUri);
      expect(u.toString()).toBe(s);
    }
    const u = parseUri('sip:[2001:db8::10]:5070;transport=TLS') as SipUri;
    expect(u.hostType).toBe('ipv6');
    expect(u.hostname).toBe('2001:db8::10');
    expect(u.port).toBe(5070);
    expect(u.transport).toBe('tls');
  });

  it('keeps other schemes opaque', () => {
    const u = parseUri('tel:+358-555-1234567;postd=pp22');
    expect(u.isSip).toBe(false);
    expect(u.toString()).toBe('tel:+358-555-1234567;postd=pp22');
  });

  it('rejects what the grammar forbids', () => {
    for (const s of ['sip:2001:db8::10', 'sip:a@b@c', 'sip:user@host:99999', 'sip:user@ho st', 'sip:us%zzer@host', 'sip:', 'no-scheme', 'sip:a@[::1', 'sip:a@1.2.3']) {
      expect(() => parseUri(s), s).toThrow(SipParseError);
    }
  });

  it('unescapes for comparison', () => {
    expect(unescapeUri('sip%3Auser%40example.com')).toBe('sip:user@example.com');
  });
});
