/**
 * The sbc's own config: the rendered `etc/ngcp/sbc.yml` (template
 * ngcp-config/templates/etc/ngcp/sbc.yml.eta, from config.yml's `sbc` section), its JSON
 * Schema (checked once at start by the daemon skeleton) and the defaults of the keys a
 * hand-written file may omit. Keys: README.md.
 */
import { reasonPhrase } from '@ngcp/sip';
import { whitelist } from './headers.js';
import { TIMER_FIELDS, type TimerPolicy } from './session-timer.js';
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
  /**
   * Final responses (≥ 300) of the B leg's INVITE answered to the A leg with another code:
   * by the code B sent (`"503"`), the code (300..699) and reason phrase (default: the
   * code's standard phrase) A gets. Absent: every code passes as it came.
   */
  reply_translation?: Record<string, { code: number; reason?: string }>;
  /**
   * Codecs (encoding names as in `a=rtpmap`, case-insensitive; static payload types by
   * their RFC 3551 name) removed from every SDP crossing between the legs (docs/sbc.md).
   * Absent or empty: SDP passes untouched.
   */
  codecs_deny?: string[];
  /**
   * Session timers (RFC 4028): the interval (s) the sbc asks for on each leg and refreshes
   * where it is the refresher; 0: off (Session-Expires/Min-SE then pass between the legs as
   * the whitelist says). Absent: the top-level `session_timer_s`.
   */
  session_timer_s?: number;
  /** The smallest session interval (s) the sbc accepts (its Min-SE); absent: the top-level `min_se_s`. */
  min_se_s?: number;
  /** Prepaid customers' calls through this profile are rated and reserved (docs/sbc.md "Prepaid"); default true, false: the profile's calls are never prepaid (e.g. emergency). */
  prepaid?: boolean;
}

/** What A gets instead of a final response of B. */
export interface ReplyTranslation {
  code: number;
  reason: string;
}

/** A profile with every key resolved. */
export interface ResolvedProfile {
  name: string;
  /** header keys (lower-case long names) */
  headers: ReadonlySet<string>;
  refer: 'reject';
  maxCallLengthS: number;
  /** by the B leg's status */
  replyTranslation: ReadonlyMap<number, ReplyTranslation>;
  /** upper-case encoding names */
  codecsDeny: ReadonlySet<string>;
  /** Session timers (session-timer.ts); null: off. */
  timer: TimerPolicy | null;
  /** prepaid applies to the profile's calls */
  prepaid: boolean;
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
  /** Session timers (RFC 4028) of a profile without its own `session_timer_s`: the interval asked for (s); 0 off. */
  session_timer_s: number;
  /** The Min-SE (s) of a profile without its own `min_se_s` (RFC 4028 recommends 90; at least 1). */
  min_se_s: number;
  /** How long a call's state stays in Redis without any request in it (refreshed by every in-dialog request). */
  call_ttl_s: number;
  redis: RedisConnConfig;
  /** The node's MariaDB: prepaid customers, fees and balances. Without it prepaid is off. */
  db?: DbConnConfig;
  /** Prepaid (docs/sbc.md): `enable` (default true; needs `db`), `quota_s` (default 300): the talk time reserved at a time; `stale_after_s` (default 3600): when a reservation whose call is gone is swept. */
  prepaid?: PrepaidConfig;
}

export interface PrepaidConfig {
  enable?: boolean;
  quota_s?: number;
  stale_after_s?: number;
}

const headerName = { type: 'string', pattern: "^[A-Za-z0-9!%*_+`'~.-]+$" } as const;

const profileSchema = {
  type: 'object',
  properties: {
    headers: { type: 'array', items: headerName, uniqueItems: true, nullable: true },
    refer: { type: 'string', enum: ['reject'], nullable: true },
    max_call_length_s: { type: 'integer', minimum: 0, maximum: 31_536_000, nullable: true },
    // the keys (status codes) are checked by checkSbcConfig, which names the bad one
    reply_translation: {
      type: 'object',
      nullable: true,
      required: [],
      additionalProperties: {
        type: 'object',
        properties: {
          code: { type: 'integer', minimum: 300, maximum: 699 },
          reason: { type: 'string', pattern: '^[^\\x00-\\x1f\\x7f]{1,128}$', nullable: true },
        },
        required: ['code'],
        additionalProperties: false,
      },
    },
    codecs_deny: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9._+-]{1,32}$' }, uniqueItems: true, nullable: true },
    session_timer_s: { type: 'integer', minimum: 0, maximum: 86_400, nullable: true },
    min_se_s: { type: 'integer', minimum: 1, maximum: 86_400, nullable: true },
    prepaid: { type: 'boolean', nullable: true },
  },
  required: [],
  additionalProperties: false,
} as const;

export const sbcSchema: JSONSchemaType<SbcConfig> = {
  type: 'object',
  properties: {
    node: { type: 'string', minLength: 1 },
    listen: commonSchemas.udpListen,
    control: commonSchemas.control,
    log: commonSchemas.log,
    proxy: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9A-Za-z.-]+):[0-9]{1,5}$' },
    default_profile: { type: 'string', minLength: 1 },
    profiles: { type: 'object', required: [], additionalProperties: profileSchema, minProperties: 1 },
    max_call_length_s: { type: 'integer', minimum: 0, maximum: 31_536_000 },
    session_timer_s: { type: 'integer', minimum: 0, maximum: 86_400 },
    min_se_s: { type: 'integer', minimum: 1, maximum: 86_400 },
    call_ttl_s: { type: 'integer', minimum: 60, maximum: 31_536_000 },
    redis: commonSchemas.redis,
    db: { ...commonSchemas.db, nullable: true },
    prepaid: {
      type: 'object',
      nullable: true,
      properties: {
        enable: { type: 'boolean', nullable: true },
        quota_s: { type: 'integer', minimum: 1, maximum: 86_400, nullable: true },
        stale_after_s: { type: 'integer', minimum: 1, maximum: 31_536_000, nullable: true },
      },
      required: [],
      additionalProperties: false,
    },
  },
  required: ['node', 'listen', 'control', 'log', 'proxy', 'default_profile', 'profiles', 'max_call_length_s', 'session_timer_s', 'min_se_s', 'call_ttl_s', 'redis'],
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
  min_se_s: 90,
  call_ttl_s: 86_400,
} as const satisfies Partial<SbcConfig>;

/** `prepaid.stale_after_s` by default: far above the longest ringing time (INVITE timeouts are minutes), so only calls that are really gone are swept. */
export const STALE_AFTER_S = 3600;

/** Prepaid is on when not disabled and the database is configured; the quota (s) reserved at a time; the grace (s) before a reservation whose call is gone is swept. */
export function prepaidSettings(c: SbcConfig): { enabled: boolean; quotaS: number; staleAfterS: number } {
  return { enabled: (c.prepaid?.enable ?? true) && c.db != null, quotaS: c.prepaid?.quota_s ?? 300, staleAfterS: c.prepaid?.stale_after_s ?? STALE_AFTER_S };
}

/** Checks across keys: the default profile must exist; the proxy's port must be a port. */
export function checkSbcConfig(c: SbcConfig): DaemonConfigProblem[] {
  const out: DaemonConfigProblem[] = [];
  if (!Object.hasOwn(c.profiles, c.default_profile)) out.push({ path: 'default_profile', message: `names no profile (have ${Object.keys(c.profiles).join(', ')})` });
  const port = Number(c.proxy.slice(c.proxy.lastIndexOf(':') + 1));
  if (!(port >= 1 && port <= 65535)) out.push({ path: 'proxy', message: 'the port must be 1..65535' });
  if (c.prepaid?.enable === true && c.db == null) out.push({ path: 'prepaid.enable', message: 'prepaid needs the database (db)' });
  for (const [name, p] of Object.entries(c.profiles)) {
    const timer = profileTimer(c, p);
    if (timer && timer.interval < timer.minSe) {
      // the key at fault: the profile's own, else the top-level one it inherits (named once)
      const path = p.session_timer_s !== undefined ? `profiles.${name}.session_timer_s` : 'session_timer_s';
      if (!out.some((x) => x.path === path)) out.push({ path, message: `${timer.interval} is below the Min-SE in force (${timer.minSe}; min_se_s)` });
    }
    for (const key of Object.keys(p.reply_translation ?? {})) {
      if (!/^[3-6][0-9]{2}$/.test(key)) out.push({ path: `profiles.${name}.reply_translation.${key}`, message: 'must be a final response code 300..699 (the B leg\'s status)' });
    }
  }
  return out;
}

/** `host:port` / `[v6]:port` → address and port (the schema and `checkSbcConfig` made sure it parses). */
export function parseHostPort(v: string): { address: string; port: number } {
  const i = v.lastIndexOf(':');
  return { address: v.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(v.slice(i + 1)) };
}

/** A profile's session timer policy (its own keys, else the top-level ones); null when off. */
function profileTimer(c: SbcConfig, p: SbcProfile): TimerPolicy | null {
  const interval = p.session_timer_s ?? c.session_timer_s;
  return interval > 0 ? { interval, minSe: p.min_se_s ?? c.min_se_s } : null;
}

/** The profiles of a config with their defaults filled in. */
export function resolveProfiles(c: SbcConfig): Map<string, ResolvedProfile> {
  const out = new Map<string, ResolvedProfile>();
  for (const [name, p] of Object.entries(c.profiles)) {
    const timer = profileTimer(c, p);
    const headers = whitelist(p.headers ?? DEFAULT_HEADERS);
    // with timers on, each leg's Session-Expires / Min-SE are the sbc's own (session-timer.ts)
    if (timer) for (const k of TIMER_FIELDS) headers.delete(k);
    out.set(name, {
      name,
      headers,
      refer: p.refer ?? 'reject',
      maxCallLengthS: p.max_call_length_s ?? c.max_call_length_s,
      replyTranslation: new Map(Object.entries(p.reply_translation ?? {}).map(([from, t]) => [Number(from), { code: t.code, reason: t.reason ?? reasonPhrase(t.code) }])),
      codecsDeny: new Set((p.codecs_deny ?? []).map((n) => n.toUpperCase())),
      timer,
      prepaid: p.prepaid ?? true,
    });
  }
  return out;
}
