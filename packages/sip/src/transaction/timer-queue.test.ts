import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { QueuedScheduler } from './timer-queue.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('QueuedScheduler', () => {
  it('fires timers of one duration in start order, each after its own delay', () => {
    const s = new QueuedScheduler();
    const fired: Array<[string, number]> = [];
    const t0 = performance.now();
    const fn = (name: string) => fired.push([name, performance.now() - t0]);
    s.setTimer(1000, fn, 'a');
    vi.advanceTimersByTime(300);
    s.setTimer(1000, fn, 'b');
    s.setTimer(500, fn, 'c');
    vi.advanceTimersByTime(2000);
    expect(fired).toEqual([['c', 800], ['a', 1000], ['b', 1300]]);
    expect(s.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('uses one Node timer per duration however many timers are pending', () => {
    const s = new QueuedScheduler();
    for (let i = 0; i < 1000; i++) s.setTimer(32_000, () => {}, i);
    for (let i = 0; i < 1000; i++) s.setTimer(500, () => {}, i);
    expect(s.pending).toBe(2000);
    expect(vi.getTimerCount()).toBe(2);
  });

  it('skips cleared timers and stops its Node timer when nothing is left', () => {
    const s = new QueuedScheduler();
    const fired: number[] = [];
    const handles = [1, 2, 3].map((i) => s.setTimer(100, (n: number) => fired.push(n), i));
    s.clearTimer(handles[0]);
    s.clearTimer(handles[0]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([2, 3]);
    const h = s.setTimer(100, (n: number) => fired.push(n), 4);
    s.clearTimer(h);
    expect(s.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    s.clearTimer(handles[1]); // already fired: no effect
    expect(s.pending).toBe(0);
  });

  it('takes timers set from inside a callback, also of the same duration', () => {
    const s = new QueuedScheduler();
    const fired: string[] = [];
    s.setTimer(100, () => {
      fired.push('first');
      s.setTimer(100, () => fired.push('second'), null);
      s.setTimer(0, () => fired.push('zero'), null);
    }, null);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['first']);
    vi.advanceTimersByTime(1); // Node runs a 0 ms timer after 1 ms
    expect(fired).toEqual(['first', 'zero']);
    vi.advanceTimersByTime(99);
    expect(fired).toEqual(['first', 'zero', 'second']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('fires the remaining due timers and rethrows when a callback throws', () => {
    const s = new QueuedScheduler();
    const fired: string[] = [];
    s.setTimer(100, () => { throw new Error('boom'); }, null);
    s.setTimer(100, () => fired.push('after'), null);
    s.setTimer(200, () => fired.push('later'), null);
    expect(() => vi.advanceTimersByTime(100)).toThrow('boom');
    expect(fired).toEqual(['after']);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual(['after', 'later']);
  });

  it('survives many timers (queue compaction)', () => {
    const s = new QueuedScheduler();
    let n = 0;
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3000; i++) s.setTimer(10, () => n++, null);
      vi.advanceTimersByTime(10);
    }
    expect(n).toBe(15_000);
    expect(s.pending).toBe(0);
  });
});
