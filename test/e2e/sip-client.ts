/**
 * A minimal SIP client on @ngcp/sip for what Debian's sipp 3.6.1 cannot do: TLS (it is
 * built without OpenSSL — no `-t l1`). Raw requests over one TransportLayer, responses
 * matched by Call-ID and CSeq, digest answered with the stack's DigestClient. As a UAC it
 * places a call (INVITE → 407 → ACK → INVITE with credentials → 1xx/2xx → ACK and BYE along
 * the Record-Route set); as a UAS it takes the requests that arrive over its own
 * connection (the lb reuses it) and answers them there. Also sends arbitrary bytes over
 * UDP (the RFC 4475 torture messages).
 */
import { createSocket } from 'node:dgram';
import { createResponse, DigestClient, SipRequest, TransportLayer, newBranch, newCallId, newTag, parseMessage, type SipResponse, type TransportSource } from '@ngcp/sip';

export type ClientTransport = 'udp' | 'tcp' | 'tls';

export interface RequestOptions {
  timeoutMs?: number;
  /** default: the client's own Call-ID (REGISTER) */
  callId?: string;
  /** CSeq number; default: the next one */
  seq?: number;
  body?: string;
  contentType?: string;
  /** every provisional response */
  onProvisional?: (r: SipResponse) => void;
}

/** A dialog this client is part of (RFC 3261 §12): what in-dialog requests need. */
export interface ClientDialog {
  callId: string;
  /** our From (UAC) / To (UAS) header value, with our tag */
  local: string;
  /** the peer's, with its tag */
  remote: string;
  /** the peer's Contact URI */
  remoteTarget: string;
  /** Route headers of in-dialog requests: the Record-Route set (reversed for the UAC) */
  routeSet: string[];
  cseq: number;
}

/** An incoming request and the connection it came over. */
export interface Incoming {
  req: SipRequest;
  source: TransportSource;
}

export class SipClient {
  private readonly waiting = new Map<string, (r: SipResponse) => void>();
  private readonly inbox: Incoming[] = [];
  private inboxWaiter: (() => void) | null = null;
  private cseq = 0;
  readonly callId = newCallId('127.0.0.1');
  readonly tag = newTag();

  constructor(
    readonly layer: TransportLayer,
    readonly transport: ClientTransport,
    readonly dest: { address: string; port: number },
  ) {
    layer.onMessage = (m, source) => {
      if (m.kind === 'request') {
        this.inbox.push({ req: m as SipRequest, source });
        this.inboxWaiter?.();
        return;
      }
      const key = `${m.callId()} ${m.cseq().seq} ${m.cseq().method}`;
      this.waiting.get(key)?.(m as SipResponse);
    };
  }

  /** A client of `transport`; with TLS it trusts `ca` (PEM), or — when the lb's certificate is not known — any certificate. */
  static async open(transport: ClientTransport, dest: { address: string; port: number }, ca?: string | Buffer): Promise<SipClient> {
    const layer = new TransportLayer({ role: 'uas', tls: ca ? { ca: ca.toString() } : { rejectUnauthorized: false } });
    // UDP sends from (and receives on) a socket of its own; TCP and TLS use their connection
    if (transport === 'udp') await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    return new SipClient(layer, transport, dest);
  }

  /** Sends one request, resolves with its final response (provisionals go to `onProvisional`). */
  request(method: string, uri: string, headers: Array<[string, string]>, o: RequestOptions = {}): Promise<SipResponse> {
    const timeoutMs = o.timeoutMs ?? 10_000;
    const seq = o.seq ?? ++this.cseq;
    const callId = o.callId ?? this.callId;
    const req = new SipRequest(method, uri, [
      ['Via', `SIP/2.0/${this.transport.toUpperCase()} 127.0.0.1:5060;branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['Call-ID', callId],
      ['CSeq', `${seq} ${method}`],
      ...headers,
    ]);
    if (o.body !== undefined) req.setBody(o.body, o.contentType ?? 'application/sdp');
    req.set('Content-Length', String(req.body.length));
    return new Promise<SipResponse>((resolve, reject) => {
      const key = `${callId} ${seq} ${method}`;
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`${method} over ${this.transport}: no final response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, (r) => {
        if (r.status < 200) return void o.onProvisional?.(r);
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve(r);
      });
      this.layer.send(req, { transport: this.transport, address: this.dest.address, port: this.dest.port }).catch((e: unknown) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        reject(e as Error);
      });
    });
  }

  /** REGISTER with digest: the statuses seen (e.g. [401, 200]) and the final response. */
  async register(o: { user: string; password: string; domain: string; expires: number; contactHost?: string; outbound?: { instance: string; regId: number } }): Promise<{ statuses: number[]; final: SipResponse }> {
    const uri = `sip:${o.domain}`;
    const aor = `<sip:${o.user}@${o.domain}>`;
    // RFC 5626: an outbound UA names its instance and flow in the Contact and says it supports outbound
    const ob = o.outbound ? `;+sip.instance="<${o.outbound.instance}>";reg-id=${o.outbound.regId}` : '';
    const headers: Array<[string, string]> = [
      ['From', `${aor};tag=${this.tag}`],
      ['To', aor],
      ['Contact', `<sip:${o.user}@${o.contactHost ?? '127.0.0.1'}:5061;transport=${this.transport}>${ob}`],
      ['Expires', String(o.expires)],
      ['Supported', o.outbound ? 'path, outbound' : 'path'],
    ];
    const statuses: number[] = [];
    let res = await this.request('REGISTER', uri, headers);
    statuses.push(res.status);
    if (res.status === 401) {
      const digest = new DigestClient({ username: o.user, password: o.password });
      const outcome = digest.onChallenge(res.getAll('WWW-Authenticate'), { proxy: false });
      if (outcome.action !== 'retry') return { statuses, final: res };
      const auth = digest.authorize({ method: 'REGISTER', uri });
      res = await this.request('REGISTER', uri, [...headers, ...auth.map((a): [string, string] => [a.name, a.value])]);
      statuses.push(res.status);
    }
    return { statuses, final: res };
  }

  /** Sends an ACK or any other request that gets no response (over the client's connection). */
  async sendOnly(req: SipRequest): Promise<void> {
    req.set('Content-Length', String(req.body.length));
    await this.layer.send(req, { transport: this.transport, address: this.dest.address, port: this.dest.port });
  }

  /**
   * Places a call as `user`: INVITE with `sdp`; a 407 is ACKed and answered with the
   * credentials (RFC 3261 §22.3); the 2xx is ACKed along its Record-Route set (§13.2.2.4).
   * Resolves with every status seen, the final response and, when answered, the dialog.
   */
  async invite(o: { user: string; password: string; domain: string; to: string; sdp: string; timeoutMs?: number }): Promise<{ statuses: number[]; final: SipResponse; dialog?: ClientDialog }> {
    const callId = newCallId('127.0.0.1');
    const from = `<sip:${o.user}@${o.domain}>;tag=${newTag()}`;
    const headers: Array<[string, string]> = [
      ['From', from],
      ['To', `<${o.to}>`],
      ['Contact', `<sip:${o.user}@127.0.0.1:5061;transport=${this.transport}>`],
    ];
    const statuses: number[] = [];
    const opts = { callId, body: o.sdp, onProvisional: (r: SipResponse) => statuses.push(r.status), timeoutMs: o.timeoutMs ?? 30_000 };
    let res = await this.request('INVITE', o.to, headers, opts);
    statuses.push(res.status);
    if (res.status === 407) {
      await this.ackNon2xx(res, o.to);
      const digest = new DigestClient({ username: o.user, password: o.password });
      const outcome = digest.onChallenge(res.getAll('Proxy-Authenticate'), { proxy: true });
      if (outcome.action !== 'retry') return { statuses, final: res };
      const auth = digest.authorize({ method: 'INVITE', uri: o.to });
      res = await this.request('INVITE', o.to, [...headers, ...auth.map((a): [string, string] => [a.name, a.value])], opts);
      statuses.push(res.status);
    }
    if (res.status < 200 || res.status >= 300) {
      if (res.status >= 300) await this.ackNon2xx(res, o.to);
      return { statuses, final: res };
    }
    const contact = res.contacts();
    if (contact === '*' || contact.length === 0) throw new Error('2xx to INVITE without Contact');
    const dialog: ClientDialog = {
      callId, local: from, remote: res.get('to')!, remoteTarget: contact[0]!.uri.toString(),
      routeSet: res.elements('record-route').reverse(), cseq: res.cseq().seq,
    };
    await this.sendOnly(this.inDialog(dialog, 'ACK', dialog.cseq));
    return { statuses, final: res, dialog };
  }

  /** A request inside `dialog` (R-URI = remote target, Route = route set), not yet sent. */
  inDialog(dialog: ClientDialog, method: string, seq: number): SipRequest {
    return new SipRequest(method, dialog.remoteTarget, [
      ['Via', `SIP/2.0/${this.transport.toUpperCase()} 127.0.0.1:5060;branch=${newBranch()};rport`],
      ...dialog.routeSet.map((r): [string, string] => ['Route', r]),
      ['Max-Forwards', '70'],
      ['From', dialog.local],
      ['To', dialog.remote],
      ['Call-ID', dialog.callId],
      ['CSeq', `${seq} ${method}`],
    ]);
  }

  /** `method` (no body) inside `dialog` with the next CSeq; resolves with its final response. */
  sendInDialog(dialog: ClientDialog, method: string): Promise<SipResponse> {
    dialog.cseq++;
    const req = this.inDialog(dialog, method, dialog.cseq);
    const headers = req.headers.filter((h) => !['via', 'max-forwards', 'call-id', 'cseq'].includes(h.key)).map((h): [string, string] => [h.name, h.value]);
    return this.request(method, dialog.remoteTarget, headers, { callId: dialog.callId, seq: dialog.cseq });
  }

  /** BYE inside `dialog`; resolves with its final response. */
  bye(dialog: ClientDialog): Promise<SipResponse> {
    return this.sendInDialog(dialog, 'BYE');
  }

  /** ACK for a non-2xx final response: hop by hop, the INVITE's Via and branch (§17.1.1.3). */
  private async ackNon2xx(res: SipResponse, uri: string): Promise<void> {
    const ack = new SipRequest('ACK', uri, [
      ['Via', res.getAll('via')[0]!],
      ['Max-Forwards', '70'],
      ['From', res.get('from')!],
      ['To', res.get('to')!],
      ['Call-ID', res.callId()],
      ['CSeq', `${res.cseq().seq} ACK`],
    ]);
    await this.sendOnly(ack);
  }

  /** The next request of `method` that arrived (over any of the client's connections); earlier ones of other methods stay queued. */
  async nextRequest(method: string, timeoutMs = 30_000): Promise<Incoming> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((x) => x.req.method === method);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${method} over ${this.transport} within ${timeoutMs} ms (queued: ${this.inbox.map((x) => x.req.method).join(', ') || 'none'})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.inboxWaiter = () => {
          clearTimeout(t);
          this.inboxWaiter = null;
          resolve();
        };
      });
    }
  }

  /**
   * Answers an incoming request over the connection it came on (Via routing with the
   * source as hint). 1xx/2xx to INVITE copy its Record-Route and carry our Contact.
   */
  async respond(inc: Incoming, status: number, o: { toTag?: string; user?: string; sdp?: string } = {}): Promise<SipResponse> {
    const isInvite = inc.req.method === 'INVITE';
    const res = createResponse(inc.req, status, { ...(o.toTag ? { toTag: o.toTag } : {}), copyRecordRoute: isInvite && status < 300 });
    if (isInvite && status > 100 && status < 300) res.append('Contact', `<sip:${o.user ?? 'ua'}@127.0.0.1:5061;transport=${this.transport}>`);
    if (o.sdp !== undefined) res.setBody(o.sdp, 'application/sdp');
    res.set('Content-Length', String(res.body.length));
    await this.layer.send(res, inc.source);
    return res;
  }

  close(): Promise<void> {
    return this.layer.close();
  }
}

/**
 * A one-stream PCMU SDP offering/answering `port` on 127.0.0.1 (`version` goes into o=);
 * with `telephoneEvent`, RFC 4733 DTMF too (telephone-event/8000 on that payload type).
 */
export function audioSdp(port: number, version = 1, o: { telephoneEvent?: number } = {}): string {
  const te = o.telephoneEvent;
  const dtmf = te === undefined ? '' : `a=rtpmap:${te} telephone-event/8000\r\na=fmtp:${te} 0-15\r\n`;
  return `v=0\r\no=- ${version} ${version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0${te === undefined ? '' : ` ${te}`}\r\na=rtpmap:0 PCMU/8000\r\n${dtmf}a=sendrecv\r\n`;
}

/** The media port of an SDP's first m= line, and its session c= address. */
export function sdpMedia(sdp: string): { port: number; address: string | undefined } {
  const port = Number(/^m=audio (\d+)/m.exec(sdp)?.[1] ?? NaN);
  return { port, address: /^c=IN IP4 (\S+)/m.exec(sdp)?.[1] };
}

/** Sends raw bytes in one UDP datagram from a fresh socket of 127.0.0.1; collects what comes back for `waitMs`. */
export async function udpExchange(bytes: Buffer, dest: { address: string; port: number }, waitMs = 300): Promise<Buffer[]> {
  const s = createSocket('udp4');
  const got: Buffer[] = [];
  s.on('message', (b) => got.push(b));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r, j) => s.send(bytes, dest.port, dest.address, (e) => (e ? j(e) : r())));
  await new Promise((r) => setTimeout(r, waitMs));
  await new Promise<void>((r) => s.close(() => r()));
  return got;
}

/** A valid OPTIONS over UDP; resolves with the status of the first final response, or undefined. */
export async function optionsPing(dest: { address: string; port: number }, domain: string, waitMs = 3000): Promise<number | undefined> {
  const req = [
    `OPTIONS sip:${domain} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:9;branch=${newBranch()};rport`,
    'Max-Forwards: 70',
    `From: <sip:e2e-probe@${domain}>;tag=${newTag()}`,
    `To: <sip:${domain}>`,
    `Call-ID: ${newCallId('127.0.0.1')}`,
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const got = await udpExchange(Buffer.from(req), dest, waitMs);
  for (const b of got) {
    try {
      const m = parseMessage(b);
      if (m.kind === 'response' && m.status >= 200) return m.status;
    } catch {
      // not SIP
    }
  }
  return undefined;
}
