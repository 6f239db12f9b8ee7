import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BeatFilter, decodeBeat, encodeBeat, initialSeq, type Beat } from './beat.js';

const KEY = 'k'.repeat(32);
const beat: Beat = { node: 'sp2', role: 'active', epoch: 4, pings: 1, priority: 100, yielding: false, seq: 1000, ts: 1 };

describe('heartbeat wire format', () => {
  it('round-trips a signed beat', () => {
    expect(decodeBeat(encodeBeat(beat, KEY), KEY)).toEqual({ beat });
  });
  it('drops a beat signed with another key, or altered in flight', () => {
    expect(decodeBeat(encodeBeat(beat, 'x'.repeat(32)), KEY)).toEqual({ drop: 'bad_signature' });
    const p = encodeBeat(beat, KEY);
    p[p.length - 3] = (p[p.length - 3] ?? 0) ^ 1;
    expect(decodeBeat(p, KEY)).toEqual({ drop: 'bad_signature' });
  });
  it('drops short, oversized and well-signed nonsense', () => {
    expect(decodeBeat(Buffer.alloc(10), KEY)).toEqual({ drop: 'short' });
    expect(decodeBeat(Buffer.alloc(5000), KEY)).toEqual({ drop: 'too_long' });
    const sign = (body: string): Buffer => Buffer.concat([createHmac('sha256', KEY).update(body).digest(), Buffer.from(body)]);
    expect(decodeBeat(sign('not json'), KEY)).toEqual({ drop: 'malformed' });
    expect(decodeBeat(sign(JSON.stringify({ ...beat, v: 1, role: 'master' })), KEY)).toEqual({ drop: 'malformed' });
    expect(decodeBeat(sign(JSON.stringify({ ...beat, v: 1, epoch: -1 })), KEY)).toEqual({ drop: 'malformed' });
  });
});

describe('BeatFilter', () => {
  it('accepts newer seqs per path and drops replays and strangers', () => {
    const f = new BeatFilter('sp2');
    expect(f.check('crosslink', beat)).toBeNull();
    expect(f.check('bridge', beat)).toBeNull();
    expect(f.check('crosslink', beat)).toBe('replay');
    expect(f.check('crosslink', { ...beat, seq: 999 })).toBe('replay');
    expect(f.check('crosslink', { ...beat, seq: 1001 })).toBeNull();
    expect(f.check('crosslink', { ...beat, node: 'sp3', seq: 5000 })).toBe('unknown_node');
  });
  it('a restarted sender starts above its earlier seqs', () => {
    const before = initialSeq(1_000_000) + 50_000;
    expect(initialSeq(1_000_100)).toBeGreaterThan(before);
  });
});
