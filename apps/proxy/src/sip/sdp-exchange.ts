/**
 * Which ng operation an SDP body is, and with which tags (RFC 3264 offer/answer inside
 * RFC 3261 §13.2.1, §14): rtpengine keys each side of a call by its tag, and the `from-tag`
 * of both `offer` and `answer` is always the *offerer's* tag, the `to-tag` the answerer's.
 *
 * | SDP in …                                          | ng       | from-tag       | to-tag        |
 * |---------------------------------------------------|----------|----------------|---------------|
 * | INVITE / re-INVITE / UPDATE                        | offer    | From tag       | —             |
 * | 1xx/2xx to a request that carried SDP              | answer   | From tag       | To tag        |
 * | 1xx/2xx to an INVITE without SDP (late offer)      | offer    | To tag         | —             |
 * | ACK (answer to the late offer of that 2xx)         | answer   | To tag         | From tag      |
 *
 * From/To are the headers of the message itself; a response and its ACK keep the INVITE's.
 */

export type SdpExchange = { op: 'offer'; fromTag: string } | { op: 'answer'; fromTag: string; toTag: string };

export interface SdpCarrier {
  /** what carries the SDP */
  kind: 'request' | 'response' | 'ack';
  /** the method of the request (of the request answered, for a response) */
  method: string;
  /** the request (the INVITE, for an ACK or a response) carried an SDP offer */
  requestHadSdp: boolean;
  fromTag: string;
  toTag: string;
}

/** The ng operation for an SDP in `m`; undefined when the SDP is none of offer/answer (e.g. a 200 to an UPDATE without SDP). */
export function sdpExchange(m: SdpCarrier): SdpExchange | undefined {
  switch (m.kind) {
    case 'request':
      return { op: 'offer', fromTag: m.fromTag };
    case 'response':
      if (m.requestHadSdp) return { op: 'answer', fromTag: m.fromTag, toTag: m.toTag };
      // RFC 3261 §13.2.1: an INVITE without an offer gets the offer in the first reliable non-failure response
      return m.method === 'INVITE' ? { op: 'offer', fromTag: m.toTag } : undefined;
    case 'ack':
      // §13.2.1: the answer to a 2xx offer comes in the ACK; the offerer is the To side
      return m.requestHadSdp ? undefined : { op: 'answer', fromTag: m.toTag, toTag: m.fromTag };
  }
}
