/**
 * INVITE server transaction (IST): RFC 3261 §17.2.1 with the "Accepted" state of
 * RFC 6026 §7.1 / §8.7 (Figure 7 of RFC 6026). A pure function of (state, event);
 * the driver in manager.ts does the I/O.
 */
import { createResponse } from '../message/builders.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import type { TimerValues } from './timers.js';
import type { Bare, Effect, ServerEvent, Transition } from './types.js';
import { NONE, TERMINATE, TERMINATED, passRequest, send, start, stop, timeout, transportError } from './types.js';

export type IstState =
  /** Waiting for the TU; `provisional` is the last 1xx sent (resent on INVITE retransmissions). */
  | { readonly name: 'Proceeding'; readonly request: SipRequest; readonly provisional: SipResponse | null }
  /** A 300-699 was sent; retransmitting it on Timer G (`g` = the interval now running). */
  | { readonly name: 'Completed'; readonly response: SipResponse; readonly g: number }
  | Bare<'Confirmed'>
  | Bare<'Accepted'>
  | Bare<'Terminated'>;

const CONFIRMED: IstState = Object.freeze({ name: 'Confirmed' });
const ACCEPTED: IstState = Object.freeze({ name: 'Accepted' });

/**
 * §17.2.1: "When a server transaction is constructed for a request, it enters the
 * 'Proceeding' state. The server transaction MUST generate a 100 (Trying) response
 * unless it knows that the TU will generate a provisional or final response within
 * 200 ms" — here a timer (`trying100`, default 200 ms) that the TU's first response
 * stops. "The request MUST be passed to the TU."
 */
export function istStart(request: SipRequest, t: TimerValues): Transition<IstState> {
  if (t.trying100 === 0) {
    const trying = createResponse(request, 100);
    return { state: { name: 'Proceeding', request, provisional: trying }, effects: [send(trying), passRequest(request)] };
  }
  const effects: Effect[] = t.trying100 === false ? [passRequest(request)] : [start('Trying100', t.trying100), passRequest(request)];
  return { state: { name: 'Proceeding', request, provisional: null }, effects };
}

/** Whether the TU may pass this response to the transaction now (else it is discarded). */
export function istAcceptsResponse(state: IstState, status: number): boolean {
  if (state.name === 'Proceeding') return true;
  // RFC 6026 §8.7: "the server transaction MUST pass any 2xx responses from the TU to the
  // transport layer" while in Accepted.
  return state.name === 'Accepted' && status >= 200 && status < 300;
}

export function ist(state: IstState, event: ServerEvent, t: TimerValues): Transition<IstState> {
  switch (state.name) {
    case 'Proceeding':
      return proceeding(state, event, t);
    case 'Completed':
      return completed(state, event, t);
    case 'Confirmed':
      // §17.2.1: "The purpose of the 'Confirmed' state is to absorb any additional ACK
      // messages that arrive, triggered from retransmissions of the final response. When
      // this state is entered, timer I is set to fire ... Once timer I fires, the server
      // MUST transition to the 'Terminated' state."
      if (event.type === 'timer' && event.timer === 'I') return { state: TERMINATED, effects: [TERMINATE] };
      return { state, effects: NONE };
    case 'Accepted':
      return accepted(state, event);
    case 'Terminated':
      return { state, effects: NONE };
  }
}

type Proceeding = Extract<IstState, { name: 'Proceeding' }>;

function proceeding(state: Proceeding, event: ServerEvent, t: TimerValues): Transition<IstState> {
  switch (event.type) {
    case 'request':
      // §17.2.1: "If a request retransmission is received while in the 'Proceeding' state,
      // the most recent provisional response that was received from the TU MUST be passed
      // to the transport layer for retransmission." (A stray ACK here is ignored.)
      if (event.request.method === 'ACK' || state.provisional === null) return { state, effects: NONE };
      return { state, effects: [send(state.provisional, true)] };
    case 'respond': {
      const res = event.response;
      const stopTrying: Effect[] = t.trying100 === false || state.provisional !== null ? [] : [stop('Trying100')];
      if (res.status < 200) {
        // §17.2.1: "The TU passes any number of provisional responses to the server
        // transaction. So long as the server transaction is in the 'Proceeding' state, each
        // of these MUST be passed to the transport layer for transmission."
        return { state: { name: 'Proceeding', request: state.request, provisional: res }, effects: [...stopTrying, send(res)] };
      }
      if (res.status < 300) {
        // RFC 6026 §8.7: "If, while in the 'Proceeding' state, the TU passes a 2xx response
        // to the server transaction, the server transaction MUST pass this response to the
        // transport layer for transmission. It is not retransmitted by the server
        // transaction; retransmissions of 2xx responses are handled by the TU. The server
        // transaction MUST then transition to the 'Accepted' state." Timer L = 64*T1.
        return { state: ACCEPTED, effects: [...stopTrying, send(res), start('L', t.L)] };
      }
      // §17.2.1: "If, while in the 'Proceeding' state, the TU passes a response with status
      // code from 300 to 699 to the server transaction, the response MUST be passed to the
      // transport layer for transmission, and the state machine MUST enter the 'Completed'
      // state. For unreliable transports, timer G is set to fire in T1 seconds, and is not
      // set to fire for reliable transports." "When the 'Completed' state is entered, timer
      // H MUST be set to fire in 64*T1 seconds for all transports."
      const effects: Effect[] = [...stopTrying, send(res)];
      if (t.G > 0) effects.push(start('G', t.G));
      effects.push(start('H', t.H));
      return { state: { name: 'Completed', response: res, g: t.G }, effects };
    }
    case 'timer':
      if (event.timer === 'Trying100' && state.provisional === null) {
        // §17.2.1: "send 100 if TU won't in 200 ms" (Figure 7).
        const trying = createResponse(state.request, 100);
        return { state: { name: 'Proceeding', request: state.request, provisional: trying }, effects: [send(trying)] };
      }
      return { state, effects: NONE };
    case 'transportError':
      // RFC 6026 Figure 7: "Transport Err. / Inform TU" loops on Proceeding (§17.2.4: the TU is informed).
      return { state, effects: [transportError(event.error)] };
  }
}

type Completed = Extract<IstState, { name: 'Completed' }>;

function completed(state: Completed, event: ServerEvent, t: TimerValues): Transition<IstState> {
  switch (event.type) {
    case 'request':
      if (event.request.method === 'ACK') {
        // §17.2.1: "If an ACK is received while the server transaction is in the
        // 'Completed' state, the server transaction MUST transition to the 'Confirmed'
        // state. As Timer G is ignored in this state, any retransmissions of the
        // response will cease." "When this state is entered, timer I is set to fire in
        // T4 seconds for unreliable transports, and zero seconds for reliable transports."
        const stops: Effect[] = t.G > 0 ? [stop('G'), stop('H')] : [stop('H')];
        if (t.I === 0) return { state: TERMINATED, effects: [...stops, TERMINATE] };
        return { state: CONFIRMED, effects: [...stops, start('I', t.I)] };
      }
      // §17.2.1: "while in the 'Completed' state, if a request retransmission is
      // received, the server SHOULD pass the response to the transport for retransmission."
      return { state, effects: [send(state.response, true)] };
    case 'respond':
      return { state, effects: NONE };
    case 'timer':
      if (event.timer === 'G') {
        // §17.2.1: "If timer G fires, the response is passed to the transport layer once
        // more for retransmission, and timer G is set to fire in MIN(2*T1, T2) seconds.
        // From then on, when timer G fires, the response is passed to the transport
        // again for transmission, and timer G is reset with a value that doubles,
        // unless that value exceeds T2, in which case it is reset with the value of T2."
        const g = Math.min(state.g * 2, t.T2);
        return { state: { name: 'Completed', response: state.response, g }, effects: [send(state.response, true), start('G', g)] };
      }
      if (event.timer === 'H') {
        // §17.2.1: "If timer H fires while in the 'Completed' state, it implies that the
        // ACK was never received. In this case, the server transaction MUST transition
        // to the 'Terminated' state, and MUST indicate to the TU that a transaction
        // failure has occurred."
        return { state: TERMINATED, effects: [timeout('H'), TERMINATE] };
      }
      return { state, effects: NONE };
    case 'transportError':
      // RFC 6026 Figure 7: "Transport Err. / Inform TU" loops on Completed; Timer H ends it.
      return { state, effects: [transportError(event.error)] };
  }
}

function accepted(state: IstState, event: ServerEvent): Transition<IstState> {
  switch (event.type) {
    case 'request':
      // RFC 6026 §7.1: "While in the 'Accepted' state, any retransmissions of the INVITE
      // received will be absorbed by the server transaction. They will not be passed up
      // to the TU." ACKs (for the 2xx) are passed to the TU (Figure 7: "ACK / to TU").
      return event.request.method === 'ACK' ? { state, effects: [passRequest(event.request)] } : { state, effects: NONE };
    case 'respond':
      // RFC 6026 §8.7: 2xx retransmissions from the TU are sent, the state is kept.
      return istAcceptsResponse(state, event.response.status) ? { state, effects: [send(event.response, true)] } : { state, effects: NONE };
    case 'timer':
      // RFC 6026 §8.7: "If Timer L fires while the INVITE server transaction is in the
      // 'Accepted' state, the transaction MUST transition to the 'Terminated' state."
      return event.timer === 'L' ? { state: TERMINATED, effects: [TERMINATE] } : { state, effects: NONE };
    case 'transportError':
      // RFC 6026 Figure 7: "Transport Err. / Inform TU" loops on Accepted.
      return { state, effects: [transportError(event.error)] };
  }
}
