/**
 * The ng dictionaries mediactl sends for offer and answer: RTP flows through rtpengine on
 * its media interface (the node's rtp_ext address) as plain RTP/AVP.
 * - `replace: origin, session-connection` — o= and the session-level c= name rtpengine;
 * - `ICE: remove` — no candidates that would let the ends bypass the relay;
 * - `transport-protocol: RTP/AVP` — plain RTP on the far side (SRTP/DTLS offers are terminated);
 * - `rtcp-mux: demux` — RTCP on its own port as RTP/AVP ends expect.
 * The caller's `flags` (ng `flags` list entries such as `trust-address`, `asymmetric`) come last.
 */
import type { NgParams } from './ng-control.js';

export interface OfferInput {
  callId: string;
  fromTag: string;
  sdp: string;
  flags?: string[] | undefined;
}

export interface AnswerInput extends OfferInput {
  toTag: string;
}

const BASE = {
  replace: ['origin', 'session-connection'],
  ICE: 'remove',
  'transport-protocol': 'RTP/AVP',
  'rtcp-mux': ['demux'],
} as const;

function common(input: OfferInput): NgParams {
  return {
    'call-id': input.callId,
    'from-tag': input.fromTag,
    sdp: input.sdp,
    replace: [...BASE.replace],
    ICE: BASE.ICE,
    'transport-protocol': BASE['transport-protocol'],
    'rtcp-mux': [...BASE['rtcp-mux']],
    ...(input.flags && input.flags.length > 0 ? { flags: [...input.flags] } : {}),
  };
}

export function offerParams(input: OfferInput): NgParams {
  return common(input);
}

export function answerParams(input: AnswerInput): NgParams {
  return { ...common(input), 'to-tag': input.toTag };
}
