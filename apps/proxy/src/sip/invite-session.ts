/**
 * One initial INVITE from a subscriber or a peer (RFC 3261 §16): 407 challenge (not for a
 * request from a peering server), callee lookup, the call in Redis, media offer, parallel
 * forking to every binding (highest q first) — or, for a number not on the platform, serial
 * attempts to the peering servers (docs/routing.md: next server on 408/5xx/timeout) — best
 * response selection, CANCEL of the other branches on the first 2xx, CANCEL from the
 * caller to every branch, accounting start/failure. One object per INVITE, gone when the
 * INVITE transaction is answered; the established call lives only in Redis.
 *
 * Call forwards (features/forwards.ts, docs/routing.md): the call goes through stages, one
 * per target (a subscriber's bindings, or an LCR search to peers). A subscriber's stage that
 * ends unanswered (CFU before ringing, CFB on 486, CFNA on no binding or 408/480/5xx, CFT on
 * the ring timeout: its ringing branches CANCELled) starts the forward's destinations one
 * after the other, each a new stage; the caller gets 181 and, in the end, one final chosen
 * over every stage not forwarded (RFC 3261 §16.7). A CANCEL from the caller reaches the
 * branches of whatever stage rings.
 */
import type { ClientTransaction, ClientTransactionUser, Destination, ServerTransaction, SipRequest, SipResponse, TransportSource as Source } from '@ngcp/sip';
import { createResponse, newBranch, newTag } from '@ngcp/sip';
import type { CallBranch, CallFork, LocationBinding } from '@ngcp/db';
import {
  clientAddress, copyRequest, decrementMaxForwards, hasSdp, lazyChild, nowS, ourRecordRoute, ourVia, reply, respond, type ProxyContext,
} from '../context.js';
import { consumeCredentials, type AuthOutcome } from '../auth.js';
import { callIdField, SBC_A_CALL_ID_FIELD, SBC_CALLER_FIELD, SBC_PROFILE_FIELD } from './sbc.js';
import { selectBestResponse } from '../routing/best-response.js';
import { calleeCandidates } from '../routing/callee.js';
import { planLooseRoute } from '../routing/loose-route.js';
import { bindingDestination } from '../routing/uri-destination.js';
import { inviteAccRecord } from '../store/accounting.js';
import type { CallRecord } from '../store/call-store.js';
import { applyIdentity, callerAsksPrivacy, fromFor, type Identity, type InboundResult } from '../features/call-features.js';
import {
  cftTimeoutMs, diversionHeader, ForwardChain, forwardFor, forwardTarget, hasForward, numberOf,
  type ForwardDestination, type Forwards, type ForwardType, type StageOutcome,
} from '../features/forwards.js';
import { rewrite } from '../features/rewrite.js';
import { exchangeSdp, timedMedia } from './media-call.js';
import { dialledNumber, PeerSearch, type PeerAttempt } from '../peering/peer-search.js';
import { peerRequestTarget } from '../peering/peer-request.js';
import { attemptVerdict, type PeerServer } from '../peering/selection.js';
import { answerPeerChallenge, isChallenge, resendWithCredentials, shiftedRecordRoute } from '../peering/peer-auth.js';
import { sdpExchange } from './sdp-exchange.js';
import { announcementUri, failureAnnouncement, type AnnouncementName } from '../features/announcements.js';
import { parseStarCode, vscAnnouncement, type StarCode } from '../features/vsc.js';
import { isVoicemailNumber, VOICEBOX_DOMAIN, voicemailUri, voicemailUser, type VoicemailKind } from '../features/voicemail.js';

interface Callee { subscriberId: number; username: string; domain: string; customerId: number | null }
type Caller = Extract<AuthOutcome, { ok: true }>['subscriber'];

interface Branch {
  binding: LocationBinding;
  /** the branch parameter of our Via on this branch */
  id: string;
  tx?: ClientTransaction;
  provisional: boolean;
  final?: number;
  response?: SipResponse;
  /** a call attempt to a peering server */
  peer?: PeerAttempt;
  /** the attempt timer (no ringing nor final within peering.attempt_timeout_ms → next server) */
  timer?: NodeJS.Timeout;
  /** the stage (target) the branch belongs to */
  stage?: Stage;
  /** a forward replaced the branch's stage (or it was CANCELled at a ring timeout): its final is not the call's */
  superseded?: boolean;
  /** a peer attempt: the INVITE as sent and where (a 401/407 is answered by re-sending it, peering/peer-auth.ts) */
  sent?: SipRequest;
  dest?: Destination;
  /** the peer's challenge was answered once: a second one is not (no loop) */
  authAnswered?: boolean;
  /** the reason phrase of a final the proxy booked for the branch itself (no response to relay) */
  reason?: string;
}

/** One target of the call: a subscriber's bindings, an LCR search to peers, or an app-server announcement. */
interface Stage {
  kind: 'subscriber' | 'peer' | 'appserver';
  callee?: Callee;
  forwards?: Forwards;
  /** this.branches[first…] are the stage's */
  first: number;
  /** CFU: the phones are not rung */
  unconditional?: boolean;
  /** the ring timeout passed (CFT, or a serial forward destination's no-answer time) */
  timedOut?: boolean;
  ended?: boolean;
  ringTimer?: NodeJS.Timeout;
  /** the no-answer time of this stage when it is a forward destination with others after it */
  destinationTimeoutMs?: number;
  /** the forward target's concurrent-call limit refused the call: its final (486 + Reason) */
  refused?: Synthetic;
  /** the subscriber's primary number (the Diversion header) */
  number?: string;
}

/** A final the proxy makes itself for a stage that had no branch (no binding, a loop, …). */
interface Synthetic { status: number; reason: string; headers?: Array<[string, string]> }

/** The destinations of one forward still to try (serial), with the set's ring timeout; `owner` forwarded (its voicemail box). */
interface PendingForward { type: ForwardType; destinations: ForwardDestination[]; ringTimeoutMs: number; owner: Callee }

type Plan = { binding: LocationBinding; id: string; dest: Destination | undefined };

/** An app-server that neither rings (1xx beyond 100) nor answers an announcement or a voicemail call within this is given up (docs/routing.md "Announcements"). */
const APPSERVER_ANSWER_MS = 2000;

export class InviteSession {
  private branches: Branch[] = [];
  private answered = false;
  private finished = false;
  private cancelled = false;
  private media = false;
  /** late offer (RFC 3261 §13.2.1): the INVITE has no SDP, the offer comes in the 1xx/2xx, the answer in the ACK */
  private lateOffer = false;
  private call!: CallRecord;
  private hasCall = false;
  /** the A leg's Call-ID of a B leg from the sbc (`X-NGCP-A-Call-ID`): the call's accounting key */
  private callerCallId: string | undefined;
  private answers = new Map<string, Promise<string | undefined>>();
  /** outbound LCR: the attempts left; `searching` until the search ended (answered, a final that stops it, none left, CANCEL) */
  private search: PeerSearch | null = null;
  private searching = false;
  /** the caller as features/ saw it, for the identity each peer is shown (its own rewrite set) */
  private peerCaller?: { inbound: InboundResult; anonymous: boolean };
  private body: Buffer | undefined;
  /** The realm the caller's digest answered (ours): its credentials are removed from what is forwarded. */
  private credentialsRealm?: string;
  /** how the callee is shown the caller (features: rewrite out, PAI, CLIR); the From of every branch */
  private identity?: Identity;
  /** the `conc:*` sets this call is counted in (features: concurrent-call limits) */
  private concKeys: string[] = [];
  private log;
  /** when the INVITE arrived: the CDR's init time (acc.init_time) */
  private readonly initTime = new Date();
  /** the target in progress; forwards start new ones */
  private stage?: Stage;
  /** async routing (lookups before a stage forks) in progress: the call must not end meanwhile unless cancelled */
  private routing = false;
  /** `call:<id>` written (and the media offered): later stages update it */
  private stored = false;
  private synthetic: Synthetic[] = [];
  /** forwards whose destinations are being tried, innermost last */
  private pending: PendingForward[] = [];
  private chain: ForwardChain;
  /** Diversion headers (RFC 5806) of the forwards taken, newest first */
  private diversions: string[] = [];
  /** the `conc:*` keys of the caller, and of the current target subscriber (a forward moves the call's count) */
  private callerKeys: string[] = [];
  private targetKeys: string[] = [];
  /** a subscriber's call (not a peer's): a failed one may go to an announcement */
  private fromSubscriber = false;
  /** the call went to an app-server announcement; `original` sends the final it replaced (when the app-server fails) */
  private announcement?: { name: AnnouncementName; original?: () => void };

  constructor(private ctx: ProxyContext, private tx: ServerTransaction, private req: SipRequest, private source: Source) {
    this.log = lazyChild(ctx.logger, { component: 'invite', callId: req.callId() });
    this.chain = new ForwardChain(ctx.config.calls.forward_max_hops ?? 5);
  }

  async run(): Promise<void> {
    const { ctx, req, tx } = this;
    const from = req.from().uri;
    if (!from.isSip || !from.user) return void reply(ctx, tx, req, 403, { reason: 'Bad From' });
    // the B leg of a call the sbc took (docs/sbc.md): a trusted source, authenticated on the A leg
    const sbc = ctx.sbc ?? null;
    if (sbc && this.source.address === sbc.dest.address && this.source.port === sbc.dest.port) return this.runFromSbc(from.user, from.hostname);
    // from a peering server (matched by source address): no digest, the callee by number
    const peer = ctx.peering?.bySourceAddress(this.clientAddress());
    if (peer) return sbc ? this.toSbc(`peer:${peer.id}`) : this.runFromPeer(peer, from.user, from.hostname);
    // calls.auth false: benchmark/lab only (config.ts) — the caller is the From AoR, unchallenged
    const auth = ctx.config.calls.auth === false ? await this.callerByFrom(from.user, from.hostname) : await ctx.auth.authenticate(req, from.hostname, true, from.user, this.clientAddress());
    if (!auth.ok) {
      if ('challenge' in auth) {
        if (auth.reason !== 'missing') ctx.metrics.authFailures.inc();
        return void reply(ctx, tx, req, 407, { headers: auth.challenge.map((v) => ['Proxy-Authenticate', v] as [string, string]) });
      }
      ctx.metrics.authFailures.inc();
      this.log.info({ reason: auth.reason, user: `${from.user}@${from.hostname}` }, 'invite refused');
      return void reply(ctx, tx, req, 403);
    }
    // the digest was for us: it is not forwarded (fork)
    if (ctx.config.calls.auth !== false) this.credentialsRealm = from.hostname;
    if (sbc) return this.toSbc('sub');
    return this.runFromSubscriber(auth.subscriber, from.user);
  }

  /**
   * The A leg of a call through the sbc (docs/sbc.md): the caller is authenticated; the INVITE
   * goes to the sbc unchanged but for our Via and Record-Route, the profile and who the caller
   * is (`X-NGCP-Caller`: `sub` = the From AoR, `peer:<id>`). No call record, media or
   * accounting here: the B leg has them, so the call is counted once.
   */
  private async toSbc(caller: string): Promise<void> {
    const { ctx, req, tx } = this;
    const plan = planLooseRoute(req.routes(), req.requestUri(), ctx.self);
    if (req.routes().length > plan.popTop) return void reply(ctx, tx, req, 403, { reason: 'Preloaded Route Not Allowed' });
    const sbc = ctx.sbc!;
    tx.user = { onCancel: () => this.onCallerCancel() };
    this.log.debug({ caller }, 'A leg to the sbc');
    this.fork({ binding: { contact: req.uri, expires: 0 }, id: newBranch(), dest: sbc.dest }, undefined, undefined, [
      [SBC_PROFILE_FIELD, sbc.profile],
      [SBC_CALLER_FIELD, caller],
    ]);
  }

  /** The B leg from the sbc: the caller as the A leg's `X-NGCP-Caller` says, then routed as any call. */
  private async runFromSbc(fromUser: string, fromHost: string): Promise<void> {
    const { ctx, req, tx } = this;
    const who = req.get(SBC_CALLER_FIELD)?.trim() ?? 'sub';
    // the call is accounted under the caller's Call-ID (the A leg's), as the phone and the CDR know it
    this.callerCallId = callIdField(req.get(SBC_A_CALL_ID_FIELD));
    const peerId = /^peer:(\d+)$/.exec(who)?.[1];
    if (peerId !== undefined) {
      const peer = ctx.peering?.allServers().find((s) => s.id === Number(peerId));
      if (!peer) return void reply(ctx, tx, req, 403, { reason: 'Unknown Peer' });
      return this.runFromPeer(peer, fromUser, fromHost);
    }
    const auth = await this.callerByFrom(fromUser, fromHost);
    if (!auth.ok) return void reply(ctx, tx, req, 403);
    return this.runFromSubscriber(auth.subscriber, fromUser);
  }

  /** An authenticated subscriber's call: number handling, callee or peers, admission, then the branches. */
  private async runFromSubscriber(caller: Caller, fromUser: string): Promise<void> {
    const { ctx, req, tx } = this;
    const plan = planLooseRoute(req.routes(), req.requestUri(), ctx.self);
    if (req.routes().length > plan.popTop) return void reply(ctx, tx, req, 403, { reason: 'Preloaded Route Not Allowed' });

    const ruri = req.requestUri();
    if (!ruri.isSip) return void reply(ctx, tx, req, 416);
    const hostIsIp = ruri.hostType !== 'name';
    if (!hostIsIp && !(await ctx.dir.domainServed(ruri.hostname))) return void reply(ctx, tx, req, 404, { reason: 'Domain Not Served' });
    this.fromSubscriber = true;
    // the voicemail number as dialled (before rewrite rules and star codes): the caller's own box
    if (ctx.voicemail && isVoicemailNumber(ruri.user, ctx.voicemail.number)) return this.runRetrieval(caller, ruri.user ?? '');
    // star codes (features/vsc.ts): a forward set or cleared, confirmed by an announcement; *31*<number> is a call with CLIR
    const star = ctx.vsc ? parseStarCode(ruri.user, ctx.vsc.codes) : null;
    if (star && star.action !== 'call') return this.runStarCode(caller, star, ruri.user ?? '');
    if (star) ctx.metrics.vsc.inc({ code: star.code, result: 'call' });
    const dialled = star ? star.number : (ruri.user ?? '');
    // number handling (features/): caller and callee to E.164 with the caller's rewrite set, before the lookup
    const inbound = await ctx.features.inbound(caller, dialled);
    const callee = await this.findCallee(inbound.callee, ruri.hostname, hostIsIp, caller.domain);
    this.call = this.subscriberCall(caller, callee ? `${callee.username}@${callee.domain}` : dialled, dialled);
    this.hasCall = true;
    // not on the platform: outbound LCR over the peering groups (docs/routing.md), with the number as rewritten inbound (E.164)
    let search: PeerSearch | undefined;
    if (!callee && ctx.peering) {
      const number = dialledNumber(inbound.callee);
      if (number !== null) {
        const s = new PeerSearch(ctx.peering, number, inbound.callerNumber ?? dialledNumber(fromUser) ?? fromUser, (srv, err) => this.log.warn({ server: srv.name, host: srv.host, err: err.message }, 'peering server did not resolve; skipped'));
        if (s.routable) search = s;
      }
    }
    // NCOS, block lists, CLIR, concurrent-call limits (a call to nobody is only checked, not counted)
    const wantsPrivacy = star !== null || callerAsksPrivacy(req);
    const admitting = ctx.features.admit(this.call.call_id, inbound, callee, wantsPrivacy, { count: callee !== undefined || search !== undefined });
    // the callee's bindings are read meanwhile: the lookup and the admission script share one Redis round trip (auto-pipelining)
    const bindings = callee ? ctx.location.lookup(`${callee.username}@${callee.domain}`) : undefined;
    bindings?.catch(() => undefined); // awaited in callSubscriber; unused when the call is refused
    const admission = await admitting;
    if (!admission.ok) return void this.fail(admission.status, admission.reason, [['Reason', admission.header]]);
    this.concKeys = admission.concKeys;
    if (this.concKeys.length > 0) this.call.conc = this.concKeys.join(' ');
    this.callerKeys = ctx.features.callerKeys(caller);
    this.peerCaller = { inbound, anonymous: admission.anonymous };
    if (search) return this.route(() => this.runToPeers(search));
    if (!callee) return void this.fail(404, 'Not Found');
    this.targetKeys = ctx.features.calleeKeys(callee);
    return this.route(() => this.callSubscriber(callee, bindings));
  }

  /** `call:<id>` of a subscriber's call (the callee as far as known). */
  private subscriberCall(caller: Caller, callee: string, dialled: string): CallRecord {
    const { ctx, req } = this;
    return {
      call_id: req.callId(), caller: `${caller.username}@${caller.domain}`, callee,
      state: 'init', start_time: String(nowS()), caller_subscriber_id: String(caller.subscriberId), node: ctx.config.node,
      from_tag: req.from().tag ?? '', caller_user: caller.username, caller_domain: caller.domain, dialled, src_ip: this.clientAddress(),
      ...(caller.customerId != null ? { customer_id: String(caller.customerId) } : {}),
      ...(this.callerCallId ? { caller_call_id: this.callerCallId } : {}),
    };
  }

  /**
   * A star code that sets or clears a call forward (features/vsc.ts): written through the API's
   * code (features/vsc-apply.ts), then the call goes to the announcement that confirms it —
   * `vsc-ok`, `vsc-cleared`, or `vsc-error` for a malformed code or a number the check refuses.
   * Without an app-server the caller gets a final response saying the same.
   */
  private async runStarCode(caller: Caller, star: Exclude<StarCode, { action: 'call' }>, dialled: string): Promise<void> {
    const { ctx } = this;
    this.tx.user = { onCancel: () => this.onCallerCancel() };
    let ok = star.action !== 'error';
    if (star.action === 'set' || star.action === 'clear') {
      // the number as any dialled number: the caller's rewrite rules (direction in) make it E.164
      const number = star.action === 'set' ? (await ctx.features.inbound(caller, star.number)).callee : null;
      const r = await ctx.vsc!.setForward(caller, star.code, number, this.clientAddress());
      if (!r.ok) {
        ok = false;
        this.log.info({ code: star.code, reason: r.reason }, 'star code refused');
      } else this.log.info({ code: star.code, action: star.action, number }, 'call forward changed by star code');
    } else if (star.action === 'error') this.log.info({ code: star.code, reason: star.reason }, 'malformed star code');
    const name = ok ? vscAnnouncement(star) : 'vsc-error';
    ctx.metrics.vsc.inc({ code: star.code, result: !ok ? 'error' : star.action === 'set' ? 'set' : 'cleared' });
    // the caller CANCELled meanwhile (answered 487 already): the code stays applied
    if (this.done()) return;
    this.call = this.subscriberCall(caller, dialled, dialled);
    this.hasCall = true;
    if (this.announce(name)) return;
    if (name === 'vsc-error') return void this.fail(484, 'Invalid Star Code');
    this.fail(603, name === 'vsc-ok' ? 'Call Forward Set' : 'Call Forward Cleared');
  }

  /**
   * Send the call to the app-server's announcement `name` (a stage of one branch to
   * `sip:announce.<name>@<app-server>`, media as for any callee): the caller gets the
   * app-server's answer, the app-server ends the call. `original` sends the final the
   * announcement replaces, should the app-server not answer it. False without an app-server.
   */
  private announce(name: AnnouncementName, original?: () => void): boolean {
    const { ctx } = this;
    const at = ctx.appserver;
    if (!at) return false;
    this.announcement = { name, ...(original ? { original } : {}) };
    ctx.metrics.announcements.inc({ name });
    this.log.info({ name }, 'call to an announcement');
    void this.route(() => this.callAppserver(announcementUri(name, at), at));
    return true;
  }

  /** A voicemail number call (features/voicemail.ts): the caller's own box, `vm-retrieve.<id>`; no NCOS, limits or forwards. */
  private runRetrieval(caller: Caller, dialled: string): Promise<void> {
    this.call = this.subscriberCall(caller, dialled, dialled);
    this.hasCall = true;
    return this.route(() => this.callVoicemail('retrieve', { subscriberId: caller.subscriberId, username: caller.username, domain: caller.domain, customerId: caller.customerId }));
  }

  /**
   * A stage to subscriber `box`'s voicemail on the app-server (`vm-deposit.<id>` for a forward,
   * `vm-retrieve.<id>` for the voicemail number): the call's callee becomes the box
   * (`vm-<kind>.<id>@voicebox.local`, the box owner's subscriber id) and the call type
   * `voicemail` (a deposit's forward type gives way: the acc records and the CDR mark the call
   * to the voicebox, as sip:provider's do), media as for any callee.
   * A deposit shows the caller as the box owner's phones would see it (its rewrite rules, CLIR).
   */
  private async callVoicemail(kind: VoicemailKind, box: Callee): Promise<void> {
    const { ctx } = this;
    const at = ctx.appserver!;
    ctx.metrics.voicemail.inc({ kind });
    this.log.info({ kind, box: box.subscriberId }, 'call to voicemail');
    const user = voicemailUser(kind, box.subscriberId);
    Object.assign(this.call, { callee: `${user}@${VOICEBOX_DOMAIN}`, callee_user: user, callee_domain: VOICEBOX_DOMAIN, callee_subscriber_id: String(box.subscriberId), call_type: 'voicemail' });
    if (kind === 'deposit') {
      if (this.peerCaller) this.identity = await ctx.features.identityForSubscriber(this.peerCaller.inbound, this.peerCaller.anonymous, box);
      // the box owner's phones no longer ring: its concurrent-call sets let the call go (as for a forward to a peer)
      await this.moveCount([]);
    }
    if (this.done()) return;
    await this.callAppserver(voicemailUri(kind, box.subscriberId, at), at);
  }

  /** A stage of one branch to the app-server at `uri`, given up when it neither rings nor answers within APPSERVER_ANSWER_MS. */
  private async callAppserver(uri: string, at: Destination): Promise<void> {
    this.newStage('appserver');
    const plan: Plan = { binding: { contact: uri, expires: 0 }, id: newBranch(), dest: at };
    if (!(await this.storeStage([plan])) || this.done()) return;
    const branch = this.fork(plan, this.body);
    if (branch.final === undefined) branch.timer = setTimeout(() => this.onAppserverTimeout(branch), APPSERVER_ANSWER_MS);
  }

  /** The app-server neither rings nor answers in time: CANCELled, and the call ends as without it. */
  private onAppserverTimeout(branch: Branch): void {
    branch.timer = undefined;
    if (branch.final !== undefined || this.finished || this.answered) return;
    this.log.warn({ uri: branch.binding.contact, ms: APPSERVER_ANSWER_MS }, 'app-server did not answer; cancelled');
    branch.tx?.cancel();
    branch.final = 408;
    this.maybeFinish();
  }

  /**
   * The call of a subscriber would end with `status` (no branch answered): with
   * `announcements.enable`, a 404/486/480/408/402/403 goes to the matching announcement instead
   * (true); `original` sends that final if the app-server fails. Once per call, not after a CANCEL.
   */
  private announceFailure(status: number, original: () => void): boolean {
    const name = failureAnnouncement(status);
    if (name === undefined || !this.fromSubscriber || !this.hasCall || this.announcement || this.cancelled) return false;
    if (!this.ctx.config.announcements?.enable || !this.ctx.appserver) return false;
    this.finished = false;
    return this.announce(name, original);
  }

  /** An INVITE from a peering server: to the subscriber who owns the dialled number, without authentication. */
  private async runFromPeer(peer: PeerServer, fromUser: string, fromHost: string): Promise<void> {
    const { ctx, req, tx } = this;
    const plan = planLooseRoute(req.routes(), req.requestUri(), ctx.self);
    if (req.routes().length > plan.popTop) return void reply(ctx, tx, req, 403, { reason: 'Preloaded Route Not Allowed' });
    const ruri = req.requestUri();
    if (!ruri.isSip) return void reply(ctx, tx, req, 416);
    const dialled = ruri.user ?? '';
    const number = dialledNumber(ruri.user);
    const n = number === null ? undefined : await ctx.dir.number(number);
    this.call = {
      call_id: req.callId(), caller: `${fromUser}@${fromHost}`, callee: dialled, state: 'init', start_time: String(nowS()), node: ctx.config.node,
      from_tag: req.from().tag ?? '', caller_user: fromUser, caller_domain: fromHost, dialled, src_ip: this.clientAddress(),
      peer: peer.name, peer_id: String(peer.id),
      ...(this.callerCallId ? { caller_call_id: this.callerCallId } : {}),
    };
    this.hasCall = true;
    this.log.info({ peer: peer.name, dialled }, 'call from a peer');
    const sub = n?.subscriber && n.subscriber.status === 'active' ? n.subscriber : undefined;
    if (!sub) return void this.fail(404, 'Not Found');
    if (sub.customerId != null) this.call.customer_id = String(sub.customerId);
    const callee: Callee = { subscriberId: sub.id, username: sub.username, domain: sub.domain, customerId: sub.customerId };
    // the callee's features as for any call to it: block_in list and block_in_clir, its concurrent-call limits
    const admission = await ctx.features.admitFromPeer(this.call.call_id, callee, dialledNumber(fromUser) ?? undefined, callerAsksPrivacy(req));
    if (!admission.ok) return void this.fail(admission.status, admission.reason, [['Reason', admission.header]]);
    this.concKeys = admission.concKeys;
    this.targetKeys = admission.concKeys;
    if (this.concKeys.length > 0) this.call.conc = this.concKeys.join(' ');
    return this.route(() => this.callSubscriber(callee));
  }

  /**
   * Run one routing step (the lookups and the fork of a stage): while it runs the call does
   * not end (but for a CANCEL); after it, whatever the stage's branches say is looked at.
   */
  private async route(step: () => Promise<void>): Promise<void> {
    this.routing = true;
    // a CANCEL from here on reaches whatever stage rings (or stops the routing before a fork)
    this.tx.user = { onCancel: () => this.onCallerCancel() };
    try {
      await step();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'call routing failed');
      this.synthetic.push({ status: 500, reason: 'Server Internal Error' });
      if (this.stage) this.stage.ended = true;
    } finally {
      this.routing = false;
      this.maybeFinish();
    }
  }

  private done(): boolean {
    return this.finished || this.answered || this.cancelled;
  }

  private newStage(kind: Stage['kind'], callee?: Callee): Stage {
    this.clearRingTimer();
    const st: Stage = { kind, first: this.branches.length, ...(callee ? { callee } : {}) };
    const top = this.pending.at(-1);
    // a forward destination with others after it: the set's ring timeout is its no-answer time
    if (top && top.destinations.length > 0) st.destinationTimeoutMs = top.ringTimeoutMs;
    this.stage = st;
    return st;
  }

  private stageBranches(st: Stage): Branch[] {
    return this.branches.slice(st.first);
  }

  private clearRingTimer(): void {
    if (this.stage?.ringTimer) clearTimeout(this.stage.ringTimer);
    if (this.stage) this.stage.ringTimer = undefined;
  }

  /**
   * A subscriber's stage: its forwards first (CFU: no ringing), then a fork to every binding,
   * with the CFT timer. Runs inside `route()`; an empty stage (no binding) ends there.
   */
  private async callSubscriber(callee: Callee, lookup?: Promise<LocationBinding[]>): Promise<void> {
    const { ctx, req } = this;
    const st = this.newStage('subscriber', callee);
    this.chain.enter(callee.subscriberId);
    Object.assign(this.call, calleeFields(callee));
    st.forwards = await ctx.features.store.forwards(callee.subscriberId).catch((err: Error) => {
      this.log.warn({ err: err.message, subscriberId: callee.subscriberId }, 'call forwards not loaded; none applied');
      return undefined;
    });
    if (this.done()) return;
    if (st.forwards && (['cfu', 'cfb', 'cfna', 'cft'] as const).some((t) => hasForward(st.forwards, t))) {
      // the Diversion header names the forwarding subscriber by its number
      st.number = (await ctx.features.store.profile(callee.subscriberId).catch(() => undefined))?.number;
      if (this.done()) return;
    }
    if (hasForward(st.forwards, 'cfu')) {
      st.unconditional = true;
      return;
    }
    // a forward target (not the first callee): how it is shown the caller, and the call counted in its sets
    if (this.chain.hops > 0) {
      if (this.peerCaller) this.identity = await ctx.features.identityForSubscriber(this.peerCaller.inbound, this.peerCaller.anonymous, callee);
      if (!(await this.countTarget(callee)) || this.done()) return;
    } else if (this.peerCaller) {
      this.identity = await ctx.features.identityForSubscriber(this.peerCaller.inbound, this.peerCaller.anonymous, callee);
    }
    // the first callee's bindings were read beside the admission (one Redis round trip)
    const bindings = await (lookup ?? ctx.location.lookup(`${callee.username}@${callee.domain}`));
    if (this.done() || bindings.length === 0) return;

    // the call exists from here on; with the branches it forks to, so that a proxy without
    // this INVITE transaction (the other node after a takeover) can CANCEL and ACK them
    const plans = bindings.map((b) => this.plan(b));
    if (!(await this.storeStage(plans)) || this.done()) return;
    for (const p of plans) this.fork(p, this.body);
    const ms = cftTimeoutMs(st.forwards, ctx.config.calls.forward_ring_timeout_s ?? 15) ?? st.destinationTimeoutMs;
    if (ms !== undefined && this.stageBranches(st).some((b) => b.final === undefined)) st.ringTimer = setTimeout(() => this.onRingTimeout(st), ms);
  }

  /**
   * Store the call with the stage's branches: the first stage writes `call:<id>` and offers the
   * caller's SDP to mediactl; a later one (a forward) updates the callee and the branches.
   * False when the call ended (the media offer failed: the caller got 503).
   */
  private async storeStage(plans: readonly Plan[]): Promise<boolean> {
    const { ctx, req } = this;
    this.call.fork = JSON.stringify({ from: this.forkFrom(), to: req.get('to') ?? '', cseq: req.cseq().seq } satisfies CallFork);
    this.call.branches = branchesJson(plans);
    if (this.stored) {
      const c = this.call;
      const fields: Partial<CallRecord> = { fork: c.fork, branches: c.branches, callee: c.callee, callee_user: c.callee_user ?? '', callee_domain: c.callee_domain ?? '', callee_subscriber_id: c.callee_subscriber_id ?? '' };
      if (c.call_type) fields.call_type = c.call_type;
      if (c.conc) fields.conc = c.conc;
      if (c.peer) Object.assign(fields, { peer: c.peer, peer_id: c.peer_id ?? '' });
      await ctx.calls.update(c.call_id, fields).catch((err: Error) => this.log.warn({ err: err.message }, 'call update failed'));
      return true;
    }
    this.lateOffer = ctx.media !== null && !hasSdp(req);
    this.media = ctx.media !== null;
    this.call.media = this.media ? '1' : '0';
    if (this.lateOffer) this.call.late_offer = '1';
    await ctx.calls.put(this.call);
    this.stored = true;
    // a CANCEL while storing ended the call (media deleted): no offer after it
    if (this.done()) return false;
    return this.offerMedia();
  }

  /**
   * A forward reached subscriber `callee`: the call is counted in its sets and no longer in the
   * previous target's (whatever the caller's own sets hold stays). False when its limit is full
   * (the stage ends with 486 and the callee-limit Reason).
   */
  private async countTarget(callee: Callee): Promise<boolean> {
    const { ctx } = this;
    const r = await ctx.features.admitTarget(this.call.call_id, callee);
    if (!r.ok) {
      ctx.features.forwardStats.skipped['limit-callee']++;
      if (this.stage) this.stage.refused = { status: r.status, reason: r.reason, headers: [['Reason', r.header]] };
      return false;
    }
    await this.moveCount(r.concKeys);
    return true;
  }

  /**
   * The call's count moves to a new target (`keys`: its sets, already counted; none for a
   * peer): the previous target's sets that are not the caller's nor the new target's release it.
   * `call:<id>`'s `conc` is written first, so an end meanwhile releases what the call holds.
   */
  private async moveCount(keys: string[]): Promise<void> {
    const { ctx } = this;
    const keep = new Set([...this.callerKeys, ...keys]);
    const drop = this.targetKeys.filter((k) => !keep.has(k));
    this.targetKeys = keys;
    this.concKeys = [...new Set([...this.concKeys.filter((k) => !drop.includes(k)), ...keys])];
    if (this.concKeys.length > 0 || this.call.conc !== undefined) this.call.conc = this.concKeys.join(' ');
    if (this.stored && this.call.conc !== undefined) await ctx.calls.update(this.call.call_id, { conc: this.call.conc }).catch((err: Error) => this.log.warn({ err: err.message }, 'call update failed'));
    if (drop.length > 0) await ctx.features.limits.release(this.call.call_id, drop).catch((err: Error) => this.log.warn({ err: err.message }, 'concurrent-call release failed'));
  }

  /** CFT (or a serial destination's no-answer time): CANCEL what rings, then the stage ends as timed out. */
  private onRingTimeout(st: Stage): void {
    st.ringTimer = undefined;
    if (st !== this.stage || this.done() || st.ended) return;
    this.log.info({ callee: st.callee ? `${st.callee.username}@${st.callee.domain}` : undefined }, 'no answer within the ring timeout; ringing branches cancelled');
    st.timedOut = true;
    for (const b of this.stageBranches(st)) {
      b.superseded = true;
      if (b.final !== undefined) continue;
      b.tx?.cancel({ reason: 'SIP;cause=480;text="Call forwarded on no answer"' });
      b.final = 487;
    }
    this.maybeFinish();
  }

  /**
   * The stage ended unanswered: the forward that applies starts (true), or the stage's own
   * final is booked (false). A peer stage has no forwards.
   */
  private afterStage(st: Stage): boolean {
    st.ended = true;
    this.clearRingTimer();
    const own = this.stageBranches(st);
    if (st.kind !== 'subscriber') return false;
    // a target whose limit is full is busy (486: its CFB applies); one without a binding is not available
    const outcome: StageOutcome = st.unconditional ? { kind: 'unconditional' } : st.timedOut ? { kind: 'timeout' }
      : { kind: 'failed', best: st.refused ? st.refused.status : own.length === 0 ? undefined : selectBestResponse(own.map((b) => b.final!))?.status };
    const type = forwardFor(st.forwards, outcome);
    if (type) {
      for (const b of own) b.superseded = true;
      this.forward(st, type);
      return true;
    }
    if (st.refused) this.synthetic.push(st.refused);
    else if (own.length === 0 && !st.unconditional) this.synthetic.push({ status: 480, reason: 'Temporarily Unavailable' });
    if (st.timedOut) this.synthetic.push({ status: 480, reason: 'No Answer' });
    return false;
  }

  /** Take forward `type` of the stage's subscriber: 181 upstream, then its destinations one by one. */
  private forward(st: Stage, type: ForwardType): void {
    const { ctx } = this;
    const callee = st.callee!;
    if (!this.chain.forward()) {
      ctx.features.forwardStats.skipped['too-many-hops']++;
      this.log.warn({ type, hops: this.chain.hops, max: this.chain.maxHops }, 'call forward chain too long; ended');
      this.synthetic.push({ status: 483, reason: 'Too Many Hops' });
      return void this.nextDestination();
    }
    ctx.features.forwardStats.taken[type]++;
    const set = st.forwards![type];
    this.log.info({ type, from: `${callee.username}@${callee.domain}`, destinations: set.destinations.length, hop: this.chain.hops }, 'call forwarded');
    this.call.call_type = type;
    this.diversions.unshift(diversionHeader(st.number ?? callee.username, callee.domain, type, this.chain.hops));
    this.pending.push({ type, destinations: [...set.destinations], ringTimeoutMs: (set.ringTimeout ?? ctx.config.calls.forward_ring_timeout_s ?? 15) * 1000, owner: callee });
    if (!this.finished && this.tx.canRespond(181)) {
      respond(ctx, this.tx, 'INVITE', createResponse(this.req, 181, { reason: 'Call Is Being Forwarded' }));
    }
    void this.nextDestination();
  }

  /** Start the next forward destination (innermost forward first); when none is left, the call ends. */
  private nextDestination(): Promise<void> {
    return this.route(async () => {
      while (!this.done()) {
        const top = this.pending.at(-1);
        if (!top) return;
        const d = top.destinations.shift();
        if (!d) {
          this.pending.pop();
          continue;
        }
        // a destination after a voicemail one (the app-server refused) is the forward's again
        if (this.call.call_type === 'voicemail') this.call.call_type = top.type;
        if (await this.startDestination(d, top.owner)) return;
      }
    });
  }

  /** One forward destination of `owner`'s forward: true when a stage started (whatever became of it), false when skipped. */
  private async startDestination(d: ForwardDestination, owner: Callee): Promise<boolean> {
    const { ctx } = this;
    const skipped = ctx.features.forwardStats.skipped;
    const t = forwardTarget(d);
    switch (t.kind) {
      case 'voicemail':
        // the owner's box on the app-server; without one (voicemail.enable false, no app-server) the destination is left out
        if (ctx.voicemail) {
          await this.callVoicemail('deposit', owner);
          return true;
        }
        skipped.voicemail++;
        this.log.info({ destination: 'voicemail' }, 'forward to voicemail: voicemail off or no app-server; destination skipped');
        return false;
      case 'invalid':
        skipped.invalid++;
        this.log.warn({ reason: t.reason }, 'forward destination invalid; skipped');
        return false;
      case 'number':
        return this.startNumber(t.e164);
      case 'uri': {
        // a URI at a domain of ours: its subscriber (by name, else by number); elsewhere only a
        // number, through peering like any off-net call — never an open relay to any host
        if (await ctx.dir.domainServed(t.host)) {
          const s = await ctx.dir.credentials(t.user, t.host);
          if (this.done()) return true;
          if (s && s.status === 'active') return this.startSubscriber({ subscriberId: s.subscriberId, username: s.username, domain: s.domain, customerId: s.customerId });
        }
        const n = numberOf(t.user);
        if (n !== undefined) return this.startNumber(n);
        skipped['foreign-uri']++;
        this.log.warn({ user: t.user, host: t.host }, 'forward to a URI neither ours nor a number; skipped (no open relay)');
        return false;
      }
    }
  }

  /** A forward to a number: the subscriber who owns it, else peering (LCR). */
  private async startNumber(e164: string): Promise<boolean> {
    const { ctx } = this;
    const n = await ctx.dir.number(e164);
    if (this.done()) return true;
    const sub = n?.subscriber && n.subscriber.status === 'active' ? n.subscriber : undefined;
    if (sub) return this.startSubscriber({ subscriberId: sub.id, username: sub.username, domain: sub.domain, customerId: sub.customerId });
    if (ctx.peering) {
      const fromUri = this.req.from().uri;
      const fromUser = fromUri.isSip ? (fromUri.user ?? '') : '';
      const caller = this.peerCaller?.inbound.callerNumber ?? dialledNumber(fromUser) ?? fromUser;
      const s = new PeerSearch(ctx.peering, e164, caller, (srv, err) => this.log.warn({ server: srv.name, host: srv.host, err: err.message }, 'peering server did not resolve; skipped'));
      if (s.routable) {
        Object.assign(this.call, { callee: e164, callee_user: e164, callee_subscriber_id: '' });
        await this.moveCount([]);
        if (this.done()) return true;
        await this.runToPeers(s);
        return true;
      }
    }
    ctx.features.forwardStats.skipped['not-routable']++;
    this.log.warn({ number: e164 }, 'forward to a number neither on the platform nor routable to a peer; skipped');
    this.synthetic.push({ status: 404, reason: 'Not Found' });
    return false;
  }

  /** A forward to a subscriber: a loop when the call reached it before. */
  private async startSubscriber(callee: Callee): Promise<boolean> {
    if (!this.chain.enter(callee.subscriberId)) {
      this.ctx.features.forwardStats.skipped.loop++;
      this.log.warn({ callee: `${callee.username}@${callee.domain}` }, 'call forward loop; destination ended');
      this.synthetic.push({ status: 482, reason: 'Loop Detected' });
      return false;
    }
    await this.callSubscriber(callee);
    return true;
  }

  /** The caller's SDP through mediactl (unless a late offer); false when it failed and the caller got 503. */
  private async offerMedia(): Promise<boolean> {
    const { ctx, req, tx } = this;
    if (this.media && !this.lateOffer) {
      try {
        const r = await timedMedia(ctx, 'offer', () => ctx.media!.offer({ call_id: this.call.call_id, from_tag: this.call.from_tag!, sdp: req.body.toString() }));
        this.body = Buffer.from(r.sdp);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'media.offer failed');
        this.media = false; // nothing to delete
        // an announcement that cannot have media: the caller gets the final it replaced
        const original = this.announcement?.original;
        if (original) original();
        else this.fail(503, 'Media Unavailable');
        return false;
      }
    }
    tx.user = { onCancel: () => this.onCallerCancel() };
    return true;
  }

  /** Outbound LCR (a stage): the call in Redis, media offer, then one attempt after the other (docs/routing.md). */
  private async runToPeers(search: PeerSearch): Promise<void> {
    this.newStage('peer');
    this.search = search;
    this.searching = true;
    this.call.callee_user = search.callee;
    // a forward to a peer: the caller is shown as to any peer (its rewrite set), set per attempt
    if (!(await this.storeStage([])) || this.done()) {
      this.searching = false;
      return;
    }
    await this.nextPeerAttempt();
  }

  /** Start the next attempt; when none is left, the search ends with the best final so far. */
  private async nextPeerAttempt(): Promise<void> {
    const { ctx } = this;
    while (this.searching && !this.cancelled && !this.answered && !this.finished) {
      let a: PeerAttempt | undefined;
      try {
        a = await this.search!.next();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'peer search failed');
        a = undefined;
      }
      if (!this.searching || this.cancelled || this.answered || this.finished) return;
      if (!a) {
        this.searching = false;
        if (this.stage && this.stageBranches(this.stage).length === 0) {
          // every server of every matching group is down (or did not resolve): nothing was tried
          this.log.warn({ callee: this.search!.callee }, 'no peering server available');
          this.synthetic.push({ status: 480, reason: 'No Peer Available' });
        }
        return this.maybeFinish();
      }
      // the caller's number and the callee as this peer is to see them (its rewrite set, direction out)
      const set = a.server.rewriteSetId === null ? undefined : await ctx.features.store.rewriteSet(a.server.rewriteSetId).catch(() => undefined);
      if (!this.searching || this.cancelled || this.answered || this.finished) return;
      if (this.peerCaller) this.identity = ctx.features.identityFor(this.peerCaller.inbound, this.peerCaller.anonymous, set);
      const p = this.peerPlan(a, rewrite(set, 'out', 'callee', this.search!.callee));
      Object.assign(this.call, { peer: a.server.name, peer_id: String(a.server.id), callee_domain: a.server.host });
      const fork = JSON.stringify({ from: this.identity ? fromFor(this.req.get('from') ?? '', this.identity) : (this.req.get('from') ?? ''), to: this.req.get('to') ?? '', cseq: this.req.cseq().seq } satisfies CallFork);
      // the attempt in progress is the call's only ringing branch (a takeover CANCELs/ACKs it)
      ctx.calls.update(this.call.call_id, { peer: a.server.name, peer_id: String(a.server.id), callee_domain: a.server.host, fork, branches: branchesJson([p]) })
        .catch((err: Error) => this.log.warn({ err: err.message }, 'call update failed'));
      this.log.info({ server: a.server.name, group: a.group.group.name, target: `${a.target.transport}:${a.target.address}:${a.target.port}`, attempt: a.n }, 'peer attempt');
      const branch = this.fork(p, this.body, a);
      if (branch.final === undefined) {
        branch.timer = setTimeout(() => this.onAttemptTimeout(branch), ctx.peering!.attemptTimeoutMs);
        return;
      }
      // not sendable at all (e.g. a TCP/TLS peer without an lb): booked as failed, the loop goes on
      if (!this.bookAttempt(branch, branch.final)) {
        this.searching = false;
        return this.maybeFinish();
      }
    }
  }

  /** The branch of one attempt (peering/peer-request.ts): R-URI at the server, through the lb or directly. */
  private peerPlan(a: PeerAttempt, callee: string): Plan {
    const r = peerRequestTarget(a.server, a.target, callee, this.ctx.peering!.lb);
    return { binding: { contact: r.ruri, expires: 0, path: r.route }, id: newBranch(), dest: r.dest };
  }

  private onAttemptTimeout(branch: Branch): void {
    branch.timer = undefined;
    if (branch.final !== undefined || this.finished || this.answered) return;
    this.log.info({ server: branch.peer?.server.name }, 'peer attempt timed out; cancelled');
    branch.tx?.cancel();
    branch.final = 408;
    this.peerResult(branch, 408);
  }

  /** Book an attempt's final (not 2xx) and go on: next attempt, or end of the search. */
  private peerResult(branch: Branch, status: number, result?: 'auth-failed'): void {
    if (this.bookAttempt(branch, status, result)) return void this.nextPeerAttempt();
    this.searching = false;
    this.maybeFinish();
  }

  /**
   * Count an attempt's final (not 2xx) in the metrics and the server's health; true when the
   * search goes on. A failed authentication goes on to the next server but says nothing about
   * the server's health (it answered).
   */
  private bookAttempt(branch: Branch, status: number, result?: 'auth-failed'): boolean {
    const a = branch.peer!;
    const peering = this.ctx.peering!;
    if (result === 'auth-failed') {
      peering.metrics.attempts.inc({ server: a.server.name, result: 'next' });
      return this.searching && !this.cancelled;
    }
    const verdict = this.cancelled && status === 487 ? 'cancelled' : attemptVerdict(status);
    peering.metrics.attempts.inc({ server: a.server.name, result: verdict });
    if (verdict === 'next') peering.health.failure(a.server.id);
    else peering.health.success(a.server.id);
    if (a.target.via !== 'numeric' && verdict === 'next') peering.markTargetFailed(a.target);
    return verdict === 'next' && this.searching && !this.cancelled;
  }

  private async callerByFrom(user: string, domain: string): Promise<AuthOutcome> {
    const s = await this.ctx.dir.credentials(user, domain);
    if (!s) return { ok: false, forbidden: true, reason: 'unknown-user' };
    if (s.status !== 'active') return { ok: false, forbidden: true, reason: `subscriber-${s.status}` };
    return { ok: true, subscriber: s };
  }

  private clientAddress(): string {
    return clientAddress(this.req, this.source);
  }

  private async findCallee(user: string | null, host: string, hostIsIp: boolean, callerDomain: string): Promise<Callee | undefined> {
    for (const c of calleeCandidates(user, host, hostIsIp, callerDomain)) {
      if (c.kind === 'aor') {
        const s = await this.ctx.dir.credentials(c.username, c.domain);
        if (s && s.status === 'active') return { subscriberId: s.subscriberId, username: s.username, domain: s.domain, customerId: s.customerId };
      } else {
        const n = await this.ctx.dir.number(c.e164);
        if (n?.subscriber && n.subscriber.status === 'active') {
          return { subscriberId: n.subscriber.id, username: n.subscriber.username, domain: n.subscriber.domain, customerId: n.subscriber.customerId };
        }
      }
    }
    return undefined;
  }

  /** A branch's id and destination, decided before the call is stored. */
  private plan(binding: LocationBinding): Plan {
    return { binding, id: newBranch(), dest: bindingDestination(binding) };
  }

  private fork(plan: Plan, body: Buffer | undefined, peer?: PeerAttempt, fields: Array<[string, string]> = []): Branch {
    const { ctx } = this;
    const { binding, dest } = plan;
    const branch: Branch = { binding, id: plan.id, provisional: false, ...(peer ? { peer } : {}), ...(this.stage ? { stage: this.stage } : {}) };
    this.branches.push(branch);
    const out = copyRequest(this.req);
    out.uri = binding.contact;
    out.remove('route');
    if (this.credentialsRealm !== undefined) consumeCredentials(out, this.credentialsRealm);
    // with an sbc the platform's own fields are set here only: a UA's never reach the sbc, the sbc's never go on
    if (ctx.sbc) for (const key of new Set(out.headers.map((h) => h.key).filter((k) => k.startsWith('x-ngcp-')))) out.remove(key);
    for (const [n, v] of fields) out.append(n, v);
    // a peer is inside the trust domain (RFC 3325): it gets P-Asserted-Identity even for CLIR
    if (this.identity) applyIdentity(out, this.identity, peer !== undefined);
    // a forwarded call says who forwarded it and why (RFC 5806), newest first
    for (const d of this.diversions.slice().reverse()) out.prepend('Diversion', d);
    const path = binding.path ?? [];
    for (const p of path) out.append('Route', p);
    decrementMaxForwards(out);
    out.prepend('Record-Route', ourRecordRoute(ctx));
    out.pushVia(ourVia(ctx, plan.id));
    if (body) out.setBody(body);
    if (!dest) {
      this.log.warn({ contact: binding.contact }, 'binding not routable by IP; branch skipped');
      branch.final = peer ? 503 : 480;
      return branch;
    }
    if (peer) Object.assign(branch, { sent: out, dest });
    branch.tx = ctx.sip.sendRequest(out, dest, this.branchUser(branch));
    return branch;
  }

  private branchUser(branch: Branch): ClientTransactionUser {
    return {
      onProvisional: (res) => void this.onProvisional(branch, res),
      onFinal: (res, _tx, origin) => void this.onFinal(branch, res, origin),
    };
  }

  /**
   * A peering server challenged the attempt (401/407): answered once with the server's
   * credentials — the INVITE re-sent to the same address (CSeq + 1, a new branch, our
   * Record-Route carrying the CSeq shift, peering/peer-auth.ts) — and the attempt goes on.
   * False when it is not answered: no credentials, no usable challenge, or a second
   * challenge (the credentials were refused); the attempt then ends as an authentication failure.
   */
  private answerChallenge(branch: Branch, res: SipResponse): boolean {
    const { ctx } = this;
    const a = branch.peer!;
    const metrics = ctx.peering!.metrics;
    if (branch.authAnswered) {
      metrics.auth.inc({ server: a.server.name, result: 'rejected' });
      this.log.warn({ server: a.server.name, status: res.status }, 'peering server refused our credentials; attempt failed');
      return false;
    }
    const sent = branch.sent;
    const answer = answerPeerChallenge(a.server.auth, res, sent ?? this.req);
    if (!answer.ok || !sent || !branch.dest) {
      metrics.auth.inc({ server: a.server.name, result: answer.ok ? 'unanswered' : answer.reason });
      this.log.warn({ server: a.server.name, status: res.status, reason: answer.ok ? 'not resendable' : answer.reason }, 'peering server challenge not answered; attempt failed');
      return false;
    }
    const id = newBranch();
    // the peer's dialog counts from the re-sent CSeq, the caller's from its own
    const shift = sent.cseq().seq + 1 - this.req.cseq().seq;
    const out = resendWithCredentials(sent, answer, ourVia(ctx, id), shiftedRecordRoute(ourRecordRoute(ctx), this.req.from().tag ?? '', shift));
    Object.assign(branch, { id, sent: out, authAnswered: true, provisional: false, response: undefined });
    metrics.auth.inc({ server: a.server.name, result: 'answered' });
    this.log.info({ server: a.server.name, status: res.status, realm: answer.realm }, 'peering server challenged; INVITE re-sent with credentials');
    // the takeover record names the branch in progress and the CSeq it was sent with
    if (this.hasCall) {
      const fork = JSON.stringify({ from: out.get('from') ?? '', to: out.get('to') ?? '', cseq: out.cseq().seq } satisfies CallFork);
      this.ctx.calls.update(this.call.call_id, { fork, branches: branchesJson([{ binding: branch.binding, id, dest: branch.dest }]) })
        .catch((err: Error) => this.log.warn({ err: err.message }, 'call update failed'));
    }
    branch.tx = ctx.sip.sendRequest(out, branch.dest, this.branchUser(branch));
    if (branch.timer) clearTimeout(branch.timer);
    branch.timer = setTimeout(() => this.onAttemptTimeout(branch), ctx.peering!.attemptTimeoutMs);
    return true;
  }

  private async onProvisional(branch: Branch, res: SipResponse): Promise<void> {
    if (res.status === 100) return;
    branch.provisional = true;
    if (branch.timer) clearTimeout(branch.timer);
    branch.timer = undefined;
    // a branch CANCELled at a ring timeout (the call went on to a forward) rings no more upstream
    if (this.finished || branch.superseded) return;
    if (this.hasCall && this.call.state === 'init') {
      this.call.state = 'ringing';
      this.ctx.calls.update(this.call.call_id, { state: 'ringing' }).catch(() => undefined);
    }
    await this.relay(res);
  }

  private async onFinal(branch: Branch, res: SipResponse, origin: string): Promise<void> {
    const { ctx } = this;
    if (branch.timer) clearTimeout(branch.timer);
    branch.timer = undefined;
    if (res.status >= 200 && res.status < 300) {
      if (branch.peer) {
        this.searching = false;
        if (!this.answered) {
          ctx.peering!.metrics.attempts.inc({ server: branch.peer.server.name, result: 'answered' });
          ctx.peering!.health.success(branch.peer.server.id);
        }
      }
      branch.final = res.status;
      if (this.finished && !this.answered) {
        // the caller got a final response already (CANCEL raced the answer): the callee's
        // dialog gets no ACK from upstream and ends by itself (§13.3.1.4)
        this.log.info({ status: res.status }, '2xx after the INVITE was answered upstream; not relayed');
        return;
      }
      const first = !this.answered;
      this.answered = true;
      if (first) {
        this.clearRingTimer();
        // a branch of an earlier stage answered (a 200 racing the CANCEL of a ring timeout): the call is its callee's
        if (branch.stage && branch.stage !== this.stage && branch.stage.callee) {
          Object.assign(this.call, calleeFields(branch.stage.callee));
          ctx.calls.update(this.call.call_id, calleeFields(branch.stage.callee)).catch(() => undefined);
        }
        for (const b of this.branches) if (b !== branch && b.final === undefined) b.tx?.cancel({ reason: 'SIP;cause=200;text="Call completed elsewhere"' });
      }
      if (first && this.hasCall) {
        const toTag = res.to().tag ?? '';
        Object.assign(this.call, { state: 'answered', answer_time: String(nowS()), to_tag: toTag });
        ctx.calls.update(this.call.call_id, { state: 'answered', answer_time: this.call.answer_time, to_tag: toTag }).catch((err: Error) => this.log.warn({ err: err.message }, 'call update failed'));
        ctx.acc.write(inviteAccRecord(this.call, res.status, res.reason, toTag, this.initTime));
      }
      this.finished = true;
      await this.relay(res);
      return;
    }
    if (this.finished) return;
    // an attempt given up on (timed out) keeps its 408, a branch cancelled at a ring timeout its 487
    if (branch.final !== undefined) return;
    if (branch.peer && isChallenge(res.status) && origin === 'network') {
      if (!this.cancelled && this.searching && this.answerChallenge(branch, res)) return;
      // a peer's challenge never reaches the caller (its phone would answer it with the
      // subscriber's own credentials): the attempt failed — the next server, else 500
      branch.final = 500;
      branch.reason = 'Peer Authentication Failed';
      return this.peerResult(branch, 500, 'auth-failed');
    }
    branch.final = res.status;
    if (origin === 'network') branch.response = res;
    if (branch.peer) return this.peerResult(branch, res.status);
    // other branches still ring: say in Redis that this one is done (a takeover must not CANCEL it)
    if (this.hasCall && this.branches.some((b) => b.final === undefined)) ctx.calls.setFinal(this.call.call_id, branch.id, res.status).catch(() => undefined);
    if (res.status >= 600) for (const b of this.branches) if (b !== branch && b.final === undefined) b.tx?.cancel();
    this.maybeFinish();
  }

  private onCallerCancel(): void {
    if (this.answered || this.finished) return;
    this.cancelled = true;
    this.searching = false;
    this.clearRingTimer();
    for (const b of this.branches) {
      if (b.timer) clearTimeout(b.timer);
      b.timer = undefined;
      if (b.final !== undefined) continue;
      b.tx?.cancel();
      // no 1xx yet: the CANCEL waits for one (§9.1); the caller need not wait for Timer B
      if (!b.provisional) b.final = 487;
    }
    this.maybeFinish();
  }

  /**
   * Every branch has its final: the stage ends — a forward, or the next destination of one, may
   * go on — or the call does, with the best final over the stages no forward replaced.
   */
  private maybeFinish(): void {
    if (this.finished || this.answered || this.searching) return;
    if (this.branches.some((b) => b.final === undefined)) return;
    if (!this.cancelled) {
      if (this.routing) return;
      if (this.stage && !this.stage.ended && this.afterStage(this.stage)) return;
      if (this.routing) return;
      if (this.pending.length > 0) return void this.nextDestination();
    }
    this.finished = true;
    this.clearRingTimer();
    if (this.cancelled) return void this.fail(487, 'Request Terminated');
    // the app-server did not answer the announcement: the caller gets the final it replaced
    if (this.announcement?.original) return this.announcement.original();
    const live = this.branches.filter((b) => !b.superseded);
    const best = selectBestResponse([...live.map((b) => b.final!), ...this.synthetic.map((x) => x.status)]);
    if (best && best.index < live.length) {
      const chosen = live[best.index]!;
      const res = chosen.response;
      if (res && best.status === res.status) {
        const relay = (): void => {
          this.finished = true;
          res.popVia();
          this.restoreFrom(res);
          this.restoreCSeq(res);
          void this.end(best.status, res.reason);
          respond(this.ctx, this.tx, 'INVITE', res);
        };
        if (!this.announceFailure(best.status, relay)) relay();
        return;
      }
      if (chosen.reason && best.status === chosen.final) return void this.fail(best.status, chosen.reason);
    } else if (best) {
      const x = this.synthetic[best.index - live.length]!;
      if (x.status === best.status) return void this.fail(x.status, x.reason, x.headers);
    }
    void this.fail(best?.status ?? 480);
  }

  /** Answer the caller ourselves and end the call (or announce why, `announceFailure`). */
  private fail(status: number, reason?: string, headers?: Array<[string, string]>): void {
    if (!this.announceFailure(status, () => this.sendFinal(status, reason, headers))) this.sendFinal(status, reason, headers);
  }

  private sendFinal(status: number, reason?: string, headers?: Array<[string, string]>): void {
    this.finished = true;
    const res = createResponse(this.req, status, { toTag: newTag(), ...(reason ? { reason } : {}), ...(headers ? { headers } : {}) });
    respond(this.ctx, this.tx, 'INVITE', res);
    void this.end(status, res.reason);
  }

  private async end(status: number, reason: string): Promise<void> {
    const { ctx } = this;
    if (!this.hasCall) return;
    ctx.acc.write(inviteAccRecord(this.call, status, reason, '', this.initTime));
    // a late offer is on rtpengine only once a response offered it
    if (this.media && (!this.lateOffer || this.answers.size > 0)) {
      timedMedia(ctx, 'delete', () => ctx.media!.delete({ call_id: this.call.call_id })).catch((err: Error) => this.log.warn({ err: err.message }, 'media.delete failed'));
    }
    // removing the call releases its concurrent-call slots; a call counted but never stored releases them here
    const removed = await ctx.calls.remove(this.call.call_id).catch((err: Error) => {
      this.log.warn({ err: err.message }, 'call removal failed');
      return null;
    });
    // a forward moved the count while the call ended: its last sets are released here too (ZREM is idempotent)
    if ((removed === undefined || this.chain.hops > 0) && this.concKeys.length > 0) {
      await ctx.features.limits.release(this.call.call_id, this.concKeys).catch((err: Error) => this.log.warn({ err: err.message }, 'concurrent-call release failed'));
    }
  }

  /** The From every branch is sent with (a CANCEL and a takeover need the same). */
  private forkFrom(): string {
    const from = this.req.get('from') ?? '';
    return this.identity ? fromFor(from, this.identity) : from;
  }

  /** Responses go back with the caller's own From (the branches carried the identity the callee was shown). */
  private restoreFrom(res: SipResponse): void {
    if (this.identity) res.set('From', this.req.get('from') ?? '');
  }

  /** Responses to an INVITE re-sent with credentials (CSeq + 1) go back with the caller's CSeq. */
  private restoreCSeq(res: SipResponse): void {
    if (res.cseq().seq !== this.req.cseq().seq) res.set('CSeq', this.req.get('cseq') ?? '');
  }

  /** Relay a response upstream: our Via off, SDP through mediactl (an answer, or the offer of a late-offer call). */
  private async relay(res: SipResponse): Promise<void> {
    const { ctx } = this;
    res.popVia();
    this.restoreFrom(res);
    this.restoreCSeq(res);
    if (this.media && hasSdp(res) && (res.status < 300)) {
      const toTag = res.to().tag ?? '';
      const key = `${toTag}\n${res.body.toString('latin1')}`;
      let p = this.answers.get(key);
      if (!p) {
        const ex = sdpExchange({ kind: 'response', method: 'INVITE', requestHadSdp: !this.lateOffer, fromTag: this.call.from_tag!, toTag })!;
        p = exchangeSdp(ctx, this.call.call_id, ex, res.body.toString())
          .then((sdp) => sdp, (err: Error) => {
            this.log.warn({ err: err.message, op: ex.op }, 'media offer/answer of a response failed; SDP relayed unchanged');
            return undefined;
          });
        this.answers.set(key, p);
      }
      const sdp = await p;
      if (sdp !== undefined) res.setBody(sdp);
    }
    respond(ctx, this.tx, 'INVITE', res);
  }
}

/** The callee fields of `call:<id>` for a subscriber target. */
function calleeFields(c: Callee): Partial<CallRecord> {
  return { callee: `${c.username}@${c.domain}`, callee_subscriber_id: String(c.subscriberId), callee_user: c.username, callee_domain: c.domain };
}

/** The `branches` JSON of `call:<id>`: the branches that were sent (a takeover CANCELs and ACKs them). */
function branchesJson(plans: readonly Plan[]): string {
  return JSON.stringify(plans.flatMap((p) => (p.dest ? [{ branch: p.id, uri: p.binding.contact, route: p.binding.path ?? [], dest: `${p.dest.address}:${p.dest.port}` } satisfies CallBranch] : [])));
}
