/**
 * The sbc's calls in Redis (packages/db/REDIS.md, `sbc:*`): an answered call's two
 * dialogs with their tags, CSeqs and route sets, so that any sbc process — this one
 * after a restart, or the other node's — can carry on in-dialog requests and end the call
 * with a BYE on both legs. Written once the call is answered, updated on every in-dialog
 * request, deleted when it ends. Each leg also carries its session timer (session-timer.ts) and
 * last SDP; a prepaid call its credit (prepaid.ts); `sbc:timers` orders the calls by when their
 * timers (session timers, the end of a prepaid grant) next need the sbc.
 */
import type { Redis } from 'ioredis';
import { redisKeys } from '@ngcp/db';
import type { DialogRecord } from '@ngcp/sip';
import type { PrepaidState } from './prepaid.js';
import { nextDue, type LegTimer, type UasOutcome } from './session-timer.js';

/** One leg of a call, from the sbc's side. */
export interface SbcLeg {
  dialog: DialogRecord;
  /** CSeq of the last INVITE the sbc sent on this leg (its ACK carries the same number). */
  inviteSeq: number | null;
  /** The leg's session timer (RFC 4028, session-timer.ts); absent or null: none. */
  timer?: LegTimer | null;
  /** The last SDP the sbc sent on this leg (offer or answer): the body of its refresh re-INVITEs. */
  sdp?: { body: string; type: string } | null;
  /**
   * The re-INVITE received on the other leg and relayed on this one as CSeq `seq` (raw SIP): its
   * answer goes back to that request's sender. Kept so that another sbc can answer it when the
   * one relaying it dies before the answer (b2bua.ts "takeover"); absent or null: none.
   */
  relaying?: { seq: number; req: string } | null;
}

/** Value of `sbc:call:<id>`. */
export interface SbcCall {
  id: string;
  node: string;
  profile: string;
  /** A: the leg that came in (the sbc is its UAS); B: the leg the sbc made (its UAC). */
  a: SbcLeg;
  b: SbcLeg;
  /** ms since the epoch */
  createdAt: number;
  answeredAt: number;
  /** ms since the epoch when the call length limit ends it; null without a limit */
  deadline: number | null;
  /** A prepaid call's credit (prepaid.ts): customer, fee, talk time granted, units held, when the grant runs out; absent or null: not prepaid. */
  prepaid?: PrepaidState | null;
}

/**
 * Value of `sbc:early:<B Call-ID>`: a call the sbc sent on and that is not answered yet — all
 * another sbc needs to connect it (or relay its failure) when B's answer reaches it after this
 * process died (b2bua.ts "takeover").
 */
export interface SbcEarlyCall {
  id: string;
  node: string;
  profile: string;
  /** the A leg's INVITE as received (its Vias say where A's responses go) and the B leg's as sent */
  aReq: string;
  bReq: string;
  createdAt: number;
  /** the session timer negotiated with A and the one asked of B (null: off) */
  aTimer: Extract<UasOutcome, { ok: true }> | null;
  bAsked: { interval: number; minSe: number } | null;
  prepaid: PrepaidState | null;
}

/** How long a ringing call's state stays (s): longer than any call rings (the proxy's own INVITE timeout is 180 s). */
export const EARLY_TTL_S = 600;

export type Side = 'a' | 'b';
export const other = (s: Side): Side => (s === 'a' ? 'b' : 'a');

export class CallStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlS: number,
  ) {}

  /** Save (create or update) a ringing call (before its B INVITE leaves; again after a 422 retry). */
  async saveEarly(e: SbcEarlyCall, bCallId: string, aCallId: string): Promise<void> {
    await exec(this.redis.multi()
      .set(redisKeys.sbcEarly(bCallId), JSON.stringify(e), 'EX', EARLY_TTL_S)
      .set(redisKeys.sbcEarlyA(aCallId), bCallId, 'EX', EARLY_TTL_S));
  }

  /** The ringing call whose B leg has this Call-ID. */
  async early(bCallId: string): Promise<SbcEarlyCall | null> {
    return parseJson<SbcEarlyCall>(await this.redis.get(redisKeys.sbcEarly(bCallId)));
  }

  /** The B leg's Call-ID of the ringing call whose A leg has this Call-ID. */
  earlyBOf(aCallId: string): Promise<string | null> {
    return this.redis.get(redisKeys.sbcEarlyA(aCallId));
  }

  /** Forget a ringing call (its final answer came); true when this call removed it (a second answer finds nothing). */
  async dropEarly(bCallId: string, aCallId: string): Promise<boolean> {
    const r = await exec(this.redis.multi().del(redisKeys.sbcEarly(bCallId)).del(redisKeys.sbcEarlyA(aCallId)));
    return r[0] === 1;
  }

  /**
   * Save (create or update) a call: its value, both legs' index keys, the set of calls and its
   * deadline; `answered` (the first save of a call): its ringing state goes in the same transaction.
   */
  async save(call: SbcCall, answered = false): Promise<void> {
    const m = this.redis.multi()
      .set(redisKeys.sbcCall(call.id), JSON.stringify(call), 'EX', this.ttlS)
      .set(redisKeys.sbcLeg(call.a.dialog.id.callId), call.id, 'EX', this.ttlS)
      .set(redisKeys.sbcLeg(call.b.dialog.id.callId), call.id, 'EX', this.ttlS)
      .sadd(redisKeys.sbcCalls(), call.id);
    if (call.deadline !== null) m.zadd(redisKeys.sbcDeadlines(), call.deadline, call.id);
    const due = timerDue(call);
    if (due !== null) m.zadd(redisKeys.sbcTimers(), due, call.id);
    else m.zrem(redisKeys.sbcTimers(), call.id);
    if (answered) m.del(redisKeys.sbcEarly(call.b.dialog.id.callId), redisKeys.sbcEarlyA(call.a.dialog.id.callId));
    await exec(m);
  }

  async get(id: string): Promise<SbcCall | null> {
    return parseJson<SbcCall>(await this.redis.get(redisKeys.sbcCall(id)));
  }

  /** The id of the call a leg's Call-ID belongs to. */
  idOf(callId: string): Promise<string | null> {
    return this.redis.get(redisKeys.sbcLeg(callId));
  }

  /** The call a leg's Call-ID belongs to, and which leg it is. */
  async byLeg(callId: string): Promise<{ call: SbcCall; side: Side } | null> {
    const id = await this.idOf(callId);
    if (!id) return null;
    const call = await this.get(id);
    if (!call) return null;
    if (call.a.dialog.id.callId === callId) return { call, side: 'a' };
    if (call.b.dialog.id.callId === callId) return { call, side: 'b' };
    return null;
  }

  /** Forget a call; true when this call removed it (a second end finds nothing). */
  async remove(call: SbcCall): Promise<boolean> {
    const r = await exec(this.redis.multi()
      .del(redisKeys.sbcCall(call.id))
      .del(redisKeys.sbcLeg(call.a.dialog.id.callId), redisKeys.sbcLeg(call.b.dialog.id.callId))
      .srem(redisKeys.sbcCalls(), call.id)
      .zrem(redisKeys.sbcDeadlines(), call.id)
      .zrem(redisKeys.sbcTimers(), call.id));
    return r[0] === 1;
  }

  /** Ids of calls whose call length limit has passed. */
  async due(nowMs: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(redisKeys.sbcDeadlines(), '-inf', nowMs, 'LIMIT', 0, limit);
  }

  /** Ids of calls whose session timer needs the sbc (a refresh to send, a leg to give up on). */
  async timersDue(nowMs: number, limit = 100): Promise<string[]> {
    return this.redis.zrangebyscore(redisKeys.sbcTimers(), '-inf', nowMs, 'LIMIT', 0, limit);
  }

  /** Drop an id from the deadlines, the timers and the set (its call is gone). */
  async forget(id: string): Promise<void> {
    await exec(this.redis.multi().zrem(redisKeys.sbcDeadlines(), id).zrem(redisKeys.sbcTimers(), id).srem(redisKeys.sbcCalls(), id));
  }

  /** The answered calls (at most `limit`), dropping ids whose call expired. */
  async list(limit: number): Promise<SbcCall[]> {
    const ids = (await this.redis.smembers(redisKeys.sbcCalls())).slice(0, limit);
    if (ids.length === 0) return [];
    const values = await this.redis.mget(ids.map((id) => redisKeys.sbcCall(id)));
    const out: SbcCall[] = [];
    for (let i = 0; i < ids.length; i++) {
      const c = parseJson<SbcCall>(values[i] ?? null);
      if (c) out.push(c);
      else await this.forget(ids[i]!);
    }
    return out;
  }

  /** Whether the call is live (its `sbc:call:<id>` exists). */
  async exists(id: string): Promise<boolean> {
    return (await this.redis.exists(redisKeys.sbcCall(id))) === 1;
  }

  /**
   * This sbc's turn to sweep stale prepaid reservations, for `ms`: true when it got it (no other
   * sbc holds it). A write: a standby's read-only Redis throws READONLY.
   */
  async claimSweep(node: string, ms: number): Promise<boolean> {
    return (await this.redis.set(redisKeys.sbcPrepaidSweep(), node || 'sbc', 'PX', Math.max(1, Math.round(ms)), 'NX')) === 'OK';
  }

  count(): Promise<number> {
    return this.redis.scard(redisKeys.sbcCalls());
  }
}

/** When the call's session timers or its prepaid grant next need the sbc (the earliest); null without either. */
export function timerDue(call: SbcCall): number | null {
  const due = [nextDue(call.a.timer), nextDue(call.b.timer), call.prepaid?.until ?? null].filter((d): d is number => d !== null);
  return due.length > 0 ? Math.min(...due) : null;
}

function parseJson<T>(v: string | null): T | null {
  if (!v) return null;
  try {
    return JSON.parse(v) as T;
  } catch {
    return null;
  }
}

async function exec(m: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const r = await m.exec();
  if (!r) throw new Error('redis transaction aborted');
  const out: unknown[] = [];
  for (const [err, v] of r) {
    if (err) throw err;
    out.push(v);
  }
  return out;
}
