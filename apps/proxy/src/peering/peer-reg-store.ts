/**
 * The registration agent's state in Redis `peerreg:<server id>` (packages/db/REDIS.md, JSON
 * `PeerRegistration`): written before every REGISTER and on every answer, so the agent of the
 * node that becomes active carries the binding on (same Call-ID, next CSeq); read by the API.
 * A value that does not parse counts as none (a new binding starts).
 */
import type { Redis } from 'ioredis';
import { parsePeerRegistration, redisKeys, type PeerRegistration } from '@ngcp/db';
import type { PeerRegStore } from './register-agent.js';

export class RedisPeerRegStore implements PeerRegStore {
  constructor(private readonly redis: Redis) {}

  async read(id: number): Promise<PeerRegistration | null> {
    return parsePeerRegistration(await this.redis.get(redisKeys.peerReg(id)));
  }

  async write(id: number, r: PeerRegistration): Promise<void> {
    await this.redis.set(redisKeys.peerReg(id), JSON.stringify(r));
  }

  async remove(id: number): Promise<void> {
    await this.redis.del(redisKeys.peerReg(id));
  }
}
