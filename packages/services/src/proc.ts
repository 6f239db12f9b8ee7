import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { onExitSync } from './lifecycle.js';
import { removeDirSync, type DataDir } from './data-dir.js';
import { findBinary, pidAlive, ServiceStartError, sleep } from './util.js';

export interface SpawnOptions {
  /** Short service name for messages, e.g. 'mariadb'. */
  service: string;
  command: string;
  args: string[];
  /** stdout and stderr of the child are appended to this file (not piped through us). */
  logFile: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Ask the kernel to SIGTERM the child when the thread that spawned it dies, even by
   * SIGKILL (`setpriv --pdeathsig`). Default true. Ignored when detached.
   */
  dieWithParent?: boolean;
  /**
   * Own session, not killed by our exit hook, survives us (for `ngcp up`). Default false.
   */
  detached?: boolean;
  /** Dir to delete when the exit hook has to kill the child (temp instances only). */
  removeDirOnExit?: string;
  /** Extra synchronous cleanup for the exit hook (e.g. release port locks). */
  onExitCleanup?: () => void;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  readonly service: string;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** The command line, with passwords replaced by ***, for messages. */
  readonly commandLine: string;
  /** Resolves when the child has exited (and been reaped). Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Exit info once exited, else null. */
  exitInfo(): ExitInfo | null;
  /**
   * SIGTERM, wait up to graceMs, then SIGKILL, wait for exit. Only ever signals this PID.
   * Idempotent.
   */
  stop(graceMs?: number): Promise<ExitInfo>;
}

let setprivPath: string | null | undefined;
function setpriv(): string | null {
  if (setprivPath === undefined) {
    try {
      setprivPath = findBinary(['setpriv']);
    } catch {
      setprivPath = null;
    }
  }
  return setprivPath;
}

/** Start a child process whose output goes to a log file and which we never lose track of. */
export function spawnService(opts: SpawnOptions): ManagedProcess {
  const detached = opts.detached === true;
  const wrap = !detached && opts.dieWithParent !== false ? setpriv() : null;
  // setpriv sets PR_SET_PDEATHSIG and then exec()s the command: the PID stays the service's.
  const command = wrap ?? opts.command;
  const args = wrap ? ['--pdeathsig', 'SIGTERM', '--', opts.command, ...opts.args] : opts.args;

  const fd = openSync(opts.logFile, 'a', 0o600);
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached,
    });
  } finally {
    closeSync(fd);
  }

  let info: ExitInfo | null = null;
  let spawnError: Error | null = null;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      info = { code, signal };
      resolve(info);
    });
    child.once('error', (err) => {
      // ENOENT etc.: there is no process; 'exit' may not follow
      spawnError = err;
      if (child.pid === undefined) {
        info = { code: null, signal: null };
        resolve(info);
      }
    });
  });

  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not spawn ${opts.command}: ${String(spawnError ?? 'no pid')}`);
  }

  let unregister: () => void = () => {};
  if (!detached) {
    unregister = onExitSync(() => {
      if (info) return;
      const temp = opts.removeDirOnExit !== undefined;
      try {
        // temp data is worthless: SIGKILL; kept data: SIGTERM so the service shuts down cleanly
        process.kill(pid, temp ? 'SIGKILL' : 'SIGTERM');
      } catch {
        /* already gone */
      }
      if (opts.removeDirOnExit) {
        try {
          removeDirSync(opts.removeDirOnExit);
        } catch {
          /* best effort */
        }
      }
      opts.onExitCleanup?.();
    });
    void exited.then(() => unregister());
  } else {
    child.unref();
  }

  let stopping: Promise<ExitInfo> | undefined;
  const stop = (graceMs = 10_000): Promise<ExitInfo> => {
    stopping ??= (async () => {
      child.ref(); // a detached (unref'd) child must keep us alive while we wait for it
      if (!info) {
        try {
          child.kill('SIGTERM');
        } catch {
          /* gone */
        }
        let timer: NodeJS.Timeout | undefined;
        const timedOut = await Promise.race([
          exited.then(() => false),
          new Promise<boolean>((r) => {
            timer = setTimeout(() => r(true), graceMs);
          }),
        ]);
        if (timer) clearTimeout(timer);
        if (timedOut && !info) {
          try {
            child.kill('SIGKILL');
          } catch {
            /* gone */
          }
        }
      }
      const result = await exited;
      unregister();
      return result;
    })();
    return stopping;
  };

  return {
    service: opts.service,
    pid,
    child,
    logFile: opts.logFile,
    commandLine: redactedCommandLine(opts.command, opts.args),
    exited,
    exitInfo: () => info,
    stop,
  };
}

const SECRET_NEXT = new Set(['--requirepass', '--masterauth']);

/** `command args…` for error messages, with passwords masked. */
export function redactedCommandLine(command: string, args: readonly string[]): string {
  const out: string[] = [command];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (SECRET_NEXT.has(a) && i + 1 < args.length) {
      out.push(a, '***');
      i++;
      continue;
    }
    const masked = a
      .replace(/^(--redis(?:-write)?=)[^@]*@/, '$1***@')
      .replace(/^(--(?:mysql-pass|requirepass|masterauth|password)=).*/, '$1***');
    out.push(/[\s'"]/.test(masked) || masked === '' ? `'${masked.replace(/'/g, "'\\''")}'` : masked);
  }
  return out.join(' ');
}

export interface WaitReadyOptions {
  service: string;
  proc: ManagedProcess;
  timeoutMs: number;
  /** Interval between probes. */
  intervalMs?: number;
  /** Resolves true when ready; false or a throw means "not yet" (the last error is reported). */
  probe: () => Promise<boolean>;
}

/**
 * Poll `probe` until it succeeds; fail early if the process exits, or at the timeout.
 * Error messages include the tail of the process's log.
 */
export async function waitReady(o: WaitReadyOptions): Promise<void> {
  const deadline = Date.now() + o.timeoutMs;
  const interval = o.intervalMs ?? 25;
  let lastError: unknown;
  for (;;) {
    const ex = o.proc.exitInfo();
    if (ex) {
      // give the process a moment to flush its last words to the log
      await sleep(20);
      throw new ServiceStartError(
        o.service,
        `process ${o.proc.pid} exited during startup (code ${ex.code}, signal ${ex.signal})\ncommand: ${o.proc.commandLine}`,
        o.proc.logFile,
      );
    }
    try {
      if (await o.probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last probe error: ${lastError.message}` : '';
      throw new ServiceStartError(
        o.service,
        `not ready after ${o.timeoutMs} ms${why}\ncommand: ${o.proc.commandLine}`,
        o.proc.logFile,
      );
    }
    await sleep(interval);
  }
}

/** /proc/PID/cmdline as an argv array, or null if the process does not exist / is unreadable. */
export function readCmdline(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter((s) => s.length > 0);
  } catch {
    return null;
  }
}

/**
 * Stop a process that is not (or no longer) our child, e.g. one started `detached` by an
 * earlier `ngcp up`: SIGTERM, poll until gone, SIGKILL after graceMs.
 * `mustContain`: strings that must all appear in its /proc/PID/cmdline — guards against
 * signalling an unrelated process that reused the PID. Returns false if there was nothing to stop.
 */
export async function stopPid(pid: number, opts: { graceMs?: number; mustContain?: string[] } = {}): Promise<boolean> {
  if (!pidAlive(pid)) return false;
  if (opts.mustContain?.length) {
    const cmd = readCmdline(pid);
    if (!cmd) return false;
    const joined = cmd.join(' ');
    if (!opts.mustContain.every((s) => joined.includes(s))) return false;
  }
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return false;
  }
  const deadline = Date.now() + (opts.graceMs ?? 10_000);
  while (Date.now() < deadline) {
    if (!pidAlive(pid)) return true;
    await sleep(25);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return true;
  }
  const hardDeadline = Date.now() + 5_000;
  while (Date.now() < hardDeadline) {
    if (!pidAlive(pid)) return true;
    await sleep(25);
  }
  throw new Error(`PID ${pid} did not exit after SIGKILL`);
}

/**
 * Start the service of a data dir: its log in the dir, the dir removed when the process
 * exits if it is not kept, and `onSpawn` told the child PID (the test kit records it for
 * its stale-dir sweep).
 */
export function spawnInstance(
  inst: DataDir,
  service: string,
  command: string,
  args: string[],
  logFile: string,
  opts: { detached?: boolean | undefined; dieWithParent?: boolean | undefined; onSpawn?: ((pid: number) => void) | undefined },
  onExitCleanup?: () => void,
): ManagedProcess {
  const proc = spawnService({
    service,
    command,
    args,
    logFile,
    cwd: inst.dir,
    detached: opts.detached,
    dieWithParent: opts.dieWithParent,
    removeDirOnExit: inst.removeOnStop ? inst.dir : undefined,
    onExitCleanup,
  });
  opts.onSpawn?.(proc.pid);
  return proc;
}
