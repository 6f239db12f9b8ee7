import { describe, expect, it } from 'vitest';
import { hashPassword, hashToken, newToken, subscriberHa1, verifyPassword } from './secrets.js';

const FAST = { N: 1024, r: 8, p: 1, keylen: 32 };

describe('digest HA1 (computed by @ngcp/sip)', () => {
  it('MD5 matches RFC 2617 §3.5', () => {
    expect(subscriberHa1('Mufasa', 'testrealm@host.com', 'Circle Of Life').ha1_md5).toBe('939e7578ed9e3c518a452acee763bce9');
  });
  it('subscriberHa1 gives both columns, with the domain as realm (SHA-256 vector from coreutils sha256sum)', () => {
    expect(subscriberHa1('Mufasa', 'http-auth@example.org', 'Circle of Life')).toEqual({
      ha1_md5: '3d78807defe7de2157e2b0b6573a855f',
      ha1_sha256: '7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232',
    });
  });
});

describe('web passwords (scrypt)', () => {
  it('verifies the right password only, and salts', async () => {
    const a = await hashPassword('s3cret', FAST);
    const b = await hashPassword('s3cret', FAST);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[\w-]+\$[\w-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cret');
    expect(await verifyPassword('s3cret', a)).toBe(true);
    expect(await verifyPassword('s3cret!', a)).toBe(false);
  });
  it('default parameters are the strong ones', async () => {
    const h = await hashPassword('x');
    expect(h.startsWith('scrypt$16384$8$1$')).toBe(true);
    expect(await verifyPassword('x', h)).toBe(true);
  });
  it('never matches a malformed hash', async () => {
    for (const bad of ['', 'plain', 'scrypt$1$2$3', 'bcrypt$1$2$3$4$5', 'scrypt$x$8$1$AAAA$AAAA']) {
      expect(await verifyPassword('x', bad)).toBe(false);
    }
  });
});

describe('tokens', () => {
  it('are long, random and stored as sha256', () => {
    const t = newToken();
    expect(t).toMatch(/^[\w-]{43}$/);
    expect(newToken()).not.toBe(t);
    expect(hashToken(t)).toMatch(/^[0-9a-f]{64}$/);
    expect(hashToken(t)).toBe(hashToken(t));
  });
});
