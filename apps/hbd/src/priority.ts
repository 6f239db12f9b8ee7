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
import { spawnSync } from 'node:child_process';
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

export type RunCommand = (cmd: string, argv: string[]) => { status: number | null; stderr: string; error?: Error };

const runSync: RunCommand = (cmd, argv) => {
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 5000 });
  return { status: r.status, stderr: r.stderr ?? '', ...(r.error ? { error: r.error } : {}) };
};

/**
 * chrt's argv: SCHED_RR at `priority` for every thread of `pid`. Not `--reset-on-fork`: a
 * forked child must stay real-time until it has exec'd, because Node's spawn (libuv's
 * uv_spawn) blocks the parent's event loop until the child has called execve() — a child
 * reset to SCHED_OTHER waits for a CPU behind every runnable ordinary task first, and on a
 * loaded machine the lab measured the active hbd 300–450 ms without a beat every audit
 * (`ip addr show`, every 2 s) with 6–38 ms of CPU, and the standby took over. The commands
 * themselves run as ordinary tasks: `run()` (steps.ts) execs them through
 * `chrt --other 0` once `runChildrenAsOrdinary(true)` (see there).
 */
export function realtimeArgv(priority: number, pid: number): string[] {
  return ['--rr', '--all-tasks', '--pid', String(priority), String(pid)];
}

/**
 * Real-time scheduling (SCHED_RR) for every thread of this process, as keepalived
 * (`vrrp_rt_priority`) and corosync run theirs. `nice` only weighs hbd against the other
 * SCHED_OTHER tasks: with ten runnable tasks on two cores the soak of 2026-12-07 saw the
 * active hbd go 314 ms without being scheduled (deadtime 300 ms) and the standby took over.
 * A SCHED_RR thread runs as soon as it is runnable, ahead of every ordinary task; the
 * kernel's real-time throttling (`sched_rt_runtime_us`, 95 % by default) still bounds it,
 * and hbd needs a few percent of a core. The commands hbd runs (`ip`, `arping`, pm2 for
 * the jobs) run as ordinary tasks (realtimeArgv, `runChildrenAsOrdinary`). Done with util-linux's `chrt`, which
 * Node cannot do itself (no sched_setscheduler binding). Throws with chrt's message when
 * refused (no CAP_SYS_NICE, a cgroup without real-time budget): the caller warns and keeps
 * `nice`.
 */
export function raiseRealtime(priority: number, pid: number = process.pid, run: RunCommand = runSync): void {
  if (!(Number.isInteger(priority) && priority >= 1 && priority <= 99)) throw new Error(`real-time priority ${priority} not in 1..99`);
  const r = run('chrt', realtimeArgv(priority, pid));
  if (r.error) throw new Error(`chrt: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`chrt exited ${r.status}: ${r.stderr.trim() || 'no message'}`);
}
