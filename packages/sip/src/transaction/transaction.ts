/**
 * The transaction handles the TU holds: ClientTransaction (ICT/NICT) and
 * ServerTransaction (IST/NIST). They carry the machine state and the two timer
 * slots the driver needs, and nothing else: a live transaction should stay small
 * (see BENCH-NOTES.md). Fields marked @internal belong to manager.ts.
 */
import type { SipRequest, SipResponse } from '../message/message.js';
import type { CancelOptions } from './build.js';
import type { IctState } from './invite-client.js';
import type { IstState } from './invite-server.js';
import { istAcceptsResponse } from './invite-server.js';
import type { NictState } from './non-invite-client.js';
import type { NistState } from './non-invite-server.js';
import { nistAcceptsResponse } from './non-invite-server.js';
import type { TimerConfig, TimerHandle, TimerName, TimerScheduler, TimerValues } from './timers.js';
import type { Destination } from '../message/transports.js';
import type { TransactionKind, TransactionTransport } from './types.js';

/** Where a final response handed to `onFinal` came from (RFC 3261 §8.1.3.1). */
export type FinalOrigin = 'network' | 'timeout' | 'transport-error';

/** What the TU of a client transaction hears. Every hook is optional. */
export interface ClientTransactionUser {
  /** A 1xx (§17.1.1.2, §17.1.2.2). */
  onProvisional?(response: SipResponse, tx: ClientTransaction): void;
  /**
   * A final response. For INVITE, every 2xx is passed up — retransmissions and 2xx of
   * other forks too (RFC 6026 §8.4): the TU ACKs each one (§13.2.2.4).
   * If `onTimeout` / `onTransportError` are not given, a timeout arrives here as a
   * local 408 (487 for an INVITE whose CANCEL got no answer, §9.1) and a transport
   * error as a local 503 (§8.1.3.1), with `origin` telling so.
   */
  onFinal?(response: SipResponse, tx: ClientTransaction, origin: FinalOrigin): void;
  /** Timer B / F fired (§17.1.1.2, §17.1.2.2), or no final response came 64·T1 after the CANCEL (§9.1). */
  onTimeout?(tx: ClientTransaction): void;
  /** The transport failed to send (§17.1.4). */
  onTransportError?(error: unknown, tx: ClientTransaction): void;
  onTerminated?(tx: ClientTransaction): void;
}

/** What the TU of one server transaction hears; set `tx.user` in `onRequest`. Every hook is optional. */
export interface ServerTransactionUser {
  /** A CANCEL matched this INVITE transaction (§9.2); only called by the default CANCEL handling. */
  onCancel?(cancel: SipRequest, tx: ServerTransaction): void;
  /** Timer H fired: the ACK for a non-2xx final never came (§17.2.1). */
  onTimeout?(tx: ServerTransaction): void;
  /** Sending a response failed (§17.2.4). */
  onTransportError?(error: unknown, tx: ServerTransaction): void;
  onTerminated?(tx: ServerTransaction): void;
}

export type CancelResult = 'sent' | 'pending' | 'too-late';

export interface ClientCancelOptions extends CancelOptions {
  /** TU of the CANCEL's own non-INVITE client transaction. */
  user?: ClientTransactionUser;
}

/** @internal What the handles call back into (implemented by TransactionLayer). */
export interface TransactionDriver {
  respond(tx: ServerTransaction, response: SipResponse): boolean;
  cancel(tx: ClientTransaction, opts?: ClientCancelOptions): CancelResult;
}

abstract class TransactionBase<S extends { readonly name: string }> {
  /** @internal timer slot for A / E / G / Trying100 */
  rt: TimerHandle | null = null;
  /** @internal */
  rtName: TimerName | null = null;
  /** @internal timer slot for B / D / F / H / I / J / K / L / M */
  lt: TimerHandle | null = null;
  /** @internal */
  ltName: TimerName | null = null;

  constructor(
    readonly kind: TransactionKind,
    /** The matching key (matching.ts). */
    readonly key: string,
    /** @internal */
    public machine: S,
    /** @internal the timer values for this transaction's transport */
    readonly timers: TimerValues,
    /** @internal */
    protected driver: TransactionDriver,
  ) {}

  /** The RFC state name: Calling, Trying, Proceeding, Completed, Confirmed, Accepted, Terminated. */
  get state(): S['name'] {
    return this.machine.name;
  }

  get terminated(): boolean {
    return this.machine.name === 'Terminated';
  }

  /** Whether the transport is reliable (no retransmissions, zero wait timers). */
  get reliable(): boolean {
    return this.timers.reliable;
  }
}

export class ClientTransaction extends TransactionBase<IctState | NictState> {
  /** @internal a CANCEL asked for before any provisional response (§9.1) */
  pendingCancel: ClientCancelOptions | null = null;
  /** @internal */
  cancelSent = false;

  constructor(
    kind: 'ict' | 'nict',
    key: string,
    machine: IctState | NictState,
    timers: TimerValues,
    driver: TransactionDriver,
    /** @internal see `request` */
    public req: SipRequest | undefined,
    /** Where it was sent; ACK and CANCEL go to the same place (§17.1.1.3, §9.1). */
    readonly dest: Destination,
    public user: ClientTransactionUser | undefined,
  ) {
    super(kind, key, machine, timers, driver);
  }

  /** The method of the request (INVITE, BYE, …). */
  get method(): string {
    return this.kind === 'ict' ? 'INVITE' : this.key.slice(this.key.lastIndexOf(' ') + 1);
  }

  /**
   * The request as sent, until the final response has been passed to the TU (it is
   * there during `onFinal`) — then the transaction lets go of it to stay small while
   * it absorbs retransmissions. Keep your own reference if you need it later.
   */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /**
   * Cancel this INVITE (§9.1): sent at once when a provisional response has arrived,
   * otherwise held until one does ('pending'); 'too-late' once a final response came.
   */
  cancel(opts?: ClientCancelOptions): CancelResult {
    return this.driver.cancel(this, opts);
  }
}

export class ServerTransaction extends TransactionBase<IstState | NistState> {
  /** @internal RFC 2543 only: the extra key the ACK for our final response matches */
  alias: string | null = null;
  /** TU of this transaction; set it in `onRequest` to hear timeouts, errors, CANCEL. */
  user: ServerTransactionUser | undefined = undefined;

  constructor(
    kind: 'ist' | 'nist',
    key: string,
    machine: IstState | NistState,
    timers: TimerValues,
    driver: TransactionDriver,
    /** @internal see `request` */
    public req: SipRequest | undefined,
    /** Where the request came from; responses go back there (the transport applies §18.2.2). */
    readonly source: Destination,
    readonly method: string,
  ) {
    super(kind, key, machine, timers, driver);
  }

  /**
   * The request, until the final response is sent — then the transaction lets go of
   * it to stay small while it absorbs retransmissions. Keep your own reference if
   * you need it later.
   */
  get request(): SipRequest | undefined {
    return this.req;
  }

  /**
   * Pass a response to the transaction (§17.2.1, §17.2.2). Returns false when the
   * transaction discards it: a final response was already sent ("Any other final
   * responses passed by the TU to the server transaction MUST be discarded", §17.2.2),
   * in Accepted anything but a 2xx retransmission (RFC 6026 §8.7), or it has
   * terminated. That is a race a TU meets (a CANCEL or a timeout got there first), so
   * it is a result, not an exception. A status outside 100-699 throws.
   */
  respond(response: SipResponse): boolean {
    return this.driver.respond(this, response);
  }

  /** Whether `respond()` would take a response with this status now. */
  canRespond(status: number): boolean {
    return this.kind === 'ist' ? istAcceptsResponse(this.machine as IstState, status) : nistAcceptsResponse(this.machine as NistState);
  }
}

export type Transaction = ClientTransaction | ServerTransaction;

/** The TU's entry points: new requests, and what no transaction takes. */
export interface TransactionUser {
  /** A new server transaction (any method but ACK and CANCEL). The TU must answer it with `tx.respond()`. */
  onRequest(tx: ServerTransaction, request: SipRequest): void;
  /**
   * An ACK for a 2xx: matched to an INVITE server transaction in Accepted (RFC 6026
   * §7.1, then `tx` is set) or matching none (an RFC 3261 ACK for 2xx has its own branch).
   */
  onAck?(ack: SipRequest, source: Destination, tx: ServerTransaction | undefined): void;
  /**
   * A CANCEL, with its own server transaction and the INVITE server transaction it
   * matches, if any (§9.2). Without this hook the layer answers like a UAS: 481 when
   * nothing matches; else 200 to the CANCEL and, unless the INVITE already has a final
   * response, 487 to it — or `inviteTx.user.onCancel` when that is set.
   */
  onCancel?(cancel: SipRequest, cancelTx: ServerTransaction, inviteTx: ServerTransaction | undefined): void;
  /** A response matching no client transaction (§17.1.3; a proxy forwards it statelessly, §16.7). */
  onStrayResponse?(response: SipResponse, source: Destination): void;
}

export interface TransactionLayerOptions {
  transport: TransactionTransport;
  user: TransactionUser;
  /** Default: a QueuedScheduler (one Node timer per distinct duration). */
  scheduler?: TimerScheduler;
  /** T1, T2, T4, D, trying100 (ms). */
  timers?: Partial<TimerConfig>;
}
