import { describe, expect, it } from 'vitest';
import { DnsCache } from './cache.js';
import type { ARecord } from './records.js';

const a = (address: string, ttl: number, name = 'h.test'): ARecord => ({ type: 'A', name, ttl, address });

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (s: number) => (t += s * 1000) };
}

describe('DnsCache', () => {
  it('serves a positive entry until its TTL lapses, with the remaining TTL', () => {
    const c = clock();
    const cache = new DnsCache({ now: c.now });
    cache.setPositive('H.test.', 'A', [a('192.0.2.1', 60), a('192.0.2.2', 30)]);
    expect(cache.get('h.test', 'A')).toMatchObject({ status: 'ok', ttl: 30 });
    c.advance(20);
    const hit = cache.get('h.test', 'A');
    expect(hit?.ttl).toBe(10);
    expect(hit?.records.map((r) => r.ttl)).toEqual([10, 10]);
    c.advance(10);
    expect(cache.get('h.test', 'A')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('clamps TTLs to [minTtl, maxTtl] and does not keep TTL 0 by default', () => {
    const c = clock();
    const cache = new DnsCache({ now: c.now, minTtl: 5, maxTtl: 100 });
    cache.setPositive('low.test', 'A', [a('192.0.2.1', 1)]);
    cache.setPositive('high.test', 'A', [a('192.0.2.1', 99999)]);
    expect(cache.get('low.test', 'A')?.ttl).toBe(5);
    expect(cache.get('high.test', 'A')?.ttl).toBe(100);
    const plain = new DnsCache({ now: c.now });
    plain.setPositive('zero.test', 'A', [a('192.0.2.1', 0)]);
    expect(plain.get('zero.test', 'A')).toBeUndefined();
  });

  it('caches NODATA per type and NXDOMAIN for every type of the name', () => {
    const c = clock();
    const cache = new DnsCache({ now: c.now, negativeTtl: 10, maxNegativeTtl: 50 });
    cache.setNegative('nodata.test', 'AAAA', 'nodata', 20);
    expect(cache.get('nodata.test', 'AAAA')).toMatchObject({ status: 'nodata', ttl: 20 });
    expect(cache.get('nodata.test', 'A')).toBeUndefined();
    cache.setNegative('nx.test', 'SRV', 'nxdomain', 9999);
    expect(cache.get('nx.test', 'A')).toMatchObject({ status: 'nxdomain', ttl: 50 });
    cache.setNegative('nosoa.test', 'A', 'nxdomain');
    expect(cache.get('nosoa.test', 'A')?.ttl).toBe(10);
    c.advance(10);
    expect(cache.get('nosoa.test', 'A')).toBeUndefined();
    cache.setPositive('nx.test', 'A', [a('192.0.2.1', 60, 'nx.test')]);
    expect(cache.get('nx.test', 'AAAA')).toBeUndefined(); // the NXDOMAIN was superseded
  });

  it('does not let additional-section data replace an answer (RFC 2181 §5.4.1)', () => {
    const cache = new DnsCache({ now: clock().now });
    cache.setPositive('h.test', 'A', [a('192.0.2.1', 60)]);
    cache.setPositive('h.test', 'A', [a('198.51.100.1', 60)], { additional: true });
    expect(cache.get('h.test', 'A')?.records[0]?.address).toBe('192.0.2.1');
    cache.setPositive('g.test', 'A', [a('198.51.100.1', 60, 'g.test')], { additional: true });
    cache.setPositive('g.test', 'A', [a('192.0.2.7', 60, 'g.test')]);
    expect(cache.get('g.test', 'A')?.records[0]?.address).toBe('192.0.2.7');
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new DnsCache({ now: clock().now, maxEntries: 2 });
    cache.setPositive('one.test', 'A', [a('192.0.2.1', 60, 'one.test')]);
    cache.setPositive('two.test', 'A', [a('192.0.2.2', 60, 'two.test')]);
    cache.get('one.test', 'A');
    cache.setPositive('three.test', 'A', [a('192.0.2.3', 60, 'three.test')]);
    expect(cache.size).toBe(2);
    expect(cache.get('two.test', 'A')).toBeUndefined();
    expect(cache.get('one.test', 'A')).toBeDefined();
  });

  it('rejects negative options', () => {
    expect(() => new DnsCache({ maxTtl: -1 })).toThrow(expect.objectContaining({ code: 'BADCONFIG' }));
  });
});
