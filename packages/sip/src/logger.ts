/**
 * The logger the SIP stack takes: the part of pino's API it uses, so a pino logger
 * (or a child of one) is passed as is. Fields first, constant message second:
 * `logger.warn({ address, port, err }, 'udp socket error')`. The stack never makes a
 * root logger; each part makes a child with its `component`.
 */

export type LogFields = Record<string, unknown>;

export interface Logger {
  error(fields: LogFields, msg: string): void;
  warn(fields: LogFields, msg: string): void;
  info(fields: LogFields, msg: string): void;
  debug(fields: LogFields, msg: string): void;
  child(bindings: LogFields): Logger;
}

/**
 * Used when no logger is given: errors and warnings go to stderr (so a throwing
 * callback is never silent), the rest is dropped. Apps pass their pino logger.
 */
export function stderrLogger(bindings: LogFields = {}): Logger {
  const write = (level: string, fields: LogFields, msg: string): void => {
    const all: LogFields = { ...bindings, ...fields };
    const err = all.err;
    if (err instanceof Error) all.err = err.stack ?? err.message;
    console.error(`[sip] ${level}: ${msg}`, all);
  };
  return {
    error: (fields, msg) => write('error', fields, msg),
    warn: (fields, msg) => write('warn', fields, msg),
    info: () => undefined,
    debug: () => undefined,
    child: (more) => stderrLogger({ ...bindings, ...more }),
  };
}

/** Drops everything (tests, tools that want quiet). */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};
