/**
 * A daemon's own config file (`etc/ngcp/<name>.yml`, rendered by ngcpcfg): YAML, the
 * definition's defaults merged under it, checked against its ajv schema and its `check`,
 * then deep-frozen. Every problem names the file, the line and the key path
 * (`/etc/ngcp/lb.yml:7: control.port: must be <= 65535 (got 70000)`), all at once.
 */
import {
  createConfigAjv,
  deepFreeze,
  formatIssue,
  formatKeyPath,
  isPlainObject,
  mergeLayers,
  parseKeyPath,
  parseYamlText,
  readYamlFile,
  schemaIssues,
  serviceConfigEnvVar,
  type ConfigIssue,
  type YamlSource,
} from '@ngcp/config';
import type { ValidateFunction } from 'ajv';
import type { DaemonDefinition } from './types.js';

export const DAEMON_ERRORS = {
  DAEMON_CONFIG_INVALID: 'the configuration is invalid',
  DAEMON_CONFIG_MISSING: 'no configuration file was named',
} as const;

export type DaemonErrorCode = keyof typeof DAEMON_ERRORS;

export class DaemonConfigError extends Error {
  readonly code: DaemonErrorCode;
  readonly issues: readonly ConfigIssue[];

  constructor(code: DaemonErrorCode, issues: ConfigIssue[]) {
    const head = DAEMON_ERRORS[code];
    super(issues.length ? `${head}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}` : head);
    this.name = 'DaemonConfigError';
    this.code = code;
    this.issues = issues;
  }
}

const compiled = new WeakMap<object, ValidateFunction>();
let ajv: ReturnType<typeof createConfigAjv> | undefined;

function validator(schema: object): ValidateFunction {
  let fn = compiled.get(schema);
  if (!fn) {
    ajv ??= createConfigAjv();
    fn = ajv.compile(schema);
    compiled.set(schema, fn);
  }
  return fn;
}

/** Defaults + data, validated; `source` (when from a file) gives each problem its line. */
function resolve<C>(def: DaemonDefinition<C>, data: unknown, file: string, source?: YamlSource): Readonly<C> {
  const at = (path: (string | number)[], message: string): ConfigIssue => {
    const pos = source?.locate(path);
    return { file, line: pos?.line, col: pos?.col, path: formatKeyPath(path), message };
  };
  if (!isPlainObject(data)) throw new DaemonConfigError('DAEMON_CONFIG_INVALID', [at([], 'the top level must be a mapping of keys')]);
  const merged = mergeLayers(structuredClone(def.defaults ?? {}), data);
  const issues = schemaIssues(validator(def.schema as object), merged, at);
  if (!issues.length && def.check) {
    for (const p of def.check(merged as C)) issues.push(at(parseKeyPath(p.path), p.message));
  }
  if (issues.length) throw new DaemonConfigError('DAEMON_CONFIG_INVALID', issues);
  return deepFreeze(merged as C);
}

/** Reads and checks a daemon's YAML config file; throws DaemonConfigError naming FILE:LINE: key.path: problem. */
export function loadDaemonConfig<C>(def: DaemonDefinition<C>, path: string): Readonly<C> {
  const r = readYamlFile(path, path);
  if (!r.ok) throw new DaemonConfigError('DAEMON_CONFIG_INVALID', r.issues);
  return resolve(def, r.source.data, path, r.source);
}

/** The same checks for YAML text (tests, `ngcpcfg` previews); `file` names it in errors. */
export function parseDaemonConfig<C>(def: DaemonDefinition<C>, text: string, file = '(text)'): Readonly<C> {
  const r = parseYamlText(file, text);
  if (!r.ok) throw new DaemonConfigError('DAEMON_CONFIG_INVALID', r.issues);
  return resolve(def, r.source.data, file, r.source);
}

/** The same checks for an object already in memory (tests build configs this way); errors name the key only. */
export function resolveDaemonConfig<C>(def: DaemonDefinition<C>, input: unknown, file = '(inline)'): Readonly<C> {
  return resolve(def, input ?? {}, file);
}

/** `--config FILE` / `--config=FILE` in argv, else `NGCP_<NAME>_CONFIG`; undefined when neither. */
export function daemonConfigPath(name: string, env: NodeJS.ProcessEnv, argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' && argv[i + 1]) return argv[i + 1];
    if (a.startsWith('--config=')) return a.slice('--config='.length);
  }
  return env[serviceConfigEnvVar(name)] || undefined;
}
