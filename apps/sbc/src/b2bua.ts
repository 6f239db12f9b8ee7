/**
 * The B2BUA: an INVITE from the proxy (the A leg) gets a new B leg sent back through the
 * proxy; responses, ACK, CANCEL, BYE, re-INVITE, UPDATE, INFO and other in-dialog
 * requests are relayed from one leg to the other; session timers (RFC 4028) are negotiated
 * on each leg here and run by refresh.ts (legs.ts builds each message, headers.ts
 * decides which fields cross; sdp.ts applies a profile's codec filter, else SDP passes
 * untouched: media stays with the proxy/mediactl). An answered call lives in Redis (store.ts), so in-dialog requests and
 * the end of a call work from any sbc process. A ringing call has its transactions in this process
 * and its state in Redis too (`sbc:early:`): when this process dies, the other node's sbc (or this
 * one restarted) connects the call when B's answer reaches it, relays B's failure or the
 * caller's CANCEL ("takeover" below).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Knex } from '@ngcp/db';
import type { ClientTransaction, Destination, FinalOrigin, ServerTransaction, SipRequest, SipResponse, SipStack } from '@ngcp/sip';
import {
  answerCancel, buildAck, buildCancel, createResponse, createUacDialog, createUasDialog, isRequest, newCallId, newTag, parseMessage, receiveInDialog, SipParseError, viaHop,
} from '@ngcp/sip';
import { SessionRefresher, sdpOf } from './refresh.js';
import { addTimerSupport, arm, negotiateAsUac, negotiateAsUas, requestFields, retryInterval } from './session-timer.js';
import type { ResolvedProfile } from './config.js';
import { requestedProfile } from './headers.js';
import { bLegInvite, nextHop, offerUnusable, relayRequest, relayResponse, type Self } from './legs.js';
import type { SbcMetrics } from './metrics.js';
import { PrepaidControl, type PrepaidState } from './prepaid.js';
import { other, type CallStore, type SbcCall, type SbcEarlyCall, type Side } from './store.js';

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

/**
 * What connecting a ringing call takes when B answers (here, or in another sbc from
 * `sbc:early:`): the stored `SbcEarlyCall` with its profile resolved and both INVITEs parsed.
 */
interface CallSetup extends Omit<SbcEarlyCall, 'node' | 'profile' | 'aReq' | 'bReq'> {
  profile: ResolvedProfile;
  aReq: SipRequest;
  bReq: SipRequest;
}

/** An INVITE still unanswered, with its transactions in this process. */
interface EarlyCall extends CallSetup {
  aTx: ServerTransaction;
  bTx: ClientTransaction | null;
  /** the call once a 2xx came */
  answered: SbcCall | null;
  /** the B INVITE was cancelled (A's CANCEL, a teardown): its 487 is relayed as it is */
  cancelled: boolean;
  /** 422s retried */
  retried422: number;
}

/**
 * Our To-tag towards A for B's To-tag (each early dialog of B is one of A): derived from the
 * call id, so that an sbc taking the call over gives A the tag of the 180 it saw.
 */
export function aLegTag(id: string, bTag: string | undefined): string {
  return createHash('sha1').update(`${id}\n${bTag ?? ''}`).digest('base64url').slice(0, 16);
}

/** A message kept in Redis as text, parsed again. */
function parseStored(text: string): SipRequest {
  const m = parseMessage(Buffer.from(text, 'utf8'));
  if (!isRequest(m)) throw new Error('stored message is not a request');
  return m;
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
    await this.sendB(ec, newCallId(), newTag(), 1);
    this.log.debug({ id: ec.id, a: req.callId(), b: ec.bReq.callId(), profile: profile.name }, 'B leg sent');
  }

  /**
   * The B leg's INVITE (again after a 422: same Call-ID and From-tag, the next CSeq), with the
   * session timer the sbc asks for; the call's state in Redis before it leaves (takeover).
   */
  private async sendB(ec: EarlyCall, callId: string, fromTag: string, cseq: number): Promise<void> {
    const aCallId = ec.aReq.callId();
    ec.bReq = bLegInvite(ec.aReq, { ...this.legOpts(ec.profile), callId, fromTag, cseq });
    if (ec.bAsked) {
      for (const [n, v] of requestFields(ec.bAsked.interval, ec.bAsked.minSe)) ec.bReq.append(n, v);
      addTimerSupport(ec.bReq);
    }
    await this.saveEarly(ec);
    if (ec.cancelled) {
      // the caller's CANCEL (or a teardown) came while the state was written: nothing goes to B
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      this.dropEarly(ec.bReq.callId(), aCallId);
      this.respond(ec.aTx, 'INVITE', createResponse(ec.aReq, 487, { toTag: aLegTag(ec.id, undefined) }));
      return;
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

  /** A ringing call's state in Redis (`sbc:early:`); a failure costs only the takeover of this call. */
  private async saveEarly(ec: EarlyCall): Promise<void> {
    const rec: SbcEarlyCall = {
      id: ec.id, node: this.o.node, profile: ec.profile.name, aReq: ec.aReq.toString(), bReq: ec.bReq.toString(),
      createdAt: ec.createdAt, aTimer: ec.aTimer, bAsked: ec.bAsked, prepaid: ec.prepaid,
    };
    try {
      await this.o.store.saveEarly(rec, ec.bReq.callId(), ec.aReq.callId());
    } catch (err) {
      this.o.metrics.takeover.inc({ event: 'state-unsaved' });
      this.log.warn({ id: ec.id, err: (err as Error).message }, 'ringing call not saved to redis: it cannot be taken over by another sbc');
    }
  }

  /** The ringing state of a call whose final answer came (not awaited: it expires anyway). */
  private dropEarly(bCallId: string, aCallId: string): void {
    this.o.store.dropEarly(bCallId, aCallId).catch((err: Error) => this.log.debug({ bCallId, err: err.message }, 'ringing state not deleted; it expires'));
  }

  private bProvisional(ec: EarlyCall, res: SipResponse): void {
    if (res.status === 100 || ec.answered) return;
    const toTag = aLegTag(ec.id, res.to().tag);
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
        await this.sendB(ec, ec.bReq.callId(), ec.bReq.from().tag!, ec.bReq.cseq().seq + 1);
        return;
      }
    }
    if (res.status >= 300 || res.status < 200) {
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      this.dropEarly(ec.bReq.callId(), aCallId);
      if (origin !== 'network') this.log.info({ id: ec.id, origin, status: res.status }, 'B leg failed');
      // the profile's reply translation (not of a cancelled INVITE: the canceller gets its 487, RFC 3261 §9.2);
      // the ACK of B's own status is the transaction's (§17.1.1.3)
      const translate = res.status >= 300 && !ec.cancelled ? ec.profile.replyTranslation.get(res.status) : undefined;
      if (translate) this.log.debug({ id: ec.id, status: res.status, to: translate.code }, 'B leg final translated');
      this.respond(ec.aTx, 'INVITE', relayResponse(ec.aReq, res, { ...this.legOpts(ec.profile), toTag: aLegTag(ec.id, res.to().tag), ...(translate ? { translate } : {}) }));
      return;
    }
    const bTag = res.to().tag;
    if (ec.answered) {
      if (bTag === ec.answered.b.dialog.id.remoteTag) return this.resendAck(res);
      // a 2xx of a second fork: ACK and end it (RFC 3261 §13.2.2.4)
      return this.endB(ec.bReq, res, ec.profile);
    }
    const now = Date.now();
    let built: { call: SbcCall; aRes: SipResponse };
    try {
      built = this.answeredCall(ec, res, now);
    } catch (err) {
      // a 2xx without a Contact or a tag, or an A leg without one: no dialog to keep
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      this.dropEarly(ec.bReq.callId(), aCallId);
      this.log.warn({ id: ec.id, err: (err as Error).message }, 'answer unusable for a dialog; caller answered 502');
      this.respond(ec.aTx, 'INVITE', createResponse(ec.aReq, 502, { toTag: aLegTag(ec.id, bTag) }));
      return;
    }
    const { call, aRes } = built;
    ec.answered = call;
    try {
      await this.o.store.save(call, true);
    } catch (err) {
      // a call the platform cannot end later is not connected
      this.log.error({ id: ec.id, err: (err as Error).message }, 'call state not saved to redis; ending the call');
      this.early.delete(aCallId);
      this.releaseUnanswered(ec);
      this.dropEarly(ec.bReq.callId(), aCallId);
      this.respond(ec.aTx, 'INVITE', createResponse(ec.aReq, 500, { toTag: aLegTag(ec.id, bTag), headers: [['Retry-After', '5']] }));
      await this.endB(ec.bReq, res, ec.profile);
      return;
    }
    if (ec.prepaid) this.prepaid?.answered(ec.id, now);
    this.respond(ec.aTx, 'INVITE', aRes);
    this.retransmitUntilAck(aRes, () => ec.aTx.respond(aRes));
    // the transaction absorbs INVITE retransmissions now; the early entry only guards against a second 2xx
    setTimeout(() => this.early.get(aCallId) === ec && this.early.delete(aCallId), 64 * this.t1).unref();
    this.log.info({ id: ec.id, a: aCallId, b: ec.bReq.callId(), profile: ec.profile.name, deadline: call.deadline }, 'call answered');
  }

  /**
   * B's 2xx made into the call: both dialogs (B's from its INVITE and the 2xx, A's from its
   * INVITE and the 2xx we answer it), the call length limit, the prepaid grant, each leg's
   * session timer. Throws when the answer or A's INVITE makes no dialog (no Contact, no tag).
   */
  private answeredCall(s: CallSetup, res: SipResponse, now: number): { call: SbcCall; aRes: SipResponse } {
    const bDialog = createUacDialog(s.bReq, res);
    const aRes = relayResponse(s.aReq, res, { ...this.legOpts(s.profile), toTag: aLegTag(s.id, res.to().tag), dialogCreating: true });
    const aDialog = createUasDialog(s.aReq, aRes);
    const limit = s.profile.maxCallLengthS;
    const call: SbcCall = {
      id: s.id, node: this.o.node, profile: s.profile.name,
      a: { dialog: aDialog, inviteSeq: null },
      b: { dialog: bDialog, inviteSeq: s.bReq.cseq().seq },
      createdAt: s.createdAt, answeredAt: now, deadline: limit > 0 ? now + limit * 1000 : null,
    };
    // a prepaid call talks until its first quota runs out (then the sweep reserves the next, or cuts it)
    if (s.prepaid) call.prepaid = { ...s.prepaid, until: now + s.prepaid.granted * 1000 };
    if (s.aTimer && s.bAsked) {
      // each leg's timer on its own: A's as its INVITE asked (our 2xx says so), B's as its 2xx says (RFC 4028 §9, §7.2)
      for (const [n, v] of s.aTimer.responseFields) aRes.append(n, v);
      addTimerSupport(aRes);
      call.a.timer = arm(s.aTimer.timer, now);
      call.b.timer = arm(negotiateAsUac(res, s.bAsked), now);
      call.a.sdp = sdpOf(aRes);
      call.b.sdp = sdpOf(s.bReq);
    }
    return { call, aRes };
  }

  /** A prepaid call that was not answered (or not connected): its reservation released, nothing charged. */
  private releaseUnanswered(ec: EarlyCall): void {
    if (!ec.prepaid || !this.prepaid || ec.answered !== null) return;
    const p = ec.prepaid;
    ec.prepaid = null;
    void this.prepaid.settle(ec.id, p, null);
  }

  /** An ACK we sent, for 64×T1: sent again when the response it answers comes again. */
  private keepAck(ack: SipRequest, dest: Destination): void {
    const now = Date.now();
    this.sentAcks.set(`${ack.callId()} ${ack.cseq().seq}`, { ack, dest, at: now });
    for (const [k, v] of this.sentAcks) if (now - v.at > 64 * this.t1) this.sentAcks.delete(k);
  }

  /** A response we ACKed already came again: the ACK went missing. */
  private resendAck(res: SipResponse): void {
    const sent = this.sentAcks.get(`${res.callId()} ${res.cseq().seq}`);
    if (sent) void this.o.sip().send(sent.ack, sent.dest).catch(() => undefined);
  }

  /** ACK and BYE for a 2xx of B the call will not use. */
  private async endB(bReq: SipRequest, res: SipResponse, profile: ResolvedProfile): Promise<void> {
    const d = createUacDialog(bReq, res);
    const ack = relayRequest(d, 'ACK', null, { ...this.legOpts(profile), cseq: bReq.cseq().seq });
    const dest = nextHop(ack.request);
    if (dest) await this.o.sip().send(ack.request, dest).catch(() => undefined);
    const bye = relayRequest(ack.dialog, 'BYE', null, this.legOpts(profile));
    const byeDest = nextHop(bye.request);
    if (byeDest) this.o.sip().sendRequest(bye.request, byeDest, {});
  }

  /**
   * §13.3.1.4: the UAS core retransmits its 2xx (T1 doubling up to T2) until the ACK, for at most
   * 64·T1 — by `send` (its server transaction, or to the Via when another sbc's transaction is gone:
   * then a final non-2xx too, §17.2.1's retransmission done here); `send` false: stop.
   */
  private retransmitUntilAck(res: SipResponse, send: () => boolean): void {
    const key = `${res.callId()} ${res.cseq().seq}`;
    const until = Date.now() + 64 * this.t1;
    let interval = this.t1;
    const tick = (): void => {
      if (Date.now() >= until || !send()) {
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
    this.keepAck(built.request, dest);
    await this.o.sip().send(built.request, dest);
  }

  // ---- takeover: a ringing call another sbc process sent on --------------------------

  /**
   * A CANCEL (RFC 3261 §9.2). Of an INVITE of this process: its transaction's (the B leg is
   * cancelled by the INVITE's hook). Of an INVITE another sbc process took (it died, we took
   * over): answered 200 here and sent on as the CANCEL of that call's B INVITE (same branch, from
   * `sbc:early:`); B's 487 then reaches us as a response without transaction and goes to A.
   */
  onCancel(cancel: SipRequest, cancelTx: ServerTransaction, inviteTx: ServerTransaction | undefined): void {
    if (inviteTx !== undefined) return answerCancel(cancel, cancelTx, inviteTx);
    this.cancelTakenOver(cancel, cancelTx).catch((err: Error) => {
      this.log.warn({ callId: safeCallId(cancel), err: err.message }, 'CANCEL of a call another sbc sent on failed; answered 500');
      if (cancelTx.canRespond(500)) cancelTx.respond(createResponse(cancel, 500, { toTag: newTag(), headers: [['Retry-After', '5']] }));
    });
  }

  private async cancelTakenOver(cancel: SipRequest, cancelTx: ServerTransaction): Promise<void> {
    const bCallId = await this.o.store.earlyBOf(cancel.callId());
    const rec = bCallId ? await this.o.store.early(bCallId) : null;
    if (!rec) {
      cancelTx.respond(createResponse(cancel, 481, { toTag: newTag() }));
      return;
    }
    cancelTx.respond(createResponse(cancel, 200, { toTag: aLegTag(rec.id, undefined) }));
    this.o.metrics.takeover.inc({ event: 'cancel' });
    this.log.info({ id: rec.id, node: rec.node }, 'CANCEL of a ringing call another sbc sent on: sent on to B');
    this.o.sip().sendRequest(buildCancel(parseStored(rec.bReq), { reason: 'SIP;cause=487;text="Request Terminated"' }), this.o.proxy, {});
  }

  /**
   * A response that matched no client transaction. B's answer to an INVITE another sbc process
   * sent (it died, this node took over, B's proxy relayed the answer by its Via): with the call's
   * `sbc:early:` state, a provisional goes to A as it would have (the same To-tag), a failure is
   * ACKed and goes to A (translated as the profile says), a 2xx connects the call as `bFinal`
   * does. A 2xx again of a call already connected: its ACK again. Anything else: dropped.
   */
  onStrayResponse(res: SipResponse): void {
    let bCallId: string;
    try {
      if (res.cseq().method !== 'INVITE' || res.status === 100) return;
      bCallId = res.callId();
    } catch {
      return;
    }
    // one call's responses one after another (a 2xx and its retransmission must not both connect it)
    this.locked(`early ${bCallId}`, () => this.takeOver(res, bCallId)).catch((err: Error) => {
      this.log.warn({ callId: bCallId, status: res.status, err: err.message }, 'answer of a call another sbc sent on not relayed');
    });
  }

  private async takeOver(res: SipResponse, bCallId: string): Promise<void> {
    // a call ringing in this process has its transaction: a response it does not match is a late 2xx again
    const here = [...this.early.values()].some((e) => e.bReq.callId() === bCallId);
    const rec = here ? null : await this.o.store.early(bCallId);
    if (!rec) {
      if (here) {
        if (res.status >= 200 && res.status < 300) this.resendAck(res);
        return;
      }
      return this.reInviteAnswered(res);
    }
    const profile = this.o.profiles.get(rec.profile) ?? this.o.profiles.get(this.o.defaultProfile)!;
    const setup: CallSetup = {
      id: rec.id, profile, aReq: parseStored(rec.aReq), bReq: parseStored(rec.bReq), createdAt: rec.createdAt,
      aTimer: rec.aTimer, bAsked: rec.bAsked, prepaid: rec.prepaid,
    };
    const aCallId = setup.aReq.callId();
    const top = setup.aReq.vias()[0];
    if (!top) throw new Error('stored A INVITE has no Via');
    const hop = viaHop(top);
    const toA: Destination = { transport: hop.transport.toLowerCase(), address: hop.address, port: hop.port };
    const send = (m: SipResponse | SipRequest, dest: Destination): boolean => {
      this.o.sip().send(m, dest).catch(() => undefined);
      return true;
    };
    const log = this.log.child({ id: rec.id, a: aCallId, b: bCallId, from: rec.node });
    if (res.status < 200) {
      send(relayResponse(setup.aReq, res, { ...this.legOpts(profile), toTag: aLegTag(rec.id, res.to().tag), dialogCreating: true }), toA);
      this.o.metrics.takeover.inc({ event: 'provisional' });
      return;
    }
    if (res.status >= 300) {
      // the hop-by-hop ACK the dead transaction owed B's side (§17.1.1.3), kept for B's retransmissions of its failure
      const ack = buildAck(setup.bReq, res);
      send(ack, this.o.proxy);
      this.keepAck(ack, this.o.proxy);
      if (!(await this.o.store.dropEarly(bCallId, aCallId))) return;
      if (rec.prepaid && this.prepaid) void this.prepaid.settle(rec.id, rec.prepaid, null);
      // a cancelled INVITE's 487 is never translated (§9.2: the canceller gets its 487)
      const translate = res.status !== 487 ? profile.replyTranslation.get(res.status) : undefined;
      const aRes = relayResponse(setup.aReq, res, { ...this.legOpts(profile), toTag: aLegTag(rec.id, res.to().tag), ...(translate ? { translate } : {}) });
      send(aRes, toA);
      this.retransmitUntilAck(aRes, () => send(aRes, toA));
      this.o.metrics.takeover.inc({ event: 'failed' });
      log.info({ status: res.status }, 'ringing call of another sbc taken over: B failed, relayed to A');
      return;
    }
    const now = Date.now();
    let built: { call: SbcCall; aRes: SipResponse };
    try {
      built = this.answeredCall(setup, res, now);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'answer unusable for a dialog; caller answered 502');
      await this.o.store.dropEarly(bCallId, aCallId);
      if (rec.prepaid && this.prepaid) void this.prepaid.settle(rec.id, rec.prepaid, null);
      send(createResponse(setup.aReq, 502, { toTag: aLegTag(rec.id, res.to().tag) }), toA);
      return;
    }
    try {
      await this.o.store.save(built.call, true);
    } catch (err) {
      // as in bFinal: a call the platform cannot end later is not connected
      log.error({ err: (err as Error).message }, 'call state not saved to redis; ending the call');
      if (rec.prepaid && this.prepaid) void this.prepaid.settle(rec.id, rec.prepaid, null);
      send(createResponse(setup.aReq, 500, { toTag: aLegTag(rec.id, res.to().tag), headers: [['Retry-After', '5']] }), toA);
      await this.endB(setup.bReq, res, profile);
      return;
    }
    if (rec.prepaid) this.prepaid?.answered(rec.id, now);
    send(built.aRes, toA);
    this.retransmitUntilAck(built.aRes, () => send(built.aRes, toA));
    this.o.metrics.takeover.inc({ event: 'answered' });
    log.info({ profile: profile.name, deadline: built.call.deadline }, 'ringing call of another sbc taken over: answered');
  }

  /**
   * A final response to a re-INVITE of an answered call, relayed on this leg by an sbc that is
   * gone (`relaying` of the leg says which request of the other leg it answers): relayed to that
   * request's sender as `inDialog` would have (a 2xx repeated until its ACK, which goes on as
   * usual). A 2xx we ACKed already: the ACK again. Anything else: dropped.
   */
  private async reInviteAnswered(res: SipResponse): Promise<void> {
    if (res.status < 200) return;
    const key = `${res.callId()} ${res.cseq().seq}`;
    if (this.sentAcks.has(key)) return this.resendAck(res);
    const found = await this.o.store.byLeg(res.callId());
    if (!found || found.call[found.side].relaying?.seq !== res.cseq().seq) return;
    const id = found.call.id;
    await this.locked(id, async () => {
      const call = await this.o.store.get(id);
      const side: Side = found.side;
      const relaying = call?.[side].relaying;
      if (!call || !relaying || relaying.seq !== res.cseq().seq) return;
      const orig = parseStored(relaying.req);
      const top = orig.vias()[0];
      if (!top) return;
      const hop = viaHop(top);
      const dest: Destination = { transport: hop.transport.toLowerCase(), address: hop.address, port: hop.port };
      call[side].relaying = null;
      await this.o.store.save(call);
      const answer = relayResponse(orig, res, this.legOpts(this.profileOf(call)));
      const send = (): boolean => {
        this.o.sip().send(answer, dest).catch(() => undefined);
        return true;
      };
      send();
      if (res.status < 300) this.retransmitUntilAck(answer, send);
      this.o.metrics.takeover.inc({ event: 'reinvite' });
      this.log.info({ id, leg: side, status: res.status }, 're-INVITE relayed by an sbc that is gone: its answer relayed');
    });
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
      if (req.method === 'INVITE') {
        call[o].inviteSeq = built.request.cseq().seq;
        call[o].relaying = { seq: call[o].inviteSeq, req: req.toString() };
      }
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
          if (req.method === 'INVITE' && answer.status >= 200 && answer.status < 300) this.retransmitUntilAck(answer, () => tx.respond(answer));
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
