/**
 * Non-INVITE client transaction (NICT): RFC 3261 §17.1.2 (Figure 6). A pure
 * function of (state, event); the driver in manager.ts does the I/O.
 */
import type { SipRequest } from '../message/message.js';
import type { TimerValues } from './timers.js';
import type { Bare, ClientEvent, Effect, Transition } from './types.js';
import { NONE, TERMINATE, TERMINATED, passResponse, send, start, stop, timeout, transportError } from './types.js';

export type NictState =
  /** Request sent; retransmitting on Timer E (`e` = the interval now running). */
  | { readonly name: 'Trying'; readonly request: SipRequest; readonly e: number }
  | { readonly name: 'Proceeding'; readonly request: SipRequest }
  | Bare<'Completed'>
  | Bare<'Terminated'>;

const COMPLETED: NictState = Object.freeze({ name: 'Completed' });

/**
 * §17.1.2.2: "The 'Trying' state is entered when the TU initiates a new client
 * transaction with a request. When entering this state, the client transaction
 * SHOULD set timer F to fire in 64*T1 seconds. The request MUST be passed to the
 * transport layer for transmission. If an unreliable transport is in use, the client
 * transaction MUST set timer E to fire in T1 seconds."
 */
export function nictStart(request: SipRequest, t: TimerValues): Transition<NictState> {
  const effects: Effect[] = [send(request)];
  if (t.E > 0) effects.push(start('E', t.E));
  effects.push(start('F', t.F));
  return { state: { name: 'Trying', request, e: t.E }, effects };
}

export function nict(state: NictState, event: ClientEvent, t: TimerValues): Transition<NictState> {
  switch (state.name) {
    case 'Trying':
    case 'Proceeding':
      return early(state, event, t);
    case 'Completed':
      // §17.1.2.2: "Once the client transaction enters the 'Completed' state, it MUST set
      // Timer K ... The 'Completed' state exists to buffer any additional response
      // retransmissions that may be received (which is why the client transaction
      // remains there only for unreliable transports)." Responses are absorbed.
      // "If Timer K fires while in this state, the client transaction MUST transition to
      // the 'Terminated' state."
      if (event.type === 'timer' && event.timer === 'K') return { state: TERMINATED, effects: [TERMINATE] };
      return { state, effects: NONE };
    case 'Terminated':
      return { state, effects: NONE };
  }
}

type Early = Extract<NictState, { name: 'Trying' | 'Proceeding' }>;

function early(state: Early, event: ClientEvent, t: TimerValues): Transition<NictState> {
  switch (event.type) {
    case 'cancel':
      return { state, effects: NONE };
    case 'response': {
      const res = event.response;
      if (res.status < 200) {
        // §17.1.2.2: "If a provisional response is received while in the 'Trying' state,
        // the response MUST be passed to the TU, and then the client transaction SHOULD
        // move to the 'Proceeding' state." In Proceeding: "If a provisional response is
        // received while in the 'Proceeding' state, it MUST be passed to the TU."
        if (state.name === 'Proceeding') return { state, effects: [passResponse(res)] };
        return { state: { name: 'Proceeding', request: state.request }, effects: [passResponse(res)] };
      }
      // §17.1.2.2: "If a final response (status codes 200-699) is received while in the
      // 'Trying' [or 'Proceeding'] state, the response MUST be passed to the TU, and the
      // client transaction MUST transition to the 'Completed' state." "Once the client
      // transaction enters the 'Completed' state, it MUST set Timer K to fire in T4 seconds
      // for unreliable transports, and zero seconds for reliable transports."
      const stops: Effect[] = t.E > 0 ? [stop('E'), stop('F')] : [stop('F')];
      if (t.K === 0) return { state: TERMINATED, effects: [...stops, passResponse(res), TERMINATE] };
      return { state: COMPLETED, effects: [...stops, start('K', t.K), passResponse(res)] };
    }
    case 'timer':
      if (event.timer === 'E') {
        if (state.name === 'Trying') {
          // §17.1.2.2: "If timer E fires while still in this state, the timer is reset, but
          // this time with a value of MIN(2*T1, T2). When the timer fires again, it is
          // reset to a MIN(4*T1, T2). This process continues so that retransmissions occur
          // with an exponentially increasing interval that caps at T2."
          const e = Math.min(state.e * 2, t.T2);
          return { state: { name: 'Trying', request: state.request, e }, effects: [send(state.request, true), start('E', e)] };
        }
        // §17.1.2.2: "If Timer E fires while in the 'Proceeding' state, the request MUST be
        // passed to the transport layer for retransmission, and Timer E MUST be reset with
        // a value of T2 seconds."
        return { state, effects: [send(state.request, true), start('E', t.T2)] };
      }
      if (event.timer === 'F') {
        // §17.1.2.2: "If Timer F fires while the client transaction is still in the
        // 'Trying' [or 'Proceeding'] state, the client transaction SHOULD inform the TU
        // about the timeout, and then it SHOULD enter the 'Terminated' state."
        return { state: TERMINATED, effects: [timeout('F'), TERMINATE] };
      }
      return { state, effects: NONE };
    case 'transportError':
      // §17.1.4: "the client transaction SHOULD inform the TU that a transport failure has
      // occurred, and the client transaction SHOULD transition directly to the 'Terminated' state."
      return { state: TERMINATED, effects: [transportError(event.error), TERMINATE] };
  }
}
