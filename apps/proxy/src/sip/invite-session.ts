/**
 * One initial INVITE from a subscriber or a peer (RFC 3261 §16): 407 challenge (not for a
 * request from a peering server), callee lookup, the call in Redis, media offer, parallel
 * forking to every binding (highest q first) — or, for a number not on the platform, serial
 * attempts to the peering servers (docs/routing.md: next server on 408/5xx/timeout) — best
 * response selection, CANCEL of the other branches on the first 2xx, CANCEL from the
 * caller to every branch, accounting start/failure. One object per INVITE, gone when the
 * INVITE transaction is answered; the established call lives only in Redis.
 */
import type { ClientTransaction, Destination, ServerTransaction, SipRequest, SipResponse, TransportSource as Source } from '@ngcp/sip';
import { createResponse, newBranch, newTag, parseNameAddr } from '@ngcp/sip';
import type { CallBranch, CallFork, LocationBinding } from '@ngcp/db';
import {
  clientAddress, copyRequest, decrementMaxForwards, hasSdp, lazyChild, nowS, ourRecordRoute, ourVia, reply, respond, type ProxyContext,
} from '../context.js';
import type { AuthOutcome } from '../auth.js';
import { SBC_CALLER_FIELD, SBC_PROFILE_FIELD } from './sbc.js';
import { selectBestResponse } from '../routing/best-response.js';
import { calleeCandidates } from '../routing/callee.js';
import { planLooseRoute } from '../routing/loose-route.js';
import { uriDestination } from '../routing/uri-destination.js';
import { inviteAccRecord } from '../store/accounting.js';
import type { CallRecord } from '../store/call-store.js';
import { applyIdentity, callerAsksPrivacy, fromFor, type Identity, type InboundResult } from '../features/call-features.js';
import { rewrite } from '../features/rewrite.js';
import { exchangeSdp, timedMedia } from './media-call.js';
import { dialledNumber, PeerSearch, type PeerAttempt } from '../peering/peer-search.js';
import { peerRequestTarget } from '../peering/peer-request.js';
import { attemptVerdict, type PeerServer } from '../peering/selection.js';
import { sdpExchange } from './sdp-exchange.js';

interface Callee { subscriberId: number; username: string; domain: string; customerId: number | null }

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
}

type Plan = { binding: LocationBinding; id: string; dest: Destination | undefined };

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
  private answers = new Map<string, Promise<string | undefined>>();
  /** outbound LCR: the attempts left; `searching` until the search ended (answered, a final that stops it, none left, CANCEL) */
  private search: PeerSearch | null = null;
  private searching = false;
  /** the caller as features/ saw it, for the identity each peer is shown (its own rewrite set) */
  private peerCaller?: { inbound: InboundResult; anonymous: boolean };
  private body: Buffer | undefined;
  /** how the callee is shown the caller (features: rewrite out, PAI, CLIR); the From of every branch */
  private identity?: Identity;
  /** the `conc:*` sets this call is counted in (features: concurrent-call limits) */
  private concKeys: string[] = [];
  private log;
  /** when the INVITE arrived: the CDR's init time (acc.init_time) */
  private readonly initTime = new Date();

  constructor(private ctx: ProxyContext, private tx: ServerTransaction, private req: SipRequest, private source: Source) {
    this.log = lazyChild(ctx.logger, { component: 'invite', callId: req.callId() });
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
  private async runFromSubscriber(caller: Extract<AuthOutcome, { ok: true }>['subscriber'], fromUser: string): Promise<void> {
    const { ctx, req, tx } = this;
    const plan = planLooseRoute(req.routes(), req.requestUri(), ctx.self);
    if (req.routes().length > plan.popTop) return void reply(ctx, tx, req, 403, { reason: 'Preloaded Route Not Allowed' });

    const ruri = req.requestUri();
    if (!ruri.isSip) return void reply(ctx, tx, req, 416);
    const hostIsIp = ruri.hostType !== 'name';
    if (!hostIsIp && !(await ctx.dir.domainServed(ruri.hostname))) return void reply(ctx, tx, req, 404, { reason: 'Domain Not Served' });
    // number handling (features/): caller and callee to E.164 with the caller's rewrite set, before the lookup
    const inbound = await ctx.features.inbound(caller, ruri.user ?? '');
    const callee = await this.findCallee(inbound.callee, ruri.hostname, hostIsIp, caller.domain);
    const dialled = ruri.user ?? '';
    const srcIp = this.clientAddress();
    this.call = {
      call_id: req.callId(), caller: `${caller.username}@${caller.domain}`, callee: callee ? `${callee.username}@${callee.domain}` : dialled,
      state: 'init', start_time: String(nowS()), caller_subscriber_id: String(caller.subscriberId), node: ctx.config.node,
      from_tag: req.from().tag ?? '', caller_user: caller.username, caller_domain: caller.domain, dialled, src_ip: srcIp,
      ...(caller.customerId != null ? { customer_id: String(caller.customerId) } : {}),
    };
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
    const wantsPrivacy = callerAsksPrivacy(req);
    const admitting = ctx.features.admit(this.call.call_id, inbound, callee, wantsPrivacy, { count: callee !== undefined || search !== undefined });
    // the callee's bindings are read meanwhile: the lookup and the admission script share one Redis round trip (auto-pipelining)
    const bindings = callee ? ctx.location.lookup(`${callee.username}@${callee.domain}`) : undefined;
    bindings?.catch(() => undefined); // awaited in callSubscriber; unused when the call is refused
    const admission = await admitting;
    if (!admission.ok) return void this.fail(admission.status, admission.reason, [['Reason', admission.header]]);
    this.concKeys = admission.concKeys;
    if (this.concKeys.length > 0) this.call.conc = this.concKeys.join(' ');
    if (search) {
      this.peerCaller = { inbound, anonymous: admission.anonymous };
      return this.runToPeers(search);
    }
    if (!callee) return void this.fail(404, 'Not Found');
    this.identity = await ctx.features.identityForSubscriber(inbound, admission.anonymous, callee);
    return this.callSubscriber(callee, bindings);
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
    };
    this.hasCall = true;
    this.log.info({ peer: peer.name, dialled }, 'call from a peer');
    const sub = n?.subscriber && n.subscriber.status === 'active' ? n.subscriber : undefined;
    if (!sub) return void this.fail(404, 'Not Found');
    if (sub.customerId != null) this.call.customer_id = String(sub.customerId);
    return this.callSubscriber({ subscriberId: sub.id, username: sub.username, domain: sub.domain, customerId: sub.customerId });
  }

  /** Fork to every binding of a subscriber of the platform. */
  private async callSubscriber(callee: Callee, lookup?: Promise<LocationBinding[]>): Promise<void> {
    const { ctx, req } = this;
    Object.assign(this.call, { callee_subscriber_id: String(callee.subscriberId), callee_user: callee.username, callee_domain: callee.domain });
    const bindings = await (lookup ?? ctx.location.lookup(`${callee.username}@${callee.domain}`));
    if (bindings.length === 0) return void this.fail(480, 'Temporarily Unavailable');

    // the call exists from here on; with the branches it forks to, so that a proxy without
    // this INVITE transaction (the other node after a takeover) can CANCEL and ACK them
    this.lateOffer = ctx.media !== null && !hasSdp(req);
    this.media = ctx.media !== null;
    this.call.media = this.media ? '1' : '0';
    if (this.lateOffer) this.call.late_offer = '1';
    const plans = bindings.map((b) => this.plan(b));
    this.call.fork = JSON.stringify({ from: this.forkFrom(), to: req.get('to') ?? '', cseq: req.cseq().seq } satisfies CallFork);
    this.call.branches = branchesJson(plans);
    await ctx.calls.put(this.call);
    if (!(await this.offerMedia())) return;
    for (const p of plans) this.fork(p, this.body);
    if (this.branches.every((b) => b.final !== undefined)) this.maybeFinish();
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
        this.fail(503, 'Media Unavailable');
        return false;
      }
    }
    tx.user = { onCancel: () => this.onCallerCancel() };
    return true;
  }

  /** Outbound LCR: the call in Redis, media offer, then one attempt after the other (docs/routing.md). */
  private async runToPeers(search: PeerSearch): Promise<void> {
    const { ctx, req } = this;
    this.search = search;
    this.searching = true;
    this.lateOffer = ctx.media !== null && !hasSdp(req);
    this.media = ctx.media !== null;
    this.call.media = this.media ? '1' : '0';
    if (this.lateOffer) this.call.late_offer = '1';
    this.call.callee_user = search.callee;
    this.call.fork = JSON.stringify({ from: this.forkFrom(), to: req.get('to') ?? '', cseq: req.cseq().seq } satisfies CallFork);
    this.call.branches = '[]';
    await ctx.calls.put(this.call);
    if (!(await this.offerMedia())) return;
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
        if (this.branches.length === 0) {
          // every server of every matching group is down (or did not resolve): nothing was tried
          this.log.warn({ callee: this.search!.callee }, 'no peering server available');
          return void this.fail(480, 'No Peer Available');
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
  private peerResult(branch: Branch, status: number): void {
    if (this.bookAttempt(branch, status)) return void this.nextPeerAttempt();
    this.searching = false;
    this.maybeFinish();
  }

  /** Count an attempt's final (not 2xx) in the metrics and the server's health; true when the search goes on. */
  private bookAttempt(branch: Branch, status: number): boolean {
    const a = branch.peer!;
    const peering = this.ctx.peering!;
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
    const path = binding.path ?? [];
    let dest: Destination | undefined;
    try {
      dest = uriDestination(parseNameAddr(path.length > 0 ? path[0]! : `<${binding.contact}>`, 'route').uri);
    } catch {
      dest = undefined;
    }
    return { binding, id: newBranch(), dest };
  }

  private fork(plan: Plan, body: Buffer | undefined, peer?: PeerAttempt, fields: Array<[string, string]> = []): Branch {
    const { ctx } = this;
    const { binding, dest } = plan;
    const branch: Branch = { binding, id: plan.id, provisional: false, ...(peer ? { peer } : {}) };
    this.branches.push(branch);
    const out = copyRequest(this.req);
    out.uri = binding.contact;
    out.remove('route');
    // with an sbc the platform's own fields are set here only: a UA's never reach the sbc, the sbc's never go on
    if (ctx.sbc) for (const key of new Set(out.headers.map((h) => h.key).filter((k) => k.startsWith('x-ngcp-')))) out.remove(key);
    for (const [n, v] of fields) out.append(n, v);
    // a peer is inside the trust domain (RFC 3325): it gets P-Asserted-Identity even for CLIR
    if (this.identity) applyIdentity(out, this.identity, peer !== undefined);
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
    branch.tx = ctx.sip.sendRequest(out, dest, {
      onProvisional: (res) => void this.onProvisional(branch, res),
      onFinal: (res, _tx, origin) => void this.onFinal(branch, res, origin),
    });
    return branch;
  }

  private async onProvisional(branch: Branch, res: SipResponse): Promise<void> {
    if (res.status === 100) return;
    branch.provisional = true;
    if (branch.timer) clearTimeout(branch.timer);
    branch.timer = undefined;
    if (this.finished) return;
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
      if (first) for (const b of this.branches) if (b !== branch && b.final === undefined) b.tx?.cancel({ reason: 'SIP;cause=200;text="Call completed elsewhere"' });
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
    // an attempt given up on (timed out) keeps its 408; its 487 says nothing
    if (branch.peer && branch.final !== undefined) return;
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

  private maybeFinish(): void {
    if (this.finished || this.answered || this.searching) return;
    if (this.branches.some((b) => b.final === undefined)) return;
    this.finished = true;
    if (this.cancelled) return void this.fail(487, 'Request Terminated');
    const best = selectBestResponse(this.branches.map((b) => b.final!));
    const chosen = best ? this.branches[best.index]! : undefined;
    if (best && chosen?.response && best.status === chosen.response.status) {
      chosen.response.popVia();
      this.restoreFrom(chosen.response);
      void this.end(best.status, chosen.response.reason);
      respond(this.ctx, this.tx, 'INVITE', chosen.response);
      return;
    }
    void this.fail(best?.status ?? 480);
  }

  /** Answer the caller ourselves and end the call. */
  private fail(status: number, reason?: string, headers?: Array<[string, string]>): void {
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
    if (removed === undefined && this.concKeys.length > 0) {
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

  /** Relay a response upstream: our Via off, SDP through mediactl (an answer, or the offer of a late-offer call). */
  private async relay(res: SipResponse): Promise<void> {
    const { ctx } = this;
    res.popVia();
    this.restoreFrom(res);
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

/** The `branches` JSON of `call:<id>`: the branches that were sent (a takeover CANCELs and ACKs them). */
function branchesJson(plans: readonly Plan[]): string {
  return JSON.stringify(plans.flatMap((p) => (p.dest ? [{ branch: p.id, uri: p.binding.contact, route: p.binding.path ?? [], dest: `${p.dest.address}:${p.dest.port}` } satisfies CallBranch] : [])));
}
