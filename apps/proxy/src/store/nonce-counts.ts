/**
 * Digest nonce-counts in Redis (`authnc:<nonce>:<nc>`, packages/db/REDIS.md): the first use
 * of a (nonce, nc) pair sets the key with NX and the nonce lifetime as expiry; a second
 * use — on this node or on the other one after a takeover, since Redis replicates — finds
 * it and is refused as a replay. Stateless HMAC nonces stay verifiable by both nodes;
 * this adds the one thing a stateless nonce cannot say: whether it was used already.
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '@ngcp/db';
import { formatNonceCount, type NonceCountStore } from '@ngcp/sip';

export class RedisNonceCountStore implements NonceCountStore {
  constructor(private redis: Redis, private ttlSeconds: number) {}

  /** true on the first use of (nonce, nc); false for a replay. Throws when Redis fails (the request gets 503). */
  async checkAndSet(nonce: string, nc: number): Promise<boolean> {
    const r = await this.redis.set(redisKeys.authNc(nonce, formatNonceCount(nc)), '1', 'EX', Math.max(1, this.ttlSeconds), 'NX');
    return r === 'OK';
  }
}
