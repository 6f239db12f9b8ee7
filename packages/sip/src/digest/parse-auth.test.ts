import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import {
  DigestParseError,
  formatChallenge,
  formatCredentials,
  parseAuthHeader,
  parseChallenge,
  parseCredentials,
} from './parse-auth.js';
import type { DigestParseErrorCode } from './parse-auth.js';

function code(f: () => unknown): DigestParseErrorCode | 'no-error' {
  try {
    f();
    return 'no-error';
  } catch (e) {
    if (e instanceof DigestParseError) return e.code;
    throw e;
  }
}

// RFC 3261 §22.4 / RFC 2617 §3.5 style values.
const CHALLENGE =
  'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"';
const CREDENTIALS =
  'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"';

describe('parseChallenge', () => {
  it('parses the RFC 2617 example', () => {
    expect(parseChallenge(CHALLENGE)).toEqual({
      realm: 'testrealm@host.com',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      opaque: '5ccc069c403ebaf9f0171e9517f40e41',
      qop: ['auth', 'auth-int'],
      domain: undefined,
      stale: undefined,
      algorithm: undefined,
      extensions: [],
    });
  });
  it('handles case, LWS around = and ",", folding, tokens and unknown params', () => {
    const c = parseChallenge('dIgEsT  REALM = "a b" ,\r\n\tNonce=abc123 ,stale=TRUE,algorithm="SHA-256" , qop=auth, charset=UTF-8');
    expect(c.realm).toBe('a b');
    expect(c.nonce).toBe('abc123');
    expect(c.stale).toBe(true);
    expect(c.algorithm).toBe('SHA-256');
    expect(c.qop).toEqual(['auth']);
    expect(c.extensions).toEqual([{ name: 'charset', value: 'UTF-8', quoted: false }]);
  });
  it('stale is false unless "true" (RFC 7616 §3.3)', () => {
    expect(parseChallenge('Digest realm="r", nonce="n", stale=FALSE').stale).toBe(false);
    expect(parseChallenge('Digest realm="r", nonce="n", stale=maybe').stale).toBe(false);
  });
  it('unescapes quoted-pairs', () => {
    expect(parseChallenge('Digest realm="a\\"b\\\\c\\d", nonce=""').realm).toBe('a"b\\cd');
  });
  it('accepts empty quoted values and non-ASCII text', () => {
    const c = parseChallenge('Digest realm="", nonce="é€😀"');
    expect(c.realm).toBe('');
    expect(c.nonce).toBe('é€😀');
  });
  it('requires realm and nonce, and the Digest scheme', () => {
    expect(code(() => parseChallenge('Digest realm="r"'))).toBe('missing-param');
    expect(code(() => parseChallenge('Digest'))).toBe('missing-param');
    expect(code(() => parseChallenge('Basic realm="r"'))).toBe('unsupported-scheme');
  });
});

describe('parseCredentials', () => {
  it('parses the RFC 2617 example', () => {
    const c = parseCredentials(CREDENTIALS);
    expect(c).toMatchObject({
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
      response: '6629fae49393a05397450978507c4ef1',
    });
  });
  it('requires the mandatory params, and cnonce+nc with qop', () => {
    expect(code(() => parseCredentials('Digest username="u", realm="r", nonce="n", uri="x"'))).toBe('missing-param');
    expect(code(() => parseCredentials('Digest username="u", realm="r", nonce="n", uri="x", response="r", qop=auth'))).toBe(
      'missing-param',
    );
  });
  it('checks nc is 8 hex digits', () => {
    const v = 'Digest username="u", realm="r", nonce="n", uri="x", response="r", qop=auth, cnonce="c", nc=';
    expect(code(() => parseCredentials(v + '1'))).toBe('bad-value');
    expect(code(() => parseCredentials(v + '0000000g'))).toBe('bad-value');
    expect(parseCredentials(v + '0000000A').nc).toBe('0000000A');
  });
});

describe('nasty inputs → typed errors', () => {
  const cases: [string, DigestParseErrorCode][] = [
    ['', 'empty'],
    ['  \t ', 'empty'],
    ['"Digest" realm="r"', 'bad-scheme'],
    ['Digest,realm="r"', 'expected-whitespace'],
    ['Digest realm="r" nonce="n"', 'expected-comma'],
    ['Digest realm="r",, nonce="n"', 'expected-param-name'],
    ['Digest realm="r", nonce="n",', 'expected-param-name'],
    ['Digest realm "r"', 'expected-equals'],
    ['Digest realm=', 'expected-value'],
    ['Digest realm=, nonce="n"', 'expected-value'],
    ['Digest realm="r, nonce=n', 'unterminated-quote'],
    ['Digest realm="r, nonce="n', 'expected-comma'],
    ['Digest realm="abc\\', 'unterminated-quote'],
    ['Digest realm="abc\\"', 'unterminated-quote'],
    ['Digest realm="a\u0000b", nonce="n"', 'invalid-char'],
    ['Digest realm="a\r\nb", nonce="n"', 'invalid-char'],
    ['Digest realm="r", nonce="n", REALM="x"', 'duplicate-param'],
    ['Digest realm=a/b, nonce="n"', 'expected-comma'],
    ['Digest realm="r"\r\nX: y', 'expected-comma'],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => {
      expect(code(() => parseChallenge(input))).toBe(expected);
    });
  }
  it('not a string', () => {
    expect(code(() => parseAuthHeader(undefined as unknown as string))).toBe('empty');
  });
  it('reports the position', () => {
    expect.assertions(1);
    try {
      parseAuthHeader('Digest realm="r" nonce="n"');
    } catch (e) {
      expect((e as DigestParseError).position).toBe(17);
    }
  });
  it('never throws anything but DigestParseError (property)', () => {
    const alphabet = fc.constantFrom(...'Digest realm=nonce,"\\ \t\r\n=,aZ09-.!%*_+`\'~\u0000é😀'.split(''));
    const arb = fc.oneof(fc.string(), fc.string({ unit: alphabet }), fc.string({ unit: 'binary' }));
    fc.assert(
      fc.property(arb, (s) => {
        for (const f of [parseAuthHeader, parseChallenge, parseCredentials]) {
          try {
            f(s);
          } catch (e) {
            if (!(e instanceof DigestParseError)) return false;
          }
        }
        return true;
      }),
      { numRuns: 1500 },
    );
  });
});

describe('format / round trip', () => {
  it('challenge: quotes realm/nonce/opaque/domain/qop list, tokens for stale/algorithm', () => {
    const s = formatChallenge({
      realm: 'a"b',
      domain: 'sip:a sip:b',
      nonce: 'n\\1',
      opaque: 'o',
      stale: true,
      algorithm: 'SHA-256',
      qop: ['auth', 'auth-int'],
      extensions: [{ name: 'charset', value: 'UTF-8', quoted: false }],
    });
    expect(s).toBe(
      'Digest realm="a\\"b", domain="sip:a sip:b", nonce="n\\\\1", opaque="o", stale=true, algorithm=SHA-256, qop="auth,auth-int", charset=UTF-8',
    );
    expect(formatChallenge(parseChallenge(s))).toBe(s);
  });
  it('credentials: RFC 3261 §22.4 order, qop/nc/algorithm as tokens', () => {
    const s = formatCredentials(parseCredentials(CREDENTIALS));
    expect(s).toBe(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
    );
    expect(parseCredentials(s)).toEqual(parseCredentials(CREDENTIALS));
  });
  it('refuses values that would inject header text', () => {
    expect(() => formatChallenge({ realm: 'a\r\nVia: x', nonce: 'n' })).toThrow(RangeError);
    expect(() => formatChallenge({ realm: 'r', nonce: 'n', algorithm: 'MD5, x=1' })).toThrow(RangeError);
  });
  it('round-trips arbitrary printable values (property)', () => {
    const text = fc.string({ unit: fc.constantFrom(...' \t"\\,=abcAZ09é@:;/'.split('')) });
    fc.assert(
      fc.property(text, text, text, (realm, nonce, opaque) => {
        const c = parseChallenge(formatChallenge({ realm, nonce, opaque, algorithm: 'MD5', qop: ['auth'] }));
        expect([c.realm, c.nonce, c.opaque]).toEqual([realm, nonce, opaque]);
      }),
    );
  });
});
