/**
 * What a receiving element decides about one incoming message: accept it, reject
 * it with a status (requests only), or drop it silently (unusable responses and
 * unreadable bytes). This is the load-balancer's edge check — the same function
 * runs in the LB's transport edge and in `ngcp sip-lint` — modelled on RFC 3261
 * §8.2, §16.3 and the expectations of RFC 4475 / RFC 5118. With role 'uas' the
 * checks a UAS adds (Require, Content-Type, Accept) run too.
 */
import { SipParseError } from '../message/errors.js';
import type { SipMessage, SipRequest, SipResponse } from '../message/message.js';
import type { TransportName } from '../message/transports.js';
import type { Framing } from '../parser/parse.js';
import { SipMessageError, parseMessage } from '../parser/parse.js';
import { StreamFramer } from '../parser/stream-framer.js';

export type Verdict =
  | { action: 'accept'; message: SipMessage; reason: string }
  | {
      action: 'reject';
      status: number;
      reason: string;
      /** The request as far as it was readable, to build the response from. */
      message: SipMessage | null;
      /** Headers the response must carry (e.g. Unsupported for 420). */
      responseHeaders: Array<[string, string]>;
    }
  | { action: 'drop'; reason: string; message: SipMessage | null };

export interface InspectOptions {
  /** The transport the bytes arrived on: UDP carries one message per datagram, TCP/TLS a stream. Default udp. */
  transport?: TransportName;
  /** 'lb' (default): proxy/edge checks. 'uas': also the checks of a UAS. */
  role?: 'lb' | 'uas';
  /** Request-URI schemes served (others get 416). Default sip, sips, tel. */
  schemes?: readonly string[];
  /** Option tags this element supports in Proxy-Require (lb) / Require (uas). */
  supported?: readonly string[];
  /** uas: methods implemented (501 otherwise). */
  methods?: readonly string[];
  /** uas: body types understood (415 otherwise). */
  contentTypes?: readonly string[];
  /** Largest message accepted, bytes (513 beyond). Default 65535. */
  maxMessageSize?: number;
  /**
   * The bytes are exactly one message already framed by a StreamFramer (a stream
   * transport's reader): skip framing them again.
   */
  framed?: boolean;
}

const DEFAULT_SCHEMES = ['sip', 'sips', 'tel'];
const DEFAULT_UAS_SUPPORTED = ['path', 'outbound', 'gruu', '100rel', 'timer', 'replaces', 'norefersub'];
/** Methods of RFC 3261 and its common extensions: an unknown one is answered 501 by a UAS. */
export const KNOWN_METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE'];
const DEFAULT_CONTENT_TYPES = ['application/sdp', 'multipart/mixed', 'multipart/alternative', 'application/dtmf-relay', 'application/dtmf', 'message/sipfrag', 'application/simple-message-summary', 'text/plain'];

const accept = (message: SipMessage, reason = 'ok'): Verdict => ({ action: 'accept', message, reason });
const drop = (reason: string, message: SipMessage | null): Verdict => ({ action: 'drop', reason, message });
const reject = (status: number, reason: string, message: SipMessage | null, responseHeaders: Array<[string, string]> = []): Verdict => ({
  action: 'reject', status, reason, message, responseHeaders,
});

/** Frame, parse and check raw bytes received on `transport`. */
export function inspect(bytes: Buffer, opts: InspectOptions = {}): Verdict {
  const transport = opts.transport ?? 'udp';
  const framing: Framing = transport === 'udp' ? 'datagram' : 'stream';
  const max = opts.maxMessageSize ?? 65535;
  let msgBytes = bytes;
  if (framing === 'stream' && !opts.framed) {
    const framer = new StreamFramer({ maxMessageSize: max });
    const events = framer.push(bytes);
    const first = events.find((e) => e.type === 'message' || e.type === 'error');
    if (!first) {
      if (events.some((e) => e.type === 'ping')) return drop('keep-alive ping (answered with CRLF, RFC 5626)', null);
      return drop(`incomplete message: a stream waits for ${framer.pending > 0 ? 'more bytes (headers or body shorter than announced)' : 'data'}, and discards it when the connection closes`, null);
    }
    if (first.type === 'error') return fromParseError(first.error, first.bytes);
    msgBytes = first.bytes;
  } else if (bytes.length > max) {
    return fromParseError(new SipParseError('too-large', `datagram of ${bytes.length} bytes exceeds the limit`, 513), bytes);
  }
  let msg: SipMessage;
  try {
    msg = parseMessage(msgBytes, { framing });
  } catch (e) {
    if (e instanceof SipMessageError) return verdictForError(e, e.partial);
    if (e instanceof SipParseError) return verdictForError(e, null);
    throw e; // a programmer error, not untrusted input
  }
  return check(msg, opts);
}

function fromParseError(error: SipParseError, bytes: Buffer): Verdict {
  let partial: SipMessage | null = null;
  try {
    partial = parseMessage(bytes, { framing: 'stream' });
  } catch (e) {
    if (e instanceof SipMessageError) partial = e.partial;
  }
  return verdictForError(error, partial);
}

function verdictForError(e: SipParseError, partial: SipMessage | null): Verdict {
  if (partial?.kind === 'response' || e.status === null) return drop(e.message, partial);
  if (partial === null) return drop(`${e.message} (nothing to answer to)`, null);
  if (!canAnswer(partial)) return drop(`${e.message} (too broken to answer: no usable Via)`, partial);
  return reject(e.status, e.message, partial);
}

/**
 * A response can be sent when the request has a Via to echo; if the Via is
 * unreadable the transport sends the answer back to the source address.
 */
function canAnswer(m: SipMessage): boolean {
  return m.has('via');
}

/** Checks on a parsed message. */
export function check(msg: SipMessage, opts: InspectOptions = {}): Verdict {
  try {
    return msg.kind === 'request' ? checkRequest(msg, opts) : checkResponse(msg);
  } catch (e) {
    if (e instanceof SipParseError) {
      if (msg.kind === 'response') return drop(e.message, msg);
      return canAnswer(msg) ? reject(e.status ?? 400, e.message, msg) : drop(`${e.message} (too broken to answer: no usable Via)`, msg);
    }
    throw e;
  }
}

function checkRequest(req: SipRequest, opts: InspectOptions): Verdict {
  // RFC 3261 §8.2 order: version, then the headers needed to answer at all
  if (req.version.toUpperCase() !== 'SIP/2.0') return reject(505, `SIP version ${req.version} not supported`, req);
  req.vias(); // throws 400 on a bad Via
  if (req.vias().length === 0) return drop('request without Via', req);
  req.from();
  req.to();
  req.callId();
  const cseq = req.cseq();
  if (cseq.method !== req.method) {
    // RFC 4475 §3.1.2.18: 501 for an unknown method is more future-proof than 400
    const status = KNOWN_METHODS.includes(req.method) ? 400 : 501;
    return reject(status, `CSeq method ${cseq.method} does not match ${req.method}`, req);
  }
  // Request-URI (RFC 3261 §8.2.2.1, §16.3 step 2): scheme first
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(req.uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return reject(400, 'malformed Request-URI', req);
  if (!(opts.schemes ?? DEFAULT_SCHEMES).includes(scheme)) return reject(416, `URI scheme '${scheme}' not supported`, req);
  const ruri = req.requestUri();
  // RFC 3261 §19.1.1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.12)
  if (ruri.isSip && ruri.headers !== null) return reject(400, 'Request-URI must not contain headers', req);
  const mf = req.maxForwards();
  const role = opts.role ?? 'lb';
  if (req.has('contact')) {
    // a proxy forwards Contact untouched; a UAS (registrar) needs it well-formed (RFC 4475 §3.1.2.14)
    const wildcard = role === 'uas' ? req.contacts() === '*' : req.elements('contact').includes('*');
    if (wildcard && (req.method !== 'REGISTER' || req.expires() !== 0)) return reject(400, "Contact '*' is only allowed in REGISTER with Expires: 0", req);
  }
  req.routes();
  req.recordRoutes();
  req.expires();
  checkContentType(req);
  // Proxy-Require (RFC 3261 §16.3 step 5) — only option tags we know pass a proxy
  const supported = opts.supported ?? (role === 'uas' ? DEFAULT_UAS_SUPPORTED : []);
  const unsupported = req.optionTags('proxy-require').filter((t) => !supported.includes(t.toLowerCase()));
  if (role === 'uas' && req.method !== 'CANCEL' && req.method !== 'ACK') {
    // RFC 3261 §8.2.2.3: the UAS checks Require too
    for (const t of req.optionTags('require')) if (!supported.includes(t.toLowerCase()) && !unsupported.includes(t)) unsupported.push(t);
  }
  if (unsupported.length > 0) return reject(420, `unsupported option tags: ${unsupported.join(', ')}`, req, [['Unsupported', unsupported.join(', ')]]);
  // Max-Forwards (RFC 3261 §16.3 step 3)
  if (mf === 0 && role === 'lb') return reject(483, 'Max-Forwards is 0', req);
  if (role === 'uas') {
    const v = checkUas(req, opts);
    if (v) return v;
  }
  return accept(req);
}

function checkContentType(m: SipMessage): void {
  const ct = m.get('content-type');
  if (ct === undefined) return;
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*\/[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*(;.*)?$/s.test(ct)) {
    throw new SipParseError('header-value', 'malformed Content-Type', 400, 'content-type');
  }
  m.single('content-type');
}

function mediaType(v: string): string {
  return v.split(';')[0]!.replace(/[ \t]/g, '').toLowerCase();
}

/** UAS checks of RFC 3261 §8.2.3 (Content-Type → 415) and §8.2.2.? Accept (406). */
function checkUas(req: SipRequest, opts: InspectOptions): Verdict | null {
  const methods = opts.methods ?? KNOWN_METHODS;
  if (!methods.includes(req.method)) return reject(501, `method ${req.method} not implemented`, req, [['Allow', methods.join(', ')]]);
  // a registrar needs a SIP or SIPS URI as address-of-record (RFC 3261 §10.3 step 3; RFC 4475 §3.3.4)
  if (req.method === 'REGISTER' && !req.to().uri.isSip) return reject(400, 'To of a REGISTER must be a SIP or SIPS URI', req);
  const types = opts.contentTypes ?? DEFAULT_CONTENT_TYPES;
  if (req.body.length > 0) {
    const ct = req.get('content-type');
    if (ct !== undefined && !types.includes(mediaType(ct))) {
      return reject(415, `body type ${mediaType(ct)} not supported`, req, [['Accept', types.join(', ')]]);
    }
  }
  const accepts = req.has('accept') ? req.elements('accept').map(mediaType) : null;
  if (accepts !== null && accepts.length > 0 && (req.method === 'INVITE' || req.method === 'OPTIONS')) {
    const ok = accepts.some((a) => a === '*/*' || a === 'application/*' || a === 'application/sdp');
    if (!ok) return reject(406, 'no acceptable body type in Accept', req, [['Accept', 'application/sdp']]);
  }
  return null;
}

function checkResponse(res: SipResponse): Verdict {
  // a response that cannot be matched or routed is dropped (RFC 3261 §18.1.2)
  if (res.version.toUpperCase() !== 'SIP/2.0') return drop(`SIP version ${res.version} in a response`, res);
  const vias = res.vias();
  if (vias.length === 0) return drop('response without Via', res);
  // RFC 4475 §3.3.10: a response aimed at a broadcast address is an attack vector
  for (const v of vias) {
    if (v.host === '255.255.255.255' || v.received === '255.255.255.255' || v.param('maddr') === '255.255.255.255') {
      return drop('Via with a broadcast address', res);
    }
  }
  res.from();
  res.to();
  res.callId();
  res.cseq();
  if (res.has('contact')) res.contacts();
  res.recordRoutes();
  checkContentType(res);
  return accept(res);
}
