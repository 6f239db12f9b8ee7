/**
 * The schema of the whole configuration tree (config.yml + network.yml + constants.yml
 * and their overlays, merged), in one place: the TypeScript types and the JSON Schema
 * that ajv checks them against (`JSONSchemaType<NgcpConfig>` makes tsc verify that the
 * two agree). Every key is required in the merged tree; each single file is checked
 * against the same schema with `required` dropped (see `partialSchema`), so an unknown
 * key or a wrong type is reported against the file and line it came from.
 */
import type { JSONSchemaType } from 'ajv';

export const INTERFACE_TYPES = ['sip_ext', 'sip_int', 'rtp_ext', 'web_ext', 'ha_int'] as const;
export type InterfaceType = (typeof INTERFACE_TYPES)[number];

export interface InterfaceConfig {
  /** The interface's own static address (configured outside the framework). */
  ip: string;
  netmask: string;
  /** Service IPs the HA daemon moves to the active node (empty on a single node). */
  shared_ip: string[];
  /** What runs on it: sip_ext (public SIP), sip_int (internal SIP, control, DB, Redis), rtp_ext (media), web_ext (API), ha_int (crosslink). */
  type: InterfaceType[];
}

export interface HostConfig {
  /** Name of the pair this host belongs to (selects `config.pair.<pair>.yml`), null on a single node. */
  pair: string | null;
  /** The other node of the pair, null on a single node. */
  peer: string | null;
  interfaces: Record<string, InterfaceConfig>;
}

/** The old `lb.ban` key: superseded by `security.ipban`, accepted (and ignored) so config dirs made before it still load. */
export interface BanConfig {
  enable: boolean;
  threshold: number;
  window_s: number;
  ban_s: number;
}

/** `security.ipban`: the lb's flood guard (docs/security.md). */
export interface IpBanConfig {
  enable: boolean;
  /** length of the sliding window over which a source's packets are counted */
  window_ms: number;
  /** packets (datagrams, stream messages, new connections) one source may send within window_ms; one more bans it */
  max_requests: number;
  /** how long a banned source gets no answer (TTL of Redis `ipban:<ip>`) */
  ban_s: number;
}

/** `security.userban`: failed digest authentications (docs/security.md). */
export interface UserBanConfig {
  enable: boolean;
  /** failed authentications of one user within window_s that ban it */
  max_failures: number;
  /** failed authentications from one source address (any users) within window_s that ban the source at the lb */
  source_max_failures: number;
  window_s: number;
  /** how long a banned user's requests get 403 (TTL of Redis `userban:<user@domain>`) */
  ban_s: number;
}

/** Flood and brute-force protection of the SIP edge; absent in a config dir older than the key: the templates' defaults. */
export interface SecurityConfig {
  ipban?: IpBanConfig;
  userban?: UserBanConfig;
  /** addresses/networks (CIDR) never banned by ipban or userban, besides `lb.trusted_peers` */
  exempt?: string[];
}

export const LB_DISPATCH_ALGORITHMS = ['hash-callid', 'hash-from', 'hash-to', 'hash-ruri-user', 'hash-auth-user', 'round-robin', 'weighted'] as const;

export interface LbDispatchProxy {
  address: string;
  port: number;
  weight: number;
}

export interface LbDispatchConfig {
  /** How initial requests pick a proxy (apps/lb/README.md). */
  algorithm: (typeof LB_DISPATCH_ALGORITHMS)[number];
  /** No answer at all from a proxy within this → the next one. */
  timeout_ms: number;
  /** The proxy set; empty = this node's own proxy (internal address, proxy.port). */
  proxies: LbDispatchProxy[];
  probe: { interval_ms: number; timeout_ms: number; failures: number };
}

export interface LbConfig {
  enable: boolean;
  sip_port: number;
  tls_port: number;
  tls_enable: boolean;
  internal_port: number;
  control_port: number;
  max_forwards: number;
  /** Source addresses whose initial requests skip the served-domain check. */
  trusted_peers: string[];
  dispatch: LbDispatchConfig;
  /** Served-domain cache: retry (and poll while Redis is away) this often. */
  domains: { retry_ms: number };
  /** superseded by `security.ipban`; ignored */
  ban?: BanConfig;
}

export interface ProxyConfig {
  enable: boolean;
  /** UDP port of worker 0; worker i listens on `port + i` (docs/workers.md) */
  port: number;
  control_port: number;
  /** worker processes; 0 = one per CPU core (`proxyWorkerCount`); absent in a config dir older than the key: 0 */
  workers?: number;
  min_expires: number;
  max_expires: number;
  default_expires: number;
  /** bindings per AoR at most (403 beyond) */
  max_contacts: number;
  /** RFC 5626 Flow-Timer (s) to outbound TCP/TLS clients: their keep-alive period, so the time to find a connection lost at a failover (0: none; default 15). */
  flow_timer?: number;
  /** relay media through mediactl/rtpengine; false leaves SDP untouched (benchmarks) */
  media: boolean;
  /** seconds a `call:<id>` key lives without an in-dialog request refreshing it */
  call_ttl: number;
  /** lifetime of a digest nonce, seconds */
  nonce_ttl: number;
  auth_algorithms: Array<'MD5' | 'SHA-256'>;
  /** peering (docs/routing.md): an attempt with no ringing nor final within this (ms) → the next server (default 5000) */
  peering_attempt_timeout_ms?: number;
  /** failures in a row that mark a peering server down (default 3) */
  peering_down_after?: number;
  /** OPTIONS probes of down / probe=true peering servers, this often (ms, default 10000) */
  peering_probe_interval_ms?: number;
  /** a probe without an answer within this (ms) fails (default 2000) */
  peering_probe_timeout_ms?: number;
  /** outbound registration to peers (docs/routing.md): first retry after a failure (s, default 30), doubling up to the max (s, default 600) */
  peering_register_retry_min_s?: number;
  peering_register_retry_max_s?: number;
  /** call forwards (docs/routing.md): forwards one call may take; one more ends it with 483 (default 5) */
  forward_max_hops?: number;
  /** CFT ring timeout (s) when the forward has none; a serial forward destination's no-answer time (default 15) */
  forward_ring_timeout_s?: number;
  /** initial INVITEs through the B2BUA (docs/sbc.md); absent: `{ enable: false }` */
  sbc?: { enable: boolean; profile?: string };
  /** star codes (docs/routing.md "Star codes"); absent: enabled with sip:provider's codes */
  vsc?: { enable: boolean; cfu_code?: string; cfb_code?: string; cft_code?: string; cfna_code?: string; clir_code?: string };
  /** failed calls of subscribers to the app-server's announcement; absent: `{ enable: false }` */
  announcements?: { enable: boolean };
  /** voicemail routing (docs/routing.md "Voicemail"): forwards to voicemail, the number subscribers dial for their box; absent: `{ enable: true, number: '2000' }` */
  voicemail?: { enable: boolean; number?: string };
}

export interface SbcProfileConfig {
  /** header fields passed from one leg to the other (default: apps/sbc DEFAULT_HEADERS) */
  headers?: string[];
  /** REFER within a call: `reject` (403; the default and, in this release, the only choice) */
  refer?: 'reject';
  /** BYE both legs this long after the answer; 0 none; absent: `sbc.max_call_length_s` */
  max_call_length_s?: number;
  /** final replies (≥ 300) of the B leg's INVITE sent to A as another code: `{ "503": { code: 480, reason?: "…" } }` */
  reply_translation?: Record<string, { code: number; reason?: string }>;
  /** codecs (encoding names) removed from the SDP crossing between the legs, e.g. `[PCMA, G729]` */
  codecs_deny?: string[];
  /** session timers (RFC 4028): the interval asked for on each leg, refreshed by the sbc where it is the refresher; 0 off; absent: `sbc.session_timer_s` */
  session_timer_s?: number;
  /** the smallest session interval accepted (Min-SE); absent: `sbc.min_se_s` */
  min_se_s?: number;
  /** prepaid customers' calls through this profile are rated and reserved (default true; false: never prepaid) */
  prepaid?: boolean;
}

export interface SbcConfig {
  enable: boolean;
  port: number;
  control_port: number;
  /** session timers (RFC 4028) of a profile without its own: the interval the sbc asks for (s); 0 off */
  session_timer_s: number;
  /** the Min-SE (s) of a profile without its own (default 90) */
  min_se_s?: number;
  max_call_length_s: number;
  /** the profile applied when the proxy names none (default `default`) */
  default_profile?: string;
  /** profiles by name (apps/sbc/README.md); default: `{ default: {} }` */
  profiles?: Record<string, SbcProfileConfig>;
  /** seconds a call's state stays in Redis without an in-dialog request (default 86400) */
  call_ttl_s?: number;
  /** prepaid (docs/sbc.md): `enable` (default true), `quota_s` — talk time reserved at a time (default 300) */
  prepaid?: { enable?: boolean; quota_s?: number; stale_after_s?: number };
}

export interface AppserverConfig {
  enable: boolean;
  port: number;
  control_port: number;
  /** the announcements' RTP sockets (one per call, even ports) on the internal address */
  rtp_min: number;
  rtp_max: number;
  /** plays of an announcement before the app-server's BYE (default 1) */
  announce_repeat?: number;
  /** absolute path of the operator's sounds: `<name>.wav` (8 kHz mono 16-bit PCM) replaces or adds `announce.<name>`; absent/null: none */
  sounds_dir?: string | null;
  /** voicemail (deposit, retrieval, MWI); every key optional (config dirs older than it) */
  voicemail?: {
    /** absolute path of the recordings; absent/null: `<node root>/var/spool/voicemail` */
    dir?: string | null;
    /** the longest message (s, 1..600; default 120) */
    max_message_s?: number | null;
    /** shorter recordings are discarded (ms; default 1000) */
    min_message_ms?: number | null;
  } | null;
}

export interface MediactlConfig {
  enable: boolean;
  control_port: number;
  /** ng `ping` to every rtpengine this often. */
  probe_interval_ms: number;
  /** Missed pings (or timed-out requests) in a row before an rtpengine counts as down. */
  probe_failures: number;
  /** The longest wait for one ng answer, retransmissions included (bounds every media request). */
  ng_timeout_ms: number;
  /** Resend an unanswered ng request (same cookie) after this many ms, doubling; 0 never; absent: 250. */
  ng_retransmit_ms?: number;
  /** TTL of the Redis pin `media:<call-id>`: the longest call. */
  max_call_s: number;
}

/** rtpengine (section name as in sip:provider PRO). */
export interface RtpproxyConfig {
  enable: boolean;
  ng_port: number;
  /** rtpengine's CLI (`listen-cli`, internal address), on a pair only: hbd tells it the role (`active` / `standby`). */
  cli_port?: number;
  minport: number;
  maxport: number;
  log_level: number;
}

export interface QosConfig {
  tos_rtp: number;
}

export interface HeartbeatConfig {
  enable: boolean;
  /** UDP port of the heartbeats on the crosslink. */
  port: number;
  control_port: number;
  interval_ms: number;
  deadtime_ms: number;
  pingnodes: string[];
  /** How ping nodes are probed: `tcp` connect to ping_port (a refusal counts as reached) or `arping` on the public interface. */
  ping_method: 'tcp' | 'arping';
  ping_port: number;
  /** Failed probes in a row before a ping node counts as unreached (default 2): one probe lost on a loaded node is no reason for a takeover. */
  ping_fall?: number;
  /** Tie-break when both nodes claim the role with the same epoch: the higher priority wins, then the lower node name (set per node in config.node.<name>.yml). */
  priority: number;
  /** make_standby / SIGTERM on the active: how long hbd waits for the peer to take over. */
  switchover_timeout_ms: number;
  /** Role-change steps hbd skips: shared_ip, arp, redis, media, mariadb, notify, jobs (tests, maintenance). */
  disabled_steps: Array<'shared_ip' | 'arp' | 'redis' | 'media' | 'mariadb' | 'notify' | 'jobs'>;
  /** Between role changes, how often hbd re-checks Redis' role, MariaDB's read_only and the shared IP against the role (0: never; default 2000, so a config dir made before the key existed still loads). */
  audit_interval_ms?: number;
  /** hbd runs SCHED_RR at this real-time priority (1-99; 0: only \`nice\`), as keepalived's vrrp_rt_priority / corosync do; default 10. */
  realtime_priority?: number;
}

export interface ApiConfig {
  enable: boolean;
  port: number;
  user: string;
  /** Credential cache and login tokens (apps/api README "auth"); absent in a config dir older than the key: the defaults. */
  auth?: { cache_ttl_s: number; cache_max: number; token_ttl_s: number; realm: string };
  /** Failed logins per source: slowed, then banned; `exempt` addresses/networks never are. */
  bruteforce?: { window_s: number; slow_after: number; delay_ms: number; max_delay_ms: number; ban_after: number; ban_s: number; exempt: string[] };
}

export interface MediatorConfig {
  enable: boolean;
  control_port: number;
  /** seconds between passes over the accounting records while there is no backlog */
  interval_s: number;
  /** calls (at most) turned into CDRs per pass, in one transaction; default 2000 */
  batch?: number;
  /** an answered call without a stop record after this long gets a CDR with status timeout; default proxy.call_ttl + 60 */
  leftover_after_s?: number;
  /** a stop record whose start has not arrived after this long gets a CDR of its own; default 60 */
  stop_wait_s?: number;
  /** mediated acc rows older than this many days are deleted (CDRs stay); 0 keeps them; default 30 */
  acc_keep_days?: number;
}

export interface DatabaseConfig {
  enable: boolean;
  port: number;
  name: string;
  user: string;
  buffer_pool_size: string;
  /** InnoDB redo log size: room for bursts of writes (bulk provisioning) between checkpoints */
  log_file_size: string;
}

export interface RedisConfig {
  enable: boolean;
  port: number;
  databases: number;
}

export interface SupervisionConfig {
  /** pm2 restart_delay after a crash. */
  restart_delay_ms: number;
  /** pm2 min_uptime: a process up less long counts as an unstable restart. */
  min_uptime_ms: number;
  max_restarts: number;
  /** SIGTERM → SIGKILL grace on stop. */
  kill_timeout_ms: number;
  /** How long `ngcpcfg apply` / `ngcp up` wait for a (re)started service to be healthy. */
  health_timeout_ms: number;
}

export interface Credentials {
  db_root_password: string;
  db_password: string;
  redis_password: string;
  api_password: string;
  heartbeat_key: string;
  /** HMAC key of the proxies' stateless digest nonces (shared by both nodes) */
  sip_nonce_secret: string;
  /** Password of MariaDB's replication account (`replicator`) on a pair */
  replication_password: string;
}

export interface NgcpConfig {
  lb: LbConfig;
  proxy: ProxyConfig;
  sbc: SbcConfig;
  appserver: AppserverConfig;
  mediactl: MediactlConfig;
  rtpproxy: RtpproxyConfig;
  qos: QosConfig;
  heartbeat: HeartbeatConfig;
  api: ApiConfig;
  mediator: MediatorConfig;
  database: DatabaseConfig;
  redis: RedisConfig;
  supervision: SupervisionConfig;
  /** flood / brute-force bans at the SIP edge; optional (older config dirs) */
  security?: SecurityConfig;
  credentials: Credentials;
  hosts: Record<string, HostConfig>;
}

// ---- building blocks --------------------------------------------------------------

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const bool = { type: 'boolean' } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
/** a star code's digits (`72` in `*72*<number>`), quoted in YAML */
const vscCode = { type: 'string', pattern: '^[0-9]{1,4}$' } as const;
const nonNegInt = { type: 'integer', minimum: 0 } as const;
const ip = { type: 'string', format: 'ip' } as const;
/** A generated secret: `ngcpcfg init` replaces the shipped `@generate` placeholders. */
const secret = { type: 'string', minLength: 8, pattern: '^(?!@generate$)' } as const;

function obj<T>(properties: Record<string, unknown>): JSONSchemaType<T> {
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false } as unknown as JSONSchemaType<T>;
}

/** `schema` with `keys` no longer required: keys added by a later release, which a config dir made before them lacks (the templates supply the default). */
function optional<T>(schema: JSONSchemaType<T>, keys: string[]): JSONSchemaType<T> {
  const s = schema as unknown as { required: string[] };
  return { ...schema, required: s.required.filter((k) => !keys.includes(k)) } as JSONSchemaType<T>;
}

const interfaceSchema: JSONSchemaType<InterfaceConfig> = {
  type: 'object',
  properties: {
    ip,
    netmask: ip,
    shared_ip: { type: 'array', items: ip },
    type: { type: 'array', items: { type: 'string', enum: [...INTERFACE_TYPES] }, uniqueItems: true },
  },
  required: ['ip', 'netmask', 'shared_ip', 'type'],
  additionalProperties: false,
};

const hostName = '^[a-z][a-z0-9_-]*$';

const hostSchema: JSONSchemaType<HostConfig> = {
  type: 'object',
  properties: {
    // ajv's JSONSchemaType cannot express a required `string | null`; checked at runtime
    pair: { type: 'string', pattern: hostName, nullable: true } as never,
    peer: { type: 'string', pattern: hostName, nullable: true } as never,
    interfaces: {
      type: 'object',
      required: [],
      propertyNames: { type: 'string', pattern: '^[a-zA-Z0-9_.:-]+$' },
      additionalProperties: interfaceSchema,
    },
  },
  required: ['pair', 'peer', 'interfaces'],
  additionalProperties: false,
};

export const configSchema: JSONSchemaType<NgcpConfig> = {
  type: 'object',
  properties: {
    lb: optional(obj<LbConfig>({
      enable: bool,
      sip_port: port,
      tls_port: port,
      tls_enable: bool,
      internal_port: port,
      control_port: port,
      max_forwards: { type: 'integer', minimum: 1, maximum: 255 },
      trusted_peers: { type: 'array', items: { type: 'string', format: 'ip-or-cidr' } },
      dispatch: obj<LbDispatchConfig>({
        algorithm: { type: 'string', enum: [...LB_DISPATCH_ALGORITHMS] },
        timeout_ms: { type: 'integer', minimum: 50 },
        proxies: { type: 'array', items: obj<LbDispatchProxy>({ address: ip, port, weight: { type: 'integer', minimum: 0 } }) },
        probe: obj<LbDispatchConfig['probe']>({ interval_ms: { type: 'integer', minimum: 0 }, timeout_ms: { type: 'integer', minimum: 50 }, failures: posInt }),
      }),
      domains: obj<LbConfig['domains']>({ retry_ms: { type: 'integer', minimum: 100 } }),
      ban: obj<BanConfig>({ enable: bool, threshold: posInt, window_s: posInt, ban_s: posInt }),
    }), ['ban']),
    proxy: optional(obj<ProxyConfig>({
      enable: bool,
      port,
      control_port: port,
      workers: { type: 'integer', minimum: 0, maximum: 64 },
      min_expires: posInt,
      max_expires: posInt,
      default_expires: posInt,
      max_contacts: posInt,
      flow_timer: { type: 'integer', minimum: 0, maximum: 3600 },
      media: bool,
      call_ttl: posInt,
      nonce_ttl: posInt,
      auth_algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['MD5', 'SHA-256'] } },
      peering_attempt_timeout_ms: { type: 'integer', minimum: 100, maximum: 300_000 },
      peering_down_after: { type: 'integer', minimum: 1, maximum: 1000 },
      peering_probe_interval_ms: { type: 'integer', minimum: 100, maximum: 3_600_000 },
      peering_probe_timeout_ms: { type: 'integer', minimum: 50, maximum: 60_000 },
      peering_register_retry_min_s: { type: 'integer', minimum: 1, maximum: 3600 },
      peering_register_retry_max_s: { type: 'integer', minimum: 1, maximum: 86_400 },
      forward_max_hops: { type: 'integer', minimum: 1, maximum: 20 },
      forward_ring_timeout_s: { type: 'integer', minimum: 1, maximum: 600 },
      sbc: optional(obj({ enable: bool, profile: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' } }), ['profile']),
      vsc: optional(obj({
        enable: bool, cfu_code: vscCode, cfb_code: vscCode, cft_code: vscCode, cfna_code: vscCode, clir_code: vscCode,
      }), ['cfu_code', 'cfb_code', 'cft_code', 'cfna_code', 'clir_code']),
      announcements: obj({ enable: bool }),
      voicemail: optional(obj({ enable: bool, number: { type: 'string', pattern: '^\\+?[0-9*#]{1,32}$', nullable: true } }), ['number']),
    }), ['flow_timer', 'workers', 'peering_attempt_timeout_ms', 'peering_down_after', 'peering_probe_interval_ms', 'peering_probe_timeout_ms', 'peering_register_retry_min_s', 'peering_register_retry_max_s', 'forward_max_hops', 'forward_ring_timeout_s', 'sbc', 'vsc', 'announcements', 'voicemail']),
    sbc: optional(obj<SbcConfig>({
      enable: bool, port, control_port: port, session_timer_s: { type: 'integer', minimum: 0, maximum: 86_400 }, max_call_length_s: { type: 'integer', minimum: 0 },
      min_se_s: { type: 'integer', minimum: 1, maximum: 86_400 },
      default_profile: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
      profiles: {
        type: 'object',
        minProperties: 1,
        propertyNames: { pattern: '^[A-Za-z0-9_.-]{1,64}$' },
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          properties: {
            headers: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: "^[A-Za-z0-9!%*_+`'~.-]+$" } },
            refer: { type: 'string', enum: ['reject'] },
            max_call_length_s: { type: 'integer', minimum: 0 },
            reply_translation: {
              type: 'object',
              propertyNames: { pattern: '^[3-6][0-9]{2}$' },
              additionalProperties: {
                type: 'object',
                additionalProperties: false,
                required: ['code'],
                properties: { code: { type: 'integer', minimum: 300, maximum: 699 }, reason: { type: 'string', pattern: '^[^\\x00-\\x1f\\x7f]{1,128}$' } },
              },
            },
            codecs_deny: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: '^[A-Za-z0-9._+-]{1,32}$' } },
            session_timer_s: { type: 'integer', minimum: 0, maximum: 86_400 },
            min_se_s: { type: 'integer', minimum: 1, maximum: 86_400 },
            prepaid: { type: 'boolean', nullable: true },
          },
        },
      },
      call_ttl_s: { type: 'integer', minimum: 60 },
      prepaid: {
        type: 'object',
        nullable: true,
        additionalProperties: false,
        required: [],
        properties: {
          enable: { type: 'boolean', nullable: true },
          quota_s: { type: 'integer', minimum: 1, maximum: 86_400, nullable: true },
          stale_after_s: { type: 'integer', minimum: 1, maximum: 31_536_000, nullable: true },
        },
      },
    }), ['default_profile', 'profiles', 'call_ttl_s', 'min_se_s', 'prepaid']),
    appserver: optional(obj<AppserverConfig>({
      enable: bool, port, control_port: port, rtp_min: port, rtp_max: port,
      announce_repeat: { type: 'integer', minimum: 1, maximum: 100, nullable: true },
      sounds_dir: { type: 'string', pattern: '^/', nullable: true },
      voicemail: {
        type: 'object', nullable: true, additionalProperties: false, required: [],
        properties: {
          dir: { type: 'string', pattern: '^/', nullable: true },
          max_message_s: { type: 'integer', minimum: 1, maximum: 600, nullable: true },
          min_message_ms: { type: 'integer', minimum: 0, maximum: 60_000, nullable: true },
        },
      },
    }), ['announce_repeat', 'sounds_dir', 'voicemail']),
    mediactl: optional(obj<MediactlConfig>({
      enable: bool,
      control_port: port,
      probe_interval_ms: { type: 'integer', minimum: 50, maximum: 60_000 },
      probe_failures: { type: 'integer', minimum: 1, maximum: 100 },
      ng_timeout_ms: { type: 'integer', minimum: 50, maximum: 30_000 },
      ng_retransmit_ms: { type: 'integer', minimum: 0, maximum: 30_000, nullable: true },
      max_call_s: { type: 'integer', minimum: 60 },
    }), ['ng_retransmit_ms']),
    rtpproxy: optional(obj<RtpproxyConfig>({ enable: bool, ng_port: port, cli_port: port, minport: port, maxport: port, log_level: { type: 'integer', minimum: 0, maximum: 7 } }), ['cli_port']),
    qos: obj<QosConfig>({ tos_rtp: { type: 'integer', minimum: 0, maximum: 255 } }),
    heartbeat: optional(obj<HeartbeatConfig>({
      enable: bool,
      port,
      control_port: port,
      interval_ms: { type: 'integer', minimum: 10 },
      deadtime_ms: { type: 'integer', minimum: 50 },
      pingnodes: { type: 'array', items: ip },
      ping_method: { type: 'string', enum: ['tcp', 'arping'] },
      ping_port: port,
      ping_fall: { type: 'integer', minimum: 1, maximum: 10 },
      priority: { type: 'integer', minimum: 0, maximum: 1000 },
      switchover_timeout_ms: { type: 'integer', minimum: 100, maximum: 120_000 },
      disabled_steps: { type: 'array', items: { type: 'string', enum: ['shared_ip', 'arp', 'redis', 'media', 'mariadb', 'notify', 'jobs'] } },
      audit_interval_ms: { type: 'integer', minimum: 0, maximum: 600_000 },
      realtime_priority: { type: 'integer', minimum: 0, maximum: 99 },
    }), ['audit_interval_ms', 'ping_fall', 'realtime_priority']),
    api: optional(obj<ApiConfig>({
      enable: bool,
      port,
      user: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
      auth: obj({ cache_ttl_s: nonNegInt, cache_max: nonNegInt, token_ttl_s: posInt, realm: { type: 'string', pattern: '^[^"\\\\]{1,64}$' } }),
      bruteforce: obj({
        window_s: posInt, slow_after: nonNegInt, delay_ms: nonNegInt, max_delay_ms: nonNegInt, ban_after: posInt, ban_s: nonNegInt,
        exempt: { type: 'array', items: { type: 'string', format: 'ip-or-cidr' } },
      }),
    }), ['auth', 'bruteforce']),
    mediator: optional(obj<MediatorConfig>({
      enable: bool, control_port: port, interval_s: posInt,
      batch: { type: 'integer', minimum: 1, maximum: 100_000 }, leftover_after_s: posInt, stop_wait_s: posInt,
      acc_keep_days: { type: 'integer', minimum: 0, maximum: 36_500 },
    }), ['batch', 'leftover_after_s', 'stop_wait_s', 'acc_keep_days']),
    database: obj<DatabaseConfig>({
      enable: bool,
      port,
      name: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
      user: { type: 'string', pattern: '^[A-Za-z0-9_]+$' },
      buffer_pool_size: { type: 'string', pattern: '^[0-9]+[KMG]?$' },
      log_file_size: { type: 'string', pattern: '^[0-9]+[KMG]?$' },
    }),
    redis: obj<RedisConfig>({ enable: bool, port, databases: { type: 'integer', minimum: 1, maximum: 256 } }),
    // nullable: an empty `security:` in YAML is null; the templates fall back to their defaults
    security: { nullable: true, ...optional(obj<SecurityConfig>({
      ipban: obj<IpBanConfig>({ enable: bool, window_ms: { type: 'integer', minimum: 100, maximum: 600_000 }, max_requests: { type: 'integer', minimum: 1, maximum: 10_000_000 }, ban_s: { type: 'integer', minimum: 1, maximum: 31_536_000 } }),
      userban: obj<UserBanConfig>({ enable: bool, max_failures: { type: 'integer', minimum: 1, maximum: 100_000 }, source_max_failures: { type: 'integer', minimum: 1, maximum: 100_000 }, window_s: { type: 'integer', minimum: 1, maximum: 86_400 }, ban_s: { type: 'integer', minimum: 1, maximum: 31_536_000 } }),
      exempt: { type: 'array', items: { type: 'string', format: 'ip-or-cidr' } },
    }), ['ipban', 'userban', 'exempt']) },
    supervision: obj<SupervisionConfig>({
      restart_delay_ms: { type: 'integer', minimum: 0 },
      min_uptime_ms: { type: 'integer', minimum: 0 },
      max_restarts: posInt,
      kill_timeout_ms: posInt,
      health_timeout_ms: posInt,
    }),
    credentials: obj<Credentials>({
      db_root_password: secret,
      db_password: secret,
      redis_password: secret,
      api_password: secret,
      heartbeat_key: secret,
      sip_nonce_secret: secret,
      replication_password: secret,
    }),
    hosts: {
      type: 'object',
      required: [],
      propertyNames: { type: 'string', pattern: hostName },
      additionalProperties: hostSchema,
      minProperties: 1,
    },
  },
  required: ['lb', 'proxy', 'sbc', 'appserver', 'mediactl', 'rtpproxy', 'qos', 'heartbeat', 'api', 'mediator', 'database', 'redis', 'supervision', 'credentials', 'hosts'],
  additionalProperties: false,
};

/** The same schema with every `required` (and `minProperties`) dropped: what one file or overlay must satisfy. */
export function partialSchema(schema: unknown = configSchema): unknown {
  if (Array.isArray(schema)) return schema.map((s) => partialSchema(s));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'required' || k === 'minProperties') continue;
    out[k] = partialSchema(v);
  }
  return out;
}

/** Sections every daemon-like entry of config.yml has (used by `ngcpcfg` and the ecosystem). */
export type SectionName = Exclude<keyof NgcpConfig, 'hosts' | 'credentials' | 'security'>;
