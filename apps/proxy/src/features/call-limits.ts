/**
 * Concurrent-call counting in Redis (packages/db/REDIS.md `conc:*`): one sorted set per
 * counted scope, member = Call-ID, score = a deadline (epoch seconds) after which the member
 * is checked against its `call:<Call-ID>` key.
 *
 *   conc:sub:<subscriber id>      every call of the subscriber (as caller or callee)
 *   conc:subout:<subscriber id>   the subscriber's outgoing calls
 *   conc:cust:<customer id>       every call of the customer's subscribers
 *   conc:custout:<customer id>    their outgoing calls
 *
 * Why sets and not counters: a call is counted once however often it is added (an INVITE
 * handled twice, caller and callee of the same customer) and released by ZREM, which is
 * idempotent — so every way a call ends may release it and it is released exactly once.
 * The release happens in the same Lua script that removes `call:<Call-ID>`
 * (`CallStore.remove`, through the call's `conc` field), so whatever ends a call (BYE from
 * either side, CANCEL, a failure final, the other node after a takeover) releases its slots.
 * A call that dies without an end (both phones gone: `call:<Call-ID>` expires after
 * `calls.ttl_s`) is pruned: a member past its deadline whose call key is gone is removed, one
 * whose call lives on gets a new deadline (the call key's remaining TTL). Pruning runs inside
 * the admission script (before counting), in `count()`, and over every set in `sweep()`.
 *
 * Everything is in Redis, so the standby, after a takeover, counts the same calls.
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '@ngcp/db';

export type LimitScope = 'sub' | 'subout' | 'cust' | 'custout';

export const concKey = (scope: LimitScope, id: number | string): string => `conc:${scope}:${id}`;

export interface LimitSlot {
  key: string;
  /** maximum members (this call included); undefined: counted, not limited */
  max?: number;
  /** who is refused when this slot is full */
  side: 'caller' | 'callee';
  scope: LimitScope;
}

export type AdmitResult = { ok: true; keys: string[] } | { ok: false; slot: LimitSlot; count: number };

const CALL_PREFIX = redisKeys.call('');

/*
 * Prune one set: members past their deadline (at most 200 per call of this function) are
 * removed when their call key is gone, else re-scored to now + the call key's TTL.
 * KEYS[i]: the sets; ARGV[1] = now, ARGV[2] = call key prefix.
 */
const PRUNE_FN = `
local function prune(key, now, prefix)
  local stale = redis.call('ZRANGEBYSCORE', key, '-inf', now, 'LIMIT', 0, 200)
  for _, m in ipairs(stale) do
    local ttl = redis.call('TTL', prefix .. m)
    if ttl == -2 then
      redis.call('ZREM', key, m)
    else
      if ttl < 0 then ttl = 3600 end
      redis.call('ZADD', key, now + ttl, m)
    end
  end
end
`;

/**
 * ARGV: now, prefix, callId, deadline, then one max per key (-1 = not limited).
 * Returns 0 and adds the call to every set, or the 1-based index of the first full set and its count.
 */
const ADMIT_LUA = `${PRUNE_FN}
local now = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  prune(key, now, ARGV[2])
end
for i, key in ipairs(KEYS) do
  local max = tonumber(ARGV[4 + i])
  if max >= 0 then
    local n = redis.call('ZCARD', key)
    if redis.call('ZSCORE', key, ARGV[3]) then n = n - 1 end
    if n >= max then return { i, n } end
  end
end
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[4], ARGV[3])
end
return { 0, 0 }
`;

/** KEYS: sets; ARGV: now, prefix. Returns each set's size after pruning. */
const COUNT_LUA = `${PRUNE_FN}
local out = {}
for i, key in ipairs(KEYS) do
  prune(key, tonumber(ARGV[1]), ARGV[2])
  out[i] = redis.call('ZCARD', key)
end
return out
`;

type LimitRedis = Redis & {
  ngcpConcAdmit(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
  ngcpConcCount(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
};

export class CallLimits {
  private redis: LimitRedis;
  constructor(redis: Redis, private ttlSeconds: number, private now: () => number = () => Math.floor(Date.now() / 1000)) {
    if (!('ngcpConcAdmit' in redis)) redis.defineCommand('ngcpConcAdmit', { lua: ADMIT_LUA });
    if (!('ngcpConcCount' in redis)) redis.defineCommand('ngcpConcCount', { lua: COUNT_LUA });
    this.redis = redis as LimitRedis;
  }

  /**
   * Count the call in every slot, unless one is full (then nothing is counted). Slots with
   * the same key are counted once (the first one's limit and side apply).
   */
  async admit(callId: string, slots: readonly LimitSlot[]): Promise<AdmitResult> {
    const unique: LimitSlot[] = [];
    for (const s of slots) if (!unique.some((u) => u.key === s.key)) unique.push(s);
    if (unique.length === 0) return { ok: true, keys: [] };
    const now = this.now();
    const [index, count] = await this.redis.ngcpConcAdmit(
      unique.length, ...unique.map((s) => s.key),
      now, CALL_PREFIX, callId, now + this.ttlSeconds, ...unique.map((s) => (s.max === undefined ? -1 : s.max)),
    );
    if (index === 0) return { ok: true, keys: unique.map((s) => s.key) };
    return { ok: false, slot: unique[index - 1]!, count };
  }

  /** Take the call out of these sets (for a call that was admitted but never stored). */
  async release(callId: string, keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    const m = this.redis.multi();
    for (const k of keys) m.zrem(k, callId);
    await m.exec();
  }

  /**
   * Prune every `conc:*` set (SCAN, at most `maxKeys` keys per run): the sets of subscribers
   * who make no new call would otherwise keep a dead call's member until they call again.
   * Worker 0 runs it every minute. Resolves with the number of sets looked at.
   */
  async sweep(maxKeys = 100_000): Promise<number> {
    let cursor = '0';
    let seen = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', 'conc:*', 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) {
        await this.count(keys);
        seen += keys.length;
      }
    } while (cursor !== '0' && seen < maxKeys);
    return seen;
  }

  /** The number of live calls in each set (pruned first). */
  async count(keys: readonly string[]): Promise<number[]> {
    if (keys.length === 0) return [];
    return this.redis.ngcpConcCount(keys.length, ...keys, this.now(), CALL_PREFIX);
  }
}
