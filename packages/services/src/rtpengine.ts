import type { ProcessOptions } from './lifecycle.js';
import { join } from 'node:path';
import { NgClient, type NgParams, type NgResult } from '@ngcp/ng';
import { prepareDataDir, removeDirSync } from './data-dir.js';
import { spawnInstance, waitReady } from './proc.js';
import { clearStatePid, runningInstance, writeState } from './state.js';
import { findBinary } from './util.js';

/** `[PW@]IP:PORT/DB` as rtpengine expects it, or its parts. */
export type RtpengineRedisTarget = string | { host: string; port: number; db?: number; password?: string | undefined };

export interface RtpengineOptions extends ProcessOptions {
  /** Media interface (`--interface`), ng listener host and SDP address. Default 127.0.0.1. */
  host?: string;
  /** ng control port (UDP). */
  ngPort: number;
  /** Media port range. */
  portMin: number;
  portMax: number;
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
  /** Instance dir (log, state file); created 0700 if missing. */
  dataDir: string;
  /** false: delete the dir on stop (and when this process exits). Default true. */
  keepData?: boolean;
  /** Path or name of the rtpengine binary. */
  binary?: string;
  /** Default 15000 ms. */
  startTimeoutMs?: number;
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
  /** An ng client for this instance (@ngcp/ng); the caller closes it. */
  ngClient(opts?: { timeoutMs?: number }): NgClient;
  /** One ng command through a client of its own (opened and closed for it). */
  ng(command: string, params?: NgParams, timeoutMs?: number): Promise<NgResult>;
  stop(): Promise<void>;
}

function redisArg(t: RtpengineRedisTarget): string {
  if (typeof t === 'string') return t;
  return `${t.password !== undefined ? `${t.password}@` : ''}${t.host}:${t.port}/${t.db ?? 0}`;
}

/**
 * Starts rtpengine (userspace forwarding, no config file) in `opts.dataDir`; returns once
 * it answers an ng `ping`. See README.md.
 */
export async function startRtpengine(opts: RtpengineOptions): Promise<RtpengineInstance> {
  const host = opts.host ?? '127.0.0.1';
  const { ngPort, portMin, portMax } = opts;
  const binary = findBinary(['rtpengine'], opts.binary);
  if (!(portMin > 0 && portMax >= portMin)) throw new Error(`rtpengine: bad media port range ${portMin}-${portMax}`);
  const inst = prepareDataDir(opts.dataDir, opts.keepData);
  const running = runningInstance(inst.dir);
  if (running) throw new Error(`rtpengine already running in ${inst.dir} (pid ${running.pid})`);
  const logFile = join(inst.dir, 'rtpengine.log');

  {

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

    const proc = spawnInstance(inst, 'rtpengine', binary, args, logFile, opts);

    // a ping sent before rtpengine listens is lost (UDP): ask often, each briefly
    const probe = new NgClient({ host, port: ngPort, timeoutMs: 100 });
    try {
      await waitReady({
        service: 'rtpengine',
        proc,
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        intervalMs: 10,
        probe: async () => {
          await probe.ping();
          return true;
        },
      });
    } catch (err) {
      await proc.stop(1000);
      if (inst.removeOnStop) removeDirSync(inst.dir);
      throw err;
    } finally {
      await probe.close();
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
      ngClient: (o = {}) => new NgClient({ host, port: ngPort, ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}) }),
      ng: async (command, params, timeoutMs) => {
        const c = new NgClient({ host, port: ngPort, timeoutMs: timeoutMs ?? 2000 });
        try {
          return await c.request(command, params);
        } finally {
          await c.close();
        }
      },
      stop: () =>
        (stopped ??= (async () => {
          await proc.stop(opts.stopGraceMs ?? 5000);
          if (inst.removeOnStop) removeDirSync(inst.dir);
          else clearStatePid(inst.dir);
        })()),
    };
  }
}
