import { describe, expect, it } from 'vitest';
import { trustedSet } from './trusted.js';

describe('trusted peers', () => {
  it('matches plain addresses exactly and networks by prefix, IPv4 and IPv6', () => {
    const t = trustedSet(['192.0.2.7', '10.20.0.0/16', '2001:db8::/32']);
    expect(t.has('192.0.2.7')).toBe(true);
    expect(t.has('192.0.2.8')).toBe(false);
    expect(t.has('10.20.255.1')).toBe(true);
    expect(t.has('10.21.0.1')).toBe(false);
    expect(t.has('2001:db8:1::5')).toBe(true);
    expect(t.has('2001:db9::5')).toBe(false);
    expect(t.has('not-an-ip')).toBe(false);
  });
  it('no networks: only the listed addresses', () => {
    const t = trustedSet(['127.0.0.1']);
    expect(t.has('127.0.0.1')).toBe(true);
    expect(t.has('127.0.0.2')).toBe(false);
  });
});
