/**
 * RFC 4475 (torture tests) and RFC 5118 (IPv6 torture tests): every message gives
 * the outcome the RFC names, for the load-balancer's checks and for a UAS, on each
 * transport; valid messages survive parse + serialize byte-exactly.
 */
import { describe, expect, it } from 'vitest';
import { inspect, parseMessage } from '../src/index.js';
import { cases, expectedAction, fixtureBytes, fixtures } from './fixtures.js';

describe('RFC 4475 / 5118 conformance through inspect()', () => {
  it('has every fixture of both RFCs', () => {
    expect(fixtures.filter((f) => f.rfc === '4475').length).toBeGreaterThanOrEqual(49);
    expect(fixtures.filter((f) => f.rfc === '5118').length).toBeGreaterThanOrEqual(10);
  });

  for (const { f, transport } of cases) {
    for (const role of ['lb', 'uas'] as const) {
      const exp = f[role];
      it(`${f.file} over ${transport} as ${role}: ${exp.action}${exp.status ? ` ${exp.status}` : ''} (RFC ${f.rfc} §${f.section})`, () => {
        const v = inspect(fixtureBytes(f), { transport, role });
        expect({ action: v.action, status: v.action === 'reject' ? v.status : null }, v.reason).toEqual({
          action: expectedAction(exp),
          status: exp.status,
        });
        if (v.message) {
          if (f.kind === 'request') expect(v.message.kind).toBe('request');
          if (f.kind === 'request' && v.message.kind === 'request' && v.action === 'accept') expect(v.message.method).toBe(f.method);
        }
      });
    }
  }
});

describe('valid messages serialize byte-exactly', () => {
  for (const f of fixtures.filter((x) => x.lb.action === 'accept' && x.transports.includes('udp'))) {
    it(f.file, () => {
      const bytes = fixtureBytes(f);
      const msg = parseMessage(bytes, { framing: 'datagram' });
      const out = msg.toBuffer();
      if (msg.normalized) {
        // extra SPs in the Request-Line are removed, everything after it is kept
        const eol = bytes.indexOf('\r\n');
        expect(out.subarray(out.indexOf('\r\n')).equals(bytes.subarray(eol, eol + out.length - out.indexOf('\r\n')))).toBe(true);
        expect(out.toString('latin1', 0, out.indexOf('\r\n'))).toMatch(/^\S+ \S+ SIP\/2\.0$/);
      } else {
        // a datagram's trailing octets beyond Content-Length are not part of the message
        expect(out.equals(bytes.subarray(0, out.length))).toBe(true);
      }
      // after a change, the untouched header lines are still written as received
      msg.set('x-touched', '1');
      const again = parseMessage(msg.toBuffer(), { framing: 'datagram' });
      expect(again.get('x-touched')).toBe('1');
      // (a message that came without Content-Length gets one when re-written)
      const count = (m: typeof msg) => m.headers.filter((h) => h.key !== 'content-length').length;
      expect(count(again)).toBe(count(msg));
      expect(again.headers.filter((h) => h.key !== 'x-touched').map((h) => h.value)).toEqual(
        msg.headers.filter((h) => h.key !== 'x-touched').map((h) => h.value).concat(msg.has('content-length') ? [] : [String(msg.body.length)]),
      );
      expect(again.body.equals(msg.body)).toBe(true);
    });
  }
});
