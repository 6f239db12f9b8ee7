/**
 * createSipStack(): the transport layer, the transaction layer and (optionally) the
 * RFC 3263 resolver wired together, so a daemon's SIP side reads as one screen of
 * intent:
 *
 *   const sip = createSipStack({ listen: [{ transport: 'udp', address, port }], logger,
 *     onRequest(tx, req) { tx.respond(createResponse(req, 200)); } });
 *   await sip.start();
 *
 * Requests arrive with their server transaction (ACK for a 2xx and stray responses
 * have their own hooks, as the transaction layer defines them). `drain()` answers new
 * requests 503 (Retry-After) while the live transactions finish, for a graceful stop.
 */
import { createResponse } from '../message/builders.js';
import type { SipMessage, SipRequest } from '../message/message.js';
import type { ResolveInput, SipResolverOptions } from '../dns/index.js';
import { SipResolver } from '../dns/index.js';
import type { ClientTransaction, ClientTransactionUser, ServerTransaction, TransactionStats, TransactionUser } from '../transaction/index.js';
import { TransactionLayer } from '../transaction/index.js';
import type { TimerConfig, TimerScheduler } from '../transaction/index.js';
import type { ListenSpec, ListeningAddress, TransportLayerOptions } from '../transport/options.js';
import type { TransportStatsSnapshot } from '../transport/stats.js';
import { TransportLayer } from '../transport/transport-layer.js';
import type { Destination } from '../message/transports.js';
import type { TransportSource as Source } from '../transport/types.js';
import type { FailoverOptions, FailoverResult } from './send-with-failover.js';
import { sendWithFailover } from './send-with-failover.js';

/** What the application hears; `onRequest` is required, the rest as in TransactionUser. */
export interface SipStackHandlers {
  /** A new request with its server transaction (any method but ACK and CANCEL); answer it with `tx.respond()`. `source` is where it came from. */
  onRequest(tx: ServerTransaction, request: SipRequest, source: Source): void;
  onAck?: TransactionUser['onAck'];
  onCancel?: TransactionUser['onCancel'];
  onStrayResponse?: TransactionUser['onStrayResponse'];
}

export interface SipStackOptions extends SipStackHandlers {
  listen: readonly ListenSpec[];
  /** Transport options (role, forceRport, tls, udp buffers, logger …); `onMessage` is the stack's. */
  transport?: Omit<TransportLayerOptions, 'onMessage'>;
  /** Transaction timers (T1, T2, T4, D, trying100, guard …). */
  timers?: Partial<TimerConfig>;
  scheduler?: TimerScheduler;
  /** RFC 3263 resolution for `sendWithFailover`/`resolve`; false: none (e.g. a proxy that routes by configured IPs). Default: a resolver with the system's DNS servers, made on first use. */
  resolver?: SipResolver | SipResolverOptions | false;
  /** Seconds in the Retry-After of the 503 that new requests get while draining. Default 5. */
  drainRetryAfter?: number;
}

export interface SipStackStats {
  transport: TransportStatsSnapshot;
  transactions: TransactionStats;
  /** Transactions alive now (all four kinds). */
  liveTransactions: number;
  /** New requests answered 503 because the stack was draining. */
  refusedWhileDraining: number;
  draining: boolean;
}

export interface SipStack {
  readonly transport: TransportLayer;
  readonly transactions: TransactionLayer;
  /** Open the listeners; resolves with the addresses bound (port 0 → the real port). */
  start(): Promise<ListeningAddress[]>;
  listening(): ListeningAddress[];
  /** Send a request statefully: a client transaction to an IP destination. */
  sendRequest(request: SipRequest, dest: Destination, user?: ClientTransactionUser): ClientTransaction;
  /** Send a message statelessly (a response is routed by its Via, §18.2.2). */
  send(message: SipMessage, dest?: Destination): Promise<void>;
  /** Send a request to a SIP URI the RFC 3263 way, failing over between targets. Throws if the stack has no resolver. */
  sendWithFailover(uri: ResolveInput, opts: FailoverOptions): Promise<FailoverResult>;
  stats(): SipStackStats;
  /** Answer new requests 503 from now on; resolves when no transaction is alive or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
  /** Close listeners, connections and timers (transactions are forgotten, TUs not told). */
  close(): Promise<void>;
}

export function createSipStack(opts: SipStackOptions): SipStack {
  const transport = new TransportLayer(opts.transport ?? {});
  let draining = false;
  let refused = 0;
  const retryAfter = String(opts.drainRetryAfter ?? 5);
  const user: TransactionUser = {
    onRequest(tx, req) {
      if (draining) {
        refused++;
        tx.respond(createResponse(req, 503, { headers: [['Retry-After', retryAfter]] }));
        return;
      }
      opts.onRequest(tx, req, tx.source as Source);
    },
    ...(opts.onAck ? { onAck: opts.onAck } : {}),
    ...(opts.onCancel ? { onCancel: opts.onCancel } : {}),
    ...(opts.onStrayResponse ? { onStrayResponse: opts.onStrayResponse } : {}),
  };
  const transactions = new TransactionLayer({
    transport,
    user,
    ...(opts.scheduler ? { scheduler: opts.scheduler } : {}),
    ...(opts.timers ? { timers: opts.timers } : {}),
  });
  transport.onMessage = (msg, source) => {
    transactions.receive(msg, source);
  };
  let resolver: SipResolver | null = opts.resolver instanceof SipResolver ? opts.resolver : null;
  const ownsResolver = !(opts.resolver instanceof SipResolver);
  const resolverFor = (): SipResolver => {
    if (opts.resolver === false) throw new Error('this SIP stack was made without a resolver (resolver: false)');
    resolver ??= new SipResolver(opts.resolver instanceof SipResolver ? {} : (opts.resolver ?? {}));
    return resolver;
  };
  const liveCount = (): number => {
    const l = transactions.stats().live;
    return l.ict + l.nict + l.ist + l.nist;
  };

  return {
    transport,
    transactions,
    start: () => transport.listen(opts.listen),
    listening: () => transport.listening(),
    sendRequest: (request, dest, u) => transactions.sendRequest(request, dest, u),
    send: (message, dest) => transport.send(message, dest),
    sendWithFailover: async (uri, o) => sendWithFailover(transactions, resolverFor(), uri, o),
    stats: () => ({
      transport: transport.stats(),
      transactions: transactions.stats(),
      liveTransactions: liveCount(),
      refusedWhileDraining: refused,
      draining,
    }),
    async drain(timeoutMs) {
      draining = true;
      const until = Date.now() + timeoutMs;
      while (liveCount() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    },
    async close() {
      transactions.close();
      await transport.close();
      if (ownsResolver && resolver) resolver.close();
    },
  };
}
