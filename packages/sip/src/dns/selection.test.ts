import { describe, expect, it } from 'vitest';
import type { NaptrRecord, SrvRecord } from './records.js';
import { orderSrv, selectNaptr, srvDeclined, srvName } from './selection.js';
import { seededRandom } from './test-dns-server.js';

const srv = (target: string, priority: number, weight: number, port = 5060): SrvRecord => ({
  type: 'SRV',
  name: '_sip._udp.example.test',
  ttl: 60,
  priority,
  weight,
  port,
  target,
});
const naptr = (order: number, preference: number, services: string, replacement: string, flags = 'S', regexp = ''): NaptrRecord => ({
  type: 'NAPTR',
  name: 'example.test',
  ttl: 60,
  order,
  preference,
  flags,
  services,
  regexp,
  replacement,
});

/** How often each target comes first over n orderings. */
function firstPicks(records: SrvRecord[], n: number, seed = 1): Map<string, number> {
  const rnd = seededRandom(seed);
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const first = orderSrv(records, rnd)[0]?.target ?? '';
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return counts;
}

describe('orderSrv (RFC 2782)', () => {
  it('orders by priority ascending whatever the weights', () => {
    const recs = [srv('c', 30, 1000), srv('a', 10, 1), srv('b', 20, 50), srv('a2', 10, 0)];
    for (let seed = 1; seed < 50; seed++) {
      const out = orderSrv(recs, seededRandom(seed)).map((r) => r.priority);
      expect(out).toEqual([10, 10, 20, 30]);
    }
  });

  it('picks within a priority in proportion to weight', () => {
    const n = 20000;
    const counts = firstPicks([srv('w60', 1, 60), srv('w30', 1, 30), srv('w10', 1, 10)], n);
    // a draw uniform in 0..sum inclusive: 61/101, 30/101, 10/101
    expect(Math.abs((counts.get('w60') ?? 0) / n - 61 / 101)).toBeLessThan(0.02);
    expect(Math.abs((counts.get('w30') ?? 0) / n - 30 / 101)).toBeLessThan(0.02);
    expect(Math.abs((counts.get('w10') ?? 0) / n - 10 / 101)).toBeLessThan(0.02);
  });

  it('gives weight-0 records a very small chance against weighted ones, but keeps them', () => {
    const n = 20000;
    const recs = [srv('heavy', 1, 100), srv('zero', 1, 0)];
    const zeroFirst = (firstPicks(recs, n, 7).get('zero') ?? 0) / n;
    expect(zeroFirst).toBeGreaterThan(0.002);
    expect(zeroFirst).toBeLessThan(0.02);
    expect(orderSrv(recs, seededRandom(3)).map((r) => r.target)).toContain('zero');
  });

  it('shuffles uniformly when every weight is 0', () => {
    const n = 9000;
    const counts = firstPicks([srv('a', 1, 0), srv('b', 1, 0), srv('c', 1, 0)], n, 11);
    for (const t of ['a', 'b', 'c']) expect(Math.abs((counts.get(t) ?? 0) / n - 1 / 3)).toBeLessThan(0.03);
  });

  it('is deterministic for a given random source and returns every record once', () => {
    const recs = [srv('a', 1, 10), srv('b', 1, 20), srv('c', 2, 5), srv('d', 2, 5)];
    const x = orderSrv(recs, seededRandom(42)).map((r) => r.target);
    expect(orderSrv(recs, seededRandom(42)).map((r) => r.target)).toEqual(x);
    expect([...x].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('drops "." targets; an answer of only "." means the service is not offered', () => {
    expect(orderSrv([srv('.', 0, 0)])).toEqual([]);
    expect(srvDeclined([srv('.', 0, 0)])).toBe(true);
    expect(srvDeclined([srv('.', 0, 0), srv('a', 1, 1)])).toBe(false);
    expect(srvDeclined([])).toBe(false);
  });
});

describe('selectNaptr (RFC 3263 §4.1, RFC 3403)', () => {
  const all = ['udp', 'tcp', 'tls'] as const;
  it('sorts by order, then preference, keeping DNS order for ties', () => {
    const rules = selectNaptr(
      [
        naptr(20, 10, 'SIP+D2U', '_sip._udp.b'),
        naptr(10, 50, 'SIP+D2T', '_sip._tcp.a'),
        naptr(10, 5, 'SIPS+D2T', '_sips._tcp.a'),
        naptr(20, 10, 'SIP+D2T', '_sip._tcp.b'),
      ],
      { secure: false, supported: all },
    );
    expect(rules.map((r) => r.replacement)).toEqual(['_sips._tcp.a', '_sip._tcp.a', '_sip._udp.b', '_sip._tcp.b']);
    expect(rules.map((r) => r.transport)).toEqual(['tls', 'tcp', 'udp', 'tcp']);
  });

  it('keeps only transports the client supports', () => {
    const recs = [naptr(10, 10, 'SIP+D2T', 't'), naptr(20, 10, 'SIP+D2U', 'u'), naptr(30, 10, 'SIPS+D2T', 's')];
    expect(selectNaptr(recs, { secure: false, supported: ['udp'] }).map((r) => r.replacement)).toEqual(['u']);
  });

  it('keeps only SIPS services for a SIPS URI', () => {
    const recs = [naptr(10, 10, 'SIP+D2U', 'u'), naptr(20, 10, 'sips+d2t', 's')];
    expect(selectNaptr(recs, { secure: true, supported: all }).map((r) => r.transport)).toEqual(['tls']);
  });

  it('ignores non-"S" records, regexp rewrites, unknown services and "." replacements', () => {
    const recs = [
      naptr(10, 10, 'SIP+D2U', 'x', 'U', '!^.*$!sip:x@y!'),
      naptr(10, 10, 'SIP+D2S', '_sip._sctp.a'),
      naptr(10, 10, 'SIP+D2W', '_sip._ws.a'),
      naptr(10, 10, 'E2U+sip', 'e'),
      naptr(10, 10, 'SIP+D2U', '.'),
      naptr(10, 10, 'SIP+D2U', '_sip._udp.a', 's'),
    ];
    expect(selectNaptr(recs, { secure: false, supported: all }).map((r) => r.replacement)).toEqual(['_sip._udp.a']);
  });

  it('knows the SRV names', () => {
    expect([srvName('a.test', 'udp'), srvName('a.test', 'tcp'), srvName('a.test', 'tls')]).toEqual(['_sip._udp.a.test', '_sip._tcp.a.test', '_sips._tcp.a.test']);
  });
});
