/**
 * The API's settings: one object, validated once at boot (errors name the key), then frozen.
 * Documented in README.md ("Configuration"); rendered by ngcpcfg into the file named by
 * NGCP_API_CONFIG.
 */
import { isIP } from 'node:net';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';

export interface ApiConfig {
  listen: { host: string; port: number };
  tls: {
    /** false = plain HTTP (only for tests/benchmarks behind loopback) */
    enabled: boolean;
    cert: string;
    key: string;
    /** create a self-signed pair at these paths on first start if missing */
    generate: boolean;
    /** subjectAltNames of a generated certificate */
    hostnames: string[];
    days: number;
  };
  db: { host: string; port: number; socket?: string; user: string; password: string; database: string; pool_max: number; readers: number; acquire_timeout_ms: number; migrate: boolean };
  redis: { host: string; port: number; password?: string; db: number };
  admin: {
    login: string;
    /** if unset, a random password is generated when the first admin is created */
    password?: string;
    /** where the bootstrap credentials are written (API_URL/API_USER/API_PASS, mode 0600) */
    credentials_file?: string;
    /** base URL written as API_URL; default https://<listen.host>:<listen.port> */
    url?: string;
  };
  auth: { cache_ttl_s: number; cache_max: number; token_ttl_s: number; realm: string };
  bruteforce: { window_s: number; slow_after: number; delay_ms: number; max_delay_ms: number; ban_after: number; ban_s: number; exempt: string[] };
  paging: { default_rows: number; max_rows: number };
  body_limit: number;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'; requests: boolean };
}

export type ApiConfigInput = { [K in keyof ApiConfig]?: Partial<ApiConfig[K]> | ApiConfig[K] };

export const DEFAULT_CONFIG: Readonly<ApiConfig> = {
  listen: { host: '127.0.0.1', port: 1443 },
  tls: { enabled: true, cert: 'var/api/tls/cert.pem', key: 'var/api/tls/key.pem', generate: true, hostnames: ['localhost', '127.0.0.1'], days: 3650 },
  db: { host: '127.0.0.1', port: 3306, user: 'ngcp', password: '', database: 'ngcp', pool_max: 10, readers: 8, acquire_timeout_ms: 10_000, migrate: true },
  redis: { host: '127.0.0.1', port: 6379, db: 0 },
  admin: { login: 'administrator', credentials_file: 'var/api/credentials.env' },
  auth: { cache_ttl_s: 60, cache_max: 10_000, token_ttl_s: 86_400, realm: 'ngcp' },
  bruteforce: { window_s: 300, slow_after: 3, delay_ms: 250, max_delay_ms: 4000, ban_after: 10, ban_s: 600, exempt: ['127.0.0.0/8', '::1'] },
  paging: { default_rows: 10, max_rows: 1000 },
  body_limit: 262_144,
  log: { level: 'info', requests: true },
};

export class ConfigError extends Error {
  constructor(readonly key: string, message: string) {
    super(`config: ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'int' | 'posint' | 'port' | 'bool' | 'strings' | 'cidrs' | 'level' | 'optstring';
const SHAPE: { [S in keyof ApiConfig]: Record<string, Kind> } = {
  listen: { host: 'string', port: 'port' },
  tls: { enabled: 'bool', cert: 'string', key: 'string', generate: 'bool', hostnames: 'strings', days: 'int' },
  db: { host: 'string', port: 'port', socket: 'optstring', user: 'string', password: 'string', database: 'string', pool_max: 'posint', readers: 'posint', acquire_timeout_ms: 'posint', migrate: 'bool' },
  redis: { host: 'string', port: 'port', password: 'optstring', db: 'int' },
  admin: { login: 'string', password: 'optstring', credentials_file: 'optstring', url: 'optstring' },
  auth: { cache_ttl_s: 'int', cache_max: 'int', token_ttl_s: 'int', realm: 'string' },
  bruteforce: { window_s: 'int', slow_after: 'int', delay_ms: 'int', max_delay_ms: 'int', ban_after: 'int', ban_s: 'int', exempt: 'cidrs' },
  paging: { default_rows: 'int', max_rows: 'int' },
  body_limit: {},
  log: { level: 'level', requests: 'bool' },
};
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `10.0.0.0/8`, `2001:db8::/32` or a single address → [address, prefix, family], or undefined. */
export function parseCidr(s: string): [string, number, 'ipv4' | 'ipv6'] | undefined {
  const [addr = '', len, ...rest] = s.split('/');
  const family = isIP(addr);
  if (!family || rest.length) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = len === undefined ? max : /^\d{1,3}$/.test(len) ? Number(len) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return [addr, prefix, family === 4 ? 'ipv4' : 'ipv6'];
}

function check(key: string, kind: Kind, v: unknown): void {
  const bad = (what: string): never => {
    throw new ConfigError(key, `must be ${what} (got ${JSON.stringify(v)})`);
  };
  switch (kind) {
    case 'string': if (typeof v !== 'string' || (v === '' && !key.endsWith('password'))) bad('a non-empty string'); break;
    case 'optstring': if (v !== undefined && typeof v !== 'string') bad('a string'); break;
    case 'int': if (!Number.isSafeInteger(v) || (v as number) < 0) bad('a non-negative integer'); break;
    case 'posint': if (!Number.isSafeInteger(v) || (v as number) < 1) bad('a positive integer'); break;
    case 'port': if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) bad('a port number 0–65535'); break;
    case 'bool': if (typeof v !== 'boolean') bad('true or false'); break;
    case 'strings': if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) bad('a list of strings'); break;
    case 'level': if (!LEVELS.includes(v as string)) bad(`one of ${LEVELS.join(', ')}`); break;
    case 'cidrs': if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || !parseCidr(s))) bad('a list of addresses or networks (10.0.0.0/8, ::1)'); break;
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** Defaults + input, checked key by key; unknown keys are errors (typos must not pass silently). */
export function resolveConfig(input: unknown = {}): ApiConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError('(root)', 'must be an object');
  const src = input as Record<string, unknown>;
  const out = structuredClone(DEFAULT_CONFIG) as unknown as Record<string, unknown>;
  for (const [section, value] of Object.entries(src)) {
    if (!(section in SHAPE)) throw new ConfigError(section, 'unknown key');
    if (section === 'body_limit') {
      check('body_limit', 'int', value);
      out.body_limit = value;
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(section, 'must be an object');
    const shape = SHAPE[section as keyof ApiConfig];
    const target = out[section] as Record<string, unknown>;
    for (const [k, v] of Object.entries(value)) {
      const kind = shape[k];
      if (!kind) throw new ConfigError(`${section}.${k}`, 'unknown key');
      check(`${section}.${k}`, kind, v);
      target[k] = v;
    }
  }
  const cfg = out as unknown as ApiConfig;
  if (cfg.paging.default_rows < 1 || cfg.paging.default_rows > cfg.paging.max_rows) {
    throw new ConfigError('paging.default_rows', 'must be between 1 and paging.max_rows');
  }
  if (cfg.bruteforce.ban_after < 1) throw new ConfigError('bruteforce.ban_after', 'must be at least 1');
  return deepFreeze(cfg);
}

/** Read a JSON or (subset of) YAML file — by extension — and resolve it. */
export function loadConfigFile(path: string): ApiConfig {
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  let raw: unknown;
  try {
    raw = ext === '.yml' || ext === '.yaml' ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError(path, `cannot parse: ${(err as Error).message}`);
  }
  return resolveConfig(raw ?? {});
}
