/**
 * Last-resort cleanup when the process that started services goes away without calling stop().
 *
 * - process 'exit' (normal end, process.exit(), uncaught exception): run every registered
 *   synchronous cleanup (kill our children by PID, remove temp dirs, drop port locks).
 * - SIGINT / SIGTERM / SIGHUP: Node's default for these is to die WITHOUT emitting 'exit'.
 *   If nobody else listens for the signal we clean up and re-raise it, so the process still
 *   dies with the same signal. If someone else listens (an app with its own graceful
 *   shutdown, a test runner), we leave the decision to them; when they exit, 'exit' fires.
 * - SIGKILL of this process cannot be caught: children are spawned through
 *   `setpriv --pdeathsig` so the kernel signals them when we die (see proc.ts); the test
 *   kit sweeps temp dirs left that way.
 */

type Cleanup = () => void;

const cleanups = new Map<number, Cleanup>();
let nextId = 1;
let installed = false;

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function runAll(): void {
  for (const [id, fn] of [...cleanups]) {
    cleanups.delete(id);
    try {
      fn();
    } catch {
      // best effort: we are going down anyway
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // Somebody else handles this signal: let them decide; our 'exit' hook runs if they exit.
  if (process.listenerCount(signal) > 1) return;
  runAll();
  for (const s of SIGNALS) process.removeListener(s, onSignal);
  process.kill(process.pid, signal);
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

/** Register a synchronous cleanup; returns a function that unregisters it. */
export function onExitSync(fn: Cleanup): () => void {
  install();
  const id = nextId++;
  cleanups.set(id, fn);
  return () => {
    cleanups.delete(id);
  };
}

/** How a launched service process lives and stops (every launcher takes these). */
export interface ProcessOptions {
  /** SIGTERM→SIGKILL grace for stop(). Default 5000 ms (MariaDB 30000 ms). */
  stopGraceMs?: number;
  /** Run in its own session and outlive this process (service mode). Default false. */
  detached?: boolean;
  /** Kernel-signal the child if we die (setpriv --pdeathsig). Default true. */
  dieWithParent?: boolean;
  /** Told the PID right after the spawn (before it is ready). */
  onSpawn?: (pid: number) => void;
}
