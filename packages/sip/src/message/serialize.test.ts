/**
 * Re-serializing a changed message: untouched lines come out byte for byte as
 * received (folding, odd spacing, compact names, LF-only line ends), changed and
 * added lines are written canonically, and the result parses to the same headers.
 */
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../parser/parse.js';

const lines = [
  'INVITE sip:bob@example.com SIP/2.0',
  'v:  SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1',
  'Max-Forwards: 70',
  'To: <sip:bob@example.com>',
  'From : "A"  <sip:a@example.com>;tag=1',
  'Subject: folded',
  '   across lines',
  'Call-ID: x1',
  'CSeq: 1 INVITE',
  'Content-Length: 4',
];

describe('toBuffer after a change', () => {
  for (const eol of ['\r\n', '\n']) {
    const text = lines.join(eol) + eol + eol + 'body';
    it(`copies untouched lines as received (${JSON.stringify(eol)} line ends)`, () => {
      const m = parseMessage(Buffer.from(text));
      m.pushVia('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp');
      m.set('Max-Forwards', '69');
      const out = m.toBuffer().toString();
      expect(out).toContain(`Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKp\r\nv:  SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1${eol}Max-Forwards: 69\r\nTo: <sip:bob@example.com>${eol}From : "A"  <sip:a@example.com>;tag=1${eol}Subject: folded${eol}   across lines${eol}`);
      expect(out.startsWith(`INVITE sip:bob@example.com SIP/2.0${eol}`)).toBe(true);
      expect(out.endsWith(`Content-Length: 4${eol}${eol}body`)).toBe(true);
      const again = parseMessage(Buffer.from(out));
      expect(again.headers.map((h) => [h.key, h.value])).toEqual(m.headers.map((h) => [h.key, h.value]));
      expect(again.body.toString()).toBe('body');
    });
  }

  it('rewrites the start line when it changed, and follows a new body', () => {
    const m = parseMessage(Buffer.from(lines.join('\r\n') + '\r\n\r\nbody'));
    if (m.kind !== 'request') throw new Error('request expected');
    m.uri = 'sip:bob@192.0.2.9:5070';
    m.popVia();
    m.setBody('v=0\r\n', 'application/sdp');
    const again = parseMessage(m.toBuffer());
    expect(again.kind === 'request' && again.uri).toBe('sip:bob@192.0.2.9:5070');
    expect(again.has('via')).toBe(false);
    expect(again.body.toString()).toBe('v=0\r\n');
    expect(again.get('content-length')).toBe('5');
    expect(again.get('content-type')).toBe('application/sdp');
  });

  it('writes whole text when the received header was not byte-aligned (UTF-8)', () => {
    const m = parseMessage(Buffer.from(['OPTIONS sip:b@example.com SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: "Jürgen" <sip:j@example.com>;tag=1', 'To: <sip:b@example.com>', 'Call-ID: u', 'CSeq: 1 OPTIONS', '', ''].join('\r\n')));
    m.set('Max-Forwards', '70');
    const again = parseMessage(m.toBuffer());
    expect(again.from().displayName).toBe('Jürgen');
    expect(again.get('max-forwards')).toBe('70');
  });
});
