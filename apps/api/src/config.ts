/**
 * The API's settings: one object, validated once at boot with ajv through
 * `@ngcp/daemon` (errors name the file, the line and the key: `api.yml:7: listen.port:
 * must be <= 65535 (got 70000)`), then frozen. Documented in README.md
 * ("Configuration"); rendered by ngcpcfg into the file named by NGCP_API_CONFIG.
 */
import { isIP } from 'node:net';
import { commonSchemas, loadDaemonConfig, resolveDaemonConfig, type DaemonConfigDefinition, type DaemonConfigProblem, type JSONSchemaType } from '@ngcp/daemon';

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
  /**
   * Voicemail (resources/voicemails.ts): `dir` where the app-server keeps the recordings
   * (`<dir>/<box id>/<message id>.wav`; null: none on this node), `appserver_control` the
   * app-server's control endpoint (`http://ip:port/`) asked for `appserver.mwi` after a message
   * changed (null: not asked), within `mwi_timeout_ms`.
   */
  voicemail: { dir: string | null; appserver_control: string | null; mwi_timeout_ms: number };
  /**
   * Live calls (resources/live.ts): `sbc_control` the sbc's control endpoint (`http://ip:port/`)
   * that `DELETE /api/calls/<id>` asks to end a call through the B2BUA (`calls.teardown`; null:
   * no sbc, DELETE answers 409), within `teardown_timeout_ms`.
   */
  calls: { sbc_control: string | null; teardown_timeout_ms: number };
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
  voicemail: { dir: null, appserver_control: null, mwi_timeout_ms: 2000 },
  calls: { sbc_control: null, teardown_timeout_ms: 5000 },
  log: { level: 'info', requests: true },
};

const str = { type: 'string', minLength: 1 } as const;
const optStr = { type: 'string', nullable: true } as const;
const int = { type: 'integer', minimum: 0 } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
const bool = { type: 'boolean' } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;

function section<T>(properties: Record<string, unknown>, optional: string[] = []): JSONSchemaType<T> {
  return { type: 'object', properties, required: Object.keys(properties).filter((k) => !optional.includes(k)), additionalProperties: false } as unknown as JSONSchemaType<T>;
}

export const apiConfigSchema: JSONSchemaType<ApiConfig> = section<ApiConfig>({
  listen: section<ApiConfig['listen']>({ host: str, port }),
  tls: section<ApiConfig['tls']>({ enabled: bool, cert: str, key: str, generate: bool, hostnames: { type: 'array', items: str }, days: int }),
  db: section<ApiConfig['db']>(
    { ...commonSchemas.db.properties, port, pool_max: posInt, readers: posInt, acquire_timeout_ms: posInt, migrate: bool, database: str },
    ['socket'],
  ),
  redis: commonSchemas.redis,
  admin: section<ApiConfig['admin']>({ login: str, password: optStr, credentials_file: optStr, url: optStr }, ['password', 'credentials_file', 'url']),
  auth: section<ApiConfig['auth']>({ cache_ttl_s: int, cache_max: int, token_ttl_s: int, realm: str }),
  bruteforce: section<ApiConfig['bruteforce']>({
    window_s: int,
    slow_after: int,
    delay_ms: int,
    max_delay_ms: int,
    ban_after: posInt,
    ban_s: int,
    exempt: { type: 'array', items: { type: 'string' } },
  }),
  paging: section<ApiConfig['paging']>({ default_rows: posInt, max_rows: posInt }),
  body_limit: int,
  voicemail: section<ApiConfig['voicemail']>({
    dir: { type: 'string', pattern: '^/', nullable: true },
    appserver_control: { type: 'string', pattern: '^http://[^/\\s]+/?$', nullable: true },
    mwi_timeout_ms: { type: 'integer', minimum: 50, maximum: 60_000 },
  }),
  calls: section<ApiConfig['calls']>({
    sbc_control: { type: 'string', pattern: '^http://[^/\\s]+/?$', nullable: true },
    teardown_timeout_ms: { type: 'integer', minimum: 50, maximum: 60_000 },
  }),
  log: section<ApiConfig['log']>({ level: commonSchemas.log.properties.level, requests: bool }),
});

/** What the schema cannot say: relations between keys, address syntax. */
function check(c: ApiConfig): DaemonConfigProblem[] {
  const out: DaemonConfigProblem[] = [];
  if (c.paging.default_rows > c.paging.max_rows) out.push({ path: 'paging.default_rows', message: `must not be above paging.max_rows (${c.paging.max_rows})` });
  c.bruteforce.exempt.forEach((e, i) => {
    if (!parseCidr(e)) out.push({ path: `bruteforce.exempt[${i}]`, message: `must be an address or a network like 10.0.0.0/8 or ::1 (got ${JSON.stringify(e)})` });
  });
  return out;
}

/** The API's config as @ngcp/daemon sees it (no control endpoint: the API serves HTTPS itself). */
export const apiConfigDefinition: DaemonConfigDefinition<ApiConfig> = {
  name: 'api',
  schema: apiConfigSchema,
  defaults: DEFAULT_CONFIG as ApiConfigInput,
  check,
};

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

/** Defaults + input, checked by the schema; unknown keys are errors (typos must not pass silently). Throws DaemonConfigError. */
export function resolveConfig(input: unknown = {}): ApiConfig {
  return resolveDaemonConfig(apiConfigDefinition, input) as ApiConfig;
}

/** Read a YAML (or JSON, a subset of YAML) file and resolve it; errors name file:line: key. */
export function loadConfigFile(path: string): ApiConfig {
  return loadDaemonConfig(apiConfigDefinition, path) as ApiConfig;
}
