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
import type { Framing } from '../parser/parse.js';
import { SipMessageError, parseMessage } from '../parser/parse.js';
import { StreamFramer } from '../parser/stream-framer.js';

export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss' | 'sctp';

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
  transport?: TransportName;
  /** 'lb' (default): proxy/edge checks. 'uas': also the checks of a UAS. */
  role?: 'lb' | 'uas';
  /** Request-URI schemes served (others get 416). Default sip, sips, tel. */
  schemes?: readonly string[];
  /** Option tags this element supports in Proxy-Require (lb) / Require (uas). */
  supported?: readonly string[];
  /** uas: body types understood (415 otherwise). */
  contentTypes?: readonly string[];
  /** Largest message accepted, bytes (513 beyond). Default 65535. */
  maxMessageSize?: number;
}

const DEFAULT_SCHEMES = ['sip', 'sips', 'tel'];
const DEFAULT_UAS_SUPPORTED = ['path', 'outbound', 'gruu', '100rel', 'timer', 'replaces', 'norefersub'];
const DEFAULT_CONTENT_TYPES = ['application/sdp', 'multipart/mixed', 'multipart/alternative', 'application/dtmf-relay', 'application/dtmf', 'message/sipfrag', 'application/simple-message-summary', 'text/plain'];

const accept = (message: SipMessage, reason = 'ok'): Verdict => ({ action: 'accept', message, reason });
const drop = (reason: string, message: SipMessage | null): Verdict => ({ action: 'drop', reason, message });
const reject = (status: number, reason: string, message: SipMessage | null, responseHeaders: Array<[string, string]> = []): Verdict => ({
  action: 'reject', status, reason, message, responseHeaders,
});

/** Frame, parse and check raw bytes received on `transport`. */
export function inspect(bytes: Buffer, opts: InspectOptions = {}): Verdict {
  const transport = opts.transport ?? 'udp';
  const framing: Framing = transport === 'udp' || transport === 'sctp' ? 'datagram' : 'stream';
  const max = opts.maxMessageSize ?? 65535;
  let msgBytes = bytes;
  if (framing === 'stream') {
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

/** A response can be sent only if the top Via is readable. */
function canAnswer(m: SipMessage): boolean {
  try {
    return m.vias().length > 0;
  } catch {
    return false;
  }
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
  if (cseq.method !== req.method) return reject(400, `CSeq method ${cseq.method} does not match ${req.method}`, req);
  // Request-URI (RFC 3261 §8.2.2.1, §16.3 step 2): scheme first
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(req.uri)?.[1]?.toLowerCase();
  if (scheme === undefined) return reject(400, 'malformed Request-URI', req);
  if (!(opts.schemes ?? DEFAULT_SCHEMES).includes(scheme)) return reject(416, `URI scheme '${scheme}' not supported`, req);
  req.requestUri();
  const mf = req.maxForwards();
  if (req.has('contact')) {
    const c = req.contacts();
    if (c === '*' && (req.method !== 'REGISTER' || req.expires() !== 0)) return reject(400, "Contact '*' is only allowed in REGISTER with Expires: 0", req);
  }
  req.routes();
  req.recordRoutes();
  req.expires();
  checkContentType(req);
  // Proxy-Require (RFC 3261 §16.3 step 5) — only option tags we know pass a proxy
  const role = opts.role ?? 'lb';
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
  if (res.vias().length === 0) return drop('response without Via', res);
  res.from();
  res.to();
  res.callId();
  res.cseq();
  if (res.has('contact')) res.contacts();
  res.recordRoutes();
  checkContentType(res);
  return accept(res);
}
