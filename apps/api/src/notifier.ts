/**
 * Change notifications for the SIP daemons' caches: after a commit, PUBLISH on
 * `ngcp:changes` a JSON `{entity, id, op, ts}` (see packages/db/REDIS.md). Best effort: if
 * Redis is unreachable the change is still committed; daemons reload everything at start
 * and after a reconnect.
 */
import type { Redis } from 'ioredis';
import { publishChange, type ChangeNotification, type ChangeOp } from '@ngcp/db';

export class Notifier {
  readonly stats = { published: 0, failed: 0 };

  constructor(
    private readonly redis: Redis,
    private readonly onError: (err: unknown, n: ChangeNotification) => void,
    private readonly now: () => number = Date.now,
  ) {}

  publish(entity: string, id: number | string, op: ChangeOp): void {
    const ts = this.now();
    publishChange(this.redis, entity, id, op, ts).then(
      () => {
        this.stats.published++;
      },
      (err: unknown) => {
        this.stats.failed++;
        this.onError(err, { entity, id, op, ts });
      },
    );
  }
}
