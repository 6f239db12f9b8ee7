/**
 * The vocabulary shared by the four transaction machines (RFC 3261 §17): the
 * events they take, the effects they return, and the transport interface the
 * transaction layer drives.
 */
import type { SipMessage, SipRequest, SipResponse } from '../message/message.js';
import type { Destination } from '../message/transports.js';
import type { TimerName } from './timers.js';

/**
 * What a machine asks its driver to do. Effects come in a fixed order: sends and
 * timer changes first, then what the TU is told, then `terminate` — so a TU callback
 * that acts on the transaction never sees I/O of the old state happen after it.
 * `terminate` implies that every timer still running is stopped.
 */
export type Effect =
  | { readonly type: 'send'; readonly message: SipMessage; readonly retransmission: boolean }
  | { readonly type: 'startTimer'; readonly timer: TimerName; readonly ms: number }
  | { readonly type: 'stopTimer'; readonly timer: TimerName }
  | { readonly type: 'passResponse'; readonly response: SipResponse }
  | { readonly type: 'passRequest'; readonly request: SipRequest }
  | { readonly type: 'timeout'; readonly timer: TimerName }
  | { readonly type: 'transportError'; readonly error: unknown }
  | { readonly type: 'terminate' };

export interface Transition<S> {
  readonly state: S;
  readonly effects: readonly Effect[];
}

/**
 * Events a client transaction reacts to: responses from the transport, its timers,
 * transport failures, and — INVITE only — the TU having sent a CANCEL for it (§9.1).
 */
export type ClientEvent =
  | { readonly type: 'response'; readonly response: SipResponse }
  | { readonly type: 'cancel' }
  | { readonly type: 'timer'; readonly timer: TimerName }
  | { readonly type: 'transportError'; readonly error: unknown };

/**
 * Events a server transaction reacts to: requests matched to it by the transport
 * (retransmissions, ACK), responses from the TU, its timers, transport failures.
 */
export type ServerEvent =
  | { readonly type: 'request'; readonly request: SipRequest }
  | { readonly type: 'respond'; readonly response: SipResponse }
  | { readonly type: 'timer'; readonly timer: TimerName }
  | { readonly type: 'transportError'; readonly error: unknown };

/**
 * What the transaction layer needs from a transport (RFC 3261 §18). A send that
 * throws or whose promise rejects is a transport error for the transaction that
 * sent (§17.1.4, §17.2.4). Responses of server transactions are sent to the
 * request's source; the transport applies §18.2.2 / RFC 3581 from the Via.
 */
export interface TransactionTransport {
  send(message: SipMessage, dest: Destination): void | Promise<void>;
  /** Whether the transport is reliable (TCP, TLS, SCTP, WS, WSS): no retransmissions then. */
  isReliable(transport: string): boolean;
}

export type TransactionKind = 'ict' | 'nict' | 'ist' | 'nist';

// ---- small shared effect constructors (constants where nothing varies) ----------

const stops = new Map<TimerName, Effect>();
export function stop(timer: TimerName): Effect {
  let e = stops.get(timer);
  if (e === undefined) stops.set(timer, (e = Object.freeze({ type: 'stopTimer', timer })));
  return e;
}
export const start = (timer: TimerName, ms: number): Effect => ({ type: 'startTimer', timer, ms });
export const send = (message: SipMessage, retransmission = false): Effect => ({ type: 'send', message, retransmission });
export const passResponse = (response: SipResponse): Effect => ({ type: 'passResponse', response });
export const passRequest = (request: SipRequest): Effect => ({ type: 'passRequest', request });
export const timeout = (timer: TimerName): Effect => ({ type: 'timeout', timer });
export const transportError = (error: unknown): Effect => ({ type: 'transportError', error });
export const TERMINATE: Effect = Object.freeze({ type: 'terminate' });
export const NONE: readonly Effect[] = Object.freeze([]);

/** A state that needs no data beyond its name. */
export interface Bare<N extends string> {
  readonly name: N;
}
export const TERMINATED: Bare<'Terminated'> = Object.freeze({ name: 'Terminated' });
