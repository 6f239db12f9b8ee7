/**
 * The B2BUA: an INVITE from the proxy (the A leg) gets a new B leg sent back through the
 * proxy; responses, ACK, CANCEL, BYE, re-INVITE, UPDATE, INFO and other in-dialog
 * requests are relayed from one leg to the other; session timers (RFC 4028) are negotiated
 * on each leg here and run by refresh.ts (legs.ts builds each message, headers.ts
 * decides which fields cross; sdp.ts applies a profile's codec filter, else SDP passes
 * untouched: media stays with the proxy/mediactl). An answered call lives in Redis (store.ts), so in-dialog requests and
 * the end of a call work from any sbc process; an unanswered one lives in this process.
 */
import type { Logger } from 'pino';
import type { Knex } from '@ngcp/db';
import type { ClientTransaction, Destination, DialogRecord, FinalOrigin, ServerTransaction, SipRequest, SipResponse, SipStack } from '@ngcp/sip';
import { createResponse, createUacDialog, createUasDialog, newCallId, newTag, receiveInDialog, SipParseError } from '@ngcp/sip';
import { SessionRefresher, sdpOf } from './refresh.js';
import { addTimerSupport, arm, negotiateAsUac, negotiateAsUas, requestFields, retryInterval, type UasOutcome } from './session-timer.js';
import type { ResolvedProfile } from './config.js';
import { requestedProfile } from './headers.js';
import { bLegInvite, nextHop, offerUnusable, relayRequest, relayResponse, type Self } from './legs.js';
import type { SbcMetrics } from './metrics.js';
import { PrepaidControl, type PrepaidState } from './prepaid.js';
import { other, type CallStore, type SbcCall, type Side } from './store.js';

export interface B2buaOptions {
  node: string;
  self: Self;
  /** where B legs go: the proxy */
  proxy: Destination;
  profiles: ReadonlyMap<string, ResolvedProfile>;
  defaultProfile: string;
  store: CallStore;
  logger: Logger;
  metrics: SbcMetrics;
  /** the stack, once started */
  sip: () => SipStack;
  /** T1 and the longest wait of the 2xx retransmission (RFC 3261 §13.3.1.4); default 500 ms, 32 s */
  t1Ms?: number;
  /** prepaid (prepaid.ts): the database, the talk time reserved at a time, the sweep's grace (s); absent or null: off */
  prepaid?: { db: Knex; quotaS: number; staleAfterS?: number } | null;
}

/** An INVITE still unanswered: only in this process. */
interface EarlyCall {
  id: string;
  profile: ResolvedProfile;
  aTx: ServerTransaction;
  aReq: SipRequest;
  bReq: SipRequest;
  bTx: ClientTransaction | null;
  /** our To-tag towards A per B To-tag (each early dialog of B is one of A) */
  aTags: Map<string, string>;
  /** the call once a 2xx came */
  answered: SbcCall | null;
  /** the B INVITE was cancelled (A's CANCEL, a teardown): its 487 is relayed as it is */
  cancelled: boolean;
  createdAt: number;
  /** session timers: A's leg as negotiated from its INVITE, what the B INVITE asks for (null: off), 422s retried */
  aTimer: Extract<UasOutcome, { ok: true }> | null;
  bAsked: { interval: number; minSe: number } | null;
  retried422: number;
  /** a prepaid call's first quota, reserved at the INVITE (prepaid.ts); released if the call is not answered */
  prepaid: PrepaidState | null;
}

export interface TeardownResult {
  id: string;
  /** final status of the BYE on each leg; 0 when none came */
  a: number;
  b: number;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO, NOTIFY, MESSAGE';

export class B2bua {
  private readonly early = new Map<string, EarlyCall>();
  /** 2xx to INVITEs sent to a leg, retransmitted until that leg's ACK (key: Call-ID + CSeq) */
  private readonly pending2xx = new Map<string, { timer: NodeJS.Timeout; until: number }>();
  /** ACKs we sent for 2xx (key: Call-ID + CSeq): sent again when the 2xx is */
  private readonly sentAcks = new Map<string, { ack: SipRequest; dest: Destination; at: number }>();
  private readonly locks = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly t1: number;
  private readonly refresher: SessionRefresher;
  private readonly prepaid: PrepaidControl | null;
  /** our listener (Via, Contact); the daemon sets the bound port after start */
  self: Self;

  constructor(private readonly o: B2buaOptions) {
    this.self = o.self;
    this.log = o.logger.child({ component: 'b2bua' });
    this.t1 = o.t1Ms ?? 500;
    this.refresher = new SessionRefresher({
      store: o.store, metrics: o.metrics, logger: this.log, sip: o.sip,
      locked: (id, fn) => this.locked(id, fn),
      teardown: (id, reason, cause) => this.teardown(id, reason, cause),
      legOpts: (call) => this.legOpts(this.profileOf(call)),
    });
    this.prepaid = o.prepaid
      ? new PrepaidControl({
        db: o.prepaid.db, quotaS: o.prepaid.quotaS, store: o.store, metrics: o.metrics, logger: this.log, node: o.node,
        ...(o.prepaid.staleAfterS !== undefined ? { staleAfterS: o.prepaid.staleAfterS } : {}),
        locked: (id, fn) => this.locked(id, fn),
        teardown: (id, reason, cause) => this.teardown(id, reason, cause),
      })
      : null;
  }

  /**
   * Calls being set up in this process (each has two legs): not answered yet. An answered call
   * stays in `early` for 64×T1 (the guard against a second 2xx) but is counted in Redis then.
   */
  earlyCount(): number {
    let n = 0;
    for (const ec of this.early.values()) if (ec.answered === null) n++;
    return n;
  }

  // ---- requests --------------------------------------------------------------------

  onRequest(tx: ServerTransaction, req: SipRequest): void {
    this.o.metrics.requests.inc({ method: req.method });
    let work: Promise<void>;
    try {
      work = req.to().tag ? this.inDialog(tx, req) : this.outOfDialog(tx, req);
    } catch (err) {
      work = Promise.reject(err);
    }
    work.catch((err: unknown) => {
      // a header that does not parse is the sender's fault (its status, 400 by default); anything else is ours
      const status = err instanceof SipParseError ? (err.status ?? 400) : 500;
      this.log.warn({ callId: safeCallId(req), method: req.method, status, err: (err as Error).message }, 'request failed');
      if (tx.canRespond(status)) this.respond(tx, req.method, createResponse(req, status, { toTag: newTag(), ...(status === 500 ? { headers: [['Retry-After', '5']] } : {}) }));
    });
  }

  private respond(tx: ServerTransaction, method: string, res: SipResponse): void {
    if (tx.respond(res) && res.status >= 200) this.o.metrics.responses.inc({ method, status: String(res.status) });
  }

  /** What the leg mapping takes of a profile. */
  private legOpts(profile: ResolvedProfile): { self: Self; allowed: ReadonlySet<string>; codecsDeny: ReadonlySet<string> } {
    return { self: this.self, allowed: profile.headers, codecsDeny: profile.codecsDeny };
  }

  /** 488 to an offer the profile's codec filter left without a codec (RFC 3261 §21.4.26; Warning 305, §20.43). */
  private rejectOffer(tx: ServerTransaction, req: SipRequest, profile: ResolvedProfile): boolean {
    if (!offerUnusable(req, profile.codecsDeny)) return false;
    this.log.info({ callId: req.callId(), method: req.method, profile: profile.name }, 'offer has no codec the profile allows; answered 488');
    this.reply(tx, req, 488, [['Warning', '305 sbc "Incompatible media format"']]);
    return true;
  }

  private reply(tx: ServerTransaction, req: SipRequest, status: number, headers: Array<[string, string]> = [], reason?: string): void {
    this.respond(tx, req.method, createResponse(req, status, { toTag: newTag(), headers, ...(reason ? { reason } : {}) }));
  }

  private async outOfDialog(tx: ServerTransaction, req: SipRequest): Promise<void> {
    if (req.method === 'OPTIONS') return this.reply(tx, req, 200, [['Allow', ALLOW]]);
    if (req.method !== 'INVITE') return this.reply(tx, req, 405, [['Allow', ALLOW]]);
    const name = requestedProfile(req) ?? this.o.defaultProfile;
    const profile = this.o.profiles.get(name);
    if (!profile) {
      this.log.warn({ callId: req.callId(), profile: name }, 'INVITE names an unknown profile; answered 500');
      return this.reply(tx, req, 500, [], 'Unknown SBC Profile');
    }
    // with session timers on, the sbc supports `timer` (RFC 4028) itself
    const required = req.optionTags('require').filter((t) => !(profile.timer && t.toLowerCase() === 'timer'));
    if (required.length > 0) return this.reply(tx, req, 420, [['Unsupported', required.join(', ')]]);
    if (this.early.has(req.callId())) return this.reply(tx, req, 482); // a second INVITE of the same call (a loop or a fork back to us)
    if (this.rejectOffer(tx, req, profile)) return;
    // session timers (RFC 4028 §9): A's Session-Expires below our Min-SE gets 422
    const aTimer = profile.timer ? negotiateAsUas(req, profile.timer) : null;
    if (aTimer && !aTimer.ok) {
      if (aTimer.status === 422) return this.reply(tx, req, 422, [['Min-SE', String(aTimer.minSe)]]);
      return this.reply(tx, req, 400, [], aTimer.reason);
    }
    const id = newCallId();
    // prepaid (docs/sbc.md): the destination's fee and a first quota reserved, or 402
    let prepaid: PrepaidState | null = null;
    if (this.prepaid) {
      const auth = await this.prepaid.authorize(req, profile, id);
      if (!auth.ok) return this.reply(tx, req, 402);
      prepaid = auth.state;
      // cancelled while the balance was asked (the transaction answered 487): nothing to set up
      if (!tx.canRespond(200) || this.early.has(req.callId())) {
        if (prepaid) await this.prepaid.settle(id, prepaid, null);
        return;
      }
    }
    const ec: EarlyCall = {
      id,
      profile,
      aTx: tx,
      aReq: req,
      bReq: req, // set by sendB
      bTx: null,
      aTags: new Map(),
      answered: null,
      cancelled: false,
      createdAt: Date.now(),
      aTimer,
      bAsked: profile.timer ? { interval: profile.timer.interval, minSe: profile.timer.minSe } : null,
      retried422: 0,
      prepaid,
    };
    this.early.set(req.callId(), ec);
    tx.user = { onCancel: () => this.cancelB(ec, 'CANCEL from the caller') };
    this.sendB(ec, newCallId(), newTag(), 1);
    this.log.debug({ id: ec.id, a: req.callId(), b: ec.bReq.callId(), profile: profile.name }, 'B leg sent');
  }

  /** The B leg's INVITE (again after a 422: same Call-ID and From-tag, the next CSeq), with the session timer the sbc asks for. */
  private sendB(ec: EarlyCall, callId: string, fromTag: string, cseq: number): void {
    const aCallId = ec.aReq.callId();
    ec.bReq = bLegInvite(ec.aReq, { ...this.legOpts(ec.profile), callId, fromTag, cseq });
    if (ec.bAsked) {
      for (const [n, v] of requestFields(ec.bAsked.interval, ec.bAsked.minSe)) ec.bReq.append(n, v);
      addTimerSupport(ec.bReq);
    }
    const bTx: ClientTransaction = this.o.sip().sendRequest(ec.bReq, this.o.proxy, {
      onProvisional: (res) => this.bProvisional(ec, res),
      onFinal: (res, _tx, origin) => void this.bFinal(ec, res, origin).catch((err: unknown) => this.log.error({ callId: aCallId, err: (err as Error).message }, 'relaying the B leg answer failed')),
      onTerminated: () => {
        // a transaction replaced by the retry after a 422 leaves the call alone
        if (this.early.get(aCallId) === ec && ec.answered === null && ec.bTx === bTx) this.early.delete(aCallId);
      },
    });
    ec.bTx = bTx;
  }

  private cancelB(ec: EarlyCall, why: string): void {
    this.log.debug({ id: ec.id, why }, 'cancelling the B leg');
    ec.cancelled = true;
    ec.bTx?.cancel({ reason: 'SIP;cause=487;text="Request Terminated"' });
  }

  private aTag(ec: EarlyCall, bTag: string | undefined): string {
    const key = bTag ?? '';
    let t = ec.aTags.get(key);
    if (!t) ec.aTags.set(key, (t = newTag()));
    return t;
  }

  private bProvisional(ec: EarlyCall, res: SipResponse): void {
    if (res.status === 100 || ec.answered) return;
    const toTag = this.aTag(ec, res.to().tag);
    this.respond(ec.aTx, 'INVITE', relayResponse(ec.aReq, res, { ...this.legOpts(ec.profile), toTag, dialogCreating: true }));
  }

  private async bFinal(ec: EarlyCall, res: SipResponse, origin: FinalOrigin): Promise<void> {
    const aCallId = ec.aReq.callId();
    // RFC 4028 §7.4: a 422 names the Min-SE of B's side; the INVITE goes again asking for that (twice at most)
    if (res.status === 422 && origin === 'network' && ec.bAsked && !ec.cancelled && ec.retried422 < 2 && res.cseq().seq === ec.bReq.cseq().seq) {
      const next = retryInterval(res, ec.bAsked.interval);
      if (next !== null) {
        ec.retried422++;
        ec.bAsked = { interval: next, minSe: Math.max(ec.bAsked.minSe, next) };
        this.log.debug({ id: ec.id, interval: next }, 'B leg answered 422; INVITE sent again with its Min-SE');
        this.sendB(ec, ec.bReq.callId(), ec.bReq.from().tag!, ec.bReq.cseq().seq + 1);
        return;
      }
    }
    if (res.status >= 300 || res.status < 200) {
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      if (origin !== 'network') this.log.info({ id: ec.id, origin, status: res.status }, 'B leg failed');
      // the profile's reply translation (not of a cancelled INVITE: the canceller gets its 487, RFC 3261 §9.2);
      // the ACK of B's own status is the transaction's (§17.1.1.3)
      const translate = res.status >= 300 && !ec.cancelled ? ec.profile.replyTranslation.get(res.status) : undefined;
      if (translate) this.log.debug({ id: ec.id, status: res.status, to: translate.code }, 'B leg final translated');
      this.respond(ec.aTx, 'INVITE', relayResponse(ec.aReq, res, { ...this.legOpts(ec.profile), toTag: this.aTag(ec, res.to().tag), ...(translate ? { translate } : {}) }));
      return;
    }
    const bTag = res.to().tag;
    if (ec.answered) {
      if (bTag === ec.answered.b.dialog.id.remoteTag) return this.resendAck(res);
      // a 2xx of a second fork: ACK and end it (RFC 3261 §13.2.2.4)
      return this.endStrayFork(ec, res);
    }
    let bDialog: DialogRecord;
    let aRes: SipResponse;
    let aDialog: DialogRecord;
    try {
      bDialog = createUacDialog(ec.bReq, res);
      aRes = relayResponse(ec.aReq, res, { ...this.legOpts(ec.profile), toTag: this.aTag(ec, bTag), dialogCreating: true });
      aDialog = createUasDialog(ec.aReq, aRes);
    } catch (err) {
      // a 2xx without a Contact or a tag, or an A leg without one: no dialog to keep
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      this.log.warn({ id: ec.id, err: (err as Error).message }, 'answer unusable for a dialog; caller answered 502');
      this.respond(ec.aTx, 'INVITE', createResponse(ec.aReq, 502, { toTag: this.aTag(ec, bTag) }));
      return;
    }
    const now = Date.now();
    const limit = ec.profile.maxCallLengthS;
    const call: SbcCall = {
      id: ec.id, node: this.o.node, profile: ec.profile.name,
      a: { dialog: aDialog, inviteSeq: null },
      b: { dialog: bDialog, inviteSeq: ec.bReq.cseq().seq },
      createdAt: ec.createdAt, answeredAt: now, deadline: limit > 0 ? now + limit * 1000 : null,
    };
    // a prepaid call talks until its first quota runs out (then the sweep reserves the next, or cuts it)
    if (ec.prepaid) call.prepaid = { ...ec.prepaid, until: now + ec.prepaid.granted * 1000 };
    if (ec.aTimer && ec.bAsked) {
      // each leg's timer on its own: A's as its INVITE asked (our 2xx says so), B's as its 2xx says (RFC 4028 §9, §7.2)
      for (const [n, v] of ec.aTimer.responseFields) aRes.append(n, v);
      addTimerSupport(aRes);
      call.a.timer = arm(ec.aTimer.timer, now);
      call.b.timer = arm(negotiateAsUac(res, ec.bAsked), now);
      call.a.sdp = sdpOf(aRes);
      call.b.sdp = sdpOf(ec.bReq);
    }
    ec.answered = call;
    try {
      await this.o.store.save(call);
    } catch (err) {
      // a call the platform cannot end later is not connected
      this.log.error({ id: ec.id, err: (err as Error).message }, 'call state not saved to redis; ending the call');
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      this.respond(ec.aTx, 'INVITE', createResponse(ec.aReq, 500, { toTag: this.aTag(ec, bTag), headers: [['Retry-After', '5']] }));
      await this.endStrayFork(ec, res);
      return;
    }
    if (ec.prepaid) this.prepaid?.answered(ec.id, now);
    this.respond(ec.aTx, 'INVITE', aRes);
    this.retransmit2xx(ec.aTx, aRes);
    // the transaction absorbs INVITE retransmissions now; the early entry only guards against a second 2xx
    setTimeout(() => this.early.get(aCallId) === ec && this.early.delete(aCallId), 64 * this.t1).unref();
    this.log.info({ id: ec.id, a: aCallId, b: ec.bReq.callId(), profile: ec.profile.name, deadline: call.deadline }, 'call answered');
  }

  /** A prepaid call that was not answered (or not connected): its reservation released, nothing charged. */
  private releaseUnanswered(ec: EarlyCall): void {
    if (!ec.prepaid || !this.prepaid || ec.answered !== null) return;
    const p = ec.prepaid;
    ec.prepaid = null;
    void this.prepaid.settle(ec.id, p, null);
  }

  /** A 2xx we ACKed already came again: the ACK went missing. */
  private resendAck(res: SipResponse): void {
    const sent = this.sentAcks.get(`${res.callId()} ${res.cseq().seq}`);
    if (sent) void this.o.sip().send(sent.ack, sent.dest).catch(() => undefined);
  }

  private async endStrayFork(ec: EarlyCall, res: SipResponse): Promise<void> {
    const d = createUacDialog(ec.bReq, res);
    const ack = relayRequest(d, 'ACK', null, { ...this.legOpts(ec.profile), cseq: ec.bReq.cseq().seq });
    const dest = nextHop(ack.request);
    if (dest) await this.o.sip().send(ack.request, dest).catch(() => undefined);
    const bye = relayRequest(ack.dialog, 'BYE', null, this.legOpts(ec.profile));
    const byeDest = nextHop(bye.request);
    if (byeDest) this.o.sip().sendRequest(bye.request, byeDest, {});
  }

  /** §13.3.1.4: the UAS core retransmits its 2xx (T1 doubling up to T2) until the ACK, for at most 64·T1. */
  private retransmit2xx(tx: ServerTransaction, res: SipResponse): void {
    const key = `${res.callId()} ${res.cseq().seq}`;
    const until = Date.now() + 64 * this.t1;
    let interval = this.t1;
    const tick = (): void => {
      if (Date.now() >= until || !tx.respond(res)) {
        this.pending2xx.delete(key);
        return;
      }
      interval = Math.min(interval * 2, 8 * this.t1);
      const timer = setTimeout(tick, interval);
      timer.unref();
      this.pending2xx.set(key, { timer, until });
    };
    const timer = setTimeout(tick, interval);
    timer.unref();
    this.pending2xx.set(key, { timer, until });
  }

  onAck(ack: SipRequest): void {
    let key: string;
    try {
      key = `${ack.callId()} ${ack.cseq().seq}`;
    } catch {
      return; // an ACK that does not parse cannot be answered: dropped
    }
    const p = this.pending2xx.get(key);
    if (p) {
      clearTimeout(p.timer);
      this.pending2xx.delete(key);
    }
    void this.relayAck(ack).catch((err: unknown) => this.log.warn({ callId: ack.callId(), err: (err as Error).message }, 'ACK not relayed'));
  }

  private async relayAck(ack: SipRequest): Promise<void> {
    const found = await this.o.store.byLeg(ack.callId());
    if (!found) return;
    const { call, side } = found;
    const leg = call[other(side)];
    if (leg.inviteSeq === null) return;
    const profile = this.profileOf(call);
    const built = relayRequest(leg.dialog, 'ACK', ack, { ...this.legOpts(profile), cseq: leg.inviteSeq });
    const dest = nextHop(built.request);
    if (!dest) return;
    if (leg.timer && sdpOf(built.request)) await this.refresher.keepSdp(call.id, other(side), sdpOf(built.request));
    const now = Date.now();
    this.sentAcks.set(`${leg.dialog.id.callId} ${leg.inviteSeq}`, { ack: built.request, dest, at: now });
    for (const [k, v] of this.sentAcks) if (now - v.at > 64 * this.t1) this.sentAcks.delete(k);
    await this.o.sip().send(built.request, dest);
  }

  private profileOf(call: SbcCall): ResolvedProfile {
    return this.o.profiles.get(call.profile) ?? this.o.profiles.get(this.o.defaultProfile)!;
  }

  /** Run `fn` after every earlier `fn` of the same call (the state read-modify-write of one call is serial in this process). */
  private async locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const chain = prev.then(() => mine);
    this.locks.set(key, chain);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.locks.get(key) === chain) this.locks.delete(key);
    }
  }

  private async inDialog(tx: ServerTransaction, req: SipRequest): Promise<void> {
    const callId = req.callId();
    const id = await this.o.store.idOf(callId);
    if (!id) return this.reply(tx, req, 481);
    await this.locked(id, async () => {
      const call = await this.o.store.get(id);
      const side: Side | null = !call ? null : call.a.dialog.id.callId === callId ? 'a' : call.b.dialog.id.callId === callId ? 'b' : null;
      if (!call || !side) return this.reply(tx, req, 481);
      const profile = this.profileOf(call);
      const check = receiveInDialog(call[side].dialog, req);
      if (!check.ok) return this.reply(tx, req, check.status, [], check.reason);
      call[side].dialog = check.dialog;
      if (req.method === 'REFER' && profile.refer === 'reject') {
        await this.o.store.save(call);
        return this.reply(tx, req, 403, [], 'REFER Not Allowed');
      }
      if (this.rejectOffer(tx, req, profile)) {
        await this.o.store.save(call);
        return;
      }
      const o = other(side);
      // a refresh (re-INVITE, UPDATE) of a leg with session timers: negotiated as its UAS (422 below our Min-SE)
      const timed = (req.method === 'INVITE' || req.method === 'UPDATE') && call.a.timer && call.b.timer ? this.refresher.asUas(call[side].timer!, profile, req) : null;
      if (timed && !timed.ok) {
        await this.o.store.save(call);
        if (timed.status === 422) return this.reply(tx, req, 422, [['Min-SE', String(timed.minSe)]]);
        return this.reply(tx, req, 400, [], timed.reason);
      }
      const built = relayRequest(call[o].dialog, req.method, req, this.legOpts(profile));
      const oTimer = call[o].timer;
      if (timed?.ok && oTimer) {
        // the relayed request refreshes the other leg too: our Session-Expires for it, the refresher kept
        for (const [n, v] of requestFields(oTimer.interval, oTimer.minSe, oTimer.refresher === 'sbc' ? 'uac' : 'uas')) built.request.append(n, v);
        addTimerSupport(built.request);
      }
      call[o].dialog = built.dialog;
      if (req.method === 'INVITE') call[o].inviteSeq = built.request.cseq().seq;
      const dest = nextHop(built.request);
      if (req.method === 'BYE') {
        // charged before the call leaves Redis: a process that dies in between settles nothing twice (settle is idempotent)
        await this.prepaid?.settleCall(call);
        await this.o.store.remove(call);
        this.log.info({ id, from: side }, 'call ended by BYE');
      } else await this.o.store.save(call);
      if (!dest) return this.reply(tx, req, 500, [], 'No Route To The Other Leg');
      const client = this.o.sip().sendRequest(built.request, dest, {
        onFinal: (res, _t, origin) => {
          // a BYE ends the call whatever the other side says; its timeout is no reason to keep the caller waiting
          const answer = req.method === 'BYE' && origin !== 'network' ? createResponse(req, 200) : relayResponse(req, res, this.legOpts(profile));
          if (timed?.ok && oTimer && origin === 'network' && res.status >= 200 && res.status < 300) {
            for (const [n, v] of timed.responseFields) answer.append(n, v);
            addTimerSupport(answer);
            // both legs refreshed; the SDP of each (offer on the other leg, answer on this one) is the one in force now
            void this.refresher.refreshedThrough(id, { side, timer: timed.timer, sdp: sdpOf(answer) }, { res, asked: oTimer, sdp: sdpOf(built.request) });
          }
          this.respond(tx, req.method, answer);
          if (req.method === 'INVITE' && answer.status >= 200 && answer.status < 300) this.retransmit2xx(tx, answer);
        },
      });
      // a re-INVITE cancelled by its sender is cancelled on the other leg (its 487 comes back through onFinal)
      if (req.method === 'INVITE') tx.user = { onCancel: () => void client.cancel() };
    });
  }

  // ---- ending calls ------------------------------------------------------------------

  /** BYE on both legs of an answered call (RPC `calls.teardown`, the call length limit); null when there is no such call. */
  async teardown(id: string, reason: string, cause = 200): Promise<TeardownResult | null> {
    // the call leaves Redis under the lock; the BYEs are not waited for under it (a dead leg's takes 32 s)
    const call = await this.locked(id, async (): Promise<SbcCall | TeardownResult | null> => {
      const found = await this.o.store.get(id);
      if (!found) {
        const ec = [...this.early.values()].find((e) => e.id === id && !e.answered);
        if (!ec) return null;
        this.cancelB(ec, reason);
        return { id, a: 0, b: 0 };
      }
      if (found.prepaid && this.prepaid) {
        // a standby's Redis is read-only: the save throws there before anything is charged
        await this.o.store.save(found);
        await this.prepaid.settleCall(found);
      }
      await this.o.store.remove(found);
      this.o.metrics.teardowns.inc({ reason });
      return found;
    });
    if (!call || !('node' in call)) return call; // no such call, or one still ringing (cancelled)
    const profile = this.profileOf(call);
    const bye = (side: Side): Promise<number> =>
      new Promise((resolve) => {
        const built = relayRequest(call[side].dialog, 'BYE', null, {
          ...this.legOpts(profile), headers: [['Reason', `SIP;cause=${cause};text="${reason}"`]],
        });
        const dest = nextHop(built.request);
        if (!dest) return resolve(0);
        this.o.sip().sendRequest(built.request, dest, { onFinal: (res, _t, origin) => resolve(origin === 'network' ? res.status : 0) });
      });
    const [a, b] = await Promise.all([bye('a'), bye('b')]);
    this.log.info({ id, reason, a, b }, 'call torn down');
    return { id, a, b };
  }

  /** Calls whose call length limit passed: BYE on both legs. */
  async expire(nowMs = Date.now()): Promise<number> {
    const ended = await Promise.all((await this.o.store.due(nowMs)).map(async (id) => {
      const r = await this.teardown(id, 'call length limit');
      if (!r) await this.o.store.forget(id);
      return r !== null;
    }));
    return ended.filter(Boolean).length;
  }

  /**
   * The calls of `sbc:timers` that are due: a prepaid grant run out (the next quota, or the
   * call cut: prepaid.ts), session refreshes to send, legs given up on (BYE on both; refresh.ts).
   * Returns how many calls were ended.
   */
  async sessionTimers(nowMs = Date.now()): Promise<number> {
    if (!this.prepaid) return this.refresher.sweep(nowMs);
    const ids = await this.o.store.timersDue(nowMs);
    const ended = await Promise.all(ids.map(async (id) => (await this.prepaid!.due(id, nowMs)) || this.refresher.due(id)));
    return ended.filter(Boolean).length;
  }

  /** The sweep of stale prepaid reservations (prepaid.ts): how many were closed; 0 with prepaid off. */
  async prepaidSweep(nowMs = Date.now()): Promise<number> {
    if (!this.prepaid) return 0;
    // the calls ringing here (an answered call stays in `early` for 64×T1 but is in Redis)
    const ringing = new Set([...this.early.values()].filter((e) => e.answered === null).map((e) => e.id));
    return this.prepaid.sweep(nowMs, (id) => ringing.has(id));
  }

  /** Prepaid settlements waiting for their retry. */
  prepaidPending(): number {
    return this.prepaid?.pendingSettlements() ?? 0;
  }

  /** Stop retransmitting (a stopping process). */
  close(): void {
    this.prepaid?.close();
    for (const p of this.pending2xx.values()) clearTimeout(p.timer);
    this.pending2xx.clear();
  }
}

function safeCallId(req: SipRequest): string | undefined {
  try {
    return req.callId();
  } catch {
    return undefined;
  }
}
