/**
 * A minimal SIP client on @ngcp/sip for what Debian's sipp 3.6.1 cannot do: TLS (it is
 * built without OpenSSL — no `-t l1`). Raw requests over one TransportLayer, responses
 * matched by Call-ID and CSeq, digest answered with the stack's DigestClient. Also sends
 * arbitrary bytes over UDP (the RFC 4475 torture messages).
 */
import { createSocket } from 'node:dgram';
import { DigestClient, SipRequest, TransportLayer, newBranch, newCallId, newTag, parseMessage, type SipResponse } from '@ngcp/sip';

export type ClientTransport = 'udp' | 'tcp' | 'tls';

export class SipClient {
  private readonly waiting = new Map<string, (r: SipResponse) => void>();
  private cseq = 0;
  readonly callId = newCallId('127.0.0.1');
  readonly tag = newTag();

  constructor(
    readonly layer: TransportLayer,
    readonly transport: ClientTransport,
    readonly dest: { address: string; port: number },
  ) {
    layer.onMessage = (m) => {
      if (m.kind !== 'response') return;
      const key = `${m.callId()} ${m.cseq().seq}`;
      this.waiting.get(key)?.(m as SipResponse);
    };
  }

  /** A client of `transport`; with TLS it trusts `ca` (PEM), or — when the lb's certificate is not known — any certificate. */
  static async open(transport: ClientTransport, dest: { address: string; port: number }, ca?: string | Buffer): Promise<SipClient> {
    const layer = new TransportLayer({ role: 'uas', tls: ca ? { ca: ca.toString() } : { rejectUnauthorized: false } });
    return new SipClient(layer, transport, dest);
  }

  /** Sends one request, resolves with its final response (provisionals skipped). */
  request(method: string, uri: string, headers: Array<[string, string]>, timeoutMs = 10_000): Promise<SipResponse> {
    const seq = ++this.cseq;
    const req = new SipRequest(method, uri, [
      ['Via', `SIP/2.0/${this.transport.toUpperCase()} 127.0.0.1:5060;branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['Call-ID', this.callId],
      ['CSeq', `${seq} ${method}`],
      ...headers,
      ['Content-Length', '0'],
    ]);
    return new Promise<SipResponse>((resolve, reject) => {
      const key = `${this.callId} ${seq}`;
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`${method} over ${this.transport}: no final response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, (r) => {
        if (r.status < 200) return;
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
  async register(o: { user: string; password: string; domain: string; expires: number; contactHost?: string }): Promise<{ statuses: number[]; final: SipResponse }> {
    const uri = `sip:${o.domain}`;
    const aor = `<sip:${o.user}@${o.domain}>`;
    const headers: Array<[string, string]> = [
      ['From', `${aor};tag=${this.tag}`],
      ['To', aor],
      ['Contact', `<sip:${o.user}@${o.contactHost ?? '127.0.0.1'}:5061;transport=${this.transport}>`],
      ['Expires', String(o.expires)],
      ['Supported', 'path'],
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

  close(): Promise<void> {
    return this.layer.close();
  }
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
