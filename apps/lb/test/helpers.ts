/**
 * Integration-test helpers: the real lb service (its builder, in-process, on free
 * ports), and SIP peers written with createSipStack — clients on 127.0.0.1 and fake
 * proxies on 127.0.0.2 — that record what reaches them.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { ServerTransaction, SipRequest, SipResponse, SipStack, TransportSource } from '@ngcp/sip';
import { SipRequest as Request, answerCancel, createResponse, createSipStack, newBranch, newCallId, newTag } from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';
import type { LbConfig } from '../src/config.js';
import { lbConfigDefaults } from '../src/config.js';
import type { LbService } from '../src/service.js';
import { createLbService } from '../src/service.js';

export const logger = pino({ level: process.env.LB_TEST_LOG ?? 'silent' });

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends Array<unknown> ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** A closed TCP port: MariaDB/Redis "not there". */
export async function deadPort(): Promise<number> {
  return freePort({ host: '127.0.0.2' });
}

export async function lbConfig(o: {
  proxies: Array<{ address: string; port: number; weight?: number }>;
  db?: Partial<LbConfig['db']>;
  redis?: Partial<LbConfig['redis']>;
  tls?: boolean;
  dispatch?: Partial<Omit<LbConfig['dispatch'], 'proxies' | 'probe'>> & { probe?: Partial<LbConfig['dispatch']['probe']> };
  trusted_peers?: string[];
}): Promise<LbConfig> {
  const sip = await freePort({ udp: true, tcp: true });
  const dir = mkdtempSync(join(tmpdir(), 'lb-test-'));
  return {
    node: 'sp1',
    public: { address: '127.0.0.1', udp_port: sip, tcp_port: sip, tls_enable: o.tls ?? false, tls_port: o.tls ? await freePort() : 5061 },
    internal: { address: '127.0.0.2', udp_port: await freePort({ udp: true, host: '127.0.0.2' }) },
    control: { address: '127.0.0.2', port: 0 },
    log: { level: 'silent' },
    max_forwards: lbConfigDefaults.max_forwards,
    trusted_peers: o.trusted_peers ?? [],
    tls: { cert: join(dir, 'tls/cert.pem'), key: join(dir, 'tls/key.pem'), generate: true, hostnames: ['localhost', '127.0.0.1'], days: 30 },
    dispatch: {
      algorithm: o.dispatch?.algorithm ?? 'hash-callid',
      timeout_ms: o.dispatch?.timeout_ms ?? 2000,
      proxies: o.proxies.map((p) => ({ address: p.address, port: p.port, weight: p.weight ?? 1 })),
      probe: { interval_ms: 0, timeout_ms: 1000, failures: 1, ...o.dispatch?.probe },
    },
    domains: { retry_ms: 300 },
    ipban: { ...lbConfigDefaults.ipban, exempt: [] },
    db: { host: '127.0.0.2', port: await deadPort(), user: 'ngcp', password: 'x', database: 'ngcp_test', ...o.db },
    redis: { host: '127.0.0.2', port: await deadPort(), db: 0, ...o.redis },
  };
}

export interface RunningLb {
  svc: LbService;
  registry: Registry;
  config: LbConfig;
  udp: number;
  tcp: number;
  tls: number | undefined;
  internal: number;
  stop(): Promise<void>;
}

export async function startLb(config: LbConfig): Promise<RunningLb> {
  const registry = new Registry();
  const svc = createLbService({ config, logger, metrics: registry, drainMs: 0 });
  await svc.start();
  const l = svc.listening();
  return { svc, registry, config, udp: l.public.udp!.port, tcp: l.public.tcp!.port, tls: l.public.tls?.port, internal: l.internal.port, stop: () => svc.stop() };
}

export interface Seen {
  req: SipRequest;
  source: TransportSource;
  tx: ServerTransaction | null;
}

type Handler = (tx: ServerTransaction, req: SipRequest, source: TransportSource) => void;

/** A SIP element for tests: records requests and ACKs, answers by `handler` (default 200). */
export class Peer {
  readonly seen: Seen[] = [];
  handler: Handler = (tx, req) => tx.respond(createResponse(req, 200, { toTag: newTag() }));
  private waiters: Array<() => void> = [];

  private constructor(readonly sip: SipStack, readonly address: string, readonly port: number) {}

  static async start(address: string, opts: { tlsClient?: boolean; port?: number } = {}): Promise<Peer> {
    const port = opts.port ?? (await freePort({ udp: true, host: address }));
    let peer!: Peer;
    const sip = createSipStack({
      listen: [{ transport: 'udp', address, port }],
      transport: { role: 'lb', ...(opts.tlsClient ? { tls: { rejectUnauthorized: false } } : {}) },
      resolver: false,
      onRequest: (tx, req, source) => {
        peer.seen.push({ req, source, tx });
        peer.wake();
        peer.handler(tx, req, source);
      },
      onCancel: (cancel, cancelTx, inviteTx) => {
        peer.seen.push({ req: cancel, source: cancelTx.source as TransportSource, tx: cancelTx });
        peer.wake();
        answerCancel(cancel, cancelTx, inviteTx);
      },
      onAck: (ack, source) => {
        peer.seen.push({ req: ack, source: source as TransportSource, tx: null });
        peer.wake();
      },
    });
    await sip.start();
    peer = new Peer(sip, address, port);
    return peer;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Wait until a request matching `pred` has arrived (bounded). */
  async waitFor(pred: (s: Seen) => boolean, ms = 10_000): Promise<Seen> {
    const until = Date.now() + ms;
    for (;;) {
      const hit = this.seen.find(pred);
      if (hit) return hit;
      const left = until - Date.now();
      if (left <= 0) throw new Error(`no matching request within ${ms} ms; seen: ${this.seen.map((s) => s.req.method).join(', ') || 'nothing'}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  methods(name: string): Seen[] {
    return this.seen.filter((s) => s.req.method === name);
  }

  /** Send a request statefully; resolves with the final response (and the provisionals before it). */
  request(req: SipRequest, dest: { transport: string; address: string; port: number }): Promise<{ final: SipResponse; provisional: SipResponse[] }> {
    const provisional: SipResponse[] = [];
    return new Promise((resolve) => {
      this.sip.sendRequest(req, dest, {
        onProvisional: (res) => void provisional.push(res),
        onFinal: (res) => resolve({ final: res, provisional }),
      });
    });
  }

  /** A request from this peer, Via for `transport` (sent-by = our UDP address; rport asked). */
  make(method: string, uri: string, o: { transport?: string; to?: string; from?: string; callId?: string; cseq?: number; contact?: string; headers?: Array<[string, string]>; body?: string } = {}): SipRequest {
    const t = (o.transport ?? 'udp').toUpperCase();
    const headers: Array<[string, string]> = [
      ['Via', `SIP/2.0/${t} ${this.address}:${this.port};branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', o.from ?? `<sip:alice@example.org>;tag=${newTag()}`],
      ['To', o.to ?? `<${uri}>`],
      ['Call-ID', o.callId ?? newCallId(this.address)],
      ['CSeq', `${o.cseq ?? 1} ${method}`],
    ];
    if (o.contact) headers.push(['Contact', o.contact]);
    headers.push(...(o.headers ?? []));
    const r = new Request(method, uri, headers);
    if (o.body !== undefined) r.setBody(o.body, 'application/sdp');
    return r;
  }

  close(): Promise<void> {
    return this.sip.close();
  }
}

export function routeUris(req: SipRequest, header = 'record-route'): string[] {
  return req.elements(header).map((v) => v.replace(/^<|>$/g, ''));
}
