/**
 * Errors of the config framework, from one table: each has a stable code. A
 * `ConfigError` carries every problem found (`issues`), each naming the file, the key
 * path and the line, so an operator sees all of them at once.
 */

export const CONFIG_ERRORS = {
  CONFIG_INVALID: 'the configuration is invalid',
  CONFIG_NODE_UNKNOWN: 'this node is not a host of network.yml',
  CONFIG_TEMPLATE: 'a template failed to render',
  CONFIG_IO: 'a config file could not be read or written',
  CONFIG_KEY: 'no such key',
} as const;

export type ConfigErrorCode = keyof typeof CONFIG_ERRORS;

export interface ConfigIssue {
  /** File name relative to the config dir (e.g. `config.yml`), or a template path. */
  file: string;
  /** 1-based line, when known. */
  line?: number;
  col?: number;
  /** Dotted key path, e.g. `lb.sip_port` or `hosts.sp1.interfaces.eth0.ip` (empty for the whole file). */
  path: string;
  message: string;
}

export function formatIssue(i: ConfigIssue): string {
  const where = i.line !== undefined ? `${i.file}:${i.line}` : i.file;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

export class ConfigError extends Error {
  readonly code: ConfigErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(code: ConfigErrorCode, issues: ConfigIssue[], options?: { cause?: unknown }) {
    const head = CONFIG_ERRORS[code];
    super(issues.length ? `${head}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}` : head, options);
    this.name = 'ConfigError';
    this.code = code;
    this.issues = issues;
  }
}
