/**
 * Dialogs (RFC 3261 §12) as plain serialisable records: everything needed to send
 * and match in-dialog requests, JSON-safe so it can live in Redis and be picked up
 * by the other node of an HA pair after a failover.
 */
import { parseError } from '../message/errors.js';
import { newBranch } from '../message/ids.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { SipRequest as Request } from '../message/message.js';
import type { NameAddr } from '../message/name-addr.js';
import { parseNameAddr } from '../message/name-addr.js';

export type DialogState = 'early' | 'confirmed' | 'terminated';

export interface DialogId {
  callId: string;
  localTag: string;
  remoteTag: string;
}

export interface DialogRecord {
  id: DialogId;
  state: DialogState;
  /** Which side created it: 'uac' sent the initial request, 'uas' received it. */
  role: 'uac' | 'uas';
  /** Local CSeq of the last request we sent in the dialog (§12.2.1.1); null until we send one. */
  localSeq: number | null;
  /** Remote CSeq of the last request received (§12.2.2); null until one arrives. */
  remoteSeq: number | null;
  /** From/To of our side / the peer's side, as full header values (with tags). */
  localUri: string;
  remoteUri: string;
  /** The peer's Contact URI: Request-URI of in-dialog requests (§12.2.1.1). */
  remoteTarget: string;
  /** Route set as URIs in the order requests traverse them (§12.1.1, §12.1.2). */
  routeSet: string[];
  /** True for dialogs created over sips / TLS end to end (§12.1.1). */
  secure: boolean;
  /** Method of the request that created the dialog (INVITE, SUBSCRIBE, REFER …). */
  method: string;
  createdAt: number;
}

/**
 * The dialog ID of a received message, from our side (§12): for a request we
 * received our tag is in To; for a response we received, our tag is in From.
 */
export function dialogIdOfIncoming(msg: SipRequest | SipResponse): DialogId | null {
  const fromTag = msg.from().tag;
  const toTag = msg.to().tag;
  if (!fromTag || !toTag) return null;
  return msg.kind === 'request'
    ? { callId: msg.callId(), localTag: toTag, remoteTag: fromTag }
    : { callId: msg.callId(), localTag: fromTag, remoteTag: toTag };
}

/** A stable string key of a dialog ID (e.g. for a Redis key or a Map). */
export function dialogKey(id: DialogId): string {
  return `${id.callId}\u0000${id.localTag}\u0000${id.remoteTag}`;
}

function contactUri(msg: SipRequest | SipResponse): string {
  const c = msg.contacts();
  if (c === '*' || c.length === 0) throw parseError('header-value', 'dialog-creating message needs one Contact', 'contact');
  return c[0]!.uri.toString();
}

const routeUris = (rr: NameAddr[]): string[] => rr.map((r) => r.toString());

/**
 * UAC side (§12.1.2): a dialog from the request we sent and a 101–299 response
 * with a To-tag. Route set = Record-Route of the response, reversed.
 */
export function createUacDialog(req: SipRequest, res: SipResponse, now = Date.now()): DialogRecord {
  const toTag = res.to().tag;
  const fromTag = req.from().tag;
  if (!toTag || !fromTag) throw parseError('header-value', 'no dialog without both tags', 'to');
  return {
    id: { callId: req.callId(), localTag: fromTag, remoteTag: toTag },
    state: res.status >= 200 ? 'confirmed' : 'early',
    role: 'uac',
    localSeq: req.cseq().seq,
    remoteSeq: null,
    localUri: req.get('from')!,
    remoteUri: res.get('to')!,
    remoteTarget: contactUri(res),
    routeSet: routeUris(res.recordRoutes()).reverse(),
    secure: isSips(req),
    method: req.method,
    createdAt: now,
  };
}

/**
 * UAS side (§12.1.1): a dialog from the received request and the response we send
 * (which carries our To-tag). Route set = Record-Route of the request, in order.
 */
export function createUasDialog(req: SipRequest, res: SipResponse, now = Date.now()): DialogRecord {
  const toTag = res.to().tag;
  const fromTag = req.from().tag;
  if (!toTag || !fromTag) throw parseError('header-value', 'no dialog without both tags', 'to');
  return {
    id: { callId: req.callId(), localTag: toTag, remoteTag: fromTag },
    state: res.status >= 200 ? 'confirmed' : 'early',
    role: 'uas',
    localSeq: null,
    remoteSeq: req.cseq().seq,
    localUri: res.get('to')!,
    remoteUri: req.get('from')!,
    remoteTarget: contactUri(req),
    routeSet: routeUris(req.recordRoutes()),
    secure: isSips(req),
    method: req.method,
    createdAt: now,
  };
}

function isSips(req: SipRequest): boolean {
  const u = req.requestUri();
  return u.isSip && u.scheme === 'sips';
}

/** Apply a response to an early dialog (UAC): 2xx confirms; target refresh updates the target. */
export function updateOnResponse(d: DialogRecord, res: SipResponse): DialogRecord {
  if (res.status >= 200 && res.status < 300) {
    const next: DialogRecord = { ...d, state: 'confirmed' };
    if (res.has('contact')) next.remoteTarget = contactUri(res);
    // §12.1.2: the route set is fixed when the dialog is established by the 2xx
    if (d.state === 'early' && d.role === 'uac') next.routeSet = routeUris(res.recordRoutes()).reverse();
    return next;
  }
  if (res.status >= 300 && d.state === 'early') return { ...d, state: 'terminated' };
  return d;
}

export type InDialogCheck = { ok: true; dialog: DialogRecord } | { ok: false; status: 500; reason: string };

/**
 * A request received within the dialog (§12.2.2): CSeq must increase (else 500),
 * target-refresh requests update the remote target.
 */
export function receiveInDialog(d: DialogRecord, req: SipRequest): InDialogCheck {
  const seq = req.cseq().seq;
  if (req.method !== 'ACK' && req.method !== 'CANCEL' && d.remoteSeq !== null && seq <= d.remoteSeq) {
    return { ok: false, status: 500, reason: 'CSeq lower than the last one received' };
  }
  const next: DialogRecord = { ...d, remoteSeq: req.method === 'ACK' || req.method === 'CANCEL' ? d.remoteSeq : seq };
  if ((req.method === 'INVITE' || req.method === 'UPDATE' || req.method === 'SUBSCRIBE' || req.method === 'NOTIFY' || req.method === 'REFER') && req.has('contact')) {
    next.remoteTarget = contactUri(req);
  }
  if (req.method === 'BYE') next.state = 'terminated';
  return { ok: true, dialog: next };
}

export interface InDialogRequestOptions {
  /** CSeq to use; default localSeq + 1 (ACK and CANCEL reuse the INVITE's, pass it). */
  cseq?: number;
  via: { transport: string; host: string; port?: number };
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  contentType?: string;
  maxForwards?: number;
}

/**
 * Build a request within the dialog (§12.2.1.1): Request-URI and Route from the
 * remote target and route set (loose routing when the first route has `lr`,
 * strict routing otherwise), tags and Call-ID from the dialog. Returns the
 * request and the dialog with its local CSeq advanced.
 */
export function createInDialogRequest(d: DialogRecord, method: string, opts: InDialogRequestOptions): { request: SipRequest; dialog: DialogRecord } {
  const seq = opts.cseq ?? (method === 'ACK' || method === 'CANCEL' ? d.localSeq ?? 1 : (d.localSeq ?? 0) + 1);
  let ruri = d.remoteTarget;
  let routes = d.routeSet;
  const first = routes[0];
  if (first !== undefined) {
    const firstUri = parseNameAddr(first, 'route').uri;
    if (!firstUri.isSip || !firstUri.hasParam('lr')) {
      // strict router (§12.2.1.1): its URI becomes the Request-URI, the target goes last
      ruri = firstUri.toString();
      routes = [...routes.slice(1), `<${d.remoteTarget}>`];
    }
  }
  const { transport, host, port } = opts.via;
  const headers: Array<[string, string]> = [
    ['Via', `SIP/2.0/${transport.toUpperCase()} ${host}${port ? `:${port}` : ''};branch=${newBranch()};rport`],
    ['Max-Forwards', String(opts.maxForwards ?? 70)],
    ['From', d.localUri],
    ['To', d.remoteUri],
    ['Call-ID', d.id.callId],
    ['CSeq', `${seq} ${method}`],
  ];
  for (const r of routes) headers.push(['Route', r]);
  for (const h of opts.headers ?? []) headers.push(h);
  const request = new Request(method, ruri, headers);
  if (opts.body !== undefined) request.setBody(opts.body, opts.contentType);
  const dialog = method === 'ACK' || method === 'CANCEL' ? d : { ...d, localSeq: seq, state: method === 'BYE' ? ('terminated' as const) : d.state };
  return { request, dialog };
}
