/**
 * What the lb does with each message (docs/calls.md): the transaction user of the SIP
 * stack. Requests from clients (public listeners) go to a proxy, requests from the
 * platform (internal listener) go to a client; routing decisions come from the pure
 * modules in routing/, dispatch/ and domains/; this file only strings them together.
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type {
  ClientTransaction, ClientTransactionUser, ServerTransaction, SipRequest, SipResponse, SipStack, SipUri, Destination as SipDestination, TransportSource, Uri, Via,
} from '@ngcp/sip';
import { SipParseError, SipResolver, createResponse, forwardResponseStatelessly, newTag } from '@ngcp/sip';
import type { LbConfig } from './config.js';
import type { Destination, DestinationSet } from './dispatch/destinations.js';
import { checkDomain, requestDomain } from './domains/domain-check.js';
import { trustedSet } from './domains/trusted.js';
import type { ForwardHost, Target } from './forwarder.js';
import { Forwarding } from './forwarder.js';
import type { LbMetrics } from './metrics.js';
import { statusLabel as statusLabelOf } from './metrics.js';
import { ackBranch, branchFor, isLoop, loopHash } from './routing/loop.js';
import type { ClientAddress, ClientTransport } from './routing/nat.js';
import { addContactAlias, buildPath, decodeReceived, takeUriAlias, wantsOutbound } from './routing/nat.js';
import type { Listener } from './routing/route-set.js';
import { OwnAddresses, addDoubleRecordRoute, isDialogCreating, nextRoute, popOwnRoutes, uriPort } from './routing/route-set.js';

export interface LbParts {
  config: LbConfig;
  logger: Logger;
  metrics: LbMetrics;
  dests: DestinationSet;
  domains: { current(): ReadonlySet<string> | null };
  /** Mixed into our branches (loop detection must not be fooled from outside). */
  secret: string;
}

/** In-dialog requests that may carry a new remote target (RFC 3261 §12.2; 3311; 6665; 3515). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, REFER, INFO, UPDATE, PRACK, MESSAGE';

export class LoadBalancer {
  private sip: SipStack | null = null;
  private own = new OwnAddresses([]);
  private pub: Partial<Record<ClientTransport, Listener>> = {};
  private internal: Listener = { transport: 'udp', address: '127.0.0.1', port: 0 };
  private readonly forwards = new WeakMap<ServerTransaction, Forwarding>();
  private readonly trusted: { has(address: string): boolean };
  private resolver: SipResolver | null = null;
  private readonly log: Logger;
  readonly counters = { inbound: 0, outbound: 0, acks: 0, strayResponses: 0, ownAnswers: 0, cancelsWithoutInvite: 0 };

  constructor(private readonly p: LbParts) {
    this.trusted = trustedSet(p.config.trusted_peers);
    this.log = p.logger.child({ component: 'lb' });
  }

  /** Called once the listeners are bound (real ports known). */
  bind(sip: SipStack, pub: Partial<Record<ClientTransport, Listener>>, internal: Listener): void {
    this.sip = sip;
    this.pub = pub;
    this.internal = internal;
    this.own = new OwnAddresses([...Object.values(pub), internal]);
  }

  close(): void {
    this.resolver?.close();
    this.resolver = null;
  }

  // ---- requests ------------------------------------------------------------------------

  onRequest(tx: ServerTransaction, req: SipRequest, source: TransportSource): void {
    this.p.metrics.requests.inc({ method: req.method });
    try {
      this.route(tx, req, source);
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      this.log.debug({ err: e.message, method: req.method }, 'malformed request after the edge check');
      this.reply(tx, req, 400, 'malformed');
    }
  }

  private route(tx: ServerTransaction, req: SipRequest, source: TransportSource): void {
    const popped = popOwnRoutes(req, this.own);
    // loop check and branch at the same stage: our own Route entries popped, nothing else changed yet
    if (isLoop(req, (v) => this.ownVia(v), this.p.secret)) return this.reply(tx, req, 482, 'loop');
    const hash = loopHash(req, this.p.secret);
    this.maxForwards(req);
    if (this.isInternal(source)) {
      void this.towardsClient(tx, req, popped, hash).catch((e: unknown) => {
        this.log.warn({ err: String(e), method: req.method }, 'forwarding to a client failed');
        this.reply(tx, req, e instanceof SipParseError ? 400 : 500);
      });
      return;
    }
    this.towardsProxy(tx, req, source, hash);
  }

  /** Client → lb → proxy. */
  private towardsProxy(tx: ServerTransaction, req: SipRequest, source: TransportSource, hash: string): void {
    const initial = req.to().tag === undefined;
    const ruri = req.requestUri();
    if (req.method === 'OPTIONS' && initial && ruri.isSip && ruri.user === null && this.own.isOwnHost(ruri.hostname) && !req.has('route')) {
      this.counters.ownAnswers++;
      return this.reply(tx, req, 200, null, [['Allow', ALLOW], ['Accept', 'application/sdp']]);
    }
    if (initial) {
      const domain = requestDomain(req);
      const verdict = checkDomain({
        domain, trusted: this.trusted.has(source.address), own: domain !== null && this.own.isOwnHost(domain), domains: this.p.domains.current(),
      });
      if (verdict === 'forbidden') return this.reply(tx, req, 403, 'domain-not-served', [], 'Domain not served');
      if (verdict === 'unavailable') return this.reply(tx, req, 503, 'domains-unknown', [['Retry-After', '5']]);
    }
    const client: ClientAddress = { transport: source.transport, address: source.address, port: source.port };
    if (req.method === 'REGISTER') req.prepend('Path', buildPath(this.internal, client, wantsOutbound(req)));
    else if (isDialogCreating(req)) {
      addDoubleRecordRoute(req, this.internal, this.pub[source.transport] ?? this.internal);
      aliasContact(req, client);
    } else if (TARGET_REFRESH.has(req.method)) {
      aliasContact(req, client); // a re-INVITE/UPDATE's new Contact must stay reachable behind NAT too
    }
    // a Route naming one of the proxies (in-dialog) goes there; anything else is dispatched
    const nr = nextRoute(req);
    const routed = nr !== undefined && nr.isSip ? this.p.dests.find(nr.hostname, uriPort(nr)) : undefined;
    const order = routed ? [routed] : this.p.dests.order(req);
    if (order.length === 0) return this.reply(tx, req, 503, 'no-destination', [['Retry-After', '5']]);
    this.counters.inbound++;
    this.p.metrics.forwarded.inc({ direction: 'inbound' });
    this.forward(tx, req, order.map((d) => this.proxyTarget(d)), true, hash);
  }

  /** Proxy → lb → client. */
  private async towardsClient(tx: ServerTransaction, req: SipRequest, popped: SipUri[], hash: string): Promise<void> {
    const target = await this.clientTarget(req, popped);
    if (target === null) return this.reply(tx, req, 404, 'no-target');
    const via = this.pub[target.transport];
    if (via === undefined) return this.reply(tx, req, 503, 'transport-unavailable');
    if (isDialogCreating(req)) addDoubleRecordRoute(req, via, this.internal);
    this.counters.outbound++;
    this.p.metrics.forwarded.inc({ direction: 'outbound' });
    this.forward(tx, req, [{ dest: this.clientDest(target), via }], false, hash);
  }

  private forward(tx: ServerTransaction, req: SipRequest, targets: Target[], towardsProxy: boolean, hash: string): void {
    const f = new Forwarding(this.forwardHost(towardsProxy, hash), tx, req, targets, { failover: towardsProxy, timeoutMs: this.p.config.dispatch.timeout_ms });
    if (req.method === 'INVITE') this.forwards.set(tx, f);
    f.start();
  }

  private forwardHost(towardsProxy: boolean, hash: string): ForwardHost {
    const sip = this.stack();
    const host: ForwardHost = {
      sendRequest: (r: SipRequest, d: SipDestination, u: ClientTransactionUser): ClientTransaction => sip.sendRequest(r, d, u),
      branch: (n) => branchFor(hash, n),
      answered: (d) => this.p.dests.answered(d),
      missed: (d) => this.p.dests.miss(d),
      finalSent: (method, status) => this.p.metrics.responses.inc({ method, status: statusLabelOf(status) }),
    };
    if (!towardsProxy) host.fromClient = (res, client) => aliasContact(res, client);
    return host;
  }

  // ---- ACK for a 2xx, CANCEL, stray responses ----------------------------------------

  onAck(ack: SipRequest, source: TransportSource): void {
    this.p.metrics.requests.inc({ method: 'ACK' });
    this.counters.acks++;
    void this.forwardAck(ack, source).catch((e: unknown) => {
      this.p.metrics.drops.inc({ reason: 'ack-unroutable' });
      this.log.debug({ err: String(e) }, 'ACK not forwarded');
    });
  }

  private async forwardAck(ack: SipRequest, source: TransportSource): Promise<void> {
    const popped = popOwnRoutes(ack, this.own);
    const branch = ackBranch(ack, this.p.secret);
    this.maxForwards(ack);
    let dest: SipDestination;
    let via: Listener;
    if (this.isInternal(source)) {
      const target = await this.clientTarget(ack, popped);
      const v = target === null ? undefined : this.pub[target.transport];
      if (target === null || v === undefined) throw new Error('no client target for ACK');
      dest = this.clientDest(target);
      via = v;
    } else {
      const nr = nextRoute(ack);
      const d = (nr !== undefined && nr.isSip ? this.p.dests.find(nr.hostname, uriPort(nr)) : undefined) ?? this.p.dests.order(ack)[0];
      if (d === undefined) throw new Error('no proxy for ACK');
      dest = this.proxyTarget(d).dest;
      via = this.internal;
    }
    ack.pushVia(`SIP/2.0/${via.transport.toUpperCase()} ${hostOf(via.address)}:${via.port};branch=${branch};rport`);
    await this.stack().send(ack, dest);
  }

  onCancel(cancel: SipRequest, cancelTx: ServerTransaction, inviteTx: ServerTransaction | undefined, source?: TransportSource): void {
    this.p.metrics.requests.inc({ method: 'CANCEL' });
    if (cancelTx.respond(createResponse(cancel, 200, { toTag: newTag() }))) this.p.metrics.responses.inc({ method: 'CANCEL', status: statusLabelOf(200) });
    if (inviteTx !== undefined) return void this.forwards.get(inviteTx)?.cancel();
    // no INVITE transaction here: the other node's lb (or this process before a restart)
    // forwarded the INVITE. Its branch is a hash of what the CANCEL repeats (§9.1) under the
    // key both nodes share, so the CANCEL goes to the same next hop with the same branch.
    this.counters.cancelsWithoutInvite++;
    void this.forwardCancel(cancel, source ?? (cancelTx.source as TransportSource)).catch((e: unknown) => {
      this.p.metrics.drops.inc({ reason: 'cancel-unroutable' });
      this.log.debug({ err: String(e) }, 'CANCEL without INVITE not forwarded');
    });
  }

  /** A CANCEL without its INVITE transaction, sent where and as attempt 0 of that INVITE went. */
  private async forwardCancel(cancel: SipRequest, source: TransportSource): Promise<void> {
    const popped = popOwnRoutes(cancel, this.own);
    const hash = loopHash(cancel, this.p.secret);
    this.maxForwards(cancel);
    let dest: SipDestination;
    let via: Listener;
    if (this.isInternal(source)) {
      const target = await this.clientTarget(cancel, popped);
      const v = target === null ? undefined : this.pub[target.transport];
      if (target === null || v === undefined) throw new Error('no client target for CANCEL');
      dest = this.clientDest(target);
      via = v;
    } else {
      const nr = nextRoute(cancel);
      const d = (nr !== undefined && nr.isSip ? this.p.dests.find(nr.hostname, uriPort(nr)) : undefined) ?? this.p.dests.order(cancel)[0];
      if (d === undefined) throw new Error('no proxy for CANCEL');
      dest = this.proxyTarget(d).dest;
      via = this.internal;
    }
    // the same Via the forwarder writes (routing/loop.ts: branch of attempt 0)
    const port = via.port === (via.transport === 'tls' ? 5061 : 5060) ? '' : `:${via.port}`;
    cancel.pushVia(`SIP/2.0/${via.transport.toUpperCase()} ${via.address}${port};branch=${branchFor(hash, 0)};rport`);
    this.stack().sendRequest(cancel, dest, { onFinal: () => undefined });
  }

  onStrayResponse(res: SipResponse, source: TransportSource): void {
    let d;
    try {
      d = forwardResponseStatelessly(res, (v) => this.ownVia(v));
    } catch {
      this.p.metrics.drops.inc({ reason: 'malformed-response' });
      return;
    }
    if (d.action === 'drop') {
      this.p.metrics.drops.inc({ reason: `stray-response-${d.reason}` });
      return;
    }
    this.counters.strayResponses++;
    const local = this.isInternal(source) ? this.pub.udp : this.internal;
    const hint: SipDestination = { transport: d.hop.transport, address: d.hop.address, port: d.hop.port };
    if (local && d.hop.transport.toLowerCase() === 'udp') Object.assign(hint, { localAddress: local.address, localPort: local.port });
    this.stack().send(res, hint).catch(() => this.p.metrics.drops.inc({ reason: 'send-failed' }));
  }

  // ---- helpers ---------------------------------------------------------------------------

  private stack(): SipStack {
    if (this.sip === null) throw new Error('lb: not bound to a SIP stack');
    return this.sip;
  }

  private isInternal(source: TransportSource): boolean {
    return source.transport === 'udp' && source.localPort === this.internal.port && source.localAddress === this.internal.address;
  }

  private ownVia(v: Via): boolean {
    return this.own.isOwn(v.host, v.port ?? (v.transport === 'TLS' ? 5061 : 5060));
  }

  private maxForwards(req: SipRequest): void {
    const mf = req.maxForwards();
    const max = this.p.config.max_forwards;
    req.set('Max-Forwards', String(mf === undefined ? max : Math.min(mf - 1, max)));
  }

  private proxyTarget(d: Destination): Target {
    return {
      dest: { transport: 'udp', address: d.address, port: d.port, localAddress: this.internal.address, localPort: this.internal.port },
      via: this.internal,
      proxy: d,
    };
  }

  private clientDest(c: ClientAddress): SipDestination {
    const dest: SipDestination = { transport: c.transport, address: c.address, port: c.port };
    const udp = this.pub.udp;
    if (c.transport === 'udp' && udp) Object.assign(dest, { localAddress: udp.address, localPort: udp.port });
    return dest;
  }

  /**
   * Where a request for a client goes: the `received` of a Path entry we popped, else the
   * next Route, else the Request-URI's `alias`, else the Request-URI (RFC 3263). The
   * `alias` parameter leaves the Request-URI either way.
   */
  private async clientTarget(req: SipRequest, popped: SipUri[]): Promise<ClientAddress | null> {
    let received: ClientAddress | null = null;
    for (const u of popped) received = decodeReceived(u.param('received')) ?? received;
    const ruri = req.requestUri();
    let alias: ClientAddress | null = null;
    if (ruri.isSip && ruri.hasParam('alias')) {
      alias = takeUriAlias(ruri);
      req.setUri(ruri);
    }
    if (received) return received;
    const nr = nextRoute(req);
    if (nr !== undefined) return this.resolveUri(nr);
    return alias ?? this.resolveUri(req.requestUri());
  }

  private async resolveUri(uri: Uri): Promise<ClientAddress | null> {
    if (!uri.isSip) return null;
    const t = uri.transport ?? (uri.scheme === 'sips' ? 'tls' : undefined);
    if (t !== undefined && t !== 'udp' && t !== 'tcp' && t !== 'tls') return null;
    if (isIP(uri.hostname) !== 0) return { transport: t ?? 'udp', address: uri.hostname, port: uriPort(uri) };
    this.resolver ??= new SipResolver({});
    const targets = await this.resolver.resolve({ host: uri.hostname, ...(uri.port !== null ? { port: uri.port } : {}), ...(t ? { transport: t } : {}), secure: uri.scheme === 'sips' });
    const first = targets.find((x) => x.transport === 'udp' || x.transport === 'tcp' || x.transport === 'tls');
    return first ? { transport: first.transport as ClientTransport, address: first.address, port: first.port } : null;
  }

  private reply(tx: ServerTransaction, req: SipRequest, status: number, dropReason?: string | null, headers: Array<[string, string]> = [], reason?: string): void {
    if (dropReason) this.p.metrics.drops.inc({ reason: dropReason });
    const res = createResponse(req, status, { toTag: newTag(), headers, ...(reason ? { reason } : {}) });
    if (tx.respond(res)) this.p.metrics.responses.inc({ method: req.method, status: statusLabelOf(status) });
  }
}

function hostOf(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/** Put `alias` on the single Contact of a request or response (nothing for `*` or several). */
function aliasContact(msg: SipRequest | SipResponse, client: ClientAddress): void {
  if (!msg.has('contact')) return;
  let contacts;
  try {
    contacts = msg.contacts();
  } catch {
    return; // an unreadable Contact is the next hop's problem
  }
  if (contacts === '*' || contacts.length !== 1) return;
  const c = contacts[0]!;
  if (addContactAlias(c, client)) msg.set('Contact', c.toString());
}

