import { describe, expect, it } from 'vitest';
import { SipParseError } from '../message/errors.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { SipMessageError, parseMessage } from './parse.js';

const msg = (lines: string[], body = ''): Buffer => Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body);
const base = ['Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'From: <sip:a@x.example>;tag=1', 'To: <sip:b@y.example>', 'Call-ID: abc', 'CSeq: 1 OPTIONS'];

function parseError(b: Buffer): SipMessageError {
  try {
    parseMessage(b);
  } catch (e) {
    expect(e).toBeInstanceOf(SipParseError);
    return e as SipMessageError;
  }
  throw new Error('expected a parse error');
}

describe('parseMessage', () => {
  it('reads request line, compact headers and folding', () => {
    const m = parseMessage(msg(['OPTIONS sip:b@y.example SIP/2.0', 'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'f: <sip:a@x.example>;tag=1', 't: <sip:b@y.example>', 'i: abc', 'CSeq: 1', ' OPTIONS', 'l: 0'])) as SipRequest;
    expect(m.method).toBe('OPTIONS');
    expect(m.get('Via')).toBe('SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1');
    expect(m.get('call-id')).toBe('abc');
    expect(m.cseq()).toEqual({ seq: 1, method: 'OPTIONS' });
    expect(m.headers[0]!.name).toBe('v');
  });

  it('reads a status line with an empty or UTF-8 reason phrase', () => {
    const r = parseMessage(Buffer.from(`SIP/2.0 180 Läuten\r\n${base.join('\r\n')}\r\n\r\n`)) as SipResponse;
    expect(r.status).toBe(180);
    expect(r.reason).toBe('Läuten');
    expect(r.encoding).toBe('utf8');
    const e = parseMessage(Buffer.from(`SIP/2.0 200 \r\n${base.join('\r\n')}\r\n\r\n`)) as SipResponse;
    expect(e.reason).toBe('');
  });

  it('keeps non-UTF-8 header bytes exactly (latin1 round trip)', () => {
    const b = Buffer.concat([Buffer.from('OPTIONS sip:b@y.example SIP/2.0\r\nX-Bin: '), Buffer.from([0xff, 0xfe]), Buffer.from(`\r\n${base.join('\r\n')}\r\n\r\n`)]);
    const m = parseMessage(b);
    expect(m.encoding).toBe('latin1');
    m.set('x-other', '1');
    expect(m.toBuffer().includes(Buffer.from([0xff, 0xfe]))).toBe(true);
  });

  it('frames a datagram by Content-Length: shorter body → 400, trailing octets ignored', () => {
    const short = parseError(msg(['OPTIONS sip:b@y.example SIP/2.0', ...base, 'Content-Length: 10'], 'abc'));
    expect(short.code).toBe('body-truncated');
    expect(short.status).toBe(400);
    expect(short.partial?.kind).toBe('request');
    const m = parseMessage(msg(['OPTIONS sip:b@y.example SIP/2.0', ...base, 'Content-Length: 3'], 'abcdef'));
    expect(m.body.toString()).toBe('abc');
  });

  it('rejects multiple or negative Content-Length, and a header line without colon', () => {
    expect(parseError(msg(['OPTIONS sip:b@y.example SIP/2.0', ...base, 'Content-Length: 0', 'l: 0'])).code).toBe('content-length');
    expect(parseError(msg(['OPTIONS sip:b@y.example SIP/2.0', ...base, 'Content-Length: -1'])).code).toBe('content-length');
    expect(parseError(msg(['OPTIONS sip:b@y.example SIP/2.0', ...base, 'Garbage line'])).code).toBe('header-line');
  });

  it('a broken response is dropped (status null), a broken request is answered', () => {
    expect(parseError(msg(['SIP/2.0 2000 OK', ...base])).status).toBeNull();
    expect(parseError(msg(['SIP/2.0 200 OK', ...base, 'Bad header'])).status).toBeNull();
    expect(parseError(msg(['OPTIONS sip:b@y.example SIP/2.0', ...base, 'Bad header'])).status).toBe(400);
  });

  it('ignores CRLFs before the start line (RFC 3261 §7.5)', () => {
    const m = parseMessage(Buffer.concat([Buffer.from('\r\n\r\n'), msg(['OPTIONS sip:b@y.example SIP/2.0', ...base])]));
    expect(m.kind).toBe('request');
    expect(m.toBuffer().toString('latin1').startsWith('OPTIONS')).toBe(true);
  });

  it('never throws anything but SipParseError on empty or headless input', () => {
    for (const s of ['', '\r\n', 'INVITE', 'SIP/2.0 200 OK', 'INVITE sip:a@b SIP/2.0\r\nVia: x']) {
      try {
        parseMessage(Buffer.from(s));
      } catch (e) {
        expect(e).toBeInstanceOf(SipParseError);
      }
    }
  });
});

describe('header access and rewriting', () => {
  const text = msg(['INVITE sip:b@y.example SIP/2.0', 'Via: SIP/2.0/UDP p1.example;branch=z9hG4bKp1, SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'Via: SIP/2.0/TCP [2001:db8::1]:5070;branch=z9hG4bK0;received=2001:db8::9', 'Route: <sip:p2.example;lr>, <sip:p3.example;lr>', ...base.slice(1, 4), 'CSeq: 7 INVITE', 'Contact: "A, B" <sip:a@192.0.2.1>;expires=60, <sip:a2@192.0.2.2>;q=0.5']);

  it('splits list headers across and within lines', () => {
    const m = parseMessage(text);
    expect(m.vias().map((v) => v.host)).toEqual(['p1.example', '192.0.2.1', '[2001:db8::1]']);
    expect(m.vias()[2]!.port).toBe(5070);
    expect(m.vias()[2]!.received).toBe('2001:db8::9');
    const c = m.contacts();
    expect(c !== '*' && c.map((x) => x.displayName)).toEqual(['A, B', null]);
    expect(c !== '*' && c[0]!.param('expires')).toBe('60');
    expect(m.routes().map((r) => r.uri.toString())).toEqual(['sip:p2.example;lr', 'sip:p3.example;lr']);
  });

  it('pops the top Via out of a combined line and keeps others verbatim', () => {
    const m = parseMessage(text);
    m.popVia();
    expect(m.vias().map((v) => v.host)).toEqual(['192.0.2.1', '[2001:db8::1]']);
    const out = m.toString();
    expect(out).toContain('Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nVia: SIP/2.0/TCP [2001:db8::1]:5070');
    m.pushVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKnew');
    expect(m.topVia()!.branch).toBe('z9hG4bKnew');
    const top = m.topVia()!;
    top.setParam('received', '198.51.100.7');
    m.setTopVia(top);
    expect(parseMessage(m.toBuffer()).topVia()!.received).toBe('198.51.100.7');
  });

  it('set/append/remove invalidate the cached parsed values', () => {
    const m = parseMessage(text);
    expect(m.cseq().seq).toBe(7);
    m.set('CSeq', '8 INVITE');
    expect(m.cseq().seq).toBe(8);
    m.remove('route');
    expect(m.routes()).toEqual([]);
    expect(m.toString()).not.toContain('Route:');
  });

  it('typed accessors throw SipParseError naming the header', () => {
    const m = parseMessage(msg(['INVITE sip:b@y.example SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'From: <sip:a@x.example', 'To: <sip:b@y.example>', 'To: <sip:c@y.example>', 'Call-ID: abc', 'CSeq: 99999999999 INVITE']));
    for (const [f, header] of [[() => m.from(), 'from'], [() => m.to(), 'to'], [() => m.cseq(), 'cseq']] as const) {
      try {
        f();
        expect.unreachable();
      } catch (e) {
        expect(e).toBeInstanceOf(SipParseError);
        expect((e as SipParseError).header).toBe(header);
      }
    }
  });
});
