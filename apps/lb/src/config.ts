/**
 * The lb's rendered config file (`etc/ngcp/lb.yml`, from ngcp-config/templates/etc/ngcp/lb.yml.eta):
 * its TypeScript shape and the ajv schema that checks it (`JSONSchemaType` makes tsc
 * verify that the two agree). Keys are described in README.md.
 */
import type { JSONSchemaType } from 'ajv';
import type { ControlConfig, DbConnConfig, LogConfig, RedisConnConfig } from '@ngcp/daemon';
import { commonSchemas } from '@ngcp/daemon';

export const DISPATCH_ALGORITHMS = ['hash-callid', 'hash-from', 'hash-to', 'hash-ruri-user', 'hash-auth-user', 'round-robin', 'weighted'] as const;
export type DispatchAlgorithm = (typeof DISPATCH_ALGORITHMS)[number];

export interface ProxyDestinationConfig {
  address: string;
  port: number;
  weight: number;
}

export interface DispatchConfig {
  algorithm: DispatchAlgorithm;
  /** No answer at all from a proxy within this → the next one (a new branch). */
  timeout_ms: number;
  proxies: ProxyDestinationConfig[];
  probe: {
    /** 0: no probing (every destination stays up unless set down by hand). */
    interval_ms: number;
    timeout_ms: number;
    /** Consecutive misses (probe or request timeouts) before a destination is marked down. */
    failures: number;
  };
}

export interface LbTlsConfig {
  cert: string;
  key: string;
  /** Generate a self-signed certificate at first start when cert and key are missing. */
  generate: boolean;
  hostnames: string[];
  days: number;
}

export interface IpBanConfig {
  enable: boolean;
  /** length of the sliding window */
  window_ms: number;
  /** packets (datagrams, stream events, accepted connections) one source may send within window_ms; one more bans it */
  max_requests: number;
  /** ban time: no answer, Redis `ipban:<ip>` with this TTL */
  ban_s: number;
  /** addresses/networks never banned (trusted_peers are exempt as well) */
  exempt: string[];
}

export interface LbConfig {
  node: string;
  public: { address: string; udp_port: number; tcp_port: number; tls_enable: boolean; tls_port: number };
  internal: { address: string; udp_port: number };
  control: ControlConfig;
  log: LogConfig;
  max_forwards: number;
  /** Sources (IP addresses or CIDR networks) whose initial requests skip the served-domain check. */
  trusted_peers: string[];
  tls: LbTlsConfig;
  dispatch: DispatchConfig;
  domains: {
    /** After a failed load of the domain list, try again this often. */
    retry_ms: number;
  };
  /** The flood guard (docs/security.md): packets per source over a sliding window; above it the source is banned. */
  ipban: IpBanConfig;
  /**
   * Key of the lb's Via branches and loop detection, the same on both nodes (rendered from
   * credentials.sip_nonce_secret), so branches the other node generated are recognised after
   * a takeover. Absent: a random key per process (a single node only).
   */
  branch_secret?: string;
  db: DbConnConfig;
  redis: RedisConnConfig;
}

const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
const ip = { type: 'string', format: 'ip' } as const;
const bool = { type: 'boolean' } as const;

function obj<T>(properties: Record<string, unknown>, optional: string[] = []): JSONSchemaType<T> {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  } as unknown as JSONSchemaType<T>;
}

export const lbConfigSchema: JSONSchemaType<LbConfig> = obj<LbConfig>({
  node: { type: 'string', minLength: 1 },
  public: obj({ address: ip, udp_port: port, tcp_port: port, tls_enable: bool, tls_port: port }),
  internal: obj({ address: ip, udp_port: port }),
  control: commonSchemas.control,
  log: commonSchemas.log,
  max_forwards: { type: 'integer', minimum: 1, maximum: 255 },
  trusted_peers: { type: 'array', items: { type: 'string', format: 'ip-or-cidr' } },
  tls: obj({ cert: { type: 'string', minLength: 1 }, key: { type: 'string', minLength: 1 }, generate: bool, hostnames: { type: 'array', items: { type: 'string', minLength: 1 } }, days: posInt }),
  dispatch: obj({
    algorithm: { type: 'string', enum: [...DISPATCH_ALGORITHMS] },
    timeout_ms: { type: 'integer', minimum: 50 },
    proxies: { type: 'array', minItems: 1, items: obj({ address: ip, port: { type: 'integer', minimum: 1, maximum: 65535 }, weight: { type: 'integer', minimum: 0 } }) },
    probe: obj({ interval_ms: { type: 'integer', minimum: 0 }, timeout_ms: { type: 'integer', minimum: 50 }, failures: posInt }),
  }),
  domains: obj({ retry_ms: { type: 'integer', minimum: 100 } }),
  ipban: obj({
    enable: bool, window_ms: { type: 'integer', minimum: 100, maximum: 600_000 }, max_requests: { type: 'integer', minimum: 1, maximum: 10_000_000 },
    ban_s: { type: 'integer', minimum: 1, maximum: 31_536_000 }, exempt: { type: 'array', items: { type: 'string', format: 'ip-or-cidr' } },
  }),
  branch_secret: { type: 'string', minLength: 8, nullable: true },
  db: commonSchemas.db,
  redis: commonSchemas.redis,
}, ['branch_secret']);

/** Defaults merged under the file (what an operator may leave out). */
export const lbConfigDefaults = {
  log: { level: 'info' },
  max_forwards: 70,
  trusted_peers: [],
  dispatch: { algorithm: 'hash-callid', timeout_ms: 2000, probe: { interval_ms: 5000, timeout_ms: 2000, failures: 3 } },
  domains: { retry_ms: 5000 },
  // a hand-written lb.yml without the key (the benches) runs without the guard; the
  // platform's config.yml (security.ipban) turns it on in every rendered lb.yml
  ipban: { enable: false, window_ms: 5000, max_requests: 250, ban_s: 300, exempt: [] },
} as const;
