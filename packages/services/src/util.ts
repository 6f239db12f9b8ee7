import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** URL-safe random string (letters and digits only, so it needs no quoting anywhere). */
export function randomSecret(length = 24): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

/**
 * true if a process with this PID exists and is not a zombie (EPERM counts as existing).
 * Zombies count as dead: an orphaned child whose new parent does not reap it is gone for
 * every practical purpose.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return !isZombie(pid);
}

/** true if /proc says the process is a zombie (state Z) — exited but not yet reaped. */
export function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the state field follows the ") " that closes the command name
    const close = stat.lastIndexOf(')');
    return stat.charAt(close + 2) === 'Z';
  } catch {
    return false;
  }
}

/** Last `lines` lines of a (possibly large) text file; '' if it does not exist. */
export function tailFile(path: string, lines = 30, maxBytes = 64 * 1024): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const text = buf.toString('utf8').replace(/\s+$/, '');
    return text.split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Error thrown when a service fails to start; the message carries the tail of its log. */
export class ServiceStartError extends Error {
  readonly service: string;
  readonly logFile: string | undefined;
  readonly logTail: string;
  constructor(service: string, reason: string, logFile?: string, logTail?: string) {
    const tail = logTail ?? (logFile ? tailFile(logFile) : '');
    super(
      `${service} failed to start: ${reason}` +
        (logFile ? `\n--- last lines of ${logFile} ---\n${tail || '(empty)'}\n--- end ---` : ''),
    );
    this.name = 'ServiceStartError';
    this.service = service;
    this.logFile = logFile;
    this.logTail = tail;
  }
}

const SBIN_DIRS = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Absolute path of the first of `names` found on PATH or in the usual sbin/bin dirs.
 * An explicit override (absolute path or name) wins. Throws a readable error if nothing is found.
 */
export function findBinary(names: readonly string[], override?: string): string {
  const candidates = override ? [override] : names;
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...SBIN_DIRS];
  for (const name of candidates) {
    if (name.includes('/')) {
      if (isExecutable(name)) return name;
      continue;
    }
    for (const dir of dirs) {
      const p = join(dir, name);
      if (isExecutable(p)) return p;
    }
  }
  throw new Error(
    `none of [${candidates.join(', ')}] found on PATH or in ${SBIN_DIRS.join(':')} — is the Debian package installed?`,
  );
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return existsSync(p);
  } catch {
    return false;
  }
}

/** Race a promise against a timeout; the timer never keeps the process alive. */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
        timer.unref();
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

const DEBUG = /^(1|true|yes)$/i.test(process.env['NGCP_SERVICES_DEBUG'] ?? process.env['NGCP_TESTKIT_DEBUG'] ?? '');
const t0 = Date.now();
/** Phase timings on stderr when NGCP_SERVICES_DEBUG=1 (or the older NGCP_TESTKIT_DEBUG=1). */
export function debug(service: string, msg: string): void {
  if (DEBUG) process.stderr.write(`[services +${Date.now() - t0}ms] ${service}: ${msg}\n`);
}
