/**
 * `runDaemon(def)`: the whole life of a daemon process. Config file (refused → exit
 * 78 naming file:line:key), root logger, metrics registry, build, start, then the
 * control endpoint with the built-in methods; SIGTERM/SIGINT drain and exit 0, SIGHUP
 * reloads, an uncaught error exits 1 (pm2 restarts). `startDaemon` is the part without
 * the process (config in, handle out) for tests that run a daemon in-process.
 */
import { RPC_ERRORS, RpcError, RpcServer, type RpcHandler } from '@ngcp/rpc';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { formatIssue, serviceConfigEnvVar } from '@ngcp/config';
import { daemonConfigPath, DaemonConfigError, loadDaemonConfig, resolveDaemonConfig } from './config.js';
import { createDaemonLogger } from './logger.js';
import { createDaemonRegistry } from './metrics.js';
import type { Daemon, DaemonConfigDefinition, DaemonDefinition, HealthReport } from './types.js';

/** Process exit codes: 78 is sysexits' EX_CONFIG. */
export const EXIT_CODES = { OK: 0, FAILURE: 1, CONFIG: 78 } as const;

export const DEFAULT_STOP_TIMEOUT_MS = 10_000;

export interface StartDaemonOptions {
  logger: Logger;
  /** Default: a new registry with process metrics (`createDaemonRegistry`). */
  metrics?: Registry;
  configPath?: string;
}

export interface RunningDaemon {
  daemon: Daemon;
  rpc: RpcServer;
  metrics: Registry;
  /** Where the control endpoint really listens (port 0 resolved). */
  control: { host: string; port: number };
  /** `http://<host>:<port>/` — what RpcClient and the pm2 health check use. */
  url: string;
  /** Reload the daemon's caches (the `reload` method and SIGHUP). */
  reload(): Promise<{ reloaded: boolean }>;
  /** Stop accepting control calls, `daemon.stop()` within the bound; rejects if it fails or takes longer. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Builds and starts the daemon, then its control endpoint with `health`, `stats`, `reload`, `methods` and the daemon's own. */
export async function startDaemon<C>(def: DaemonDefinition<C>, config: Readonly<C>, opts: StartDaemonOptions): Promise<RunningDaemon> {
  const logger = opts.logger;
  const metrics = opts.metrics ?? createDaemonRegistry(def.name);
  const daemon = await def.build({ name: def.name, config, logger, metrics, ...(opts.configPath ? { configPath: opts.configPath } : {}) });
  const started = Date.now();
  let stopping = false;

  const reload = async (): Promise<{ reloaded: boolean }> => {
    if (!daemon.reload) return { reloaded: false };
    await daemon.reload();
    logger.info('reloaded');
    return { reloaded: true };
  };
  const builtins: Record<string, RpcHandler> = {
    health: async () => {
      if (stopping) throw new RpcError(RPC_ERRORS.UNAVAILABLE, `${def.name} is stopping`, { ok: false, stopping: true });
      const report: HealthReport = await daemon.health();
      if (!report.ok) throw new RpcError(RPC_ERRORS.UNAVAILABLE, `${def.name} is unhealthy`, report);
      return report;
    },
    stats: async () => ({ daemon: def.name, pid: process.pid, uptime_s: Math.round((Date.now() - started) / 1000), ...((await daemon.stats?.()) ?? {}) }),
    reload: () => reload(),
    methods: () => rpc.methods(),
  };
  const control = def.control(config);
  const metricsText = daemon.metricsText?.bind(daemon);
  const rpc = new RpcServer({ host: control.address, port: control.port, logger, metrics, ...(metricsText ? { metricsText } : {}) });
  for (const [name, h] of Object.entries(builtins)) rpc.register(name, h);
  for (const [name, h] of Object.entries(daemon.methods ?? {})) rpc.register(name, h);

  await daemon.start();
  let bound: { host: string; port: number };
  try {
    bound = await rpc.listen();
  } catch (err) {
    await bounded(daemon.stop(), DEFAULT_STOP_TIMEOUT_MS).catch(() => undefined);
    throw err;
  }
  const url = `http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}/`;

  let stopped: Promise<void> | undefined;
  const stop = (timeoutMs = def.stopTimeoutMs?.(config) ?? DEFAULT_STOP_TIMEOUT_MS): Promise<void> => {
    stopping = true;
    stopped ??= Promise.all([rpc.close(), bounded(daemon.stop(), timeoutMs)]).then(() => undefined);
    return stopped;
  };
  return { daemon, rpc, metrics, control: bound, url, reload, stop };
}

function bounded(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`stop took longer than ${ms} ms`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

export interface RunDaemonOptions {
  env?: NodeJS.ProcessEnv;
  argv?: string[];
}

/** The daemon's process: `await runDaemon(lbDaemon)` is all of apps/lb/src/main.ts. */
export async function runDaemon<C>(def: DaemonDefinition<C>, opts: RunDaemonOptions = {}): Promise<void> {
  const loaded = loadConfigOrExit(def, opts);
  if (!loaded) return;
  const { config, path } = loaded;
  const level = (config as { log?: { level?: unknown } }).log?.level;
  const logger = createDaemonLogger(def.name, typeof level === 'string' ? level : 'info');
  exitOnFatal(logger);

  let running: RunningDaemon;
  try {
    running = await startDaemon(def, config, { logger, ...(path ? { configPath: path } : {}) });
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    exitAfterFlush(logger, EXIT_CODES.FAILURE);
    return;
  }
  logger.info({ control: running.url, methods: running.rpc.methods(), config: path }, 'daemon ready');
  onSignals(logger, { stop: () => running.stop(), reload: () => running.reload() });
}

export interface LoadConfigOrExitOptions extends RunDaemonOptions {
  /** Without a config path, use the defaults alone instead of refusing (the API does). */
  optional?: boolean;
}

/**
 * The config of this process, from `--config FILE` or `NGCP_<NAME>_CONFIG`. Refused
 * (missing or invalid) → logs `config refused` with the issues (FILE:LINE: key: problem),
 * writes them to stderr and exits 78; then it returns undefined (only seen when
 * `process.exit` does not end the process, as in tests).
 */
export function loadConfigOrExit<C>(def: DaemonConfigDefinition<C>, opts: LoadConfigOrExitOptions = {}): { config: Readonly<C>; path?: string } | undefined {
  const env = opts.env ?? process.env;
  const argv = opts.argv ?? process.argv.slice(2);
  const path = daemonConfigPath(def.name, env, argv);
  try {
    if (!path) {
      if (opts.optional) return { config: resolveDaemonConfig(def, {}, '(defaults)') };
      throw new DaemonConfigError('DAEMON_CONFIG_MISSING', [{ file: '(none)', path: '', message: `set ${serviceConfigEnvVar(def.name)} or pass --config FILE` }]);
    }
    return { config: loadDaemonConfig(def, path), path };
  } catch (err) {
    if (!(err instanceof DaemonConfigError)) throw err;
    const logger = createDaemonLogger(def.name);
    logger.fatal({ code: err.code, issues: err.issues.map((i) => formatIssue(i)) }, 'config refused');
    process.stderr.write(`ngcp-${def.name}: ${err.message}\n`);
    exitAfterFlush(logger, EXIT_CODES.CONFIG);
    return undefined;
  }
}

/** uncaughtException / unhandledRejection → logged fatal, exit 1 (the supervisor restarts the process). */
export function exitOnFatal(logger: Logger): void {
  const fatal = (what: string) => (err: unknown): void => {
    logger.fatal({ err }, what);
    exitAfterFlush(logger, EXIT_CODES.FAILURE);
  };
  process.on('uncaughtException', fatal('uncaught exception'));
  process.on('unhandledRejection', fatal('unhandled rejection'));
}

export interface SignalHandlers {
  /** Graceful drain; bounded by `stopTimeoutMs` (default 10 s) → exit 0, or 1 if it failed or took longer. */
  stop(): Promise<void>;
  /** SIGHUP. */
  reload?(): Promise<unknown>;
  stopTimeoutMs?: number;
}

/**
 * SIGTERM / SIGINT → `stopping`, `stop()` within the bound, `stopped`, exit 0 (an error
 * or the bound → `unclean stop`, exit 1); a second signal is logged and ignored.
 * SIGHUP → `reload()` (a failure is logged, the process goes on).
 */
export function onSignals(logger: Logger, h: SignalHandlers): void {
  let stopping = false;
  const onStop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'already stopping');
      return;
    }
    stopping = true;
    logger.info({ signal }, 'stopping');
    bounded(h.stop(), h.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS).then(
      () => {
        logger.info('stopped');
        exitAfterFlush(logger, EXIT_CODES.OK);
      },
      (err: unknown) => {
        logger.error({ err }, 'unclean stop');
        exitAfterFlush(logger, EXIT_CODES.FAILURE);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', () => {
    if (!h.reload) return logger.info({ signal: 'SIGHUP' }, 'nothing to reload');
    h.reload().catch((err: unknown) => logger.error({ err }, 'reload failed'));
  });
}

/** Flush the logger (a no-op for the default synchronous stdout), then exit; bounded in case the stream is stuck. */
function exitAfterFlush(logger: Logger, code: number): void {
  const exit = (): never => process.exit(code);
  setTimeout(exit, 2000).unref();
  try {
    logger.flush(() => exit());
  } catch {
    exit();
  }
}
