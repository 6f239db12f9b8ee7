/**
 * The API's root logger (only apps make one): @ngcp/daemon's (JSON lines, `password`,
 * `secret`, `key`, `authorization`, `token`, `cookie` redacted anywhere) plus the API's
 * own credential fields.
 */
import { createDaemonLogger } from '@ngcp/daemon';
import type { DestinationStream, Logger } from 'pino';
import type { ApiConfig } from './config.js';

/** Credential fields of the API's records, beyond the daemon logger's own list. */
export const REDACT_PATHS = [
  'webpassword', 'password_hash', 'webpassword_hash', 'ha1_md5', 'ha1_sha256', 'pin',
  '*.webpassword', '*.password_hash', '*.webpassword_hash', '*.ha1_md5', '*.ha1_sha256', '*.pin',
];

export function createLogger(config: Pick<ApiConfig, 'log'>, destination?: NodeJS.WritableStream): Logger {
  return createDaemonLogger('api', config.log.level, { redact: REDACT_PATHS, ...(destination ? { destination: destination as DestinationStream } : {}) });
}

type LogFn = (...args: unknown[]) => void;

/**
 * fastify makes a child logger (bound to the request id) for every request; with pino's
 * redaction that costs a few percent of a GET. Most requests never log, so the child is
 * made on the first call that does. Same methods, same output.
 */
class LazyChild {
  private real: Logger | undefined;
  constructor(private readonly parent: Logger, private readonly bindings: Record<string, unknown>, private readonly opts: Record<string, unknown>) {}
  private get logger(): Logger {
    return (this.real ??= this.parent.child(this.bindings, this.opts));
  }
  get level(): string {
    return this.real?.level ?? (this.opts.level as string | undefined) ?? this.parent.level;
  }
  set level(v: string) {
    this.logger.level = v;
  }
  child(bindings: Record<string, unknown>, opts?: Record<string, unknown>): Logger {
    return this.logger.child(bindings, opts);
  }
  fatal(...a: unknown[]): void { (this.logger.fatal as LogFn)(...a); }
  error(...a: unknown[]): void { (this.logger.error as LogFn)(...a); }
  warn(...a: unknown[]): void { (this.logger.warn as LogFn)(...a); }
  info(...a: unknown[]): void { (this.logger.info as LogFn)(...a); }
  debug(...a: unknown[]): void { (this.logger.debug as LogFn)(...a); }
  trace(...a: unknown[]): void { (this.logger.trace as LogFn)(...a); }
  silent(): void {}
}

export function lazyChildLogger(parent: Logger, bindings: Record<string, unknown>, opts: Record<string, unknown>): Logger {
  return new LazyChild(parent, bindings, opts) as unknown as Logger;
}
