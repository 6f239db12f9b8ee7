import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { sweepStalePortLocks } from './ports.js';
import { pidAlive, removeDirSync } from '@ngcp/services';

/** Prefix of every temp instance dir: `$TMPDIR/ngcp-testkit-<service>-XXXXXX`. */
export const TEMP_PREFIX = 'ngcp-testkit-';
/** Marker file in a temp instance dir: who owns it, which child runs in it. */
export const OWNER_FILE = '.testkit-owner.json';

interface OwnerInfo {
  ownerPid: number;
  childPid?: number;
  service: string;
  createdAt: string;
}

export interface InstanceDir {
  /** Absolute path of the instance dir. */
  dir: string;
  /** true if the testkit created it under $TMPDIR. */
  temp: boolean;
  /** true if stop() (and the exit hook) should delete it. */
  removeOnStop: boolean;
}

let sweptOnce = false;

/**
 * Create (or adopt) the dir an instance lives in.
 * - no dataDir: a fresh temp dir, removed on stop unless keepData.
 * - dataDir given: created if missing, NEVER removed unless keepData === false is passed explicitly.
 */
export function prepareInstanceDir(service: string, opts: { dataDir?: string | undefined; keepData?: boolean | undefined }): InstanceDir {
  if (!sweptOnce) {
    sweptOnce = true;
    sweepStaleDirs();
  }
  if (opts.dataDir) {
    const dir = resolve(opts.dataDir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return { dir, temp: false, removeOnStop: opts.keepData === false };
  }
  const dir = mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${service}-`));
  const info: OwnerInfo = { ownerPid: process.pid, service, createdAt: new Date().toISOString() };
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(info));
  return { dir, temp: true, removeOnStop: opts.keepData !== true };
}

/** Record the child's PID in a temp dir's owner file (used by the stale sweep). */
export function recordChildPid(d: InstanceDir, childPid: number): void {
  if (!d.temp) return;
  const path = join(d.dir, OWNER_FILE);
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as OwnerInfo;
    info.childPid = childPid;
    writeFileSync(path, JSON.stringify(info));
  } catch {
    // dir already gone
  }
}

/**
 * Remove temp instance dirs left behind by testkit users that died without cleaning up
 * (e.g. SIGKILLed vitest workers): both the owner PID and the child PID must be gone.
 * Also drops port lock files of dead PIDs. Never kills anything. Returns the removed paths.
 * Runs automatically once per process, at the first start*() call.
 */
export function sweepStaleDirs(base: string = tmpdir()): string[] {
  sweepStalePortLocks();
  const removed: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of entries) {
    if (!name.startsWith(TEMP_PREFIX)) continue;
    const dir = join(base, name);
    const marker = join(dir, OWNER_FILE);
    if (!existsSync(marker)) continue;
    let info: OwnerInfo;
    try {
      info = JSON.parse(readFileSync(marker, 'utf8')) as OwnerInfo;
    } catch {
      continue;
    }
    if (info.ownerPid === process.pid) continue;
    if (pidAlive(info.ownerPid)) continue;
    if (info.childPid !== undefined && pidAlive(info.childPid)) continue;
    try {
      removeDirSync(dir);
      removed.push(dir);
    } catch {
      // someone else is sweeping the same dir
    }
  }
  return removed;
}
