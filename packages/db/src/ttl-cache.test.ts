import { describe, expect, it } from 'vitest';
import { TtlCache } from './ttl-cache.js';

describe('TtlCache', () => {
  it('answers a value (also undefined) until its deadline, null after it and for a missing key', () => {
    const c = new TtlCache<string | undefined>(10);
    c.set('a', 'x', 100);
    c.set('nobody', undefined, 100);
    expect(c.get('a', 99)).toBe('x');
    expect(c.get('nobody', 99)).toBeUndefined();
    expect(c.get('missing', 99)).toBeNull();
    expect(c.get('a', 100)).toBeNull();
    expect(c.size).toBe(1);
  });

  it('drops the oldest entry at its size bound', () => {
    const c = new TtlCache<number>(2);
    c.set('a', 1, 1000);
    c.set('b', 2, 1000);
    c.set('c', 3, 1000);
    expect([c.get('a', 0), c.get('b', 0), c.get('c', 0)]).toEqual([null, 2, 3]);
  });
});
