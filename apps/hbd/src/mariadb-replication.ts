/**
 * The MariaDB step of a pair node whose config names the peer's server and the
 * replication account: real GTID replication through the functions `ngcp up --role` and
 * `ngcp lab role` use (@ngcp/services `mariadbLead` / `mariadbFollow`).
 *
 * - activate: stop any follow attempt, then `mariadbLead` (apply the relay log, stop
 *   following, replication account, `read_only=0`).
 * - deactivate: `read_only=1` at once (the node is no writer from this moment), then follow
 *   the peer in the background: `mariadbFollow` (GTID `slave_pos`, re-seed when the
 *   histories diverged), retried every `retry_ms` until it holds — the peer may be dead, or
 *   still becoming active. A failure is reported through `onBackgroundFailure` (logged and
 *   counted like the other steps') and retried; it never holds up a later change of role.
 */
import { createConnection } from 'mysql2/promise';
import { mariadbFollow, mariadbLead, type MariaDbAdmin, type ReplicationAccount } from '@ngcp/services';
import type { HbdConfig } from './config.js';
import { readOnlyDrift, StepError, type HaStep, type StepContext } from './steps.js';

export interface MariadbReplicationDeps {
  lead: typeof mariadbLead;
  follow: typeof mariadbFollow;
  setReadOnly(admin: MariaDbAdmin, timeoutMs: number): Promise<void>;
}

async function setReadOnly(admin: MariaDbAdmin, timeoutMs: number): Promise<void> {
  const conn = await createConnection({
    ...(admin.socket ? { socketPath: admin.socket } : { host: admin.host, port: admin.port }),
    user: admin.user, password: admin.password, connectTimeout: timeoutMs,
  });
  try {
    await conn.query({ sql: 'SET GLOBAL read_only = 1', timeout: timeoutMs });
  } finally {
    await conn.end().catch(() => undefined);
  }
}

const DEFAULT_DEPS: MariadbReplicationDeps = { lead: mariadbLead, follow: mariadbFollow, setReadOnly };

/** Whether the config asks for real replication (the peer and the account are named). */
export function replicates(cfg: Pick<HbdConfig, 'mariadb'>): boolean {
  const m = cfg.mariadb;
  return !!(m && m.peer_host && m.peer_port && m.replication_user && m.replication_password !== undefined && m.replication_password !== null);
}

export function mariadbReplicationStep(cfg: Pick<HbdConfig, 'mariadb' | 'step_timeout_ms'>, deps: MariadbReplicationDeps = DEFAULT_DEPS, retryMs = 2000): HaStep & { following(): boolean } {
  const m = cfg.mariadb!;
  const admin: MariaDbAdmin = m.socket ? { socket: m.socket, user: m.user, password: m.password } : { host: m.host, port: m.port, user: m.user, password: m.password };
  const account: ReplicationAccount = { user: m.replication_user!, password: m.replication_password! };
  const peer = { host: m.peer_host!, port: m.peer_port! };
  const databases = m.databases ?? [];
  const where = m.socket ?? `${m.host}:${m.port}`;
  // the background follower: one at a time; `generation` cancels it
  let generation = 0;
  let attempt: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | null = null;
  let follows = false;

  const stopFollowing = async (): Promise<void> => {
    generation++;
    if (timer) clearTimeout(timer);
    timer = null;
    await attempt;
  };

  const followLoop = (gen: number, ctx: StepContext): void => {
    if (gen !== generation) return;
    attempt = (async () => {
      try {
        const r = await deps.follow(admin, peer, account, { databases, waitMs: Math.max(3000, cfg.step_timeout_ms) });
        if (gen !== generation) return;
        follows = true;
        void r;
      } catch (e) {
        if (gen !== generation) return;
        ctx.onBackgroundFailure?.(new StepError('mariadb', `follow ${peer.host}:${peer.port}: ${(e as Error).message} (retrying in ${retryMs} ms)`, { cause: e }));
        timer = setTimeout(() => followLoop(gen, ctx), retryMs);
        timer.unref?.();
      }
    })();
  };

  return {
    name: 'mariadb',
    following: () => follows,
    // writability only: following is the background loop's own business (it retries until it holds)
    check: (role) => readOnlyDrift(m, role, cfg.step_timeout_ms),
    async activate() {
      await stopFollowing();
      follows = false;
      try {
        await deps.lead(admin, account);
      } catch (e) {
        throw new StepError('mariadb', `${where}: lead: ${(e as Error).message}`, { cause: e });
      }
    },
    async deactivate(ctx) {
      await stopFollowing();
      follows = false;
      try {
        await deps.setReadOnly(admin, cfg.step_timeout_ms);
      } catch (e) {
        throw new StepError('mariadb', `${where}: read_only=1: ${(e as Error).message}`, { cause: e });
      } finally {
        followLoop(generation, ctx);
      }
    },
  };
}
