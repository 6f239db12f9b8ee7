import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './util.js';
import { readCmdline, stopPid } from './proc.js';

/** Written into every instance dir while the service runs: `<dir>/instance.json` (0600). */
export const STATE_FILE = 'instance.json';
/** Its name before @ngcp/services (data dirs of older nodes): still read. */
const LEGACY_STATE_FILE = 'testkit-instance.json';

export interface InstanceState {
  service: 'mariadb' | 'redis' | 'rtpengine';
  pid: number;
  /** Strings that appear in the process's /proc/PID/cmdline (PID-reuse guard). */
  cmdlineMarkers: string[];
  startedAt: string;
  /** Service-specific details (ports, credentials …). */
  [key: string]: unknown;
}

export function writeState(dir: string, state: InstanceState): void {
  writeFileSync(join(dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
}

export function readState(dir: string): InstanceState | null {
  for (const name of [STATE_FILE, LEGACY_STATE_FILE]) {
    try {
      return JSON.parse(readFileSync(join(dir, name), 'utf8')) as InstanceState;
    } catch {
      // next
    }
  }
  return null;
}

/** Mark the instance as stopped (keeps credentials etc. for the next start). */
export function clearStatePid(dir: string): void {
  const s = readState(dir);
  if (!s) return;
  try {
    writeState(dir, { ...s, pid: 0 });
  } catch {
    /* dir gone */
  }
}

export function removeState(dir: string): void {
  rmSync(join(dir, STATE_FILE), { force: true });
  rmSync(join(dir, LEGACY_STATE_FILE), { force: true });
}

/** The state of the instance running in `dir`, if its recorded PID is alive and really is it. */
export function runningInstance(dir: string): InstanceState | null {
  const s = readState(dir);
  if (!s || !s.pid || !pidAlive(s.pid)) return null;
  const cmd = readCmdline(s.pid);
  if (!cmd) return null;
  const joined = cmd.join(' ');
  return s.cmdlineMarkers.every((m) => joined.includes(m)) ? s : null;
}

/**
 * Stop the service recorded in `<dir>/instance.json` — typically one started with
 * `detached: true` by another process (`ngcp up` → `ngcp down`). Signals only the recorded
 * PID and only if its command line still matches. Returns false if nothing was running.
 */
export async function stopInstanceInDir(dir: string, opts: { graceMs?: number } = {}): Promise<boolean> {
  const s = runningInstance(dir);
  if (!s) return false;
  const stopped = await stopPid(s.pid, { graceMs: opts.graceMs ?? 30_000, mustContain: s.cmdlineMarkers });
  clearStatePid(dir);
  return stopped;
}
