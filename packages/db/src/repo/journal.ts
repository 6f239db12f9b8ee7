/**
 * The audit journal (table `journal`) and the change notifications that follow a committed
 * write (`ngcp:changes`, REDIS.md): written the same way by every writer — the API for each
 * resource, the proxy for star codes.
 */
import type { Knex } from 'knex';
import { CHANGES_CHANNEL, type ChangeNotification, type ChangeOp } from '../redis-keys.js';

/** Who made a change: an API user (`api_user_id`, login, role) or a subscriber through its phone (no API user). */
export interface JournalActor { apiUserId: number | null; login: string; role: string; remoteAddr: string | null }

export interface JournalChange { entity: string; entityId: number | string; op: ChangeOp; content: unknown }

/** One journal row (inside the writer's transaction): the object after the change (before it, for a delete). */
export async function insertJournal(db: Knex, actor: JournalActor, change: JournalChange): Promise<void> {
  await db('journal').insert({
    api_user_id: actor.apiUserId, login: actor.login, role: actor.role, remote_addr: actor.remoteAddr,
    entity: change.entity, entity_id: String(change.entityId), op: change.op, content: JSON.stringify(change.content),
  });
}

/** What `publishChange` needs of a Redis client (ioredis has it). */
export interface ChangePublisher { publish(channel: string, message: string): Promise<unknown> }

/**
 * Announce a committed change on `ngcp:changes` (JSON `ChangeNotification`), so the daemons drop
 * what they cached of it. Best effort: the caller decides what a failure means.
 */
export function publishChange(redis: ChangePublisher, entity: string, id: number | string, op: ChangeOp, ts: number = Date.now()): Promise<ChangeNotification> {
  const n: ChangeNotification = { entity, id, op, ts };
  return redis.publish(CHANGES_CHANNEL, JSON.stringify(n)).then(() => n);
}
