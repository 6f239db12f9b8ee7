import { describe, it, expect } from 'vitest';
import { createNonce, NONCE_LENGTH, normalizeSecrets, verifyNonce } from './nonce.js';
import { MemoryNonceCountStore } from './nonce-count-store.js';

describe('stateless nonce', () => {
  const secret = 'cluster-shared-secret';
  it('verifies on any holder of the secret and carries its timestamp', () => {
    const n = createNonce(secret, 'r', 1_700_000_000_123);
    expect(n).toHaveLength(NONCE_LENGTH);
    expect(n).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(verifyNonce([Buffer.from(secret)], 'r', n)).toEqual({ valid: true, issuedAt: 1_700_000_000_123 });
  });
  it('is unique per call', () => {
    expect(createNonce(secret, 'r', 0)).not.toBe(createNonce(secret, 'r', 0));
  });
  it('rejects another secret, another realm, tampering and junk', () => {
    const n = createNonce(secret, 'r', 1000);
    expect(verifyNonce(['other'], 'r', n).valid).toBe(false);
    expect(verifyNonce([secret], 'r2', n).valid).toBe(false);
    const flipped = (n[3] === 'A' ? 'B' : 'A');
    expect(verifyNonce([secret], 'r', n.slice(0, 3) + flipped + n.slice(4)).valid).toBe(false);
    expect(verifyNonce([secret], 'r', '').valid).toBe(false);
    expect(verifyNonce([secret], 'r', 'x'.repeat(NONCE_LENGTH)).valid).toBe(false);
    expect(verifyNonce([secret], 'r', `${n.slice(0, -1)}=`).valid).toBe(false);
  });
  it('supports key rotation: any listed secret verifies', () => {
    const n = createNonce('old', 'r', 1000);
    expect(verifyNonce(normalizeSecrets(['new', 'old']), 'r', n).valid).toBe(true);
  });
  it('refuses empty secrets', () => {
    expect(() => normalizeSecrets('')).toThrow(TypeError);
    expect(() => normalizeSecrets([])).toThrow(TypeError);
  });
});

describe('MemoryNonceCountStore', () => {
  it('accepts increasing nc, refuses repeats', () => {
    const s = new MemoryNonceCountStore();
    expect(s.checkAndSet('a', 1)).toBe(true);
    expect(s.checkAndSet('a', 2)).toBe(true);
    expect(s.checkAndSet('a', 2)).toBe(false);
    expect(s.checkAndSet('a', 1)).toBe(false);
    expect(s.checkAndSet('b', 1)).toBe(true);
  });
  it('accepts out-of-order nc inside the window once', () => {
    const s = new MemoryNonceCountStore({ window: 8 });
    expect(s.checkAndSet('a', 5)).toBe(true);
    expect(s.checkAndSet('a', 3)).toBe(true);
    expect(s.checkAndSet('a', 3)).toBe(false);
    expect(s.checkAndSet('a', 4)).toBe(true);
    expect(s.checkAndSet('a', 20)).toBe(true);
    expect(s.checkAndSet('a', 12)).toBe(false); // fell out of the window
    expect(s.checkAndSet('a', 13)).toBe(true);
    expect(s.checkAndSet('a', 20)).toBe(false);
  });
  it('is bounded, evicting the least recently used nonce', () => {
    const s = new MemoryNonceCountStore({ maxEntries: 2 });
    s.checkAndSet('a', 1);
    s.checkAndSet('b', 1);
    s.checkAndSet('a', 2); // a is now most recent
    s.checkAndSet('c', 1); // evicts b
    expect(s.size).toBe(2);
    expect(s.checkAndSet('a', 2)).toBe(false);
    expect(s.checkAndSet('b', 1)).toBe(true); // forgotten: the documented trade-off
  });
  it('refuses nonsense counts', () => {
    const s = new MemoryNonceCountStore();
    expect(s.checkAndSet('a', Number.NaN)).toBe(false);
    expect(s.checkAndSet('a', -1)).toBe(false);
  });
});
