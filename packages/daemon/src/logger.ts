/**
 * The root logger of a daemon (only apps make one; packages take it and make
 * children): pino JSON lines on stdout named `ngcp-<name>`, credentials redacted wherever
 * they appear up to four levels deep.
 */
import { destination, pino, type DestinationStream, type Logger } from 'pino';

/** Field names whose values never reach a log. Name other fields differently (`redisKey`, not `key`). */
export const REDACTED_FIELDS = ['password', 'secret', 'key', 'authorization', 'token', 'cookie'] as const;

export const REDACT_PATHS: readonly string[] = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`, `*.*.${f}`, `*.*.*.${f}`]);

export interface DaemonLoggerOptions {
  /** More pino redact paths (e.g. the API's `*.ha1_md5`). */
  redact?: string[];
  /** Where lines go (default stdout); tests pass a stream. */
  destination?: DestinationStream;
  /**
   * Write stdout synchronously (default true): lines stay in order and the last ones
   * (a fatal error just before exit) are never lost. A daemon that logs on its hot path
   * may choose false (pino's buffered writes) and accept that.
   */
  sync?: boolean;
}

export function createDaemonLogger(name: string, level = 'info', opts: DaemonLoggerOptions = {}): Logger {
  const options = { name: `ngcp-${name}`, level, redact: { paths: [...REDACT_PATHS, ...(opts.redact ?? [])], censor: '[redacted]' } };
  return pino(options, opts.destination ?? destination({ dest: 1, sync: opts.sync ?? true }));
}
