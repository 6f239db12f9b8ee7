/**
 * Requests the transaction layer builds itself: the ACK for a non-2xx final
 * response (RFC 3261 §17.1.1.3) and CANCEL (§9.1). Header values are copied as
 * text from the original request, so they stay byte-identical.
 */
import { createResponse } from '../message/builders.js';
import type { SipResponse } from '../message/message.js';
import { SipRequest } from '../message/message.js';

function topViaText(req: SipRequest): string {
  const top = req.elements('via')[0];
  if (top === undefined) throw new TypeError(`${req.method} has no Via`);
  return top;
}

/**
 * §17.1.1.3: Request-URI, Call-ID and From of the original request; To of the
 * response (with its tag); a single Via equal to the original's top Via; CSeq with
 * the original number and method ACK; the original's Route header fields.
 */
export function buildAck(invite: SipRequest, response: SipResponse): SipRequest {
  const headers: Array<[string, string]> = [['Via', topViaText(invite)], ['Max-Forwards', '70']];
  for (const r of invite.getAll('route')) headers.push(['Route', r]);
  headers.push(
    ['From', invite.single('from')],
    ['To', response.single('to')],
    ['Call-ID', invite.single('call-id')],
    ['CSeq', `${invite.cseq().seq} ACK`],
  );
  return new SipRequest('ACK', invite.uri, headers);
}

export interface CancelOptions {
  /** A Reason header value (RFC 3326), e.g. 'SIP;cause=200;text="Call completed elsewhere"'. */
  reason?: string;
}

/**
 * §9.1: Request-URI, Call-ID, To, From (tags included) and the CSeq number of the
 * request being cancelled, method CANCEL; one Via equal to its top Via (so the
 * CANCEL carries the same branch); its Route header fields.
 */
export function buildCancel(request: SipRequest, opts: CancelOptions = {}): SipRequest {
  const headers: Array<[string, string]> = [['Via', topViaText(request)], ['Max-Forwards', '70']];
  for (const r of request.getAll('route')) headers.push(['Route', r]);
  headers.push(
    ['From', request.single('from')],
    ['To', request.single('to')],
    ['Call-ID', request.single('call-id')],
    ['CSeq', `${request.cseq().seq} CANCEL`],
  );
  if (opts.reason !== undefined) headers.push(['Reason', opts.reason]);
  return new SipRequest('CANCEL', request.uri, headers);
}

/**
 * The response a client TU is handed when no real one came: RFC 3261 §8.1.3.1 treats
 * a transaction timeout as 408 and a transport failure as 503; an INVITE whose CANCEL
 * got no final response counts as cancelled (§9.1), 487.
 */
export function localResponse(request: SipRequest, status: 408 | 487 | 503): SipResponse {
  return createResponse(request, status);
}
