/**
 * One request forwarded statefully (RFC 3261 §16.6–§16.7): a client transaction per
 * attempt with our Via on a copy of the request (the server transaction keeps the
 * original), responses relayed upstream with our Via popped. Towards the proxies
 * (`failover`): no answer at all within `timeoutMs`, a transport error, or a 503 before
 * any real provisional response moves the request to the next destination with a new
 * branch; once a proxy answered, it owns the transaction; none left → 503. A 2xx that an
 * abandoned INVITE attempt still gets is relayed (and CANCELs the later attempt if nothing
 * was final yet). CANCEL is hop-by-hop: `cancel()` cancels the attempt in progress.
 */
import type { ClientTransaction, ClientTransactionUser, ServerTransaction, SipRequest, SipResponse, Destination as SipDestination } from '@ngcp/sip';
import { createResponse, newTag, parseMessage } from '@ngcp/sip';
import type { Destination } from './dispatch/destinations.js';
import type { ClientAddress } from './routing/nat.js';
import type { Listener } from './routing/route-set.js';

/** Where one attempt goes and which of our listeners it leaves from (the Via sent-by). */
export interface Target {
  dest: SipDestination;
  via: Listener;
  /** The proxy destination, when the target is one of the dispatch set. */
  proxy?: Destination;
}

export interface ForwardHost {
  sendRequest(req: SipRequest, dest: SipDestination, user: ClientTransactionUser): ClientTransaction;
  /** Our Via's branch for attempt n (routing/loop.ts). */
  branch(attempt: number): string;
  /** A proxy answered (anything) / missed (timeout, transport error). */
  answered(d: Destination): void;
  missed(d: Destination): void;
  /** A final response was sent upstream. */
  finalSent(method: string, status: number): void;
  /** Called on each 1xx/2xx relayed from the client side: add the Contact alias. */
  fromClient?(res: SipResponse, client: ClientAddress): void;
}

export interface ForwardOptions {
  failover: boolean;
  timeoutMs: number;
}

export class Forwarding {
  private attempt = 0;
  private current: ClientTransaction | null = null;
  private timer: NodeJS.Timeout | null = null;
  private answered = false;
  private ringing = false;
  private cancelled = false;
  private done = false;

  constructor(
    private readonly host: ForwardHost,
    private readonly tx: ServerTransaction,
    /** The request as it goes out, without our Via (the server transaction's own object). */
    private readonly req: SipRequest,
    private readonly targets: readonly Target[],
    private readonly o: ForwardOptions,
  ) {}

  start(): void {
    this.next();
  }

  /** The client CANCELled (hop-by-hop, §16.10): cancel the attempt in progress, or end it with 487. */
  cancel(): void {
    if (this.done) return;
    this.cancelled = true;
    if (this.current !== null) {
      this.current.cancel();
      if (this.answered) return; // the 487 comes back from the next hop
    }
    // nothing answered yet: wait for the attempt's own timeout, which ends it with 487 (below)
    if (this.current === null) this.finish(487);
  }

  private next(): void {
    const t = this.targets[this.attempt];
    if (t === undefined || this.cancelled) {
      this.finish(this.cancelled ? 487 : 503);
      return;
    }
    const n = this.attempt++;
    const out = parseMessage(this.req.toBuffer()) as SipRequest;
    const port = t.via.port === (t.via.transport === 'tls' ? 5061 : 5060) ? '' : `:${t.via.port}`;
    out.pushVia(`SIP/2.0/${t.via.transport.toUpperCase()} ${t.via.address}${port};branch=${this.host.branch(n)};rport`);
    this.answered = false;
    this.ringing = false;
    let ctx: ClientTransaction;
    try {
      ctx = this.host.sendRequest(out, t.dest, {
        onProvisional: (res, c) => this.onProvisional(res, c, t),
        onFinal: (res, c, origin) => this.onFinal(res, c, origin, t),
      });
    } catch {
      // a duplicate branch (the same request forwarded twice at once) or a closed layer
      this.finish(500);
      return;
    }
    this.current = ctx;
    if (this.o.failover) {
      this.timer = setTimeout(() => this.onNoAnswer(ctx, t), this.o.timeoutMs);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private onNoAnswer(ctx: ClientTransaction, t: Target): void {
    this.timer = null;
    if (ctx !== this.current || this.answered || this.done) return;
    // abandon this attempt: an INVITE is CANCELled if it ever rings. It hears nothing more —
    // except a 2xx: the proxy behind may have answered the call after all (our CANCEL can
    // cross its 200), and a 2xx is never dropped (§16.7 step 5): it is relayed, and wins.
    ctx.user = ctx.method !== 'INVITE' ? undefined : {
      onFinal: (res, c, origin) => {
        if (origin === 'network' && res.status >= 200 && res.status < 300) this.onLate2xx(res, c);
      },
    };
    if (ctx.method === 'INVITE') ctx.cancel();
    if (t.proxy) this.host.missed(t.proxy);
    this.current = null;
    this.next();
  }

  /** A 2xx of an abandoned INVITE attempt: relay it; if nothing was final yet, it is the answer and the attempt in progress is CANCELled. */
  private onLate2xx(res: SipResponse, ctx: ClientTransaction): void {
    if (!this.done) {
      this.done = true;
      this.clearTimer();
      this.current?.cancel();
      this.current = null;
    }
    this.relay(res, ctx);
  }

  private onProvisional(res: SipResponse, ctx: ClientTransaction, t: Target): void {
    if (ctx !== this.current || this.done) return;
    this.clearTimer();
    if (!this.answered && t.proxy) this.host.answered(t.proxy);
    this.answered = true;
    if (res.status === 100) return; // hop by hop (§16.7 step 5); our server transaction sent its own
    this.ringing = true;
    this.relay(res, ctx);
  }

  private onFinal(res: SipResponse, ctx: ClientTransaction, origin: 'network' | 'timeout' | 'transport-error', t: Target): void {
    if (ctx !== this.current) return;
    this.clearTimer();
    if (this.done) {
      // 2xx retransmissions and further 2xx of forks (RFC 6026): relay them too
      if (res.status >= 200 && res.status < 300) this.relay(res, ctx);
      return;
    }
    if (origin === 'network' && t.proxy && !this.answered) this.host.answered(t.proxy);
    const failed = origin !== 'network' || (res.status === 503 && !this.ringing);
    if (this.o.failover && failed && !this.cancelled) {
      if (origin !== 'network' && t.proxy) this.host.missed(t.proxy);
      this.current = null;
      this.next();
      return;
    }
    if (origin !== 'network' && !this.o.failover) {
      // a local 408/503 of our client transaction: tell upstream with a response of our own
      this.finish(origin === 'timeout' ? 408 : 503);
      return;
    }
    this.done = true;
    this.relay(res, ctx);
  }

  private relay(res: SipResponse, ctx: ClientTransaction): void {
    res.popVia();
    if (this.host.fromClient && res.status < 300) {
      const d = ctx.dest;
      this.host.fromClient(res, { transport: d.transport.toLowerCase() as ClientAddress['transport'], address: d.address, port: d.port });
    }
    if (this.tx.respond(res) && res.status >= 200) this.host.finalSent(this.tx.method, res.status);
  }

  /** End the server transaction with a response of our own. */
  private finish(status: number): void {
    if (this.done) return;
    this.done = true;
    this.clearTimer();
    const headers: Array<[string, string]> = status === 503 ? [['Retry-After', '5']] : [];
    if (this.tx.respond(createResponse(this.req, status, { toTag: newTag(), headers }))) {
      this.host.finalSent(this.tx.method, status);
    }
  }
}
