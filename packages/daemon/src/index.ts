/**
 * @ngcp/daemon — the skeleton of every daemon: its config file (YAML, ajv, errors naming
 * file:line:key, frozen), root logger, metrics registry, control endpoint (JSON-RPC +
 * /metrics) and signal handling. An app's main.ts is `await runDaemon(lbDaemon)`.
 * See README.md.
 */
export { runDaemon, startDaemon, loadConfigOrExit, exitOnFatal, onSignals, EXIT_CODES, DEFAULT_STOP_TIMEOUT_MS } from './run.js';
export type { RunDaemonOptions, StartDaemonOptions, RunningDaemon, LoadConfigOrExitOptions, SignalHandlers } from './run.js';

export { loadDaemonConfig, parseDaemonConfig, resolveDaemonConfig, daemonConfigPath, DaemonConfigError, DAEMON_ERRORS } from './config.js';
export type { DaemonErrorCode } from './config.js';

export { createDaemonLogger, REDACT_PATHS, REDACTED_FIELDS } from './logger.js';
export type { DaemonLoggerOptions } from './logger.js';

export { createDaemonRegistry } from './metrics.js';

export { addressSet } from './addresses.js';
export type { AddressSet } from './addresses.js';

export { ensureCertificate, selfSigned } from './tls.js';
export type { CertificateConfig, KeyPair } from './tls.js';

export { commonSchemas, LOG_LEVELS } from './schemas.js';
export type { CommonSchemas, ControlConfig, LogConfig, LogLevel, RedisConnConfig, DbConnConfig, UdpListenConfig } from './schemas.js';

export type { Daemon, DaemonContext, DaemonDefinition, DaemonConfigDefinition, DaemonConfigProblem, HealthReport, DeepPartial } from './types.js';

export { RPC_ERRORS, RpcError, RpcClient } from '@ngcp/rpc';
export type { RpcHandler } from '@ngcp/rpc';
export type { Logger } from 'pino';
export type { Registry } from 'prom-client';
export type { JSONSchemaType } from 'ajv';
