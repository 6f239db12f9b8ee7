/**
 * TransactionLayer: the driver of the four machines (RFC 3261 §17). It matches
 * incoming messages to transactions (matching.ts), feeds events to the pure machines,
 * and carries out their effects: sends through the injected transport, timers on the
 * injected scheduler, callbacks to the TU. It holds no closure per transaction or
 * timer: timers call one shared function per slot with the transaction as argument.
 */
import { SipParseError } from '../message/errors.js';
import { newBranch, newTag } from '../message/ids.js';
import type { SipMessage, SipRequest, SipResponse } from '../message/message.js';
import { buildCancel, localResponse } from './build.js';
import { createResponse } from '../message/builders.js';
import { answerCancel } from './cancel.js';
import { TransactionError } from './errors.js';
import type { IctState } from './invite-client.js';
import { ict, ictStart } from './invite-client.js';
import type { IstState } from './invite-server.js';
import { ist, istAcceptsResponse, istStart } from './invite-server.js';
import { ackKeyOfResponse, clientKey, clientKeyOfResponse, detachedKey, serverKey } from './matching.js';
import type { NictState } from './non-invite-client.js';
import { nict, nictStart } from './non-invite-client.js';
import type { NistState } from './non-invite-server.js';
import { nist, nistAcceptsResponse, nistStart } from './non-invite-server.js';
import type { TransactionStats } from './stats.js';
import { copyStats, emptyStats } from './stats.js';
import type { TimerName, TimerValues } from './timers.js';
import { timerValues } from './timers.js';
import { QueuedScheduler } from './timer-queue.js';
import { TimerSlots } from './timer-slots.js';
import type { CancelResult, ClientCancelOptions, ClientTransactionUser, Transaction, TransactionDriver, TransactionLayerOptions, TransactionUser } from './transaction.js';
import { ClientTransaction, ServerTransaction } from './transaction.js';
import type { Destination } from '../message/transports.js';
import type { ClientEvent, Effect, ServerEvent, TransactionTransport, Transition } from './types.js';
import { TERMINATED } from './types.js';

/** What `receive()` did with a message. */
export type ReceiveResult = 'client' | 'server' | 'new' | 'ack' | 'stray-response' | 'malformed' | 'closed';

type Machine = IctState | NictState | IstState | NistState;

const TIMER_NAMES: TimerName[] = ['A', 'B', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'Trying100', 'Cancel', 'Guard'];
const TIMER_EVENTS = Object.fromEntries(TIMER_NAMES.map((n) => [n, Object.freeze({ type: 'timer', timer: n })])) as Record<
  TimerName,
  { readonly type: 'timer'; readonly timer: TimerName }
>;
const NOTHING = Symbol('nothing');
const CANCEL_SENT: ClientEvent = Object.freeze({ type: 'cancel' });

/** Whether a client state still needs the request (to retransmit, ACK, CANCEL, or make a local 408/503). */
function hasRequest(state: Machine): boolean {
  return state.name === 'Calling' || state.name === 'Trying' || state.name === 'Proceeding';
}

export class TransactionLayer implements TransactionDriver {
  private readonly clients = new Map<string, ClientTransaction>();
  /** Server transactions by key; an RFC 2543 INVITE transaction may also sit under its ACK key. */
  private readonly servers = new Map<string, ServerTransaction>();
  private readonly transport: TransactionTransport;
  private readonly user: TransactionUser;
  private readonly slots: TimerSlots<Transaction>;
  private readonly unreliableTimers: TimerValues;
  private readonly reliableTimers: TimerValues;
  private readonly counters = emptyStats();
  /** Source of the request being dispatched (for onAck from an Accepted transaction). */
  private receiving: Destination | undefined;
  private closed = false;

  constructor(opts: TransactionLayerOptions) {
    this.transport = opts.transport;
    this.user = opts.user;
    this.slots = new TimerSlots<Transaction>(opts.scheduler ?? new QueuedScheduler(), (tx, name) =>
      name === 'Guard' ? this.guardFired(tx as ServerTransaction) : this.dispatch(tx, TIMER_EVENTS[name]),
    );
    this.unreliableTimers = timerValues(opts.timers ?? {}, false);
    this.reliableTimers = timerValues(opts.timers ?? {}, true);
  }

  // ---- TU → layer -----------------------------------------------------------------

  /**
   * Start a client transaction (§17.1): INVITE → ICT, anything but ACK → NICT. The
   * request needs a top Via (the transport's sent-by); a branch is added when it has
   * none (§8.1.1.7). ACK for a 2xx is not a transaction: send it through the transport.
   */
  sendRequest(request: SipRequest, dest: Destination, user?: ClientTransactionUser): ClientTransaction {
    if (this.closed) throw new TransactionError('closed');
    if (request.method === 'ACK') throw new TransactionError('ack-not-transaction');
    const via = request.topVia();
    if (via === undefined) throw new TransactionError('no-via');
    let branch = via.branch;
    if (branch === undefined) {
      branch = newBranch();
      via.setParam('branch', branch);
      request.setTopVia(via);
    }
    const key = detachedKey(clientKey(branch, request.method));
    if (this.clients.has(key)) throw new TransactionError('duplicate-transaction', key);
    const timers = this.timersFor(dest.transport);
    const invite = request.method === 'INVITE';
    const tr: Transition<IctState | NictState> = invite ? ictStart(request, timers) : nictStart(request, timers);
    const tx = new ClientTransaction(invite ? 'ict' : 'nict', key, tr.state, timers, this, request, dest, user);
    this.clients.set(key, tx);
    this.counters.created[tx.kind]++;
    this.counters.live[tx.kind]++;
    this.apply(tx, tr.state, tr);
    return tx;
  }

  /** @see ServerTransaction.respond */
  respond(tx: ServerTransaction, response: SipResponse): boolean {
    if (!(response.status >= 100 && response.status <= 699)) throw new TransactionError('invalid-response', String(response.status));
    const ok = tx.kind === 'ist' ? istAcceptsResponse(tx.machine as IstState, response.status) : nistAcceptsResponse(tx.machine as NistState);
    if (!ok) return false;
    if (tx.kind === 'ist' && response.status >= 200 && tx.alias === null && tx.req !== undefined) {
      // RFC 2543 peers: the ACK carries the To tag of this response (§17.2.3)
      const alias = ackKeyOfResponse(tx.req, response);
      if (alias !== undefined) {
        tx.alias = detachedKey(alias);
        this.servers.set(tx.alias, tx);
      }
    }
    this.dispatchServer(tx, { type: 'respond', response });
    return true;
  }

  /** The TU gave no final response in time: answer 500 so the transaction completes. */
  private guardFired(tx: ServerTransaction): void {
    if (tx.terminated || tx.req === undefined) return;
    const res = createResponse(tx.req, 500, { toTag: newTag(), headers: [['Reason', 'SIP;cause=500;text="no answer from the application"']] });
    if (this.respond(tx, res)) this.counters.tuTimeouts[tx.kind]++;
  }

  /** @see ClientTransaction.cancel — §9.1: CANCEL only after a provisional response. */
  cancel(tx: ClientTransaction, opts: ClientCancelOptions = {}): CancelResult {
    if (tx.kind !== 'ict') throw new TransactionError('not-invite', tx.method);
    if (tx.cancelSent) return 'sent';
    switch (tx.machine.name) {
      case 'Calling':
        // §9.1: "If no provisional response has been received, the CANCEL request MUST NOT
        // be sent; rather, the client MUST wait for the arrival of a provisional response
        // before sending the request."
        tx.pendingCancel = opts;
        return 'pending';
      case 'Proceeding':
        this.sendCancel(tx, opts);
        return 'sent';
      default:
        // §9.1: "If the request has already received a final response, there is no need to cancel it."
        return 'too-late';
    }
  }

  // ---- transport → layer ------------------------------------------------------------

  /**
   * A message from the transport. Responses go to their client transaction (§17.1.3),
   * requests to their server transaction (§17.2.3) or a new one; ACK for a 2xx and
   * strays go to the TU hooks. Never throws for malformed input (counted, dropped);
   * an exception thrown by a TU callback propagates after the layer's own work is done.
   */
  receive(message: SipMessage, source: Destination): ReceiveResult {
    if (this.closed) return 'closed';
    return message.kind === 'response' ? this.receiveResponse(message, source) : this.receiveRequest(message, source);
  }

  private receiveResponse(res: SipResponse, source: Destination): ReceiveResult {
    let tx: ClientTransaction | undefined;
    try {
      const key = clientKeyOfResponse(res);
      tx = key === undefined ? undefined : this.clients.get(key);
    } catch (err) {
      return this.malformed(err);
    }
    if (tx === undefined) {
      this.counters.stray.responses++;
      this.user.onStrayResponse?.(res, source);
      return 'stray-response';
    }
    if (!(res.status >= 100 && res.status <= 699)) return this.malformed(null);
    this.dispatchClient(tx, { type: 'response', response: res });
    if (tx.pendingCancel !== null) {
      // §9.1: the CANCEL held back goes out with the first provisional response; a final one makes it moot
      if (tx.machine.name === 'Proceeding') this.sendCancel(tx, tx.pendingCancel);
      else if (tx.machine.name !== 'Calling') tx.pendingCancel = null;
    }
    return 'client';
  }

  private receiveRequest(req: SipRequest, source: Destination): ReceiveResult {
    let key: string | undefined;
    let tx: ServerTransaction | undefined;
    try {
      key = serverKey(req);
      if (key === undefined) return this.malformed(null);
      tx = this.servers.get(key);
      if (tx === undefined && req.method === 'CANCEL') serverKey(req, 'INVITE'); // reads the headers now, inside the try
    } catch (err) {
      return this.malformed(err);
    }
    if (tx !== undefined) {
      const outer = this.receiving;
      this.receiving = source;
      try {
        this.dispatchServer(tx, { type: 'request', request: req });
      } finally {
        this.receiving = outer;
      }
      return 'server';
    }
    if (req.method === 'ACK') {
      this.counters.stray.acks++;
      this.user.onAck?.(req, source, undefined);
      return 'ack';
    }
    const timers = this.timersFor(source.transport);
    const invite = req.method === 'INVITE';
    const tr: Transition<IstState | NistState> = invite ? istStart(req, timers) : nistStart(req);
    const stored = detachedKey(key);
    const created = new ServerTransaction(invite ? 'ist' : 'nist', stored, tr.state, timers, this, req, source, req.method);
    this.servers.set(stored, created);
    this.counters.created[created.kind]++;
    this.counters.live[created.kind]++;
    // the TU-answer guard runs in the lifetime slot, which a server transaction only
    // uses once a final response went out (H, J, L, I replace it then)
    const guard = invite ? timers.guardInvite : timers.guardNonInvite;
    if (guard > 0) this.slots.start(created, 'Guard', guard);
    this.apply(created, tr.state, tr);
    return 'new';
  }

  // ---- lookups, stats, shutdown -------------------------------------------------

  /** The client transaction a response belongs to, if any. */
  findClient(res: SipResponse): ClientTransaction | undefined {
    const key = clientKeyOfResponse(res);
    return key === undefined ? undefined : this.clients.get(key);
  }

  /** The server transaction a request belongs to (pass 'INVITE' to find the one a CANCEL targets). */
  findServer(req: SipRequest, method?: string): ServerTransaction | undefined {
    const key = serverKey(req, method);
    return key === undefined ? undefined : this.servers.get(key);
  }

  /** Live transactions. */
  get size(): number {
    const l = this.counters.live;
    return l.ict + l.nict + l.ist + l.nist;
  }

  stats(): TransactionStats {
    return copyStats(this.counters);
  }

  /** Stop every timer and forget every transaction, without telling the TUs (shutdown). */
  close(): void {
    this.closed = true;
    const all = new Set<Transaction>([...this.clients.values(), ...this.servers.values()]);
    for (const tx of all) {
      tx.machine = TERMINATED;
      this.cleanup(tx);
    }
  }

  // ---- the driver ------------------------------------------------------------------

  private timersFor(transport: string): TimerValues {
    return this.transport.isReliable(transport) ? this.reliableTimers : this.unreliableTimers;
  }

  private malformed(err: unknown): ReceiveResult {
    if (err !== null && !(err instanceof SipParseError)) throw err;
    this.counters.malformed++;
    return 'malformed';
  }

  private dispatchClient(tx: ClientTransaction, ev: ClientEvent): void {
    const prev = tx.machine;
    this.apply(tx, prev, tx.kind === 'ict' ? ict(prev as IctState, ev, tx.timers) : nict(prev as NictState, ev, tx.timers));
  }

  private dispatchServer(tx: ServerTransaction, ev: ServerEvent): void {
    const prev = tx.machine;
    this.apply(tx, prev, tx.kind === 'ist' ? ist(prev as IstState, ev, tx.timers) : nist(prev as NistState, ev, tx.timers));
  }

  private dispatch(tx: Transaction, ev: ClientEvent & ServerEvent | ClientEvent | ServerEvent): void {
    if (tx instanceof ClientTransaction) this.dispatchClient(tx, ev as ClientEvent);
    else this.dispatchServer(tx, ev as ServerEvent);
  }

  /**
   * Carry out a transition. Effects stop as soon as a callback has moved the transaction
   * on (its later effects belong to a state it has left); an exception from a TU
   * callback is rethrown once the remaining effects are done.
   */
  private apply(tx: Transaction, prev: Machine, tr: Transition<Machine>): void {
    const state = tr.state;
    tx.machine = state;
    // a server transaction lets go of its request once the final response is sent
    if (tx instanceof ServerTransaction && tx.req !== undefined && state.name !== 'Proceeding' && state.name !== 'Trying') tx.req = undefined;
    let thrown: unknown = NOTHING;
    for (const e of tr.effects) {
      if (tx.machine !== state) break;
      switch (e.type) {
        case 'send':
          this.send(tx, e.message, e.retransmission);
          break;
        case 'startTimer':
          this.slots.start(tx, e.timer, e.ms);
          break;
        case 'stopTimer':
          this.slots.stop(tx, e.timer);
          break;
        default:
          try {
            if (e.type === 'terminate') this.terminate(tx);
            else if (tx instanceof ClientTransaction) this.notifyClient(tx, prev, e);
            else this.notifyServer(tx, e);
          } catch (err) {
            if (thrown === NOTHING) thrown = err;
          }
      }
    }
    // a client transaction lets go of its request once the TU has had the final response
    if (tx instanceof ClientTransaction && tx.req !== undefined && !hasRequest(tx.machine)) tx.req = undefined;
    if (thrown !== NOTHING) throw thrown;
  }

  private send(tx: Transaction, message: SipMessage, retransmission: boolean): void {
    if (retransmission) this.counters.retransmissions[tx.kind]++;
    let p: void | Promise<void>;
    try {
      p = this.transport.send(message, tx instanceof ClientTransaction ? tx.dest : tx.source);
    } catch (err) {
      // reported like an asynchronous failure, so no TU callback runs inside sendRequest()/respond()
      queueMicrotask(() => this.sendFailed(tx, err));
      return;
    }
    if (p) p.then(undefined, (err: unknown) => this.sendFailed(tx, err));
  }

  private sendFailed(tx: Transaction, error: unknown): void {
    this.counters.transportErrors[tx.kind]++;
    if (!tx.terminated) this.dispatch(tx, { type: 'transportError', error });
  }

  /** §17.1.1.2 / §17.2.1: "MUST be destroyed the instant it enters the 'Terminated' state". */
  private terminate(tx: Transaction): void {
    this.cleanup(tx);
    if (tx instanceof ClientTransaction) {
      const user = tx.user;
      tx.user = undefined;
      user?.onTerminated?.(tx);
      return;
    }
    const user = tx.user;
    tx.user = undefined;
    user?.onTerminated?.(tx);
  }

  private cleanup(tx: Transaction): void {
    this.slots.clear(tx);
    if (tx instanceof ClientTransaction) {
      if (this.clients.get(tx.key) === tx) this.clients.delete(tx.key);
      tx.pendingCancel = null;
    } else {
      if (this.servers.get(tx.key) === tx) this.servers.delete(tx.key);
      if (tx.alias !== null && this.servers.get(tx.alias) === tx) this.servers.delete(tx.alias);
    }
    tx.req = undefined;
    this.counters.live[tx.kind]--;
  }

  private notifyClient(tx: ClientTransaction, prev: Machine, e: Effect): void {
    const u = tx.user;
    switch (e.type) {
      case 'passResponse':
        if (e.response.status < 200) u?.onProvisional?.(e.response, tx);
        else u?.onFinal?.(e.response, tx, 'network');
        break;
      case 'timeout':
        this.counters.timeouts[tx.kind]++;
        if (u?.onTimeout) u.onTimeout(tx);
        // §9.1: an INVITE whose CANCEL got no final response in 64*T1 counts as cancelled (487)
        else if (tx.req !== undefined) u?.onFinal?.(localResponse(tx.req, e.timer === 'Cancel' ? 487 : 408), tx, 'timeout');
        break;
      case 'transportError':
        if (u?.onTransportError) u.onTransportError(e.error, tx);
        else if (hasRequest(prev) && tx.req !== undefined) u?.onFinal?.(localResponse(tx.req, 503), tx, 'transport-error');
        break;
      default:
        break;
    }
  }

  private notifyServer(tx: ServerTransaction, e: Effect): void {
    switch (e.type) {
      case 'passRequest': {
        const req = e.request;
        if (req.method === 'ACK') this.user.onAck?.(req, this.receiving ?? tx.source, tx);
        else if (req.method === 'CANCEL') this.cancelReceived(tx, req);
        else this.user.onRequest(tx, req);
        break;
      }
      case 'timeout':
        this.counters.timeouts[tx.kind]++;
        tx.user?.onTimeout?.(tx);
        break;
      case 'transportError':
        tx.user?.onTransportError?.(e.error, tx);
        break;
      default:
        break;
    }
  }

  private sendCancel(tx: ClientTransaction, opts: ClientCancelOptions): void {
    tx.pendingCancel = null;
    tx.cancelSent = true;
    // §9.1: "the destination address, port, and transport of the CANCEL MUST be identical
    // to those used to send the original request"
    if (tx.req === undefined) return;
    this.sendRequest(buildCancel(tx.req, opts), tx.dest, opts.user);
    this.dispatchClient(tx, CANCEL_SENT);
  }

  /** §9.2: a CANCEL got its own non-INVITE server transaction; find the INVITE it cancels. */
  private cancelReceived(cancelTx: ServerTransaction, cancel: SipRequest): void {
    const key = serverKey(cancel, 'INVITE');
    const found = key === undefined ? undefined : this.servers.get(key);
    const inviteTx = found !== undefined && found.kind === 'ist' ? found : undefined;
    if (inviteTx === undefined) this.counters.stray.cancels++;
    if (this.user.onCancel) this.user.onCancel(cancel, cancelTx, inviteTx);
    else answerCancel(cancel, cancelTx, inviteTx);
  }
}
