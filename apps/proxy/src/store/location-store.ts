/**
 * Bindings in Redis, exactly as packages/db/REDIS.md defines `location:<aor>`: a hash,
 * field = contact URI, value = JSON LocationBinding; the key expires with its latest binding.
 */
import type { Redis } from 'ioredis';
import { REDIS_PATTERNS, redisKeys, type LocationBinding } from '@ngcp/db';
import { liveBindings } from '../registrar/bindings.js';

/**
 * One registrar decision, atomically: ARGV[1] = key expiry (unix s) or '' to delete the key,
 * ARGV[2] = n contacts to remove, ARGV[3..2+n] those contacts, then field/value pairs to set.
 */
const APPLY_LUA = `
if ARGV[1] == '' then redis.call('DEL', KEYS[1]) return 1 end
local n = tonumber(ARGV[2])
if n > 0 then redis.call('HDEL', KEYS[1], unpack(ARGV, 3, 2 + n)) end
if #ARGV > 2 + n then redis.call('HSET', KEYS[1], unpack(ARGV, 3 + n)) end
redis.call('EXPIREAT', KEYS[1], ARGV[1])
return 1`;

type ApplyingRedis = Redis & { ngcpLocationApply(key: string, ...args: string[]): Promise<number> };

export class LocationStore {
  private redis: ApplyingRedis;
  constructor(redis: Redis) {
    // one EVALSHA per REGISTER (a MULTI is four commands and two extra replies)
    if (!('ngcpLocationApply' in redis)) {
      redis.defineCommand('ngcpLocationApply', { numberOfKeys: 1, lua: APPLY_LUA });
    }
    this.redis = redis as ApplyingRedis;
  }

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

  /** Write a registrar decision atomically: deletions, new values, the key's expiry (or its removal). */
  async apply(aor: string, set: readonly LocationBinding[], remove: readonly string[], keyExpiresAt: number | undefined): Promise<void> {
    const key = redisKeys.location(aor);
    if (keyExpiresAt === undefined) {
      await this.redis.ngcpLocationApply(key, '', '0');
      return;
    }
    const args = [String(Math.ceil(keyExpiresAt)), String(remove.length), ...remove];
    for (const b of set) args.push(b.contact, JSON.stringify(b));
    await this.redis.ngcpLocationApply(key, ...args);
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
