/**
 * A TimerScheduler for many timers of few distinct durations — the transaction timers
 * are T1·2ⁿ, T2, T4, 64·T1 and 200 ms. Timers of one duration expire in the order
 * they were started, so each duration is a FIFO queue served by a single Node timer.
 * A pending timer costs one small entry (about 70 bytes) instead of a Node Timeout
 * with its argument array (about 200). Cancelled entries are skipped when reached.
 */
import type { TimerHandle, TimerScheduler } from './timers.js';

class Entry {
  constructor(
    public at: number,
    public fn: ((arg: unknown) => void) | null,
    public arg: unknown,
    public queue: Queue | null,
  ) {}
}

class Queue {
  entries: Array<Entry | undefined> = [];
  head = 0;
  /** Entries neither fired nor cancelled. */
  live = 0;
  timer: ReturnType<typeof setTimeout> | null = null;
  running = false;
  constructor(readonly ms: number) {}
}

export class QueuedScheduler implements TimerScheduler {
  private readonly queues = new Map<number, Queue>();
  private readonly runQueue = (q: Queue): void => this.run(q);

  now(): number {
    return Date.now();
  }

  setTimer<T>(ms: number, fn: (arg: T) => void, arg: T): TimerHandle {
    const d = ms > 0 ? ms : 0;
    let q = this.queues.get(d);
    if (q === undefined) this.queues.set(d, (q = new Queue(d)));
    const e = new Entry(performance.now() + d, fn as (arg: unknown) => void, arg, q);
    q.entries.push(e);
    q.live++;
    if (q.timer === null && !q.running) q.timer = setTimeout(this.runQueue, d, q);
    return e;
  }

  clearTimer(handle: TimerHandle): void {
    const e = handle as Entry;
    const q = e.queue;
    if (q === null) return; // fired or cleared already
    e.fn = null;
    e.arg = null;
    e.queue = null;
    if (--q.live === 0 && !q.running) this.idle(q);
  }

  /** Pending timers (not fired, not cleared). */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.live;
    return n;
  }

  private run(q: Queue): void {
    q.timer = null;
    q.running = true;
    const now = performance.now();
    let thrown: { error: unknown } | null = null;
    try {
      while (q.head < q.entries.length) {
        const e = q.entries[q.head];
        if (e !== undefined && e.queue !== null && e.at > now) break;
        q.entries[q.head++] = undefined;
        if (e === undefined || e.queue === null) continue; // cancelled
        const fn = e.fn!;
        const arg = e.arg;
        e.fn = null;
        e.arg = null;
        e.queue = null;
        q.live--;
        try {
          fn(arg);
        } catch (error) {
          thrown ??= { error };
        }
      }
    } finally {
      q.running = false;
      if (q.live === 0) this.idle(q);
      else {
        if (q.head > 1024 && q.head * 2 > q.entries.length) {
          q.entries = q.entries.slice(q.head);
          q.head = 0;
        }
        const next = this.firstLive(q);
        q.timer = setTimeout(this.runQueue, next === undefined ? q.ms : Math.max(0, next.at - performance.now()), q);
      }
    }
    if (thrown !== null) throw thrown.error;
  }

  private firstLive(q: Queue): Entry | undefined {
    while (q.head < q.entries.length) {
      const e = q.entries[q.head];
      if (e !== undefined && e.queue !== null) return e;
      q.entries[q.head++] = undefined;
    }
    return undefined;
  }

  private idle(q: Queue): void {
    if (q.timer !== null) clearTimeout(q.timer);
    q.timer = null;
    q.entries = [];
    q.head = 0;
  }
}
