/**
 * Bindings in Redis, exactly as packages/db/REDIS.md defines `location:<aor>`: a hash,
 * field = contact URI, value = JSON LocationBinding; the key expires with its latest binding.
 */
import type { Redis } from 'ioredis';
import { REDIS_PATTERNS, redisKeys, type LocationBinding } from '@ngcp/db';
import { liveBindings } from '../registrar/bindings.js';

export class LocationStore {
  constructor(private redis: Redis) {}

  /** Every stored binding of an AoR, expired ones included (the registrar prunes them). */
  async load(aor: string): Promise<LocationBinding[]> {
    const hash = await this.redis.hgetall(redisKeys.location(aor));
    const out: LocationBinding[] = [];
    for (const [field, json] of Object.entries(hash)) {
      try {
        const b = JSON.parse(json) as LocationBinding;
        out.push({ ...b, contact: b.contact ?? field });
      } catch {
        // a malformed value is treated as expired: the next REGISTER removes it
        out.push({ contact: field, expires: 0 });
      }
    }
    return out;
  }

  /** Write a registrar decision in one MULTI: deletions, new values, the key's expiry (or its removal). */
  async apply(aor: string, set: readonly LocationBinding[], remove: readonly string[], keyExpiresAt: number | undefined): Promise<void> {
    const key = redisKeys.location(aor);
    const m = this.redis.multi();
    if (keyExpiresAt === undefined) m.del(key);
    else {
      if (remove.length > 0) m.hdel(key, ...remove);
      if (set.length > 0) m.hset(key, Object.fromEntries(set.map((b) => [b.contact, JSON.stringify(b)])));
      m.expireat(key, Math.ceil(keyExpiresAt));
    }
    const res = await m.exec();
    const failed = res?.find(([err]) => err);
    if (failed) throw failed[0];
  }

  /** The live bindings of an AoR, highest q first. */
  async lookup(aor: string, now = Date.now() / 1000): Promise<LocationBinding[]> {
    return liveBindings(await this.load(aor), now);
  }

  /** AoRs with a location key (SCAN; bounded by `limit`). */
  async aors(limit = 1000): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', REDIS_PATTERNS.location, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) if (out.length < limit) out.push(k.slice('location:'.length));
    } while (cursor !== '0' && out.length < limit);
    return out.sort();
  }
}
