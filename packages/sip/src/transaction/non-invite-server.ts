/**
 * Non-INVITE server transaction (NIST): RFC 3261 §17.2.2 (Figure 8). A pure
 * function of (state, event); the driver in manager.ts does the I/O.
 */
import type { SipRequest, SipResponse } from '../message/message.js';
import type { TimerValues } from './timers.js';
import type { Bare, ServerEvent, Transition } from './types.js';
import { NONE, TERMINATE, TERMINATED, passRequest, send, start, transportError } from './types.js';

export type NistState =
  | Bare<'Trying'>
  /** `provisional` is the last 1xx sent, resent on request retransmissions. */
  | { readonly name: 'Proceeding'; readonly provisional: SipResponse }
  /** `response` is the final response, resent on request retransmissions. */
  | { readonly name: 'Completed'; readonly response: SipResponse }
  | Bare<'Terminated'>;

const TRYING: NistState = Object.freeze({ name: 'Trying' });

/**
 * §17.2.2: "The state machine is initialized in the 'Trying' state and is passed a
 * request other than INVITE or ACK when initialized. This request is passed up to the TU."
 */
export function nistStart(request: SipRequest): Transition<NistState> {
  return { state: TRYING, effects: [passRequest(request)] };
}

/** Whether the TU may pass a response to the transaction now (else it is discarded). */
export function nistAcceptsResponse(state: NistState): boolean {
  return state.name === 'Trying' || state.name === 'Proceeding';
}

export function nist(state: NistState, event: ServerEvent, t: TimerValues): Transition<NistState> {
  switch (state.name) {
    case 'Trying':
    case 'Proceeding':
      return early(state, event, t);
    case 'Completed':
      return completed(state, event);
    case 'Terminated':
      return { state, effects: NONE };
  }
}

type Early = Extract<NistState, { name: 'Trying' | 'Proceeding' }>;

function early(state: Early, event: ServerEvent, t: TimerValues): Transition<NistState> {
  switch (event.type) {
    case 'request':
      // §17.2.2: "While in the 'Trying' state, if the request is retransmitted, it is
      // absorbed." In Proceeding: "If a retransmission of the request is received while
      // in the 'Proceeding' state, the most recent provisional response that was
      // received from the TU MUST be passed to the transport layer for retransmission."
      return state.name === 'Trying' ? { state, effects: NONE } : { state, effects: [send(state.provisional, true)] };
    case 'respond': {
      const res = event.response;
      // §17.2.2: "While in the 'Trying' state, if the TU passes a provisional response to
      // the server transaction, the server transaction MUST enter the 'Proceeding'
      // state. The response MUST be passed to the transport layer for transmission."
      // "Any further provisional responses that are received from the TU while in the
      // 'Proceeding' state MUST be passed to the transport layer for transmission."
      if (res.status < 200) return { state: { name: 'Proceeding', provisional: res }, effects: [send(res)] };
      // §17.2.2: "If the TU passes a final response (status codes 200-699) to the server
      // while in the 'Proceeding' [or 'Trying'] state, the transaction MUST enter the
      // 'Completed' state, and the response MUST be passed to the transport layer for
      // transmission." "When the server transaction enters the 'Completed' state, it MUST
      // set Timer J to fire in 64*T1 seconds for unreliable transports, and zero seconds
      // for reliable transports."
      if (t.J === 0) return { state: TERMINATED, effects: [send(res), TERMINATE] };
      return { state: { name: 'Completed', response: res }, effects: [send(res), start('J', t.J)] };
    }
    case 'timer':
      return { state, effects: NONE };
    case 'transportError':
      // §17.2.4: "the server transaction SHOULD inform the TU that a failure has
      // occurred, and SHOULD transition to the terminated state."
      return { state: TERMINATED, effects: [transportError(event.error), TERMINATE] };
  }
}

type Completed = Extract<NistState, { name: 'Completed' }>;

function completed(state: Completed, event: ServerEvent): Transition<NistState> {
  switch (event.type) {
    case 'request':
      // §17.2.2: "While in the 'Completed' state, the server transaction MUST pass the
      // final response to the transport layer for retransmission whenever a
      // retransmission of the request is received."
      return { state, effects: [send(state.response, true)] };
    case 'respond':
      // §17.2.2: "Any other final responses passed by the TU to the server transaction
      // MUST be discarded while in the 'Completed' state."
      return { state, effects: NONE };
    case 'timer':
      // §17.2.2: "The server transaction remains in this state until Timer J fires, at
      // which point it MUST transition to the 'Terminated' state."
      return event.timer === 'J' ? { state: TERMINATED, effects: [TERMINATE] } : { state, effects: NONE };
    case 'transportError':
      // §17.2.4 (Figure 8: "Transport Err. / Inform TU" from Completed to Terminated).
      return { state: TERMINATED, effects: [transportError(event.error), TERMINATE] };
  }
}
