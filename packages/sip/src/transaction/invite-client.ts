/**
 * INVITE client transaction (ICT): RFC 3261 §17.1.1 with the "Accepted" state of
 * RFC 6026 §7.2 / §8.4 (Figure 5 of RFC 6026). A pure function of (state, event);
 * the driver in manager.ts does the I/O.
 */
import type { SipRequest } from '../message/message.js';
import { buildAck } from './build.js';
import type { TimerValues } from './timers.js';
import type { Bare, ClientEvent, Effect, Transition } from './types.js';
import { NONE, TERMINATE, TERMINATED, passResponse, send, start, stop, timeout, transportError } from './types.js';

export type IctState =
  /** INVITE sent; retransmitting on Timer A (`a` = the interval now running). */
  | { readonly name: 'Calling'; readonly request: SipRequest; readonly a: number }
  /** `cancelled`: a CANCEL was sent and the 64·T1 'Cancel' timer runs (§9.1). */
  | { readonly name: 'Proceeding'; readonly request: SipRequest; readonly cancelled: boolean }
  /** A 300-699 was received and acknowledged; `ack` is resent on its retransmissions. */
  | { readonly name: 'Completed'; readonly ack: SipRequest }
  | Bare<'Accepted'>
  | Bare<'Terminated'>;

const ACCEPTED: IctState = Object.freeze({ name: 'Accepted' });

/**
 * §17.1.1.2: "the client transaction MUST pass the request to the transport layer";
 * on an unreliable transport "MUST start timer A with a value of T1"; "For any
 * transport, the client transaction MUST start timer B with a value of 64*T1".
 */
export function ictStart(request: SipRequest, t: TimerValues): Transition<IctState> {
  const effects: Effect[] = [send(request)];
  if (t.A > 0) effects.push(start('A', t.A));
  effects.push(start('B', t.B));
  return { state: { name: 'Calling', request, a: t.A }, effects };
}

export function ict(state: IctState, event: ClientEvent, t: TimerValues): Transition<IctState> {
  switch (state.name) {
    case 'Calling':
    case 'Proceeding':
      return early(state, event, t);
    case 'Completed':
      switch (event.type) {
        case 'cancel':
          return { state, effects: NONE };
        case 'response':
          // §17.1.1.2: "Any retransmissions of the final response that are received while
          // in the 'Completed' state MUST cause the ACK to be re-passed to the transport
          // layer for retransmission, but the newly generated ACK MUST NOT be passed up to the TU."
          return event.response.status >= 300 ? { state, effects: [send(state.ack, true)] } : { state, effects: NONE };
        case 'timer':
          // §17.1.1.2: "If timer D fires while the client transaction is in the 'Completed'
          // state, the client transaction MUST move to the terminated state."
          return event.timer === 'D' ? { state: TERMINATED, effects: [TERMINATE] } : { state, effects: NONE };
        case 'transportError':
          // §17.1.4 / Figure 5: a failure to send the ACK — inform the TU, go to Terminated.
          return { state: TERMINATED, effects: [transportError(event.error), TERMINATE] };
      }
    case 'Accepted':
      switch (event.type) {
        case 'cancel':
          return { state, effects: NONE };
        case 'response':
          // RFC 6026 §8.4: "A 2xx response received while in the 'Accepted' state MUST be
          // passed to the TU and the machine remains in the 'Accepted' state. The client
          // transaction MUST NOT generate an ACK to any 2xx response on its own."
          return event.response.status >= 200 && event.response.status < 300
            ? { state, effects: [passResponse(event.response)] }
            : { state, effects: NONE };
        case 'timer':
          // RFC 6026 §8.4: "If timer M fires while the client transaction is in the
          // 'Accepted' state, the client transaction MUST move to the 'Terminated' state."
          return event.timer === 'M' ? { state: TERMINATED, effects: [TERMINATE] } : { state, effects: NONE };
        case 'transportError':
          // Nothing is sent in Accepted (the TU sends the ACK for 2xx itself).
          return { state, effects: NONE };
      }
    case 'Terminated':
      // §17.1.1.2: "The client transaction MUST be destroyed the instant it enters the 'Terminated' state."
      return { state, effects: NONE };
  }
}

type Early = Extract<IctState, { name: 'Calling' | 'Proceeding' }>;

function early(state: Early, event: ClientEvent, t: TimerValues): Transition<IctState> {
  const calling = state.name === 'Calling';
  switch (event.type) {
    case 'response': {
      const res = event.response;
      const stopTimers: Effect[] = calling ? (t.A > 0 ? [stop('A'), stop('B')] : [stop('B')]) : state.cancelled ? [stop('Cancel')] : [];
      if (res.status < 200) {
        // §17.1.1.2: "If the client transaction receives a provisional response while in
        // the 'Calling' state, it transitions to the 'Proceeding' state. In the
        // 'Proceeding' state, the client transaction SHOULD NOT retransmit the request
        // any longer. Furthermore, the provisional response MUST be passed to the TU."
        // (Timer B only applies in Calling, so it stops too.)
        if (!calling) return { state, effects: [passResponse(res)] };
        return { state: { name: 'Proceeding', request: state.request, cancelled: false }, effects: [...stopTimers, passResponse(res)] };
      }
      if (res.status < 300) {
        // RFC 6026 §8.4: "When a 2xx response is received while in either the 'Calling'
        // or 'Proceeding' states, the client transaction MUST transition to the
        // 'Accepted' state, and Timer M MUST be started with a value of 64*T1
        // seconds. The 2xx response MUST be passed up to the TU."
        return { state: ACCEPTED, effects: [...stopTimers, start('M', t.M), passResponse(res)] };
      }
      // §17.1.1.2: "reception of a response with status code from 300-699 MUST cause the
      // client transaction to transition to 'Completed'. The client transaction MUST pass
      // the received response up to the TU, and the client transaction MUST generate an
      // ACK request, even if the transport is reliable ... The client transaction SHOULD
      // start timer D when it enters the 'Completed' state, with a value of at least 32
      // seconds for unreliable transports, and a value of zero seconds for reliable transports."
      const ack = buildAck(state.request, res);
      if (t.D === 0) return { state: TERMINATED, effects: [...stopTimers, send(ack), passResponse(res), TERMINATE] };
      return { state: { name: 'Completed', ack }, effects: [...stopTimers, send(ack), start('D', t.D), passResponse(res)] };
    }
    case 'cancel':
      // §9.1: "If there is no final response for the original request in 64*T1 seconds
      // ..., the client SHOULD then consider the original transaction cancelled and
      // SHOULD destroy the client transaction handling the original request." A CANCEL
      // is only sent once a provisional response came, i.e. in Proceeding.
      if (calling || state.cancelled) return { state, effects: NONE };
      return { state: { name: 'Proceeding', request: state.request, cancelled: true }, effects: [start('Cancel', t.Cancel)] };
    case 'timer':
      if (!calling) {
        // §9.1: no final response 64*T1 after the CANCEL — the INVITE counts as cancelled.
        return event.timer === 'Cancel' && state.cancelled ? { state: TERMINATED, effects: [timeout('Cancel'), TERMINATE] } : { state, effects: NONE };
      }
      if (event.timer === 'A') {
        // §17.1.1.2: "When timer A fires, the client transaction MUST retransmit the request
        // by passing it to the transport layer, and MUST reset the timer with a value of
        // 2*T1 ... intervals that double after each transmission."
        const a = state.a * 2;
        return { state: { name: 'Calling', request: state.request, a }, effects: [send(state.request, true), start('A', a)] };
      }
      if (event.timer === 'B') {
        // §17.1.1.2: "If the client transaction is still in the 'Calling' state when timer
        // B fires, the client transaction SHOULD inform the TU that a timeout has
        // occurred. The client transaction MUST NOT generate an ACK."
        return { state: TERMINATED, effects: [timeout('B'), TERMINATE] };
      }
      return { state, effects: NONE };
    case 'transportError':
      // §17.1.4: "the client transaction SHOULD inform the TU that a transport failure has
      // occurred, and the client transaction SHOULD transition directly to the 'Terminated' state."
      // Figure 5 draws it from Calling only; in Proceeding nothing more is sent.
      if (!calling) return { state, effects: NONE };
      return { state: TERMINATED, effects: [transportError(event.error), TERMINATE] };
  }
}
