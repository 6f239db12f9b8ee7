/**
 * Active calls in Redis: `call:<Call-ID>` (packages/db/REDIS.md ActiveCall, plus the fields
 * docs/calls.md adds so a restarted proxy can end the call: `media`, `from_tag`, `to_tag`,
 * and what the stop accounting record needs).
 */
import type { Redis } from 'ioredis';
import { REDIS_PATTERNS, redisKeys, type ActiveCall } from '@ngcp/db';

export interface CallRecord extends ActiveCall {
  /** '1' when media is relayed through mediactl */
  media?: string;
  /** '1' when the INVITE had no SDP (late offer): the 2xx carries the offer, the ACK the answer */
  late_offer?: string;
  from_tag?: string;
  to_tag?: string;
  caller_user?: string;
  caller_domain?: string;
  callee_user?: string;
  callee_domain?: string;
  /** the callee as dialled (R-URI user) */
  dialled?: string;
  src_ip?: string;
  /** peering_servers.id of the peer the call goes to or comes from (acc `peering_server_id`); `peer` holds its name */
  peer_id?: string;
  /** '1' once a CANCEL for the ringing INVITE was forwarded by a proxy without the INVITE transaction */
  cancelled?: string;
  /** acc/CDR call type: absent = 'call'; the type of the last forward taken (cfu, cfb, cfna, cft) */
  call_type?: string;
  /** the concurrent-call sets (`conc:*`, space-separated) the call is counted in; released when the call is removed */
  conc?: string;
}

/** The field recording a branch's final status (only written while other branches still ring). */
export const finalField = (branch: string): string => `final:${branch}`;

/** HSET + EXPIRE on an existing call only (a late response must not resurrect an ended call). */
const UPDATE_LUA =
  "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], unpack(ARGV, 2)); redis.call('EXPIRE', KEYS[1], ARGV[1]) end return 1";

/** The call's creation: HSET of every field and EXPIRE, atomically, as one command (a MULTI is four). */
const PUT_LUA = "redis.call('HSET', KEYS[1], unpack(ARGV, 2)); redis.call('EXPIRE', KEYS[1], ARGV[1]) return 1";

/** HSET of one field on an existing call, answering the whole hash after the write (false when gone). */
const SET_FINAL_LUA =
  "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return redis.call('HGETALL', KEYS[1]) end return false";

/**
 * Remove a call and release its concurrent-call slots (the sets named in its `conc` field)
 * in one step, so every way a call ends releases them exactly once. Answers the hash it had.
 */
const REMOVE_LUA = `local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return h end
for i = 1, #h, 2 do
  if h[i] == 'conc' then
    for k in string.gmatch(h[i + 1], '[^ ]+') do redis.call('ZREM', k, ARGV[1]) end
  end
end
redis.call('DEL', KEYS[1])
return h`;

type UpdatingRedis = Redis & {
  ngcpCallPut(key: string, ttl: string, ...fieldValues: string[]): Promise<number>;
  ngcpCallRemove(key: string, callId: string): Promise<string[]>;
  ngcpCallUpdate(key: string, ttl: string, ...fieldValues: string[]): Promise<number>;
  ngcpCallSetFinal(key: string, field: string, value: string): Promise<string[] | null>;
};

export class CallStore {
  private redis: UpdatingRedis;
  constructor(redis: Redis, private ttlSeconds: number) {
    // defineCommand: EVALSHA with the script loaded once (EVAL sends and compiles it every time)
    if (!('ngcpCallUpdate' in redis)) {
      redis.defineCommand('ngcpCallUpdate', { numberOfKeys: 1, lua: UPDATE_LUA });
    }
    if (!('ngcpCallPut' in redis)) redis.defineCommand('ngcpCallPut', { numberOfKeys: 1, lua: PUT_LUA });
    if (!('ngcpCallSetFinal' in redis)) redis.defineCommand('ngcpCallSetFinal', { numberOfKeys: 1, lua: SET_FINAL_LUA });
    if (!('ngcpCallRemove' in redis)) redis.defineCommand('ngcpCallRemove', { numberOfKeys: 1, lua: REMOVE_LUA });
    this.redis = redis as UpdatingRedis;
  }

  async put(rec: CallRecord): Promise<void> {
    const key = redisKeys.call(rec.call_id);
    const args: string[] = [];
    for (const k in rec) {
      const v = rec[k as keyof CallRecord];
      if (v !== undefined) args.push(k, v);
    }
    await this.redis.ngcpCallPut(key, String(this.ttlSeconds), ...args);
  }

  async update(callId: string, fields: Partial<CallRecord>): Promise<void> {
    const key = redisKeys.call(callId);
    const f = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Record<string, string>;
    if (Object.keys(f).length === 0) return this.touch(callId);
    await this.redis.ngcpCallUpdate(key, String(this.ttlSeconds), ...Object.entries(f).flat());
  }

  /**
   * Record a branch's final status on an existing call; resolves with the whole record
   * after the write (undefined when the call is gone). One round trip (Lua).
   */
  async setFinal(callId: string, branch: string, status: number): Promise<Record<string, string> | undefined> {
    const res = await this.redis.ngcpCallSetFinal(redisKeys.call(callId), finalField(branch), String(status));
    if (!res || res.length === 0) return undefined;
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < res.length; i += 2) out[res[i]!] = res[i + 1]!;
    return out;
  }

  /** Keep an established call's key alive (every in-dialog request). */
  async touch(callId: string): Promise<void> {
    await this.redis.expire(redisKeys.call(callId), this.ttlSeconds);
  }

  async get(callId: string): Promise<CallRecord | undefined> {
    const h = await this.redis.hgetall(redisKeys.call(callId));
    return Object.keys(h).length === 0 ? undefined : (h as unknown as CallRecord);
  }

  /**
   * Remove the call and release its concurrent-call slots (one Lua script); resolves with the
   * record it had (undefined if someone else ended it).
   */
  async remove(callId: string): Promise<CallRecord | undefined> {
    const res = await this.redis.ngcpCallRemove(redisKeys.call(callId), callId);
    if (!res || res.length === 0) return undefined;
    const out: Record<string, string> = {};
    for (let i = 0; i + 1 < res.length; i += 2) out[res[i]!] = res[i + 1]!;
    return out as unknown as CallRecord;
  }

  async list(limit = 1000): Promise<CallRecord[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', REDIS_PATTERNS.call, 'COUNT', 1000);
      cursor = next;
      for (const k of batch) if (keys.length < limit) keys.push(k);
    } while (cursor !== '0' && keys.length < limit);
    if (keys.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.hgetall(k);
    const res = (await pipe.exec()) ?? [];
    return res.map(([, h]) => h as unknown as CallRecord).filter((h) => h && Object.keys(h).length > 0);
  }

  async count(): Promise<number> {
    let n = 0;
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', REDIS_PATTERNS.call, 'COUNT', 1000);
      cursor = next;
      n += batch.length;
    } while (cursor !== '0');
    return n;
  }
}
