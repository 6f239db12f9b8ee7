/**
 * mediactl's own config: the rendered `etc/ngcp/mediactl.yml` (template
 * ngcp-config/templates/etc/ngcp/mediactl.yml.eta), its JSON Schema (ajv, checked once at
 * start by the daemon skeleton) and the defaults of the keys a hand-written file may omit.
 */
import { commonSchemas, type ControlConfig, type JSONSchemaType, type LogConfig, type RedisConnConfig } from '@ngcp/daemon';

/** One rtpengine the controller may use. */
export interface RtpengineTarget {
  /** Stable name, stored in Redis `media:<call-id>`; default: the `ng` address itself. */
  id?: string;
  /** The ng control listener, `IPv4:port` (rtpengine-client speaks UDP over IPv4). */
  ng: string;
  /** Share of new calls; 0 = drain (no new calls, existing calls stay). Default 1. */
  weight?: number;
}

export type MediactlRedisConfig = RedisConnConfig;

export interface MediactlConfig {
  /** Name of this node (log field). */
  node: string;
  /** JSON-RPC control endpoint and `/metrics`. */
  control: ControlConfig;
  log: LogConfig;
  rtpengines: RtpengineTarget[];
  /** Where `media:<call-id>` pins live. */
  redis: MediactlRedisConfig;
  /** ng `ping` to every instance this often. */
  probe_interval_ms: number;
  /** An instance is down after this many missed pings (or timed-out requests) in a row; up on the next pong. */
  probe_failures: number;
  /** Per ng request, retransmissions included: the longest any media.* call waits for rtpengine. */
  ng_timeout_ms: number;
  /** An unanswered ng request is sent again (same cookie) after this many ms, then after each doubled wait, within `ng_timeout_ms`; 0 = never. */
  ng_retransmit_ms: number;
  /** TTL of `media:<call-id>` (the longest call), refreshed by offer/answer. */
  max_call_s: number;
}

const ipv4 = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)(?:\\.(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)){3}';

export const mediactlSchema: JSONSchemaType<MediactlConfig> = {
  type: 'object',
  properties: {
    node: { type: 'string', minLength: 1 },
    control: commonSchemas.control,
    log: commonSchemas.log,
    rtpengines: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_.:-]+$', nullable: true },
          ng: { type: 'string', pattern: `^${ipv4}:\\d{1,5}$` },
          weight: { type: 'integer', minimum: 0, maximum: 1000, nullable: true },
        },
        required: ['ng'],
        additionalProperties: false,
      },
    },
    redis: commonSchemas.redis,
    probe_interval_ms: { type: 'integer', minimum: 50, maximum: 60_000 },
    probe_failures: { type: 'integer', minimum: 1, maximum: 100 },
    ng_timeout_ms: { type: 'integer', minimum: 50, maximum: 30_000 },
    ng_retransmit_ms: { type: 'integer', minimum: 0, maximum: 30_000 },
    max_call_s: { type: 'integer', minimum: 60 },
  },
  required: ['node', 'control', 'log', 'rtpengines', 'redis', 'probe_interval_ms', 'probe_failures', 'ng_timeout_ms', 'ng_retransmit_ms', 'max_call_s'],
  additionalProperties: false,
};

/** Keys a hand-written file may omit (the rendered file has them all). */
export const mediactlDefaults = {
  node: 'self',
  log: { level: 'info' },
  probe_interval_ms: 1000,
  probe_failures: 3,
  ng_timeout_ms: 2000,
  ng_retransmit_ms: 250,
  max_call_s: 21_600,
} as const satisfies Partial<MediactlConfig>;

/** A target with its id, weight and ng address resolved. */
export interface ResolvedTarget {
  id: string;
  host: string;
  port: number;
  ng: string;
  weight: number;
}

/** Problems of the `rtpengines` list the schema cannot see: an unparsable port, an id used twice. */
export function targetProblems(targets: readonly RtpengineTarget[]): Array<{ path: string; message: string }> {
  const problems: Array<{ path: string; message: string }> = [];
  const seen = new Set<string>();
  targets.forEach((t, i) => {
    const m = /^(.+):(\d+)$/.exec(t.ng);
    const port = m ? Number(m[2]) : NaN;
    if (!m || !(port >= 1 && port <= 65535)) problems.push({ path: `rtpengines[${i}].ng`, message: `'${t.ng}' is not IPv4:port` });
    const id = t.id ?? t.ng;
    if (seen.has(id)) problems.push({ path: `rtpengines[${i}].id`, message: `'${id}' is used twice` });
    seen.add(id);
  });
  return problems;
}

/** Ids, weights and addresses of the configured instances; throws naming the entry on a bad or duplicate one. */
export function resolveTargets(targets: readonly RtpengineTarget[]): ResolvedTarget[] {
  const [problem] = targetProblems(targets);
  if (problem) throw new Error(`${problem.path}: ${problem.message}`);
  return targets.map((t) => {
    const [, host, port] = /^(.+):(\d+)$/.exec(t.ng) as RegExpExecArray;
    return { id: t.id ?? t.ng, host: host as string, port: Number(port), ng: t.ng, weight: t.weight ?? 1 };
  });
}
