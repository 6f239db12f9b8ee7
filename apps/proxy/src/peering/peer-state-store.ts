/**
 * Peering server states in Redis `peer:state` (packages/db/REDIS.md), shared by every proxy
 * worker and both nodes: a proxy that marks a server down or up writes it; every proxy reads
 * the hash on each probe round and takes over the states newer than its own (peer-health.ts
 * `apply`). So a server found dead by one worker is skipped by all within a probe interval,
 * and the node that becomes active knows it at once. Writes never hold up SIP; on the standby
 * (read-only replica) they fail and are counted.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { redisKeys, type PeerServerState } from '@ngcp/db';

export class PeerStateStore {
  readonly stats = { written: 0, failed: 0, read: 0, malformed: 0 };
  private failing = false;

  constructor(private readonly redis: Redis, private readonly node: string, private readonly log: Logger) {}

  write(id: number, down: boolean, at: number): void {
    const v: PeerServerState = { state: down ? 'down' : 'up', at, node: this.node };
    this.redis.hset(redisKeys.peerState(), String(id), JSON.stringify(v)).then(
      () => {
        this.stats.written++;
        this.failing = false;
      },
      (err: Error) => {
        this.stats.failed++;
        if (!this.failing) this.log.warn({ err: err.message }, 'peer state not written to Redis');
        this.failing = true;
      },
    );
  }

  /** Every state in the hash; malformed fields are skipped. Throws when Redis fails. */
  async read(): Promise<Array<{ id: number; down: boolean; at: number }>> {
    const h = await this.redis.hgetall(redisKeys.peerState());
    this.stats.read++;
    const out: Array<{ id: number; down: boolean; at: number }> = [];
    for (const [k, v] of Object.entries(h)) {
      try {
        const s = JSON.parse(v) as PeerServerState;
        const id = Number(k);
        if (!Number.isInteger(id) || (s.state !== 'up' && s.state !== 'down') || typeof s.at !== 'number') throw new Error('bad');
        out.push({ id, down: s.state === 'down', at: s.at });
      } catch {
        this.stats.malformed++;
      }
    }
    return out;
  }

  /** Drop the states of servers that no longer exist. */
  prune(keep: ReadonlySet<number>, present: readonly number[]): void {
    const gone = present.filter((id) => !keep.has(id)).map(String);
    if (gone.length > 0) this.redis.hdel(redisKeys.peerState(), ...gone).catch(() => undefined);
  }
}
