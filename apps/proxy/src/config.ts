/**
 * The proxy's rendered config (etc/ngcp/proxy.yml, from ngcp-config/templates/etc/ngcp/proxy.yml.eta):
 * its type, the ajv schema it is validated against at start, and the defaults. Keys: README.md.
 */
import type { JSONSchemaType } from 'ajv';

export interface ProxyConfig {
  /** node name (`sp1`), written into `call:<id>` as `node` */
  node: string;
  /** internal UDP listener; also the Record-Route and Via sent-by */
  listen: { address: string; udp_port: number };
  /** JSON-RPC control endpoint + /metrics */
  control: { address: string; port: number };
  /**
   * Worker processes (docs/workers.md): worker i listens on `listen.udp_port + i`; worker 0 is
   * the supervised process, runs the control endpoint and forks and restarts the others.
   */
  workers: number;
  registrar: {
    min_expires: number; max_expires: number; default_expires: number; max_contacts: number;
    /** RFC 5626 `Flow-Timer` (s) in the 200 to an outbound REGISTER: how often the UA proves its TCP/TLS flow alive; 0: not sent. */
    flow_timer: number;
    /**
     * Digest-authenticate REGISTER (default true). `false` is a benchmark/lab setting only
     * (bench/sip.mjs: the equal-work row against Kamailio's auth-less registrar): any
     * REGISTER then binds any AoR. Never rendered by ngcp-config; a warning is logged at start.
     */
    auth: boolean;
  };
  auth: {
    /** HMAC key of the stateless digest nonces (shared by every proxy that must accept them) */
    nonce_secret: string;
    nonce_ttl_s: number;
    /** Digest algorithms offered, in the order of the challenges (many UAs, sipp among them, answer only the first). */
    algorithms: Array<'MD5' | 'SHA-256'>;
  };
  /** relay media through mediactl/rtpengine; false: SDP passes untouched (benchmarks) */
  media: boolean;
  mediactl: { url: string; timeout_ms: number };
  calls: {
    /** TTL of `call:<id>`, refreshed by every in-dialog request */
    ttl_s: number;
    /**
     * Digest-authenticate initial INVITEs with 407 (default true). `false` is a benchmark/lab
     * setting only (bench/sip.mjs, the stateful-proxy row against Kamailio's auth-less proxy):
     * the caller is then the From AoR, looked up but not challenged. Never rendered by
     * ngcp-config; a warning is logged at start.
     */
    auth: boolean;
    /** call forwards (docs/routing.md): forwards one call may take at most; one more ends it with 483 (default 5) */
    forward_max_hops?: number;
    /** CFT ring timeout (s) when the forward has none; also a serial forward destination's no-answer time (default 15) */
    forward_ring_timeout_s?: number;
  };
  /** Brute-force protection of digest authentication (docs/security.md, rendered from security.userban). */
  userban: {
    enable: boolean;
    /** failed authentications of one user within window_s that ban it */
    max_failures: number;
    /** failed authentications from one source address within window_s that ban the source (at the lb) */
    source_max_failures: number;
    window_s: number;
    ban_s: number;
    /** addresses/networks never banned, whose failures ban nobody (security.exempt + lb.trusted_peers) */
    exempt: string[];
  };
  /** the lb's internal address (host:port): calls to peers leave through it (docs/routing.md); '' sends to peers directly */
  lb: string;
  /** outbound LCR and peer handling (docs/routing.md, peering/*) */
  peering?: {
    /** an attempt with neither a ringing (101-199) nor a final response within this is cancelled and the next server tried */
    attempt_timeout_ms: number;
    /** failures in a row (408, 5xx, timeout; calls and probes) that mark a server down */
    down_after: number;
    /** OPTIONS probes of down servers and of servers with probe=true, this often */
    probe_interval_ms: number;
    /** a probe without an answer within this is a failure */
    probe_timeout_ms: number;
    /** DNS servers (`ip[:port]`) for peer host names; empty: /etc/resolv.conf */
    dns_servers: string[];
    /** outbound registration (docs/routing.md): the first retry after a failure (s, default 30), doubling up to `register_retry_max_s` (default 600) */
    register_retry_min_s?: number;
    register_retry_max_s?: number;
    /**
     * The address peers reach the platform at — the lb's public listener (the shared IP on a pair) —
     * for the Contact of outbound registrations: `port` for UDP/TCP, `tls_port` for TLS. Absent: the
     * proxy's own listen address (no lb: the in-process tests).
     */
    public?: { address: string; port: number; tls_port: number } | null;
  };
  /**
   * The B2BUA (docs/sbc.md): when enabled, every initial INVITE from a subscriber or a peer is
   * authenticated here, then sent to the sbc; its B leg comes back (recognised by `address`,
   * trusted) and is routed as a call is without the sbc. Absent or `enable: false`: no sbc.
   */
  sbc?: {
    enable: boolean;
    /** the sbc's SIP listener `ip:port` */
    address: string;
    /** the profile the sbc applies (`X-NGCP-SBC-Profile`) */
    profile: string;
  };
  /**
   * The app-server (announcements, docs/routing.md "Star codes" and "Announcements"): calls go
   * to `sip:announce.<name>@<address>`. Absent or '': none (star codes are answered without an
   * announcement, failed calls get their bare final).
   */
  appserver?: { address: string };
  /** Star codes (features/vsc.ts): `enable` (default true) and the codes, digits (sip:provider's defaults 72, 90, 92, 93, 31). */
  vsc?: { enable: boolean; cfu_code: string; cfb_code: string; cft_code: string; cfna_code: string; clir_code: string };
  /** A subscriber's call that ends with 404/486/480/408/402/403 at the proxy goes to the app-server's announcement instead (default false). */
  announcements?: { enable: boolean };
  /**
   * Voicemail (docs/routing.md "Voicemail"): forwards to voicemail go to the app-server's
   * `vm-deposit.<subscriber id>`, a local subscriber dialling `number` (as dialled) to its own
   * box, `vm-retrieve.<subscriber id>`; the app-server's MWI NOTIFYs are relayed to the phones.
   * Needs `appserver.address`. Absent: enabled, number `2000`.
   */
  voicemail?: { enable: boolean; number: string };
  db: { host: string; port: number; socket?: string; user: string; password: string; database: string; pool_max: number };
  /**
   * Accounting on a node of a pair (docs/takeover.md "Accounting at a switchover"): `peer_db` is
   * the peer node's MariaDB (its crosslink address, where replication reaches it; the same
   * user, password and database as `db`), where rows go while this node is standby. Absent or
   * null (a single node): always `db`.
   */
  accounting?: { peer_db: { host: string; port: number } | null };
  redis: { host: string; port: number; password?: string; db: number };
  log: { level: string };
}

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const portOr0 = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const posInt = { type: 'integer', minimum: 1 } as const;
const str = { type: 'string', minLength: 1 } as const;
/** a star code's digits (`72` in `*72*<number>`) */
const vscCode = { type: 'string', pattern: '^[0-9]{1,4}$' } as const;
/** the voicemail number as a phone dials it: digits, `*`, `#`, a leading `+` */
export const VOICEMAIL_NUMBER_PATTERN = '^\\+?[0-9*#]{1,32}$';
const voicemailNumber = { type: 'string', pattern: VOICEMAIL_NUMBER_PATTERN } as const;

export const proxyConfigSchema: JSONSchemaType<ProxyConfig> = {
  type: 'object',
  additionalProperties: false,
  required: ['node', 'listen', 'control', 'workers', 'registrar', 'auth', 'media', 'mediactl', 'calls', 'userban', 'db', 'redis'],
  properties: {
    node: str,
    listen: {
      type: 'object', additionalProperties: false, required: ['address', 'udp_port'],
      properties: { address: str, udp_port: portOr0 },
    },
    control: {
      type: 'object', additionalProperties: false, required: ['address', 'port'],
      properties: { address: str, port: portOr0 },
    },
    workers: { type: 'integer', minimum: 1, maximum: 64 },
    registrar: {
      type: 'object', additionalProperties: false, required: ['min_expires', 'max_expires', 'default_expires', 'max_contacts', 'flow_timer', 'auth'],
      properties: { min_expires: posInt, max_expires: posInt, default_expires: posInt, max_contacts: posInt, flow_timer: { type: 'integer', minimum: 0, maximum: 3600 }, auth: { type: 'boolean' } },
    },
    auth: {
      type: 'object', additionalProperties: false, required: ['nonce_secret', 'nonce_ttl_s', 'algorithms'],
      properties: {
        nonce_secret: { type: 'string', minLength: 8 },
        nonce_ttl_s: posInt,
        algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['MD5', 'SHA-256'] } },
      },
    },
    media: { type: 'boolean' },
    mediactl: {
      type: 'object', additionalProperties: false, required: ['url', 'timeout_ms'],
      properties: { url: str, timeout_ms: posInt },
    },
    calls: {
      type: 'object', additionalProperties: false, required: ['ttl_s', 'auth'],
      properties: {
        ttl_s: posInt, auth: { type: 'boolean' },
        forward_max_hops: { type: 'integer', minimum: 1, maximum: 20, nullable: true },
        forward_ring_timeout_s: { type: 'integer', minimum: 1, maximum: 600, nullable: true },
      },
    },
    userban: {
      type: 'object', additionalProperties: false, required: ['enable', 'max_failures', 'source_max_failures', 'window_s', 'ban_s', 'exempt'],
      properties: {
        enable: { type: 'boolean' }, max_failures: { type: 'integer', minimum: 1, maximum: 100_000 }, source_max_failures: { type: 'integer', minimum: 1, maximum: 100_000 },
        window_s: { type: 'integer', minimum: 1, maximum: 86_400 }, ban_s: { type: 'integer', minimum: 1, maximum: 31_536_000 },
        exempt: { type: 'array', items: { type: 'string', format: 'ip-or-cidr' } },
      },
    },
    lb: { type: 'string' },
    peering: {
      type: 'object', additionalProperties: false, required: ['attempt_timeout_ms', 'down_after', 'probe_interval_ms', 'probe_timeout_ms', 'dns_servers'],
      properties: {
        attempt_timeout_ms: { type: 'integer', minimum: 100, maximum: 300_000 },
        down_after: { type: 'integer', minimum: 1, maximum: 1000 },
        probe_interval_ms: { type: 'integer', minimum: 100, maximum: 3_600_000 },
        probe_timeout_ms: { type: 'integer', minimum: 50, maximum: 60_000 },
        dns_servers: { type: 'array', items: str },
        register_retry_min_s: { type: 'integer', minimum: 1, maximum: 3600, nullable: true },
        register_retry_max_s: { type: 'integer', minimum: 1, maximum: 86_400, nullable: true },
        public: {
          type: 'object', nullable: true, additionalProperties: false, required: ['address', 'port', 'tls_port'],
          properties: { address: str, port, tls_port: port },
        },
      },
    },
    sbc: {
      type: 'object', additionalProperties: false, required: ['enable', 'address', 'profile'],
      properties: {
        enable: { type: 'boolean' },
        address: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]{1,5}$|^$' },
        profile: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
      },
    },
    appserver: {
      type: 'object', additionalProperties: false, required: ['address'],
      properties: { address: { type: 'string', pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[0-9.]+):[0-9]{1,5}$|^$' } },
    },
    vsc: {
      type: 'object', additionalProperties: false, required: ['enable', 'cfu_code', 'cfb_code', 'cft_code', 'cfna_code', 'clir_code'],
      properties: {
        enable: { type: 'boolean' }, cfu_code: vscCode, cfb_code: vscCode, cft_code: vscCode, cfna_code: vscCode, clir_code: vscCode,
      },
    },
    announcements: {
      type: 'object', additionalProperties: false, required: ['enable'],
      properties: { enable: { type: 'boolean' } },
    },
    voicemail: {
      type: 'object', additionalProperties: false, required: ['enable', 'number'],
      properties: { enable: { type: 'boolean' }, number: voicemailNumber },
    },
    db: {
      type: 'object', additionalProperties: false, required: ['host', 'port', 'user', 'password', 'database', 'pool_max'],
      properties: {
        host: str, port, socket: { type: 'string', nullable: true }, user: str, password: { type: 'string' }, database: str, pool_max: posInt,
      },
    },
    accounting: {
      type: 'object', additionalProperties: false, required: ['peer_db'],
      properties: {
        peer_db: {
          type: 'object', nullable: true, additionalProperties: false, required: ['host', 'port'],
          properties: { host: str, port },
        },
      },
    },
    redis: {
      type: 'object', additionalProperties: false, required: ['host', 'port', 'db'],
      properties: { host: str, port, password: { type: 'string', nullable: true }, db: { type: 'integer', minimum: 0 } },
    },
    log: {
      type: 'object', additionalProperties: false, required: ['level'],
      properties: { level: { type: 'string', enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] } },
    },
  },
} as unknown as JSONSchemaType<ProxyConfig>;

/** Defaults for keys the rendered file may leave out (not for addresses or secrets). */
export const proxyConfigDefaults = {
  node: 'sp1',
  workers: 1,
  registrar: { min_expires: 60, max_expires: 43200, default_expires: 3600, max_contacts: 10, flow_timer: 15, auth: true },
  auth: { nonce_ttl_s: 300, algorithms: ['MD5', 'SHA-256'] as Array<'MD5' | 'SHA-256'> },
  media: true,
  mediactl: { timeout_ms: 2000 },
  calls: { ttl_s: 7200, auth: true },
  // a hand-written proxy.yml without the key (the benches) runs without it; config.yml's security.userban turns it on
  userban: { enable: false, max_failures: 5, source_max_failures: 20, window_s: 300, ban_s: 3600, exempt: [] as string[] },
  lb: '',
  peering: { attempt_timeout_ms: 5000, down_after: 3, probe_interval_ms: 10_000, probe_timeout_ms: 2000, dns_servers: [] as string[], register_retry_min_s: 30, register_retry_max_s: 600 },
  sbc: { enable: false, address: '', profile: 'default' },
  appserver: { address: '' },
  vsc: { enable: true, cfu_code: '72', cfb_code: '90', cft_code: '92', cfna_code: '93', clir_code: '31' },
  announcements: { enable: false },
  voicemail: { enable: true, number: '2000' },
  log: { level: 'info' },
} as const;
