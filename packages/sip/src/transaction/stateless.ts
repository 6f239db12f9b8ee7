/**
 * Stateless forwarding (RFC 3261 §16.11) for a proxy or load balancer that keeps no
 * transaction: a branch that is the same for every retransmission of a request (and
 * for its CANCEL and non-2xx ACK, which carry the INVITE's branch), and what to do
 * with a response. Pure functions; no I/O.
 */
import { createHash } from 'node:crypto';
import type { SipRequest, SipResponse } from '../message/message.js';
import type { Via } from '../message/via.js';
import { MAGIC_COOKIE } from '../message/via.js';
import { isRfc3261Branch } from './matching.js';

export interface StatelessBranchOptions {
  /** A per-deployment secret mixed in, so branches are not predictable from outside. */
  secret?: string;
  /** What else tells two forwardings of one request apart (e.g. the next hop when one request could go to several). */
  target?: string;
}

/**
 * §16.11: "the first component of the branch ID of the outgoing request is computed as
 * a hash of the received branch ID" when it has the magic cookie; "Otherwise, the first
 * component of the branch ID is computed as a hash of the topmost Via, the tag in the
 * To header field, the tag in the From header field, the Call-ID header field, the CSeq
 * number (but not method), and the Request-URI from the received request."
 *
 * The received sent-by and Request-URI are hashed in the RFC 3261 case too (two
 * clients could pick the same branch; a spiral changes the Request-URI). The method
 * is not — a CANCEL and the ACK for a non-2xx must get the INVITE's branch (§9.1,
 * §17.1.1.3) — so the ACK for a 2xx, which has its own branch, gets its own one.
 * Throws SipParseError when the headers it reads are malformed.
 */
export function statelessBranch(req: SipRequest, opts: StatelessBranchOptions = {}): string {
  const via = req.topVia();
  let material: string;
  if (via !== undefined && isRfc3261Branch(via.branch)) {
    material = `3261\n${via.branch}\n${via.sentBy}\n${req.uri}`;
  } else {
    material = `2543\n${via === undefined ? '' : normalizedVia(via)}\n${req.to().tag ?? ''}\n${req.from().tag ?? ''}\n${req.callId()}\n${req.cseq().seq}\n${req.uri}`;
  }
  const h = createHash('sha256');
  if (opts.secret !== undefined) h.update(opts.secret).update('\n');
  h.update(material);
  if (opts.target !== undefined) h.update('\n').update(opts.target);
  return MAGIC_COOKIE + h.digest('hex').slice(0, 32);
}

function normalizedVia(via: Via): string {
  return `${via.transport} ${via.sentBy} ${via.branch ?? ''} ${via.received ?? ''}`;
}

/** Where to send a response according to a Via (§18.2.2 for unreliable transports, RFC 3581 rport). */
export interface ViaHop {
  transport: string;
  address: string;
  port: number;
  /** True when `address` is a name from sent-by that needs RFC 3263 §5 resolution. */
  needsResolution: boolean;
}

/**
 * §18.2.2: "if the 'sent-protocol' is a reliable transport protocol ... the response
 * MUST be sent using the existing connection" (the caller's business; this gives the
 * address to open a new one to); "Otherwise, if the Via header field value contains a
 * 'maddr' parameter, the response MUST be forwarded to the address listed there";
 * "Otherwise (for unreliable unicast transports), if the top Via has a 'received'
 * parameter, the response MUST be sent to the address in the 'received' parameter" —
 * to the port in `rport` when filled in (RFC 3581 §4), else the sent-by port;
 * "Otherwise ... to the address indicated by the 'sent-by' value" (RFC 3263 §5).
 */
export function viaHop(via: Via): ViaHop {
  // the default port as Via.sentBy has it (RFC 3261 §18.2.2 / §19.1.2)
  const sentByPort = via.port ?? (via.transport === 'TLS' ? 5061 : 5060);
  const maddr = via.param('maddr');
  if (typeof maddr === 'string') return { transport: via.transport, address: unbracket(maddr), port: sentByPort, needsResolution: false };
  const received = via.received;
  const rport = via.rport;
  if (received !== undefined) {
    return { transport: via.transport, address: unbracket(received), port: typeof rport === 'number' ? rport : sentByPort, needsResolution: false };
  }
  return { transport: via.transport, address: unbracket(via.host), port: sentByPort, needsResolution: via.hostType === 'name' };
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

export type StatelessResponseDecision =
  | { action: 'forward'; response: SipResponse; via: Via; hop: ViaHop }
  | { action: 'drop'; reason: 'no-via' | 'not-ours' | 'no-next-via' };

/**
 * §16.11: "When a response arrives at a stateless proxy, the proxy MUST inspect the
 * sent-by value in the first (topmost) Via header field value. If that address matches
 * the proxy, (it equals a value this proxy has inserted into previous requests) the
 * proxy MUST remove that header field value from the response and forward the result
 * to the location indicated in the next Via header field value. ... If the address
 * does not match the proxy, the message MUST be silently discarded."
 *
 * On 'forward' the response has lost its top Via (changed in place) and `via` / `hop`
 * say where it goes next. `isOurs` decides whether a Via is one this element inserted
 * (compare sent-by with the local addresses it writes). Throws SipParseError on a
 * malformed Via.
 */
export function forwardResponseStatelessly(res: SipResponse, isOurs: (via: Via) => boolean): StatelessResponseDecision {
  const vias = res.vias();
  const top = vias[0];
  if (top === undefined) return { action: 'drop', reason: 'no-via' };
  if (!isOurs(top)) return { action: 'drop', reason: 'not-ours' };
  const next = vias[1];
  if (next === undefined) return { action: 'drop', reason: 'no-next-via' };
  res.popVia();
  return { action: 'forward', response: res, via: next, hop: viaHop(next) };
}

/** The Via value a stateless element pushes onto a request it forwards (§16.6 step 8, §16.11). */
export function statelessVia(req: SipRequest, local: { transport: string; host: string; port?: number }, opts: StatelessBranchOptions & { rport?: boolean } = {}): string {
  const port = local.port === undefined ? '' : `:${local.port}`;
  return `SIP/2.0/${local.transport.toUpperCase()} ${local.host}${port};branch=${statelessBranch(req, opts)}${opts.rport ? ';rport' : ''}`;
}
