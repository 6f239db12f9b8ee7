import { describe, it, expect } from 'vitest';
import {
  algorithmHash,
  computeHA1,
  computeResponse,
  digestHash,
  formatNonceCount,
  hashBody,
  parseAlgorithm,
} from './algorithms.js';

describe('RFC 2617 §3.5 example (MD5, qop=auth)', () => {
  const ha1 = computeHA1('MD5', 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  it('computes the published response', () => {
    expect(
      computeResponse({
        algorithm: 'MD5',
        ha1,
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        method: 'GET',
        uri: '/dir/index.html',
        qop: 'auth',
        nc: '00000001',
        cnonce: '0a4f113b',
      }),
    ).toBe('6629fae49393a05397450978507c4ef1');
  });
  it('RFC 2069 form without qop (value from openssl)', () => {
    expect(
      computeResponse({ algorithm: 'MD5', ha1, nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html' }),
    ).toBe('670fd8c2df070c60b045671b8b24ff02');
  });
  it('accepts nc as a number and an upper-case HA1', () => {
    const r = computeResponse({
      algorithm: 'MD5',
      ha1: ha1.toUpperCase(),
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      method: 'GET',
      uri: '/dir/index.html',
      qop: 'auth',
      nc: 1,
      cnonce: '0a4f113b',
    });
    expect(r).toBe('6629fae49393a05397450978507c4ef1');
  });
});

describe('RFC 7616 §3.9.1 examples', () => {
  const common = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: '00000001',
    qop: 'auth' as const,
    method: 'GET',
    uri: '/dir/index.html',
  };
  it('MD5', () => {
    const ha1 = computeHA1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeResponse({ ...common, algorithm: 'MD5', ha1 })).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });
  it('SHA-256', () => {
    const ha1 = computeHA1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(computeResponse({ ...common, algorithm: 'SHA-256', ha1 })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });
});

// Expected values computed independently with `openssl dgst -sha512-256` (OpenSSL 3.0).
describe('SHA-512-256 (RFC 8760)', () => {
  it('is FIPS 180-4 SHA-512/256, not truncated SHA-512 (NIST "abc" vector)', () => {
    expect(digestHash('SHA-512-256', 'abc')).toBe('53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
  });
  const ha1 = computeHA1('SHA-512-256', 'alice', 'sip.example.com', 's3cr3t');
  const base = { ha1, nonce: '5TsQWLVdgBywXdYgfE7Dn8kmqHvbGBQR', method: 'REGISTER', uri: 'sip:sip.example.com', cnonce: '0a4f113b' };
  it('HA1', () => {
    expect(ha1).toBe('d7d516801d686e0a76795e9501b3cc81e7630f362e7d4df96736c08b4e80ad46');
  });
  it('qop=auth', () => {
    expect(computeResponse({ ...base, algorithm: 'SHA-512-256', qop: 'auth', nc: 1 })).toBe(
      'f34b465d0e79d293e200c4fe0667b40423f0fc3b26fdbc07c72abaf6bae39d48',
    );
  });
  it('-sess variant applies H(HA1:nonce:cnonce) to the stored HA1', () => {
    expect(computeResponse({ ...base, algorithm: 'SHA-512-256-sess', qop: 'auth', nc: 2 })).toBe(
      '8ac1f57696015ec279f2ad984e7e925def7d16df7c5af6954e67b3f556838029',
    );
  });
  it('qop=auth-int hashes the body into HA2', () => {
    const r = computeResponse({
      algorithm: 'SHA-512-256',
      ha1,
      nonce: 'nonce1',
      method: 'INVITE',
      uri: 'sip:bob@example.com',
      qop: 'auth-int',
      nc: 1,
      cnonce: 'cn',
      bodyHash: hashBody('SHA-512-256', 'v=0\r\n'),
    });
    expect(r).toBe('75bf1c232ecb1e2d495b959eae0e70b8abbc947e44cc42d8590aae7a3442d218');
  });
});

describe('algorithm names', () => {
  it('parses case-insensitively, absent = MD5, unknown = undefined', () => {
    expect(parseAlgorithm(undefined)).toBe('MD5');
    expect(parseAlgorithm('sha-256')).toBe('SHA-256');
    expect(parseAlgorithm('Sha-512-256-SESS')).toBe('SHA-512-256-sess');
    expect(parseAlgorithm('SHA-1')).toBeUndefined();
    expect(parseAlgorithm('')).toBeUndefined();
    expect(algorithmHash('MD5-sess')).toBe('MD5');
  });
  it('formats nc as 8 lower-case hex digits', () => {
    expect(formatNonceCount(1)).toBe('00000001');
    expect(formatNonceCount(0xabc)).toBe('00000abc');
    expect(() => formatNonceCount(2 ** 32)).toThrow(RangeError);
  });
  it('rejects inconsistent input as a programming error', () => {
    const p = { algorithm: 'MD5' as const, ha1: 'x', nonce: 'n', method: 'GET', uri: '/' };
    expect(() => computeResponse({ ...p, qop: 'auth-int', nc: 1, cnonce: 'c' })).toThrow(TypeError);
    expect(() => computeResponse({ ...p, qop: 'auth' })).toThrow(TypeError);
    expect(() => computeResponse({ ...p, algorithm: 'MD5-sess' })).toThrow(TypeError);
  });
});
