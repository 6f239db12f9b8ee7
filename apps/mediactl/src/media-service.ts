/**
 * The media operations behind `media.*`: a new call goes to a healthy rtpengine chosen by
 * weight and stays pinned there; every later request for it goes to that instance. A call
 * whose pin is unknown (Redis lost it, or it was written while Redis was away and this
 * process restarted) is looked for on every healthy instance with an ng `query`.
 * Never waits longer than one ng timeout per instance asked (they are asked in parallel).
 */
import type { Logger } from 'pino';
import { MediaError } from './media-error.js';
import { ngFailure, type NgParams, type NgResult } from './ng-control.js';
import { answerParams, offerParams, type AnswerInput, type OfferInput } from './ng-params.js';
import type { PinStore } from './pin-store.js';
import type { RtpengineInstance, RtpenginePool } from './rtpengine-pool.js';

export interface MediaServiceOptions {
  pool: RtpenginePool;
  pins: PinStore;
  logger: Logger;
  ngTimeoutMs: number;
}

export interface SdpResult {
  sdp: string;
  instance: string;
}

export interface DeleteInput {
  callId: string;
  fromTag?: string | undefined;
  toTag?: string | undefined;
}

const UNKNOWN_CALL = /unknown call/i;

export class MediaService {
  readonly #pool: RtpenginePool;
  readonly #pins: PinStore;
  readonly #logger: Logger;
  readonly #timeoutMs: number;

  constructor(opts: MediaServiceOptions) {
    this.#pool = opts.pool;
    this.#pins = opts.pins;
    this.#logger = opts.logger.child({ component: 'media' });
    this.#timeoutMs = opts.ngTimeoutMs;
  }

  /** Offer for a new call (→ a healthy instance by weight) or a re-offer (→ its pinned instance). */
  async offer(input: OfferInput): Promise<SdpResult> {
    const pinned = await this.#pins.lookup(input.callId);
    let inst: RtpengineInstance;
    if (pinned !== undefined) {
      inst = this.#usable(input.callId, pinned);
    } else {
      const picked = this.#pool.pick();
      if (!picked) {
        const n = this.#pool.all().length;
        throw new MediaError('unavailable', `no healthy rtpengine for a new call (0 of ${n} up)`, { call_id: input.callId });
      }
      inst = picked;
    }
    const res = await this.#ng(inst, 'offer', offerParams(input), input.callId);
    const sdp = sdpOf(res, inst, 'offer');
    await this.#pins.pin(input.callId, inst.id, pinned === undefined ? { created: true } : {});
    this.#logger.debug({ callId: input.callId, instance: inst.id, newCall: pinned === undefined }, 'offer relayed');
    return { sdp, instance: inst.id };
  }

  async answer(input: AnswerInput): Promise<SdpResult> {
    const inst = await this.#locate(input.callId);
    const res = await this.#ng(inst, 'answer', answerParams(input), input.callId);
    const sdp = sdpOf(res, inst, 'answer');
    await this.#pins.pin(input.callId, inst.id);
    return { sdp, instance: inst.id };
  }

  /** Deletes the call's media session; `deleted: false` when no rtpengine had it. Any delete ends the pin. */
  async delete(input: DeleteInput): Promise<{ deleted: boolean }> {
    let inst: RtpengineInstance;
    try {
      inst = await this.#locate(input.callId);
    } catch (err) {
      if (err instanceof MediaError && err.code === 'not-found') {
        await this.#pins.unpin(input.callId);
        return { deleted: false };
      }
      // pinned to a dead instance: its sessions died with it (or time out there); the call is ending
      if (err instanceof MediaError && err.code === 'unavailable') await this.#pins.unpin(input.callId);
      throw err;
    }
    // delete-delay 0: the session and its ports go now, not after rtpengine's default 30 s
    // (the proxy deletes at the end of the call; media.list and media.query then agree)
    const params: NgParams = { 'call-id': input.callId, 'from-tag': input.fromTag, 'to-tag': input.toTag, 'delete-delay': 0 };
    try {
      await this.#ng(inst, 'delete', params, input.callId);
    } catch (err) {
      if (err instanceof MediaError && err.code === 'not-found') {
        await this.#pins.unpin(input.callId);
        return { deleted: false };
      }
      throw err;
    }
    await this.#pins.unpin(input.callId);
    return { deleted: true };
  }

  /** rtpengine's query result for the call, plus `instance`. */
  async query(input: { callId: string; fromTag?: string | undefined }): Promise<NgResult & { instance: string }> {
    const inst = await this.#locate(input.callId);
    const res = await this.#ng(inst, 'query', { 'call-id': input.callId, 'from-tag': input.fromTag }, input.callId);
    return { ...res, instance: inst.id };
  }

  /** Call-IDs on every healthy instance (rtpengine's ng `list`), at most `limit`. */
  async list(limit: number): Promise<{ calls: string[]; unavailable?: string[] }> {
    const healthy = this.#pool.healthy();
    if (healthy.length === 0) throw new MediaError('unavailable', `no healthy rtpengine to list calls from (0 of ${this.#pool.all().length} up)`);
    const results = await Promise.allSettled(healthy.map((i) => this.#ng(i, 'list', { limit }, undefined)));
    const calls = new Set<string>();
    const unavailable: string[] = [];
    results.forEach((r, k) => {
      if (r.status === 'rejected') {
        unavailable.push((healthy[k] as RtpengineInstance).id);
        return;
      }
      const list = r.value['calls'];
      if (Array.isArray(list)) for (const c of list) if (calls.size < limit) calls.add(String(c));
    });
    return unavailable.length > 0 ? { calls: [...calls], unavailable } : { calls: [...calls] };
  }

  /** The pinned instance if it is configured and healthy; else UNAVAILABLE. */
  #usable(callId: string, id: string): RtpengineInstance {
    const inst = this.#pool.get(id);
    if (!inst) throw new MediaError('unavailable', `call ${callId} is pinned to rtpengine '${id}', which is not configured`, { call_id: callId, instance: id });
    if (!inst.healthy) {
      throw new MediaError('unavailable', `call ${callId} is pinned to rtpengine '${id}' (${inst.ng}), which is down`, { call_id: callId, instance: id });
    }
    return inst;
  }

  /** The instance holding an existing call: its pin, else an ng `query` on every healthy instance. */
  async #locate(callId: string): Promise<RtpengineInstance> {
    const pinned = await this.#pins.lookup(callId);
    if (pinned !== undefined) return this.#usable(callId, pinned);
    const healthy = this.#pool.healthy();
    const found = await Promise.all(
      healthy.map(async (i) => {
        try {
          await this.#pool.request(i, 'query', { 'call-id': callId });
          return i;
        } catch {
          return undefined;
        }
      }),
    );
    const inst = found.find((i) => i !== undefined);
    if (inst) {
      this.#logger.info({ callId, instance: inst.id }, 'unpinned call found by query, pinned again');
      await this.#pins.pin(callId, inst.id);
      return inst;
    }
    const down = this.#pool.all().length - healthy.length;
    if (down > 0) {
      throw new MediaError('unavailable', `no media session for call ${callId} on the healthy rtpengines, and ${down} rtpengine(s) are down`, { call_id: callId });
    }
    throw new MediaError('not-found', `no media session for call ${callId}`, { call_id: callId });
  }

  /** One ng request, its failure as a MediaError. */
  async #ng(inst: RtpengineInstance, command: string, params: NgParams, callId: string | undefined): Promise<NgResult> {
    try {
      return await this.#pool.request(inst, command, params);
    } catch (err) {
      const f = ngFailure(err);
      const data = { ...(callId !== undefined ? { call_id: callId } : {}), instance: inst.id };
      if (f.code === 'timeout') {
        throw new MediaError('unavailable', `rtpengine '${inst.id}' (${inst.ng}) did not answer '${command}' within ${this.#timeoutMs} ms`, data, { cause: err });
      }
      if (f.code === 'socket') throw new MediaError('unavailable', `rtpengine '${inst.id}' (${inst.ng}): ${f.reason}`, data, { cause: err });
      if (UNKNOWN_CALL.test(f.reason)) throw new MediaError('not-found', `no media session for call ${callId ?? ''} on rtpengine '${inst.id}'`, data, { cause: err });
      throw new MediaError('rejected', `rtpengine '${inst.id}' refused '${command}': ${f.reason}`, { ...data, reason: f.reason }, { cause: err });
    }
  }
}

function sdpOf(res: NgResult, inst: RtpengineInstance, command: string): string {
  const sdp = res['sdp'];
  if (typeof sdp === 'string' && sdp.length > 0) return sdp;
  throw new MediaError('rejected', `rtpengine '${inst.id}' answered '${command}' without an SDP`, { instance: inst.id, reason: 'no sdp' });
}
