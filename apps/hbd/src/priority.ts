/**
 * hbd's scheduling priority (config `nice`, -10 by default). On Linux `setpriority()` —
 * and so `os.setPriority()` — changes ONE thread: the main thread. The threads Node
 * started before it (V8's platform workers, which do the parallel parts of garbage
 * collection the main thread waits for, and the libuv pool) would stay at nice 0, and on a
 * loaded machine the main thread then stalls behind them: the lab measured 561 ms without a
 * beat (deadtime 300 ms) on the active node while two other checkouts type-checked, and the
 * standby took over. So every thread of the process gets the value; threads started later
 * inherit it from the thread that starts them.
 */
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';

export interface PriorityResult {
  /** Threads that got the value. */
  threads: number;
  /** Threads that refused (e.g. gone meanwhile), with the first error. */
  failed: number;
  firstError?: string;
}

/** Thread ids of this process (/proc/self/task); [] where there is no /proc. */
export function ownThreads(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter((t) => t > 0);
  } catch {
    return [];
  }
}

/**
 * Sets `nice` on every thread of this process (`set(tid, nice)`); without /proc, on the
 * process as `os.setPriority(nice)` does. Throws when not even one thread took it (e.g. no
 * permission for a negative value): the caller warns.
 */
export function raisePriority(nice: number, set: (tid: number, nice: number) => void = setPriority, threads: () => number[] = ownThreads): PriorityResult {
  const tids = threads();
  if (!tids.length) {
    set(0, nice);
    return { threads: 1, failed: 0 };
  }
  let ok = 0;
  let firstError: string | undefined;
  for (const tid of tids) {
    try {
      set(tid, nice);
      ok++;
    } catch (e) {
      firstError ??= (e as Error).message;
    }
  }
  if (!ok) throw new Error(firstError ?? 'no thread took the priority');
  return { threads: ok, failed: tids.length - ok, ...(firstError ? { firstError } : {}) };
}
