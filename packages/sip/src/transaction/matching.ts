/**
 * Transaction keys: a message belongs to the transaction stored under the same key.
 * Client side RFC 3261 §17.1.3, server side §17.2.3 (with the RFC 2543 fallback when
 * the branch lacks the magic cookie), CANCEL §9.2. Keys are plain strings so a Map
 * does the matching; the accessors they read (Via, CSeq, From, To) may throw
 * SipParseError on a malformed message — the layer catches that and drops it.
 */
import type { SipRequest, SipResponse } from '../message/message.js';
import type { Via } from '../message/via.js';
import { MAGIC_COOKIE } from '../message/via.js';

/** §8.1.1.7: a branch starting with "z9hG4bK" was made by an RFC 3261 element and is unique. */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.startsWith(MAGIC_COOKIE) && branch.length > MAGIC_COOKIE.length;
}

/**
 * §17.1.3: a response matches a client transaction "if the response has the same value
 * of the branch parameter in the top Via header field as the branch parameter in the top
 * Via header field of the request that created the transaction" and "the method
 * parameter in the CSeq header field matches the method of the request that created the
 * transaction. The method is needed since a CANCEL request constitutes a different
 * transaction, but shares the same value of the branch parameter."
 */
export function clientKey(branch: string, method: string): string {
  return `${branch} ${method}`;
}

/** The client key of an outgoing request (its top Via branch and its method), if it has a branch. */
export function clientKeyOfRequest(req: SipRequest): string | undefined {
  const branch = req.topVia()?.branch;
  return branch === undefined ? undefined : clientKey(branch, req.method);
}

/** The key of the client transaction a response belongs to (top Via branch + CSeq method). */
export function clientKeyOfResponse(res: SipResponse): string | undefined {
  const branch = res.topVia()?.branch;
  return branch === undefined ? undefined : clientKey(branch, res.cseq().method);
}

/**
 * The key of the server transaction a request belongs to.
 *
 * With an RFC 3261 branch (§17.2.3): the branch, the sent-by of the top Via, and the
 * method — "except for ACK, where the method of the request that created the
 * transaction is INVITE". A CANCEL has its own transaction (same branch, method
 * CANCEL); pass `method` = 'INVITE' to find the transaction it cancels (§9.2).
 *
 * Without one (RFC 2543 peers, §17.2.3 last paragraphs): "the Request-URI, To tag,
 * From tag, Call-ID, CSeq, and top Via header field" — for ACK the CSeq number only,
 * and the To tag of the ACK, which equals the tag of the response the transaction
 * sent: see `ackKeyOfResponse`. Values are compared as written (Request-URI, tags,
 * Call-ID) or normalized (Via: transport, sent-by, branch), which is what
 * retransmissions of one request share.
 */
export function serverKey(req: SipRequest, method: string = req.method === 'ACK' ? 'INVITE' : req.method): string | undefined {
  const via = req.topVia();
  if (via === undefined) return undefined;
  const branch = via.branch;
  if (isRfc3261Branch(branch)) return `${branch} ${via.sentBy} ${method}`;
  return legacyKey(req, req.to().tag, method, via);
}

/**
 * RFC 2543 fallback: the extra key under which an INVITE server transaction can be
 * found by the ACK for its final response, whose To tag is the one the response added.
 * Undefined when the request has an RFC 3261 branch, or when the key would not differ
 * from the transaction's own key.
 */
export function ackKeyOfResponse(invite: SipRequest, res: SipResponse): string | undefined {
  const via = invite.topVia();
  if (via === undefined || isRfc3261Branch(via.branch)) return undefined;
  const tag = res.to().tag;
  if (tag === invite.to().tag) return undefined;
  return legacyKey(invite, tag, 'INVITE', via);
}

function legacyKey(req: SipRequest, toTag: string | undefined, method: string, via: Via): string {
  const cseq = req.cseq();
  return `2543 ${req.uri} ${toTag ?? ''} ${req.from().tag ?? ''} ${req.callId()} ${cseq.seq} ${method} ${via.transport} ${via.sentBy} ${via.branch ?? ''}`;
}

/**
 * A copy of a key that shares no memory with the message it was computed from. Keys
 * are built from slices of the received header text; stored as they are, each live
 * transaction would keep the whole text of its request alive.
 */
export function detachedKey(key: string): string {
  return Buffer.from(key, 'utf8').toString('utf8');
}
