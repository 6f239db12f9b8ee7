/**
 * A test user agent on @ngcp/sip, standing where the lb + a phone would: it talks to the
 * proxy directly over UDP, puts a Path with `received` on its REGISTERs (as the lb does,
 * docs/calls.md), answers digest challenges with DigestClient and keeps dialogs with the
 * dialog helpers of @ngcp/sip.
 */
import type { ClientTransaction, DialogRecord, ServerTransaction, SipRequest, SipResponse, SipStack } from '@ngcp/sip';
import {
  answerCancel, createInDialogRequest, createResponse, createSipStack, createUacDialog, createUasDialog, DigestClient, newBranch, newCallId, newTag,
  parseNameAddr, SipRequest as Request,
} from '@ngcp/sip';

export interface Incoming { tx: ServerTransaction; req: SipRequest }
export interface Result { req: SipRequest; final: SipResponse; provisionals: SipResponse[]; dialog?: DialogRecord }

const SDP = (port: number) => `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n`;
export const sdp = SDP;

export class Ua {
  stack!: SipStack;
  port = 0;
  readonly host: string = '127.0.0.1';
  private digest: DigestClient;
  private queue: Incoming[] = [];
  private waiters: Array<{ method: string; resolve: (i: Incoming) => void }> = [];
  readonly acks: SipRequest[] = [];
  /** SDP the ACK of a 2xx carries (the answer to a late offer); none when unset */
  ackSdp: string | undefined;
  readonly cancels: SipRequest[] = [];
  private cseq = 1;

  constructor(readonly user: string, readonly domain: string, public password: string, public proxy: { address: string; port: number }) {
    this.digest = new DigestClient({ username: user, password });
  }

  /** Listen on `port` (default: any free one). */
  async start(port = 0): Promise<this> {
    this.stack = createSipStack({
      listen: [{ transport: 'udp', address: this.host, port }],
      resolver: false,
      transport: { role: 'uas' },
      onRequest: (tx, req) => {
        if (req.method === 'BYE') tx.respond(createResponse(req, 200));
        this.push({ tx, req });
      },
      onAck: (ack) => {
        this.acks.push(ack);
      },
      onCancel: (cancel, cancelTx, inviteTx) => {
        this.cancels.push(cancel);
        answerCancel(cancel, cancelTx, inviteTx);
      },
    });
    const [bound] = await this.stack.start();
    this.port = bound!.port;
    return this;
  }

  async stop(): Promise<void> {
    await this.stack.close();
  }

  get aor(): string {
    return `${this.user}@${this.domain}`;
  }
  get contact(): string {
    return `sip:${this.user}@${this.host}:${this.port}`;
  }
  /** What the lb adds to a REGISTER: its address (here ours) with the received address. */
  get path(): string {
    return `<sip:${this.host}:${this.port};lr;received=sip:${this.host}:${this.port}>`;
  }

  private push(i: Incoming): void {
    const w = this.waiters.findIndex((x) => x.method === i.req.method);
    if (w >= 0) this.waiters.splice(w, 1)[0]!.resolve(i);
    else this.queue.push(i);
  }

  /** The next request of `method` this UA receives. */
  next(method: string, timeoutMs = 10_000): Promise<Incoming> {
    const i = this.queue.findIndex((x) => x.req.method === method);
    if (i >= 0) return Promise.resolve(this.queue.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const w = { method, resolve: (x: Incoming) => { clearTimeout(t); resolve(x); } };
      const t = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`${this.user}: no ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Received requests of `method` not yet taken with next(). */
  pending(method: string): number {
    return this.queue.filter((x) => x.req.method === method).length;
  }

  private via(): string {
    return `SIP/2.0/UDP ${this.host}:${this.port};branch=${newBranch()};rport`;
  }

  build(method: string, ruri: string, to: string, headers: Array<[string, string]> = [], body?: string, callId = newCallId()): Request {
    const req = new Request(method, ruri, [
      ['Via', this.via()], ['Max-Forwards', '70'], ['From', `<sip:${this.aor}>;tag=${newTag()}`], ['To', to],
      ['Call-ID', callId], ['CSeq', `${this.cseq++} ${method}`], ...headers,
    ]);
    if (body !== undefined) req.setBody(body, 'application/sdp');
    return req;
  }

  /** Send statefully to the proxy; answers a 401/407 once with credentials. */
  async send(req: SipRequest, opts: { auth?: boolean; onTx?: (tx: ClientTransaction, req: SipRequest) => void } = {}): Promise<Result> {
    const first = await this.sendOnce(req, opts.onTx);
    if (opts.auth === false || (first.final.status !== 401 && first.final.status !== 407)) return first;
    const proxyAuth = first.final.status === 407;
    const out = this.digest.onChallenge(first.final.getAll(proxyAuth ? 'proxy-authenticate' : 'www-authenticate'), { proxy: proxyAuth, sent: req.getAll(proxyAuth ? 'proxy-authorization' : 'authorization') });
    if (out.action !== 'retry') return first;
    const again = this.copyWithNewCSeq(req);
    for (const h of this.digest.authorize({ method: again.method, uri: again.uri })) again.append(h.name, h.value);
    return this.sendOnce(again, opts.onTx);
  }

  private copyWithNewCSeq(req: SipRequest): Request {
    const headers: Array<[string, string]> = req.headers
      .filter((h) => !['via', 'cseq', 'authorization', 'proxy-authorization', 'content-length'].includes(h.key))
      .map((h) => [h.name, h.value]);
    const r = new Request(req.method, req.uri, [['Via', this.via()], ['CSeq', `${this.cseq++} ${req.method}`], ...headers]);
    if (req.body.length > 0) r.setBody(req.body, req.get('content-type'));
    return r;
  }

  private sendOnce(req: SipRequest, onTx?: (tx: ClientTransaction, req: SipRequest) => void): Promise<Result> {
    const provisionals: SipResponse[] = [];
    return new Promise((resolve) => {
      let done = false;
      const tx = this.stack.sendRequest(req, { transport: 'udp', address: this.proxy.address, port: this.proxy.port }, {
        onProvisional: (res) => void provisionals.push(res),
        onFinal: (res) => {
          if (req.method === 'INVITE' && res.status < 300) this.ack(createUacDialog(req, res), req.cseq().seq);
          if (done) return;
          done = true;
          const r: Result = { req, final: res, provisionals };
          if (req.method === 'INVITE' && res.status < 300) r.dialog = createUacDialog(req, res);
          resolve(r);
        },
      });
      onTx?.(tx, req);
    });
  }

  register(opts: { expires?: number; contacts?: string[]; extra?: Array<[string, string]>; path?: string } = {}): Promise<Result> {
    const contacts = opts.contacts ?? [`<${this.contact}>`];
    const h: Array<[string, string]> = contacts.map((c) => ['Contact', c] as [string, string]);
    h.push(['Path', opts.path ?? this.path], ['Supported', 'path']);
    if (opts.expires !== undefined) h.push(['Expires', String(opts.expires)]);
    return this.send(this.build('REGISTER', `sip:${this.domain}`, `<sip:${this.aor}>`, [...h, ...(opts.extra ?? [])]));
  }

  invite(target: string, opts: { onTx?: (tx: ClientTransaction, req: SipRequest) => void; body?: string | null } = {}): Promise<Result> {
    const body = opts.body === null ? undefined : (opts.body ?? SDP(4000));
    const req = this.build('INVITE', target, `<${target}>`, [['Contact', `<${this.contact}>`]], body);
    return this.send(req, opts.onTx ? { onTx: opts.onTx } : {});
  }

  /** Answer an incoming request; a 2xx to an INVITE outside a dialog makes a UAS dialog. */
  answer(i: Incoming, status: number, withSdp = true): DialogRecord | undefined {
    const toTag = (i as Incoming & { toTag?: string }).toTag ?? ((i as Incoming & { toTag?: string }).toTag = newTag());
    const headers: Array<[string, string]> = [['Contact', `<${this.contact}>`]];
    const res = createResponse(i.req, status, {
      toTag, copyRecordRoute: status < 300, headers,
      ...(withSdp && status < 300 && status > 100 ? { body: SDP(5000), contentType: 'application/sdp' } : {}),
    });
    i.tx.respond(res);
    // a re-INVITE (To tag set) is in a dialog already
    return status >= 200 && status < 300 && i.req.to().tag === undefined ? createUasDialog(i.req, res) : undefined;
  }

  private firstHop(d: DialogRecord): { transport: string; address: string; port: number } {
    const uri = parseNameAddr(d.routeSet[0] ?? `<${d.remoteTarget}>`, 'route').uri;
    if (!uri.isSip) throw new Error('not a sip route');
    return { transport: 'udp', address: uri.hostname, port: uri.port ?? 5060 };
  }

  private ack(d: DialogRecord, cseq: number): void {
    const { request } = createInDialogRequest(d, 'ACK', { cseq, via: { transport: 'udp', host: this.host, port: this.port } });
    if (this.ackSdp !== undefined) request.setBody(this.ackSdp, 'application/sdp');
    void this.stack.send(request, this.firstHop(d));
  }

  /** Send BYE (or another method) in a dialog; resolves with the final response. A re-INVITE's 2xx is ACKed. `onSent` gets the request. */
  inDialog(d: DialogRecord, method = 'BYE', onSent?: (req: SipRequest) => void): Promise<SipResponse> {
    const { request } = createInDialogRequest(d, method, { via: { transport: 'udp', host: this.host, port: this.port } });
    onSent?.(request);
    return new Promise((resolve) => {
      this.stack.sendRequest(request, this.firstHop(d), {
        onFinal: (res) => {
          if (method === 'INVITE' && res.status < 300) this.ack(d, request.cseq().seq);
          resolve(res);
        },
      });
    });
  }
}

/**
 * A peering server: a UA on its own loopback address (the proxy tells peers from subscribers by
 * address). `proxy` is where its own requests go (calls from the peer), `user` its From user.
 */
export class PeerUa extends Ua {
  override readonly host: string;
  constructor(host: string, proxy: { address: string; port: number } = { address: '127.0.0.1', port: 0 }, user = 'peer') {
    super(user, 'carrier.example', 'x', proxy);
    this.host = host;
  }
}
