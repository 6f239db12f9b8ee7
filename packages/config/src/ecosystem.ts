/**
 * The processes of a node under pm2, derived from the config: each daemon of `apps/`
 * that is built and enabled, plus the node's own MariaDB, Redis and rtpengine. Each
 * becomes one rendered file `etc/ngcp/services/<name>.json` (its pm2 app and its health
 * check), so a changed definition restarts exactly that process; `etc/ngcp/ecosystem.json`
 * gathers the pm2 apps for a person (`PM2_HOME=var/pm2 PM2_KILL_SIGNAL=SIGTERM pm2 start
 * etc/ngcp/ecosystem.json`). pm2 stops processes with the signal its daemon was started
 * with (PM2_KILL_SIGNAL, SIGINT by default, which MariaDB ignores): we start it with SIGTERM.
 */
import { join } from 'node:path';
import type { NodeAddresses } from './network.js';
import type { NodePaths } from './paths.js';
import type { NgcpConfig } from './schema.js';

export type HealthCheck =
  | { kind: 'tcp'; host: string; port: number }
  /** AUTH + PING answers +PONG. */
  | { kind: 'redis'; host: string; port: number; password: string }
  /** The server sends its protocol-10 greeting. */
  | { kind: 'mysql'; host: string; port: number }
  /** rtpengine ng `ping` answers `pong`. */
  | { kind: 'ng'; host: string; port: number }
  /** Any HTTP(S) answer below 500 (self-signed certificates accepted). */
  | { kind: 'http'; url: string }
  /** JSON-RPC 2.0 `health` over HTTP POST answers a result. */
  | { kind: 'jsonrpc'; url: string };

export interface Pm2App {
  name: string;
  script: string;
  args: string[];
  interpreter: string;
  /** V8 flags for Node daemons */
  node_args?: string[];
  exec_mode: 'fork';
  cwd: string;
  env: Record<string, string>;
  autorestart: true;
  restart_delay: number;
  min_uptime: number;
  max_restarts: number;
  kill_timeout: number;
  out_file: string;
  error_file: string;
  merge_logs: true;
  time: true;
}

export interface ServiceSpec {
  name: string;
  /** Start / restart order: the HA daemon first, the public entry and the API last. */
  order: number;
  pm2: Pm2App;
  health: HealthCheck;
  /** How long to wait for `health` after a (re)start. */
  healthTimeoutMs: number;
}

/** Node daemons (apps/<name>/dist/main.js), their config section and start order. */
export const DAEMONS = [
  { name: 'hbd', section: 'heartbeat', order: 10 },
  { name: 'mediactl', section: 'mediactl', order: 40 },
  { name: 'proxy', section: 'proxy', order: 50 },
  { name: 'sbc', section: 'sbc', order: 51 },
  { name: 'appserver', section: 'appserver', order: 52 },
  { name: 'lb', section: 'lb', order: 60 },
  { name: 'mediator', section: 'mediator', order: 70 },
  { name: 'api', section: 'api', order: 80 },
] as const;

/**
 * V8 flags of the SIP daemons: a larger young generation (64 MB semi-spaces instead of 16),
 * so the short-lived objects of each message die in scavenges instead of being promoted
 * and collected by the slower mark-compact (measured: registrar CPU at 4000 REGISTER/s
 * 50–62 % → 44 %; bench/README.md).
 */
export const SIP_DAEMON_NODE_ARGS: readonly string[] = ['--max-semi-space-size=64'];
const SIP_DAEMONS: ReadonlySet<string> = new Set(['lb', 'proxy', 'sbc']);

export const INFRA_ORDER = { mariadb: 20, redis: 21, rtpengine: 30 } as const;

export interface Binaries {
  mariadbd?: string;
  redisServer?: string;
  rtpengine?: string;
}

export interface EcosystemInput {
  cfg: NgcpConfig;
  node: string;
  addr: NodeAddresses;
  hasPeer: boolean;
  paths: NodePaths;
  /** Built daemons: name → entry script (apps/<name>/dist/main.js). */
  apps: Record<string, string>;
  bins: Binaries;
  /** Node executable for the daemons. */
  nodeBin: string;
  /** Working directory of the daemons (the checkout). */
  cwd: string;
}

export function serviceSpecs(input: EcosystemInput): ServiceSpec[] {
  const { cfg, addr, paths } = input;
  const sup = cfg.supervision;
  const app = (name: string, script: string, args: string[], interpreter: string, env: Record<string, string>, killMs = sup.kill_timeout_ms): Pm2App => ({
    name,
    script,
    args,
    interpreter,
    exec_mode: 'fork',
    cwd: input.cwd,
    env: { NGCP_NODE: input.node, NGCP_ROOT: paths.root, ...env },
    autorestart: true,
    restart_delay: sup.restart_delay_ms,
    min_uptime: sup.min_uptime_ms,
    max_restarts: sup.max_restarts,
    kill_timeout: killMs,
    out_file: join(paths.log, `${name}.log`),
    error_file: join(paths.log, `${name}.log`),
    merge_logs: true,
    time: true,
  });
  const out: ServiceSpec[] = [];
  const etc = (p: string): string => join(paths.etc, p);

  if (cfg.database.enable && input.bins.mariadbd) {
    out.push({
      name: 'mariadb',
      order: INFRA_ORDER.mariadb,
      pm2: app('mariadb', input.bins.mariadbd, [`--defaults-file=${etc('mysql/my.cnf')}`], 'none', {}, Math.max(sup.kill_timeout_ms, 30_000)),
      health: { kind: 'mysql', host: addr.internal, port: cfg.database.port },
      healthTimeoutMs: Math.max(sup.health_timeout_ms, 60_000),
    });
  }
  if (cfg.redis.enable && input.bins.redisServer) {
    out.push({
      name: 'redis',
      order: INFRA_ORDER.redis,
      pm2: app('redis', input.bins.redisServer, [etc('redis/redis.conf')], 'none', {}),
      health: { kind: 'redis', host: addr.internal, port: cfg.redis.port, password: cfg.credentials.redis_password },
      healthTimeoutMs: sup.health_timeout_ms,
    });
  }
  if (cfg.rtpproxy.enable && input.bins.rtpengine) {
    out.push({
      name: 'rtpengine',
      order: INFRA_ORDER.rtpengine,
      pm2: app('rtpengine', input.bins.rtpengine, [`--config-file=${etc('rtpengine/rtpengine.conf')}`, '--config-section=rtpengine'], 'none', {}),
      health: { kind: 'ng', host: addr.internal, port: cfg.rtpproxy.ng_port },
      healthTimeoutMs: sup.health_timeout_ms,
    });
  }
  for (const d of DAEMONS) {
    const entry = input.apps[d.name];
    if (!entry || !cfg[d.section].enable) continue;
    if (d.name === 'hbd' && !input.hasPeer) continue;
    const env = { [`NGCP_${d.name.toUpperCase()}_CONFIG`]: etc(`ngcp/${d.name}.yml`) };
    const health: HealthCheck =
      d.name === 'api'
        ? { kind: 'http', url: `https://${urlHost(input.hasPeer ? addr.own : addr.web)}:${cfg.api.port}/` }
        : { kind: 'jsonrpc', url: `http://${urlHost(addr.internal)}:${(cfg[d.section] as { control_port: number }).control_port}/` };
    // hbd stopping on the active node first hands the role to the peer (bounded by switchover_timeout_ms), then runs its standby steps.
    const killMs = d.name === 'hbd' ? Math.max(sup.kill_timeout_ms, cfg.heartbeat.switchover_timeout_ms + 10_000) : sup.kill_timeout_ms;
    const pm2 = app(d.name, entry, [], input.nodeBin, env, killMs);
    if (SIP_DAEMONS.has(d.name)) pm2.node_args = [...SIP_DAEMON_NODE_ARGS];
    out.push({ name: d.name, order: d.order, pm2, health, healthTimeoutMs: sup.health_timeout_ms });
  }
  return out.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

function urlHost(ip: string): string {
  return ip.includes(':') ? `[${ip}]` : ip;
}
