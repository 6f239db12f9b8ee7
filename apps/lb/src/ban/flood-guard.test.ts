import { describe, expect, it } from 'vitest';
import { trustedSet } from '../domains/trusted.js';
import { FloodGuard } from './flood-guard.js';

function guard(o: { windowMs?: number; max?: number; banMs?: number; exempt?: string[]; maxTracked?: number } = {}) {
  const clock = { t: 1_000_000 };
  const banned: Array<[string, number]> = [];
  const g = new FloodGuard({
    windowMs: o.windowMs ?? 1000, maxRequests: o.max ?? 10, banMs: o.banMs ?? 60_000, exempt: trustedSet(o.exempt ?? []),
    now: () => clock.t, onBan: (a, n) => banned.push([a, n]), ...(o.maxTracked ? { maxTracked: o.maxTracked } : {}),
  });
  const send = (address: string, n: number, everyMs = 0): boolean[] => {
    const out: boolean[] = [];
    for (let i = 0; i < n; i++) {
      out.push(g.admit(address));
      clock.t += everyMs;
    }
    return out;
  };
  return { g, clock, banned, send };
}

describe('FloodGuard: the sliding window', () => {
  it('max_requests within one window pass; the next one bans, and everything after it is refused', () => {
    const { g, banned, send } = guard({ max: 10 });
    expect(send('192.0.2.1', 10)).toEqual(Array(10).fill(true));
    expect(g.admit('192.0.2.1')).toBe(false);
    expect(banned).toEqual([['192.0.2.1', 11]]);
    expect(send('192.0.2.1', 5)).toEqual(Array(5).fill(false));
    expect(g.counters).toMatchObject({ admitted: 10, refused: 6, bans: 1 });
    // another source is not affected
    expect(g.admit('192.0.2.2')).toBe(true);
  });

  it('a steady rate just under the threshold is never banned, one above it is (the window slides across periods)', () => {
    // one per 105 ms (9.5 per window) and one per 100 ms (10 per window, every edge case of the periods): fine for a minute
    const a = guard({ max: 10 });
    expect(a.send('192.0.2.1', 600, 105).every(Boolean)).toBe(true);
    const a2 = guard({ max: 10 });
    a2.clock.t += 37;
    expect(a2.send('192.0.2.1', 600, 101).every(Boolean)).toBe(true);
    // 12 per 1000 ms (every 83 ms): banned within the first two periods, however the burst falls on period edges
    const b = guard({ max: 10 });
    const r = b.send('192.0.2.1', 30, 83);
    expect(r.indexOf(false)).toBeGreaterThan(9);
    expect(r.indexOf(false)).toBeLessThan(25);
  });

  it('a burst split across a period edge is still counted (not reset at the edge)', () => {
    const { clock, send } = guard({ max: 10 });
    clock.t = 1_000_900; // 100 ms before the next period
    expect(send('192.0.2.1', 8).every(Boolean)).toBe(true);
    clock.t = 1_001_050; // 50 ms into it: 95 % of the window still overlaps the previous period: ⌊8 × 0.95⌋ = 7 carried over
    expect(send('192.0.2.1', 4)).toEqual([true, true, true, false]);
  });

  it('a quiet period forgets the counts; sweep drops sources quiet for two periods', () => {
    const { g, clock, send } = guard({ max: 10 });
    send('192.0.2.1', 10);
    clock.t += 2000;
    expect(send('192.0.2.1', 10).every(Boolean)).toBe(true);
    expect(g.tracked).toBe(1);
    clock.t += 2500;
    g.sweep();
    expect(g.tracked).toBe(0);
  });
});

describe('FloodGuard: bans', () => {
  it('a ban ends after ban time; the source is then counted afresh', () => {
    const { g, clock, send } = guard({ max: 3, banMs: 5000 });
    send('192.0.2.1', 4);
    clock.t += 4999;
    expect(g.admit('192.0.2.1')).toBe(false);
    clock.t += 1;
    expect(send('192.0.2.1', 3)).toEqual([true, true, true]);
    expect(g.isBanned('192.0.2.1')).toBe(false);
  });

  it('lift() ends a ban at once with an empty window', () => {
    const { g, send } = guard({ max: 3 });
    send('192.0.2.1', 4);
    expect(g.lift('192.0.2.1')).toBe(true);
    expect(send('192.0.2.1', 3)).toEqual([true, true, true]);
    expect(g.lift('192.0.2.9')).toBe(false);
    expect(g.counters.lifted).toBe(1);
  });

  it('applyBan / replaceBans take bans from Redis; activeBans reports time left; expired ones are ignored', () => {
    const { g, clock } = guard({});
    expect(g.applyBan('192.0.2.5', clock.t + 10_000)).toBe(true);
    expect(g.applyBan('192.0.2.6', clock.t - 1)).toBe(false);
    expect(g.admit('192.0.2.5')).toBe(false);
    expect(g.activeBans()).toEqual(new Map([['192.0.2.5', 10_000]]));
    g.replaceBans([['192.0.2.7', Infinity]]);
    expect(g.admit('192.0.2.5')).toBe(true);
    expect(g.admit('192.0.2.7')).toBe(false);
    expect(g.activeBans().get('192.0.2.7')).toBe(Infinity);
  });

  it('exempt addresses and networks are never counted nor banned, nothing else is (loopback included)', () => {
    const { g, send } = guard({ max: 3, exempt: ['10.0.0.0/8', '192.0.2.44', '2001:db8::/32'] });
    expect(send('10.1.2.3', 100).every(Boolean)).toBe(true);
    expect(send('192.0.2.44', 100).every(Boolean)).toBe(true);
    expect(send('2001:db8::7', 100).every(Boolean)).toBe(true);
    expect(g.applyBan('10.1.2.3', Infinity)).toBe(false);
    expect(send('127.0.0.1', 4)).toEqual([true, true, true, false]);
    expect(send('::1', 4)).toEqual([true, true, true, false]);
  });

  it('beyond maxTracked sources, new ones are admitted uncounted (memory stays bounded)', () => {
    const { g, send } = guard({ max: 3, maxTracked: 2 });
    send('192.0.2.1', 1);
    send('192.0.2.2', 1);
    expect(send('192.0.2.3', 10).every(Boolean)).toBe(true);
    expect(g.tracked).toBe(2);
    expect(g.counters.untracked).toBe(10);
    expect(send('192.0.2.1', 3)).toEqual([true, true, false]);
  });

  it('refuses nonsense options', () => {
    expect(() => new FloodGuard({ windowMs: 0, maxRequests: 1, banMs: 1, exempt: trustedSet([]) })).toThrow(/positive/);
  });
});
