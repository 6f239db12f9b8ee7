/**
 * Free-port allocation that is safe between parallel test files (separate processes):
 *
 * 1. pick a random port from a range BELOW the kernel's ephemeral range (32768–60999 on
 *    Linux), so outgoing connections of other programs cannot grab it in the meantime;
 * 2. take a lock file `$TMPDIR/ngcp-testkit-ports/<port>` (O_EXCL, holds our PID) so no other
 *    testkit user picks the same port — a lock whose PID is dead is stale and taken over;
 * 3. check that the port can really be bound (TCP and/or UDP) on the host.
 *
 * Locks are released by the instance's stop(), by releasePort(), or at process exit.
 */
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExitSync, pidAlive } from '@ngcp/services';

export interface FreePortOptions {
  /** Port must be free for UDP. */
  udp?: boolean;
  /** Port must be free for TCP (default when neither udp nor tcp is given). */
  tcp?: boolean;
  /** Address to check binding on; default 127.0.0.1. */
  host?: string;
}

export interface PortRange {
  min: number;
  max: number;
  /** Drop the reservation (the instance using it must be stopped first). */
  release(): void;
}

/**
 * Single ports (freePort). Above 20000, not at it: the app-server's default RTP range is
 * 10000–20000 inclusive (appserver.rtp_min/rtp_max), and a test node's internal UDP port at
 * 20000 made ngcpcfg refuse the node's config as a port clash.
 */
const SINGLE_MIN = 20001;
const SINGLE_MAX = 32000; // exclusive
/** Port ranges (rtpengine media ports), allocated in CHUNK-sized, aligned chunks. */
const RANGE_MIN = 10000;
const RANGE_MAX = 20000; // exclusive
const CHUNK = 100;

const lockDir = join(tmpdir(), 'ngcp-testkit-ports');
const held = new Set<string>();
let exitHookInstalled = false;

function lockPath(name: string): string {
  return join(lockDir, name);
}

/** Try to take the named lock; true on success. Takes over locks of dead PIDs. */
function tryLock(name: string): boolean {
  if (held.has(name)) return false;
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    onExitSync(() => {
      for (const n of held) {
        try {
          unlinkSync(lockPath(n));
        } catch {
          /* gone */
        }
      }
      held.clear();
    });
  }
  mkdirSync(lockDir, { recursive: true });
  const path = lockPath(name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      held.add(name);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number.parseInt(readFileSync(path, 'utf8'), 10);
      } catch {
        /* vanished or being written: treat as held this round */
        return false;
      }
      if (Number.isNaN(owner) || pidAlive(owner)) return false;
      // stale lock of a dead process: remove and retry once
      try {
        unlinkSync(path);
      } catch {
        return false;
      }
    }
  }
  return false;
}

function unlock(name: string): void {
  if (!held.delete(name)) return;
  try {
    unlinkSync(lockPath(name));
  } catch {
    /* gone */
  }
}

function canBindTcp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

function canBindUdp(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
    sock.unref();
    sock.once('error', () => {
      try {
        sock.close();
      } catch {
        /* not bound */
      }
      resolve(false);
    });
    sock.bind({ port, address: host, exclusive: true }, () => sock.close(() => resolve(true)));
  });
}

async function canBind(port: number, host: string, tcp: boolean, udp: boolean): Promise<boolean> {
  if (tcp && !(await canBindTcp(port, host))) return false;
  if (udp && !(await canBindUdp(port, host))) return false;
  return true;
}

function randInt(min: number, maxExclusive: number): number {
  return min + Math.floor(Math.random() * (maxExclusive - min));
}

/**
 * A port that is free now (for TCP, UDP or both) and reserved for this process until
 * releasePort() or process exit.
 */
export async function freePort(opts: FreePortOptions = {}): Promise<number> {
  const host = opts.host ?? '127.0.0.1';
  const udp = opts.udp === true;
  const tcp = opts.tcp === true || !udp;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = randInt(SINGLE_MIN, SINGLE_MAX);
    const name = String(port);
    if (!tryLock(name)) continue;
    if (await canBind(port, host, tcp, udp)) return port;
    unlock(name);
  }
  throw new Error(`testkit: no free port found in ${SINGLE_MIN}-${SINGLE_MAX - 1} on ${host} after 200 attempts`);
}

/**
 * `count` consecutive ports (port … port + count - 1) from the same range as freePort(), each
 * free now and reserved like freePort() (give each back with releasePort()). For a daemon with
 * one port per worker process (the proxy's `workers`).
 */
export async function freeConsecutivePorts(count: number, opts: FreePortOptions = {}): Promise<number> {
  if (!Number.isInteger(count) || count < 1 || count > 64) throw new Error(`testkit: consecutive port count must be 1..64, not ${count}`);
  const host = opts.host ?? '127.0.0.1';
  const udp = opts.udp === true;
  const tcp = opts.tcp === true || !udp;
  for (let attempt = 0; attempt < 200; attempt++) {
    const first = randInt(SINGLE_MIN, SINGLE_MAX - count + 1);
    const names: string[] = [];
    let ok = true;
    for (let p = first; p < first + count && ok; p++) {
      if (tryLock(String(p))) names.push(String(p));
      else ok = false;
    }
    for (let p = first; p < first + count && ok; p++) ok = await canBind(p, host, tcp, udp);
    if (ok) return first;
    for (const n of names) unlock(n);
  }
  throw new Error(`testkit: no ${count} consecutive free ports found in ${SINGLE_MIN}-${SINGLE_MAX - 1} on ${host} after 200 attempts`);
}

/** Remove lock files whose owner PID is dead (they would be taken over anyway; this just tidies up). */
export function sweepStalePortLocks(): number {
  let n = 0;
  let names: string[];
  try {
    names = readdirSync(lockDir);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (held.has(name)) continue;
    try {
      const owner = Number.parseInt(readFileSync(lockPath(name), 'utf8'), 10);
      if (!Number.isNaN(owner) && !pidAlive(owner)) {
        unlinkSync(lockPath(name));
        n++;
      }
    } catch {
      /* vanished */
    }
  }
  return n;
}

/** Give back a port obtained from freePort(). */
export function releasePort(port: number): void {
  unlock(String(port));
}

/**
 * A block of `count` consecutive ports (rounded up to multiples of 100), all free for UDP
 * (and TCP if asked) on host, reserved like freePort(). Used for rtpengine media ports.
 */
export async function allocatePortRange(count = CHUNK, opts: FreePortOptions = {}): Promise<PortRange> {
  const host = opts.host ?? '127.0.0.1';
  const tcp = opts.tcp === true;
  const udp = opts.udp !== false;
  const chunks = Math.max(1, Math.ceil(count / CHUNK));
  const totalChunks = (RANGE_MAX - RANGE_MIN) / CHUNK;
  if (chunks > totalChunks) throw new Error(`testkit: port range of ${count} is larger than ${RANGE_MAX - RANGE_MIN}`);
  for (let attempt = 0; attempt < 100; attempt++) {
    const first = randInt(0, totalChunks - chunks + 1);
    const names: string[] = [];
    let ok = true;
    for (let c = first; c < first + chunks; c++) {
      const name = `chunk-${RANGE_MIN + c * CHUNK}`;
      if (!tryLock(name)) {
        ok = false;
        break;
      }
      names.push(name);
    }
    const min = RANGE_MIN + first * CHUNK;
    const max = min + chunks * CHUNK - 1;
    if (ok) {
      const checks = await Promise.all(
        Array.from({ length: max - min + 1 }, (_, i) => canBind(min + i, host, tcp, udp)),
      );
      ok = checks.every(Boolean);
    }
    if (ok) {
      return {
        min,
        max,
        release: () => {
          for (const n of names) unlock(n);
        },
      };
    }
    for (const n of names) unlock(n);
  }
  throw new Error(`testkit: no free block of ${count} ports in ${RANGE_MIN}-${RANGE_MAX - 1} on ${host}`);
}
