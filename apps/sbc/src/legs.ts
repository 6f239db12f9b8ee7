/**
 * Leg mapping (pure): the B leg's INVITE built from the A leg's, a response of one leg
 * turned into the response of the other, an in-dialog request of one leg turned into
 * the request on the other, and where an in-dialog request goes. Nothing of the path
 * (Via, Record-Route, Route, Contact, Call-ID, tags, CSeq) crosses; headers cross only
 * through the profile's whitelist (headers.ts).
 */
import { isIP } from 'node:net';
import type { DialogRecord, Destination, SipRequest, SipResponse } from '@ngcp/sip';
import { createInDialogRequest, createResponse, NameAddr, newBranch, SipRequest as Request } from '@ngcp/sip';
import { copiedFields, proxyContextFields } from './headers.js';
import { filterCodecs, isSdp } from './sdp.js';

/** The sbc's own SIP address (its listener). */
export interface Self {
  address: string;
  port: number;
}

const hostOf = (self: Self): string => (isIP(self.address) === 6 ? `[${self.address}]` : self.address);

/** Our Contact: what either side sends its in-dialog requests to (through the proxy's Record-Route). */
export function ourContact(self: Self): string {
  return `<sip:${hostOf(self)}:${self.port};transport=udp>`;
}

/** A Via of ours with a new branch. */
export function ourVia(self: Self): string {
  return `SIP/2.0/UDP ${hostOf(self)}:${self.port};branch=${newBranch()};rport`;
}

/** Methods whose request carries a Contact (target refresh, RFC 3261 §12.2; RFC 3311). */
const TARGET_REFRESH = new Set(['INVITE', 'UPDATE', 'SUBSCRIBE', 'NOTIFY', 'REFER']);

/** The body of one leg's message on the other's: SDP through the profile's codec filter (sdp.ts), anything else as it is. */
function copyBody(from: SipRequest | SipResponse, to: SipRequest | SipResponse, deny: ReadonlySet<string> | undefined): void {
  if (from.body.length === 0) return;
  const type = from.get('content-type') ?? 'application/sdp';
  const filtered = deny && isSdp(type) ? filterCodecs(from.body, deny) : null;
  to.setBody(filtered ? filtered.body : from.body, type);
}

/** What every leg mapping takes of the profile. */
interface ProfileOptions {
  /** The profile's whitelist (header keys). */
  allowed: ReadonlySet<string>;
  /** The profile's denied codecs (upper-case encoding names); absent or empty: SDP untouched. */
  codecsDeny?: ReadonlySet<string>;
}

export interface BLegOptions extends ProfileOptions {
  self: Self;
  /** The B leg's own Call-ID and From-tag. */
  callId: string;
  fromTag: string;
  cseq: number;
}

/**
 * The B leg's INVITE (RFC 3261 §8.1.1, as a UAC of its own): the A leg's Request-URI,
 * From (URI and display name, a new tag, no other parameters) and To; a new Call-ID,
 * CSeq, Via and Contact; Max-Forwards one less; whitelisted fields, the proxy's
 * `X-NGCP-Caller` and the A leg's Call-ID as `X-NGCP-A-Call-ID` (the B leg goes back to the
 * proxy, which removes both) and the body.
 */
export function bLegInvite(a: SipRequest, o: BLegOptions): SipRequest {
  const from = a.from();
  const bFrom = new NameAddr(from.uri, from.display, [], true);
  bFrom.setParam('tag', o.fromTag);
  const to = a.to();
  const bTo = new NameAddr(to.uri, to.display, [], true);
  const headers: Array<[string, string]> = [
    ['Via', ourVia(o.self)],
    ['Max-Forwards', String(Math.max(0, (a.maxForwards() ?? 70) - 1))],
    ['From', bFrom.toString()],
    ['To', bTo.toString()],
    ['Call-ID', o.callId],
    ['CSeq', `${o.cseq} INVITE`],
    ['Contact', ourContact(o.self)],
    ...copiedFields(a, o.allowed),
    ...proxyContextFields(a),
  ];
  const req = new Request('INVITE', a.requestUri().toString(), headers);
  copyBody(a, req, o.codecsDeny);
  return req;
}

export interface RelayResponseOptions extends ProfileOptions {
  self: Self;
  /** Our To-tag towards the side that sent `req` (added when its To has none). */
  toTag?: string;
  /** A dialog-creating response (initial INVITE): Record-Route of `req` copied back (§12.1.1). */
  dialogCreating?: boolean;
  /** Another status and reason than `res`'s (reply-code translation of the profile). */
  translate?: { code: number; reason: string };
}

/**
 * The response to `req` (a request of one leg) carrying what `res` (the other leg's
 * answer) says: status and reason, whitelisted fields, body; our Contact on 1xx–2xx of
 * INVITE/UPDATE (a 3xx's Contact is the other side's and is not passed).
 */
export function relayResponse(req: SipRequest, res: SipResponse, o: RelayResponseOptions): SipResponse {
  const status = o.translate?.code ?? res.status;
  const headers = copiedFields(res, o.allowed);
  if (status > 100 && status < 300 && TARGET_REFRESH.has(req.method)) headers.unshift(['Contact', ourContact(o.self)]);
  const out = createResponse(req, status, {
    reason: o.translate?.reason ?? res.reason,
    headers,
    ...(o.toTag !== undefined ? { toTag: o.toTag } : {}),
    ...(o.dialogCreating ? { copyRecordRoute: true } : {}),
  });
  copyBody(res, out, o.codecsDeny);
  return out;
}

export interface RelayRequestOptions extends ProfileOptions {
  self: Self;
  /** CSeq to use (the ACK of an INVITE: that INVITE's); default: the dialog's next. */
  cseq?: number;
  /** Extra fields (a Reason of our own BYE). */
  headers?: Array<[string, string]>;
}

/**
 * The request on `leg` (the other leg's dialog, from our side) that carries `req` (one
 * received on this leg, or none for a request of our own: a BYE we start): method,
 * whitelisted fields and body; our Contact on target refreshes. Returns the request and
 * the leg with its local CSeq advanced.
 */
export function relayRequest(leg: DialogRecord, method: string, req: SipRequest | null, o: RelayRequestOptions): { request: SipRequest; dialog: DialogRecord } {
  const headers: Array<[string, string]> = [];
  if (TARGET_REFRESH.has(method)) headers.push(['Contact', ourContact(o.self)]);
  if (req) headers.push(...copiedFields(req, o.allowed));
  headers.push(...(o.headers ?? []));
  const built = createInDialogRequest(leg, method, {
    via: { transport: 'UDP', host: hostOf(o.self), port: o.self.port },
    headers,
    ...(o.cseq !== undefined ? { cseq: o.cseq } : {}),
  });
  if (req) copyBody(req, built.request, o.codecsDeny);
  return built;
}

/**
 * Whether `req` (an INVITE or UPDATE: its SDP is an offer, RFC 3264/3311) carries an offer
 * the profile's codec filter leaves without any codec: the offerer gets 488.
 */
export function offerUnusable(req: SipRequest, deny: ReadonlySet<string>): boolean {
  if ((req.method !== 'INVITE' && req.method !== 'UPDATE') || !isSdp(req.get('content-type') ?? 'application/sdp')) return false;
  return filterCodecs(req.body, deny)?.usable === false;
}

/**
 * Where an in-dialog request goes (no DNS: the platform routes by addresses): the first
 * Route if it is a loose router, else the Request-URI. Undefined when that is no IP URI.
 */
export function nextHop(req: SipRequest): Destination | undefined {
  const uri = req.routes()[0]?.uri ?? req.requestUri();
  if (!uri.isSip) return undefined;
  const address = uri.hostname;
  if (isIP(address) === 0) return undefined;
  const transport = uri.transport ?? 'udp';
  return { transport, address, port: uri.port ?? 5060 };
}
