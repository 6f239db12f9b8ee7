import { join } from 'node:path';
import { prepareInstanceDir, removeDirSync } from './dirs.js';
import { ngRequest } from './ng.js';
import { allocatePortRange, freePort, releasePort, type PortRange } from './ports.js';
import { spawnInstance, waitReady } from './proc.js';
import { clearStatePid, removeState, runningInstance, writeState } from './state.js';
import { findBinary, ServiceStartError } from './util.js';

/** `[PW@]IP:PORT/DB` as rtpengine expects it, or its parts. */
export type RtpengineRedisTarget = string | { host: string; port: number; db?: number; password?: string | undefined };

export interface RtpengineOptions {
  /** Media interface (`--interface`), ng listener host and SDP address. Default 127.0.0.1. */
  host?: string;
  /** ng control port (UDP). Default: a free port. */
  ngPort?: number;
  /** Media port range. Default: a private free block of `portCount` ports. */
  portMin?: number;
  portMax?: number;
  /** Size of the automatically allocated media port block (multiple of 100). Default 100. */
  portCount?: number;
  /** `--redis` (read/restore DB; with subscribe-keyspace: the peer's keyspace). */
  redis?: RtpengineRedisTarget;
  /** `--redis-write`. */
  redisWrite?: RtpengineRedisTarget;
  /** `--subscribe-keyspace` list. */
  subscribeKeyspace?: number[];
  /** Start even if Redis is unreachable (`--no-redis-required`). Default false. */
  noRedisRequired?: boolean;
  /** `--log-level` (0–7). Default 6 (info). */
  logLevel?: number;
  /** `--num-threads`. Default: rtpengine's (number of CPUs). */
  numThreads?: number;
  /** Extra raw command-line arguments, appended last. */
  extraArgs?: string[];
  /** Instance dir (log, state file). Default: a new temp dir. */
  dataDir?: string;
  /** Keep the dir on stop. Default false for temp dirs, true when dataDir is given. */
  keepData?: boolean;
  /** Path or name of the rtpengine binary. */
  binary?: string;
  /** Default 15000 ms. */
  startTimeoutMs?: number;
  /** SIGTERM→SIGKILL grace for stop(). Default 5000 ms. */
  stopGraceMs?: number;
  /** Run in its own session and outlive this process (service mode). Default false. */
  detached?: boolean;
  /** Kernel-signal the child if we die (setpriv --pdeathsig). Default true. */
  dieWithParent?: boolean;
}

export interface RtpengineInstance {
  ngHost: string;
  ngPort: number;
  /** The media interface address (equals ngHost). */
  host: string;
  portMin: number;
  portMax: number;
  pid: number;
  dataDir: string;
  logFile: string;
  /** Send an ng command to this instance (see ngRequest). */
  ng(message: Parameters<typeof ngRequest>[2], timeoutMs?: number): ReturnType<typeof ngRequest>;
  stop(): Promise<void>;
}

function redisArg(t: RtpengineRedisTarget): string {
  if (typeof t === 'string') return t;
  return `${t.password !== undefined ? `${t.password}@` : ''}${t.host}:${t.port}/${t.db ?? 0}`;
}

export async function startRtpengine(opts: RtpengineOptions = {}): Promise<RtpengineInstance> {
  const host = opts.host ?? '127.0.0.1';
  const binary = findBinary(['rtpengine'], opts.binary);
  if ((opts.portMin === undefined) !== (opts.portMax === undefined)) {
    throw new Error('testkit: give both portMin and portMax, or neither');
  }
  const inst = prepareInstanceDir('rtpengine', opts);
  const running = runningInstance(inst.dir);
  if (running) throw new Error(`testkit: rtpengine already running in ${inst.dir} (pid ${running.pid})`);
  const logFile = join(inst.dir, 'rtpengine.log');
  const autoNg = opts.ngPort === undefined;
  const autoRange = opts.portMin === undefined;

  for (let attempt = 1; ; attempt++) {
    const ngPort = opts.ngPort ?? (await freePort({ udp: true, host }));
    let range: PortRange | undefined;
    try {
      range = autoRange ? await allocatePortRange(opts.portCount ?? 100, { udp: true, host }) : undefined;
    } catch (err) {
      if (autoNg) releasePort(ngPort);
      throw err;
    }
    const portMin = range?.min ?? (opts.portMin as number);
    const portMax = range?.max ?? (opts.portMax as number);
    const releasePorts = (): void => {
      if (autoNg) releasePort(ngPort);
      range?.release();
    };

    const ngListen = host.includes(':') ? `[${host}]:${ngPort}` : `${host}:${ngPort}`;
    const args = [
      // without this rtpengine reads /etc/rtpengine/rtpengine.conf (fixed ports, kernel table …)
      '--config-file=none',
      '--foreground',
      '--log-stderr',
      '--table=-1',
      `--interface=${host}`,
      `--listen-ng=${ngListen}`,
      `--port-min=${portMin}`,
      `--port-max=${portMax}`,
      `--log-level=${opts.logLevel ?? 6}`,
    ];
    if (opts.numThreads !== undefined) args.push(`--num-threads=${opts.numThreads}`);
    if (opts.redis !== undefined) args.push(`--redis=${redisArg(opts.redis)}`);
    if (opts.redisWrite !== undefined) args.push(`--redis-write=${redisArg(opts.redisWrite)}`);
    for (const k of opts.subscribeKeyspace ?? []) args.push(`--subscribe-keyspace=${k}`);
    if (opts.noRedisRequired) args.push('--no-redis-required');
    args.push(...(opts.extraArgs ?? []));

    const proc = spawnInstance(inst, 'rtpengine', binary, args, logFile, opts, releasePorts);

    try {
      await waitReady({
        service: 'rtpengine',
        proc,
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        intervalMs: 10,
        probe: async () => {
          const r = await ngRequest(host, ngPort, { command: 'ping' }, { timeoutMs: 300, retransmitMs: 50 });
          return r['result'] === 'pong';
        },
      });
    } catch (err) {
      await proc.stop(1000);
      releasePorts();
      const inUse = err instanceof ServiceStartError && /address already in use|failed to bind/i.test(err.logTail);
      if (inUse && (autoNg || autoRange) && attempt < 3) continue;
      if (inst.removeOnStop) removeDirSync(inst.dir);
      throw err;
    }

    writeState(inst.dir, {
      service: 'rtpengine',
      pid: proc.pid,
      cmdlineMarkers: ['rtpengine', `--listen-ng=${ngListen}`],
      startedAt: new Date().toISOString(),
      host,
      ngPort,
      portMin,
      portMax,
    });

    let stopped: Promise<void> | undefined;
    return {
      ngHost: host,
      ngPort,
      host,
      portMin,
      portMax,
      pid: proc.pid,
      dataDir: inst.dir,
      logFile,
      ng: (message, timeoutMs) => ngRequest(host, ngPort, message, { timeoutMs: timeoutMs ?? 2000 }),
      stop: () =>
        (stopped ??= (async () => {
          await proc.stop(opts.stopGraceMs ?? 5000);
          releasePorts();
          if (inst.removeOnStop) removeDirSync(inst.dir);
          else if (inst.temp) removeState(inst.dir);
          else clearStatePid(inst.dir);
        })()),
    };
  }
}
