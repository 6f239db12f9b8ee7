/**
 * A pair node's state stores and their roles, from the node's own config: the local
 * MariaDB (root over its socket) and Redis (internal address), the peer's over the
 * crosslink, the replication account. `applyRole` makes them lead or follow with the
 * functions of @ngcp/services (the same ones the HA daemon calls).
 */
import { loadConfig, mysqlSocketPath, nodeAddresses, type NgcpConfig } from '@ngcp/config';
import {
  mariadbFollow,
  mariadbLead,
  redisFollow,
  redisLead,
  replicationStatus,
  type MariaDbAdmin,
  type RedisTarget,
  type ReplicationAccount,
  type ReplicationStatus,
} from '@ngcp/services';
import type { NodeContext } from './node.js';

export const REPLICATION_USER = 'replicator';
export type StoreRole = 'lead' | 'follow';

export interface NodeStores {
  node: string;
  peer: string | null;
  mariadb?: MariaDbAdmin;
  redis?: RedisTarget;
  /** Where the peer's MariaDB and Redis answer (its crosslink address). */
  peerMariadb?: { host: string; port: number };
  peerRedis?: { host: string; port: number };
  account: ReplicationAccount;
  databases: string[];
}

export function nodeStores(cfg: NgcpConfig, node: string, mysqlSocket: string): NodeStores {
  const host = cfg.hosts[node];
  if (!host) throw new Error(`node ${node} is not a host of network.yml`);
  const a = nodeAddresses(cfg, node);
  const peer = host.peer ?? null;
  const pa = peer ? nodeAddresses(cfg, peer) : undefined;
  const peerHost = pa ? (pa.ha ?? pa.internal) : undefined;
  return {
    node,
    peer,
    ...(cfg.database.enable ? { mariadb: { socket: mysqlSocket, user: 'root', password: cfg.credentials.db_root_password } } : {}),
    ...(cfg.redis.enable ? { redis: { host: a.internal, port: cfg.redis.port, password: cfg.credentials.redis_password } } : {}),
    ...(peerHost ? { peerMariadb: { host: peerHost, port: cfg.database.port }, peerRedis: { host: peerHost, port: cfg.redis.port } } : {}),
    account: { user: REPLICATION_USER, password: cfg.credentials.replication_password },
    databases: [cfg.database.name],
  };
}

/** The stores of the node `ctx` names, from its config dir. */
export function storesOf(ctx: NodeContext): NodeStores {
  const cfg = loadConfig({ configDir: ctx.paths.configDir, node: ctx.node }).config;
  return nodeStores(cfg, ctx.node, mysqlSocketPath(ctx.paths));
}

/**
 * Redis first, then MariaDB (as the HA daemon orders a takeover). Lines describe what
 * changed; `changed` is false when both already had the role.
 */
export async function applyRole(s: NodeStores, role: StoreRole, log: (line: string) => void): Promise<{ changed: boolean }> {
  let changed = false;
  const say = (what: string, r: { changed: boolean; steps: string[] }): void => {
    changed ||= r.changed;
    log(r.changed ? `${what}: ${r.steps.join(', ')}` : `${what}: already ${role === 'lead' ? 'leads' : 'follows'}`);
  };
  if (role === 'follow' && (!s.peerMariadb || !s.peerRedis)) throw new Error(`node ${s.node} has no peer to follow`);
  if (s.redis) say('redis', role === 'lead' ? await redisLead(s.redis) : await redisFollow(s.redis, s.peerRedis!));
  if (s.mariadb) {
    say('mariadb', role === 'lead' ? await mariadbLead(s.mariadb, s.account) : await mariadbFollow(s.mariadb, s.peerMariadb!, s.account, { databases: s.databases }));
  }
  return { changed };
}

export function storesStatus(s: NodeStores): Promise<ReplicationStatus> {
  return replicationStatus({ ...(s.mariadb ? { mariadb: s.mariadb } : {}), ...(s.redis ? { redis: s.redis } : {}) });
}
