import type { ProcessOptions } from './lifecycle.js';
import { connect } from 'node:net';
import { join } from 'node:path';
import { prepareDataDir, removeDirSync } from './data-dir.js';
import { spawnInstance, waitReady } from './proc.js';
import { clearStatePid, runningInstance, writeState } from './state.js';
import { findBinary } from './util.js';

export interface RedisReplicaOf {
  host: string;
  port: number;
  /** Primary's requirepass (sent as masterauth). */
  password?: string | undefined;
}

export interface RedisOptions extends ProcessOptions {
  /** Bind and connect address. Default 127.0.0.1. */
  host?: string;
  port: number;
  /** Sets requirepass (and masterauth, so a replica of a primary with the same password works). */
  password?: string;
  /** Start as a replica of this primary (`--replicaof host port`); a RedisInstance works too. */
  replicaOf?: RedisReplicaOf;
  /** Instance dir (redis `dir`, log, state file); created 0700 if missing. */
  dataDir: string;
  /** false: delete the dir on stop (and when this process exits). Default true. */
  keepData?: boolean;
  /** RDB/AOF persistence. Default false (`--save "" --appendonly no`). */
  persistence?: boolean;
  /** Extra config, each as `--key value`, e.g. `{ 'notify-keyspace-events': 'KEA' }`. */
  config?: Record<string, string | number>;
  /** Extra raw command-line arguments, appended last. */
  extraArgs?: string[];
  /** Path or name of redis-server. */
  binary?: string;
  /** Default 15000 ms. */
  startTimeoutMs?: number;
}

export interface RedisInstance {
  host: string;
  port: number;
  password?: string | undefined;
  /** `redis://[:password@]host:port` */
  url: string;
  pid: number;
  dataDir: string;
  logFile: string;
  /** Options for `new Redis(...)` of ioredis. */
  connectionOptions(): { host: string; port: number; password?: string };
  stop(): Promise<void>;
}

/** Send raw RESP commands over one socket; resolves with the raw reply text. */
export function redisRaw(host: string, port: number, commands: string[][], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    let data = '';
    let expected = commands.length;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${host}:${port}: no reply within ${timeoutMs} ms (got ${JSON.stringify(data)})`));
    }, timeoutMs);
    sock.setEncoding('utf8');
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => {
      for (const cmd of commands) {
        sock.write(`*${cmd.length}\r\n` + cmd.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
      }
    });
    sock.on('data', (chunk: string) => {
      data += chunk;
      // good enough for simple (+, -, :) replies, which is all we use it for
      const lines = data.split('\r\n').length - 1;
      if (lines >= expected) {
        expected = Infinity;
        clearTimeout(timer);
        sock.end();
        resolve(data);
      }
    });
  });
}

/** Starts redis-server in `opts.dataDir`; returns once it answers PING. See README.md. */
export async function startRedis(opts: RedisOptions): Promise<RedisInstance> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port;
  const binary = findBinary(['redis-server'], opts.binary);
  const inst = prepareDataDir(opts.dataDir, opts.keepData);
  const running = runningInstance(inst.dir);
  if (running) throw new Error(`redis already running in ${inst.dir} (pid ${running.pid})`);
  const logFile = join(inst.dir, 'redis.log');

  {
    const args = [
      '--port', String(port),
      '--bind', host,
      '--dir', inst.dir,
      '--daemonize', 'no',
      '--logfile', '',
      '--loglevel', 'notice',
    ];
    if (opts.persistence) args.push('--appendonly', 'yes');
    else args.push('--save', '', '--appendonly', 'no');
    if (opts.password !== undefined) args.push('--requirepass', opts.password);
    if (opts.replicaOf) {
      args.push('--replicaof', opts.replicaOf.host, String(opts.replicaOf.port));
      const masterauth = opts.replicaOf.password ?? opts.password;
      if (masterauth !== undefined) args.push('--masterauth', masterauth);
    }
    // default 5 s: a replica would wait that long for its first full sync
    const config = { 'repl-diskless-sync-delay': 0, ...opts.config };
    for (const [k, v] of Object.entries(config)) args.push(`--${k}`, String(v));
    args.push(...(opts.extraArgs ?? []));

    const proc = spawnInstance(inst, 'redis', binary, args, logFile, opts);

    const pre: string[][] = opts.password !== undefined ? [['AUTH', opts.password]] : [];
    try {
      await waitReady({
        service: 'redis',
        proc,
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        intervalMs: 10,
        probe: async () => (await redisRaw(host, port, [...pre, ['PING']], 500)).includes('+PONG'),
      });
    } catch (err) {
      await proc.stop(1000);
      if (inst.removeOnStop) removeDirSync(inst.dir);
      throw err;
    }

    writeState(inst.dir, {
      service: 'redis',
      pid: proc.pid,
      // redis rewrites its process title to "redis-server host:port"
      cmdlineMarkers: ['redis-server', `:${port}`],
      startedAt: new Date().toISOString(),
      host,
      port,
    });

    const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
    let stopped: Promise<void> | undefined;
    return {
      host,
      port,
      password: opts.password,
      url: `redis://${auth}${host.includes(':') ? `[${host}]` : host}:${port}`,
      pid: proc.pid,
      dataDir: inst.dir,
      logFile,
      connectionOptions: () => ({ host, port, ...(opts.password !== undefined ? { password: opts.password } : {}) }),
      stop: () =>
        (stopped ??= (async () => {
          await proc.stop(opts.stopGraceMs ?? 5000);
          if (inst.removeOnStop) removeDirSync(inst.dir);
          else clearStatePid(inst.dir);
        })()),
    };
  }
}
