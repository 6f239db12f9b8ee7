/**
 * Session timers at work (RFC 4028 §10; the negotiation is session-timer.ts): the sweep
 * of the calls whose timers are due (`sbc:timers` in Redis, so any sbc process carries
 * them on), the sbc's own refreshes (UPDATE, or a re-INVITE re-sending the leg's last SDP
 * unchanged) and their answers, the re-arming when a refresh of a peer passed through,
 * and the end of a call whose leg is dead: BYE on both legs.
 */
import type { Logger } from 'pino';
import type { FinalOrigin, SipRequest, SipResponse, SipStack } from '@ngcp/sip';
import { updateOnResponse } from '@ngcp/sip';
import type { ResolvedProfile } from './config.js';
import { nextHop, relayRequest, type RelayRequestOptions } from './legs.js';
import type { SbcMetrics } from './metrics.js';
import { isSdp } from './sdp.js';
import {
  addTimerSupport, arm, dueAction, negotiateAsUac, negotiateAsUas, PENDING_LIFETIME_MS, requestFields, retryDelayMs, retryInterval,
  type LegTimer, type UasOutcome,
} from './session-timer.js';
import type { CallStore, SbcCall, SbcLeg, Side } from './store.js';

/** The Reason text (and `sbc_teardowns_total` reason) of a call ended because a leg's session expired. */
export const SESSION_TIMER_REASON = 'session timer expired';

type Sdp = NonNullable<SbcLeg['sdp']>;

/** The SDP body of a message (null when it has none). */
export function sdpOf(msg: SipRequest | SipResponse): Sdp | null {
  const type = msg.get('content-type') ?? 'application/sdp';
  return msg.body.length > 0 && isSdp(type) ? { body: msg.body.toString('utf8'), type } : null;
}

export interface RefresherDeps {
  store: CallStore;
  metrics: SbcMetrics;
  logger: Logger;
  sip: () => SipStack;
  /** the B2BUA's per-call serialisation */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** BYE on both legs */
  teardown(id: string, reason: string, cause: number): Promise<unknown>;
  legOpts(call: SbcCall): Omit<RelayRequestOptions, 'cseq' | 'headers'>;
}

const SIDES: readonly Side[] = ['a', 'b'];

export class SessionRefresher {
  private readonly log: Logger;

  constructor(private readonly d: RefresherDeps) {
    this.log = d.logger.child({ component: 'session-timer' });
  }

  /** A leg's incoming INVITE/UPDATE negotiated as its UAS: the profile's policy, never below the leg's Min-SE. */
  asUas(t: LegTimer, profile: ResolvedProfile, req: SipRequest): UasOutcome {
    const interval = profile.timer?.interval ?? t.interval;
    return negotiateAsUas(req, { interval, minSe: Math.max(profile.timer?.minSe ?? 0, t.minSe) });
  }

  /** The calls whose timers are due: refreshes sent, dead legs' calls ended; returns how many calls were ended. */
  async sweep(nowMs: number): Promise<number> {
    const ids = await this.d.store.timersDue(nowMs);
    const ended = await Promise.all(ids.map((id) => this.due(id)));
    return ended.filter(Boolean).length;
  }

  /** One call from `sbc:timers`: its refreshes sent, or it ended when a leg is dead; true when ended. */
  async due(id: string): Promise<boolean> {
    const dead = await this.d.locked(id, async () => {
      const call = await this.d.store.get(id);
      if (!call) {
        await this.d.store.forget(id);
        return null;
      }
      const now = Date.now();
      const expired = SIDES.find((s) => dueAction(call[s].timer, now) === 'expired');
      if (expired) {
        // our refresh still unanswered when the session ends: it failed (its transaction's own timeout comes too late to count)
        if (call[expired].timer!.pending) this.d.metrics.refreshes.inc({ result: 'failed' });
        return expired;
      }
      const sends: Array<() => void> = [];
      for (const s of SIDES) {
        if (dueAction(call[s].timer, now) !== 'refresh') continue;
        const send = this.prepare(call, s, now);
        if (!send) return s;
        sends.push(send);
      }
      // saved first: a process whose Redis is read-only (the standby's) sends nothing
      await this.d.store.save(call);
      for (const send of sends) send();
      return null;
    });
    if (!dead) return false;
    this.end(id, dead, 'no refresh');
    return true;
  }

  /** The call is over: BYE on both legs, not waited for (a dead leg's BYE takes its transaction's time). */
  private end(id: string, side: Side, why: string): void {
    this.log.info({ id, leg: side, why }, 'session timer expired; ending the call');
    void this.d.teardown(id, SESSION_TIMER_REASON, 408).catch((err: unknown) => {
      // a standby's Redis is read-only: the active node's sbc ends the call
      const message = (err as Error).message;
      if (/READONLY/.test(message)) this.log.debug({ id, err: message }, 'call not ended here (read-only redis)');
      else this.log.warn({ id, err: message }, 'ending the call failed');
    });
  }

  /**
   * Our refresh on a leg (§10): UPDATE, or a re-INVITE with the leg's last SDP as it was
   * (same o= version: no change, RFC 3264 §8); Session-Expires with `refresher=uac` (we keep
   * refreshing). Updates `call` (CSeq, the refresh in flight) and returns what sends it; null
   * when the leg has no route.
   */
  private prepare(call: SbcCall, side: Side, now: number): (() => void) | null {
    const leg = call[side];
    const t = leg.timer!;
    // a re-INVITE needs an offer: without a known SDP an UPDATE is all we can send
    const method = t.method === 'INVITE' && leg.sdp ? 'INVITE' : 'UPDATE';
    const built = relayRequest(leg.dialog, method, null, { ...this.d.legOpts(call), headers: requestFields(t.interval, t.minSe, 'uac') });
    addTimerSupport(built.request);
    if (method === 'INVITE') built.request.setBody(leg.sdp!.body, leg.sdp!.type);
    const dest = nextHop(built.request);
    if (!dest) return null;
    const seq = built.request.cseq().seq;
    leg.dialog = built.dialog;
    // still in flight after an ICT's lifetime: its process is gone (a restart, the other node); sent again then
    leg.timer = { ...t, pending: { seq, method }, refreshAt: now + PENDING_LIFETIME_MS };
    const id = call.id;
    return () => {
      this.d.sip().sendRequest(built.request, dest, {
        onFinal: (res, _tx, origin) => void this.answered(id, side, seq, method, res, origin)
          .catch((err: unknown) => this.log.warn({ id, err: (err as Error).message }, 'session refresh answer not handled')),
      });
      this.log.debug({ id, leg: side, method, seq }, 'session refresh sent');
    };
  }

  /**
   * The answer to our refresh: 2xx re-arms (its Session-Expires may change the interval);
   * a timeout, 408 or 481 means the leg is dead (§10): BYE on both legs; another final
   * (491, 500, ...) is tried again shortly, a 422 with its Min-SE, a 405/501 to an UPDATE
   * as a re-INVITE — until the session ends.
   */
  private async answered(id: string, side: Side, seq: number, method: 'UPDATE' | 'INVITE', res: SipResponse, origin: FinalOrigin): Promise<void> {
    const ok = origin === 'network' && res.status >= 200 && res.status < 300;
    const dead = await this.d.locked(id, async () => {
      const call = await this.d.store.get(id);
      if (!call) return false;
      const leg = call[side];
      if (ok) leg.dialog = updateOnResponse(leg.dialog, res);
      // every 2xx of a re-INVITE is ACKed, its retransmissions too (RFC 3261 §13.2.2.4)
      if (ok && method === 'INVITE') await this.ack(call, side, seq);
      const t = leg.timer;
      if (!t || t.pending?.seq !== seq) return false;
      const now = Date.now();
      if (ok) {
        this.d.metrics.refreshes.inc({ result: 'ok' });
        leg.timer = arm(negotiateAsUac(res, { interval: t.interval, minSe: t.minSe }, t), now);
      } else if (origin !== 'network' || res.status === 408 || res.status === 481) {
        this.d.metrics.refreshes.inc({ result: 'failed' });
        return true;
      } else {
        this.d.metrics.refreshes.inc({ result: 'rejected' });
        let next: LegTimer = { ...t, pending: null, refreshAt: Math.min(now + retryDelayMs(t.interval), t.expiresAt) };
        const bigger = res.status === 422 ? retryInterval(res, t.interval) : null;
        if (bigger !== null) next = { ...next, interval: bigger, minSe: Math.max(t.minSe, bigger), refreshAt: now };
        else if ((res.status === 405 || res.status === 501) && method === 'UPDATE' && leg.sdp) next = { ...next, method: 'INVITE', refreshAt: now };
        leg.timer = next;
        this.log.info({ id, leg: side, method, status: res.status }, 'session refresh turned down; trying again');
      }
      await this.d.store.save(call);
      return false;
    });
    if (dead) this.end(id, side, origin === 'network' ? `refresh answered ${res.status}` : `refresh ${origin}`);
  }

  private async ack(call: SbcCall, side: Side, seq: number): Promise<void> {
    const ack = relayRequest(call[side].dialog, 'ACK', null, { ...this.d.legOpts(call), cseq: seq });
    const dest = nextHop(ack.request);
    if (dest) await this.d.sip().send(ack.request, dest).catch(() => undefined);
  }

  /**
   * A peer's re-INVITE/UPDATE on `from.side` was relayed to the other leg and answered 2xx:
   * both legs are refreshed — this one as its request negotiated, the other as its 2xx says
   * — and the SDP of each is the one now in force.
   */
  async refreshedThrough(id: string, from: { side: Side; timer: Extract<UasOutcome, { ok: true }>['timer']; sdp: Sdp | null }, to: { res: SipResponse; asked: LegTimer; sdp: Sdp | null }): Promise<void> {
    const o: Side = from.side === 'a' ? 'b' : 'a';
    await this.d.locked(id, async () => {
      const call = await this.d.store.get(id);
      if (!call?.a.timer || !call.b.timer) return;
      const now = Date.now();
      call[from.side].timer = arm({ ...from.timer, method: call[from.side].timer!.method }, now);
      call[o].timer = arm(negotiateAsUac(to.res, { interval: to.asked.interval, minSe: to.asked.minSe }, to.asked), now);
      if (from.sdp) call[from.side].sdp = from.sdp;
      if (to.sdp) call[o].sdp = to.sdp;
      await this.d.store.save(call);
    }).catch((err: unknown) => this.log.warn({ id, err: (err as Error).message }, 'session timers not re-armed'));
  }

  /** The SDP the sbc sent on a leg in an ACK (the answer to a late offer): the one its refreshes re-send. */
  async keepSdp(id: string, side: Side, sdp: Sdp | null): Promise<void> {
    if (!sdp) return;
    await this.d.locked(id, async () => {
      const call = await this.d.store.get(id);
      if (!call) return;
      call[side].sdp = sdp;
      await this.d.store.save(call);
    });
  }
}
