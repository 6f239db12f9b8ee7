/**
 * hbd's own config: the rendered `etc/ngcp/hbd.yml` (template
 * ngcp-config/templates/etc/ngcp/hbd.yml.eta), its JSON Schema (checked once at start by
 * the daemon skeleton) and the defaults of the keys a hand-written file may omit.
 */
import { commonSchemas, type ControlConfig, type JSONSchemaType, type LogConfig } from '@ngcp/daemon';

/** The steps of a role change, in the order of becoming active (standby: the reverse). */
export const STEP_NAMES = ['shared_ip', 'arp', 'redis', 'media', 'mariadb', 'notify', 'jobs'] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** One heartbeat path: a UDP socket on `address:port` that sends to `peer_address:port`. */
export interface PathConfig {
  /** `crosslink` or `bridge` (log field, metric label). */
  name: string;
  address: string;
  peer_address: string;
  port: number;
}

/** A shared service IP: `ip addr add <ip>/<prefix> dev <dev> label <dev>:ha`. */
export interface SharedIpConfig {
  ip: string;
  prefix: number;
  dev: string;
}

export interface PingConfig {
  /** `tcp`: connect to `port` (an answer, even a refusal, is reachable); `arping`: one ARP request on `dev`. */
  method: 'tcp' | 'arping';
  port: number;
  dev?: string | null;
  interval_ms: number;
  timeout_ms: number;
  /** Failed probes in a row before a ping node counts as unreached (default 2). */
  fall?: number;
}

export interface HbdRedisConfig {
  host: string;
  port: number;
  password?: string | null;
  /** The peer's Redis, which this one replicates while standby (null: only promote). */
  peer_host?: string | null;
  peer_port?: number | null;
}

/**
 * This node's rtpengine, told its role over its CLI (`listen-cli`): active = take over
 * every call learned from Redis (`active`) and stop listening to the keyspace (`ksrm`);
 * standby = hand every call back (`standby`) and learn the active's calls (`ksadd`).
 */
export interface HbdMediaConfig {
  cli_host: string;
  cli_port: number;
  /** The Redis DB rtpengine writes its calls to and the standby learns them from. */
  keyspace: number;
}

export interface HbdMariadbConfig {
  host: string;
  port: number;
  socket?: string | null;
  user: string;
  password: string;
  /** The peer's server (its crosslink address): with the account below, standby = GTID replication from it. */
  peer_host?: string | null;
  peer_port?: number | null;
  replication_user?: string | null;
  replication_password?: string | null;
  /** What a re-seed copies from the peer (the provisioning database). */
  databases?: string[] | null;
}

/** A daemon told about role changes over its control RPC (`ha.role`). */
export interface NotifyTarget {
  name: string;
  url: string;
}

/** A singleton job: `start` runs on becoming active, `stop` on becoming standby (argv, no shell). */
export interface JobConfig {
  name: string;
  start: string[];
  stop: string[];
}

export interface HbdConfig {
  node: string;
  peer: string;
  /** Tie-break when epochs and ping counts are equal: the higher priority wins, then the lower node id. */
  priority: number;
  control: ControlConfig;
  log: LogConfig;
  interval_ms: number;
  deadtime_ms: number;
  /** HMAC-SHA256 key of the heartbeats (credentials.heartbeat_key). */
  key: string;
  paths: PathConfig[];
  pingnodes: string[];
  ping: PingConfig;
  shared_ips: SharedIpConfig[];
  redis?: HbdRedisConfig | null;
  media?: HbdMediaConfig | null;
  mariadb?: HbdMariadbConfig | null;
  notify: NotifyTarget[];
  jobs: JobConfig[];
  disabled_steps: StepName[];
  /** make_standby / SIGTERM on the active: how long to wait for the peer to take over. */
  switchover_timeout_ms: number;
  /** Each step (one command, one Redis/MariaDB statement, one RPC) is bounded by this. */
  step_timeout_ms: number;
  /** Every this often (0: never) the steps' checks compare the world with the role and re-run a step that drifted. */
  audit_interval_ms: number;
  /** Scheduling priority hbd gives itself at start (-20..19; below 0 needs root), so busy neighbours cannot starve its beats. */
  nice: number;
  /**
   * SCHED_RR real-time priority (1-99) hbd gives every thread of itself at start, with
   * reset-on-fork so the commands it runs stay ordinary; 0: none (only \`nice\`). Needs root
   * (CAP_SYS_NICE); refused → a warning and \`nice\` alone.
   */
  realtime_priority: number;
}

const ipv4 = { type: 'string', format: 'ip' } as const;
const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;
const dev = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,12}$' } as const;
const argv = { type: 'array', items: { type: 'string', minLength: 1 } } as const;

export const hbdSchema: JSONSchemaType<HbdConfig> = {
  type: 'object',
  properties: {
    node: { type: 'string', minLength: 1, maxLength: 64 },
    peer: { type: 'string', minLength: 1, maxLength: 64 },
    priority: { type: 'integer', minimum: 0, maximum: 1000 },
    control: commonSchemas.control,
    log: commonSchemas.log,
    interval_ms: { type: 'integer', minimum: 10, maximum: 10_000 },
    deadtime_ms: { type: 'integer', minimum: 30, maximum: 60_000 },
    key: { type: 'string', minLength: 16 },
    paths: {
      type: 'array',
      minItems: 1,
      maxItems: 4,
      items: {
        type: 'object',
        properties: { name: { type: 'string', pattern: '^[a-z0-9_]+$' }, address: ipv4, peer_address: ipv4, port },
        required: ['name', 'address', 'peer_address', 'port'],
        additionalProperties: false,
      },
    },
    pingnodes: { type: 'array', items: ipv4 },
    ping: {
      type: 'object',
      properties: {
        method: { type: 'string', enum: ['tcp', 'arping'] },
        port,
        dev: { ...dev, nullable: true },
        interval_ms: { type: 'integer', minimum: 20, maximum: 60_000 },
        timeout_ms: { type: 'integer', minimum: 10, maximum: 10_000 },
        fall: { type: 'integer', minimum: 1, maximum: 10, nullable: true },
      },
      required: ['method', 'port', 'interval_ms', 'timeout_ms'],
      additionalProperties: false,
    },
    shared_ips: {
      type: 'array',
      items: {
        type: 'object',
        properties: { ip: ipv4, prefix: { type: 'integer', minimum: 0, maximum: 32 }, dev },
        required: ['ip', 'prefix', 'dev'],
        additionalProperties: false,
      },
    },
    redis: {
      type: 'object',
      nullable: true,
      properties: {
        host: { type: 'string', minLength: 1 },
        port,
        password: { type: 'string', nullable: true },
        peer_host: { type: 'string', minLength: 1, nullable: true },
        peer_port: { ...port, nullable: true },
      },
      required: ['host', 'port'],
      additionalProperties: false,
    },
    media: {
      type: 'object',
      nullable: true,
      properties: { cli_host: { type: 'string', minLength: 1 }, cli_port: port, keyspace: { type: 'integer', minimum: 0, maximum: 15 } },
      required: ['cli_host', 'cli_port', 'keyspace'],
      additionalProperties: false,
    },
    mariadb: {
      type: 'object',
      nullable: true,
      properties: {
        host: { type: 'string', minLength: 1 },
        port,
        socket: { type: 'string', nullable: true },
        user: { type: 'string', minLength: 1 },
        password: { type: 'string' },
        peer_host: { type: 'string', minLength: 1, nullable: true },
        peer_port: { ...port, nullable: true },
        replication_user: { type: 'string', minLength: 1, nullable: true },
        replication_password: { type: 'string', nullable: true },
        databases: { type: 'array', items: { type: 'string', minLength: 1 }, nullable: true },
      },
      required: ['host', 'port', 'user', 'password'],
      additionalProperties: false,
    },
    notify: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1 }, url: { type: 'string', pattern: '^http://' } },
        required: ['name', 'url'],
        additionalProperties: false,
      },
    },
    jobs: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string', minLength: 1 }, start: argv, stop: argv },
        required: ['name', 'start', 'stop'],
        additionalProperties: false,
      },
    },
    disabled_steps: { type: 'array', items: { type: 'string', enum: [...STEP_NAMES] } },
    switchover_timeout_ms: { type: 'integer', minimum: 100, maximum: 120_000 },
    step_timeout_ms: { type: 'integer', minimum: 100, maximum: 120_000 },
    nice: { type: 'integer', minimum: -20, maximum: 19 },
    realtime_priority: { type: 'integer', minimum: 0, maximum: 99 },
    audit_interval_ms: { type: 'integer', minimum: 0, maximum: 600_000 },
  },
  required: [
    'node', 'peer', 'priority', 'control', 'log', 'interval_ms', 'deadtime_ms', 'key', 'paths', 'pingnodes', 'ping',
    'shared_ips', 'notify', 'jobs', 'disabled_steps', 'switchover_timeout_ms', 'step_timeout_ms', 'nice',
    'audit_interval_ms', 'realtime_priority',
  ],
  additionalProperties: false,
};

/** Keys a hand-written file may omit (the rendered file has them all). */
export const hbdDefaults = {
  priority: 100,
  log: { level: 'info' },
  interval_ms: 100,
  deadtime_ms: 300,
  pingnodes: [],
  ping: { method: 'tcp', port: 7, interval_ms: 200, timeout_ms: 150, fall: 2 },
  shared_ips: [],
  notify: [],
  jobs: [],
  disabled_steps: [],
  switchover_timeout_ms: 5000,
  step_timeout_ms: 3000,
  nice: -10,
  realtime_priority: 10,
  audit_interval_ms: 2000,
} as const satisfies Partial<HbdConfig>;

/** Cross-key problems the schema cannot see. */
export function hbdProblems(c: HbdConfig): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  if (c.deadtime_ms < 2 * c.interval_ms) out.push({ path: 'deadtime_ms', message: `must be at least twice interval_ms (${c.interval_ms})` });
  if (c.node === c.peer) out.push({ path: 'peer', message: 'must differ from node' });
  const names = new Set<string>();
  c.paths.forEach((p, i) => {
    if (names.has(p.name)) out.push({ path: `paths[${i}].name`, message: `'${p.name}' is used twice` });
    names.add(p.name);
  });
  if (c.ping.method === 'arping' && !c.ping.dev && c.pingnodes.length > 0) out.push({ path: 'ping.dev', message: 'arping needs the device the ping nodes are on' });
  return out;
}
