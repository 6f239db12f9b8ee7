/**
 * The sbc's own config: the rendered `etc/ngcp/sbc.yml` (template
 * ngcp-config/templates/etc/ngcp/sbc.yml.eta, from config.yml's `sbc` section), its JSON
 * Schema (checked once at start by the daemon skeleton) and the defaults of the keys a
 * hand-written file may omit. Keys: README.md.
 */
import { whitelist } from './headers.js';
import { commonSchemas, type ControlConfig, type DaemonConfigProblem, type DbConnConfig, type JSONSchemaType, type LogConfig, type RedisConnConfig } from '@ngcp/daemon';

/** What the sbc applies to one call; the proxy names it (README.md, docs/sbc.md). */
export interface SbcProfile {
  /**
   * Header fields copied from one leg to the other (case-insensitive names; compact forms
   * are matched by their long name). Everything else is dropped; the fields the B2BUA
   * builds itself (Via, Route, Record-Route, Contact, From, To, Call-ID, CSeq,
   * Max-Forwards, Content-Length, Content-Type) and every `X-NGCP-*` / `P-NGCP-*` field
   * never pass, whatever this list says.
   */
  headers?: string[];
  /** REFER within a call: `reject` (the default) answers 403; passing it on is not in this release. */
  refer?: 'reject';
  /** BYE both legs this long after the answer; 0: no limit; absent: the top-level `max_call_length_s`. */
  max_call_length_s?: number;
}

/** A profile with every key resolved. */
export interface ResolvedProfile {
  name: string;
  /** header keys (lower-case long names) */
  headers: ReadonlySet<string>;
  refer: 'reject';
  maxCallLengthS: number;
}

export interface SbcConfig {
  /** Name of this node (log field, `node` of a call in Redis). */
  node: string;
  /** Internal UDP listener: where the proxy sends the A legs, Via/Contact of the B legs. */
  listen: { address: string; udp_port: number };
  /** JSON-RPC control endpoint and `/metrics`. */
  control: ControlConfig;
  log: LogConfig;
  /** The proxy (`host:port`): every B leg and every request of the sbc goes there first. */
  proxy: string;
  /** The profile applied when the proxy names none. */
  default_profile: string;
  profiles: Record<string, SbcProfile>;
  /** The limit of a profile without its own `max_call_length_s` (config.yml `sbc.max_call_length_s`). */
  max_call_length_s: number;
  /** Session timers (RFC 4028) are not enforced by this release; the key is accepted for the next one. */
  session_timer_s: number;
  /** How long a call's state stays in Redis without any request in it (refreshed by every in-dialog request). */
  call_ttl_s: number;
  redis: RedisConnConfig;
  /** The node's MariaDB: not used by this release (prepaid will); accepted so the rendered file loads. */
  db?: DbConnConfig;
}

const headerName = { type: 'string', pattern: "^[A-Za-z0-9!%*_+`'~.-]+$" } as const;

const profileSchema = {
  type: 'object',
  properties: {
    headers: { type: 'array', items: headerName, uniqueItems: true, nullable: true },
    refer: { type: 'string', enum: ['reject'], nullable: true },
    max_call_length_s: { type: 'integer', minimum: 0, maximum: 31_536_000, nullable: true },
  },
  required: [],
  additionalProperties: false,
} as const;

export const sbcSchema: JSONSchemaType<SbcConfig> = {
  type: 'object',
  properties: {
    node: { type: 'string', minLength: 1 },
    listen: {
      type: 'object',
      properties: { address: { type: 'string', format: 'ip' }, udp_port: { type: 'integer', minimum: 0, maximum: 65535 } },
      required: ['address', 'udp_port'],
      additionalProperties: false,
    },
    control: commonSchemas.control,
    log: commonSchemas.log,
    proxy: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9A-Za-z.-]+):[0-9]{1,5}$' },
    default_profile: { type: 'string', minLength: 1 },
    profiles: { type: 'object', required: [], additionalProperties: profileSchema, minProperties: 1 },
    max_call_length_s: { type: 'integer', minimum: 0, maximum: 31_536_000 },
    session_timer_s: { type: 'integer', minimum: 0 },
    call_ttl_s: { type: 'integer', minimum: 60, maximum: 31_536_000 },
    redis: commonSchemas.redis,
    db: { ...commonSchemas.db, nullable: true },
  },
  required: ['node', 'listen', 'control', 'log', 'proxy', 'default_profile', 'profiles', 'max_call_length_s', 'session_timer_s', 'call_ttl_s', 'redis'],
  additionalProperties: false,
} as unknown as JSONSchemaType<SbcConfig>;

/** The header fields a profile passes unless it says otherwise: what endpoints need to agree on a session, nothing about the path. */
export const DEFAULT_HEADERS: readonly string[] = [
  'Allow', 'Supported', 'Accept', 'Accept-Encoding', 'Accept-Language', 'Allow-Events', 'Event', 'Subscription-State',
  'Session-Expires', 'Min-SE', 'Content-Disposition', 'Content-Encoding', 'Content-Language', 'MIME-Version',
  'P-Asserted-Identity', 'Privacy', 'Reason', 'Expires', 'Date', 'Subject', 'Priority',
];

/** Keys a hand-written file may omit (the rendered file has them all). */
export const sbcDefaults = {
  node: 'self',
  log: { level: 'info' },
  default_profile: 'default',
  profiles: { default: {} },
  max_call_length_s: 0,
  session_timer_s: 0,
  call_ttl_s: 86_400,
} as const satisfies Partial<SbcConfig>;

/** Checks across keys: the default profile must exist; the proxy's port must be a port. */
export function checkSbcConfig(c: SbcConfig): DaemonConfigProblem[] {
  const out: DaemonConfigProblem[] = [];
  if (!Object.hasOwn(c.profiles, c.default_profile)) out.push({ path: 'default_profile', message: `names no profile (have ${Object.keys(c.profiles).join(', ')})` });
  const port = Number(c.proxy.slice(c.proxy.lastIndexOf(':') + 1));
  if (!(port >= 1 && port <= 65535)) out.push({ path: 'proxy', message: 'the port must be 1..65535' });
  return out;
}

/** `host:port` / `[v6]:port` → address and port (the schema and `checkSbcConfig` made sure it parses). */
export function parseHostPort(v: string): { address: string; port: number } {
  const i = v.lastIndexOf(':');
  return { address: v.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(v.slice(i + 1)) };
}

/** The profiles of a config with their defaults filled in. */
export function resolveProfiles(c: SbcConfig): Map<string, ResolvedProfile> {
  const out = new Map<string, ResolvedProfile>();
  for (const [name, p] of Object.entries(c.profiles)) {
    out.set(name, {
      name,
      headers: whitelist(p.headers ?? DEFAULT_HEADERS),
      refer: p.refer ?? 'reject',
      maxCallLengthS: p.max_call_length_s ?? c.max_call_length_s,
    });
  }
  return out;
}
