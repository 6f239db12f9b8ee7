/**
 * Message parser (RFC 3261 §7, §25). Splits the start line and header lines, keeps
 * every header verbatim, and frames the body. Header values are parsed later, on
 * demand (see SipMessageBase accessors). Throws only SipParseError; when the header
 * section could be read, the error carries the partly parsed message so the caller
 * can still answer 400 (RFC 4475 §3.1.2).
 */
import { SipParseError, parseError } from '../message/errors.js';
import { isToken } from '../message/grammar.js';
import { headerKey, knownHeaderKey } from '../message/header-names.js';
import type { HeaderField, SipMessage } from '../message/message.js';
import { SipMessageBase, SipRequest, SipResponse } from '../message/message.js';

export type Framing = 'datagram' | 'stream';

export interface ParseOptions {
  /**
   * 'datagram' (UDP, default): the buffer is one datagram; Content-Length is checked
   * against it (larger → 400, smaller → trailing octets ignored, RFC 3261 §18.3).
   * 'stream': the buffer is exactly one message already framed by StreamFramer.
   */
  framing?: Framing;
}

/** A parse failure with whatever could be recovered of the message. */
export class SipMessageError extends SipParseError {
  constructor(
    base: SipParseError,
    /** The message as far as it could be parsed (headers readable), if any. */
    readonly partial: SipMessage | null,
  ) {
    super(base.code, base.message, base.status, base.header);
  }
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
/** The body of every message received without one (a zero-length Buffer holds nothing). */
const EMPTY_BODY = Buffer.alloc(0);
const LFLF = Buffer.from('\n\n');
const VERSION = /^SIP\/(\d+)\.(\d+)$/i;

interface HeadSplit {
  start: number; // index of the start line (after leading CRLFs)
  headEnd: number; // index of the empty line's first byte
  bodyStart: number;
}

/** Locate start line, end of headers and start of body in the bytes. */
export function findHead(buf: Buffer, from = 0): HeadSplit | null {
  let start = from;
  // RFC 3261 §7.5: ignore CRLF before the start line
  while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  while (start < buf.length && buf[start] === 0x0a) start++;
  const crlf = buf.indexOf(CRLFCRLF, start);
  if (crlf >= 0) return { start, headEnd: crlf, bodyStart: crlf + 4 };
  // tolerate bare-LF line ends (not RFC 3261, seen in hand-written tools)
  const lf = buf.indexOf(LFLF, start);
  if (lf >= 0) return { start, headEnd: lf, bodyStart: lf + 2 };
  return null;
}

export function parseMessage(buf: Buffer, opts: ParseOptions = {}): SipMessage {
  const framing = opts.framing ?? 'datagram';
  if (buf.length === 0) throw parseError('empty', 'empty message', undefined, null);
  const split = findHead(buf);
  if (split === null) {
    // no end of headers: a truncated datagram; still try to read what is there for a 400
    const partial = tryPartial(buf);
    throw new SipMessageError(parseError('incomplete', 'no empty line after the headers', undefined, partial?.kind === 'request' ? 400 : null), partial);
  }
  // header text is UTF-8 (RFC 3261 §7.3.1); bytes that are not valid UTF-8 are kept
  // as latin1 so that the message still round-trips byte for byte
  let head = buf.toString('utf8', split.start, split.headEnd);
  let encoding: 'utf8' | 'latin1' = 'utf8';
  if (head.indexOf('\uFFFD') >= 0 && !isUtf8(buf.subarray(split.start, split.headEnd))) {
    head = buf.toString('latin1', split.start, split.headEnd);
    encoding = 'latin1';
  }
  // offsets in the head text are byte offsets when every character is one byte
  const aligned = head.length === split.headEnd - split.start;
  const { msg, error } = parseHead(head, aligned ? (split.bodyStart - split.headEnd) / 2 : -1);
  if (msg === null) throw new SipMessageError(error!, null);

  // body framing by Content-Length (RFC 3261 §18.3, §20.14)
  let clError: SipParseError | null = null;
  let bodyEnd = buf.length;
  let cl: string | undefined;
  let clCount = 0;
  for (const h of msg.headers) {
    if (h.key === 'content-length') {
      clCount++;
      cl = h.value;
    }
  }
  if (clCount > 1) clError = parseError('content-length', 'more than one Content-Length', 'content-length');
  else if (cl !== undefined) {
    if (!/^\d{1,10}$/.test(cl)) clError = parseError('content-length', `invalid Content-Length '${cl}'`, 'content-length');
    else {
      const n = Number(cl);
      const available = buf.length - split.bodyStart;
      if (n > available) {
        if (framing === 'datagram') clError = parseError('body-truncated', `Content-Length ${n} larger than the ${available} body bytes received`, 'content-length');
      } else bodyEnd = split.bodyStart + n;
    }
  }
  const body = bodyEnd === split.bodyStart ? EMPTY_BODY : buf.subarray(split.bodyStart, bodyEnd);
  // raw bytes for byte-exact forwarding: the message itself, without leading CRLFs or trailing octets
  SipMessageBase.adoptRaw(msg, split.start === 0 && bodyEnd === buf.length ? buf : buf.subarray(split.start, bodyEnd), body, encoding, aligned ? startLen(head, split) : -1, split.bodyStart - split.headEnd === 4 ? '\r\n' : '\n');
  const err = error ?? clError;
  if (err) {
    throw new SipMessageError(msg.kind === 'response' ? new SipParseError(err.code, err.message, null, err.header) : err, msg);
  }
  return msg;
}

function isUtf8(b: Buffer): boolean {
  const f = (globalThis as { Buffer: { isUtf8?: (b: Buffer) => boolean } }).Buffer.isUtf8;
  if (f) return f(b);
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

/** Byte length of the start line with its line end (head is byte-aligned). */
function startLen(head: string, split: HeadSplit): number {
  const eol = head.indexOf('\n');
  return eol >= 0 ? eol + 1 : head.length + (split.bodyStart - split.headEnd) / 2;
}

/** The number of the three digits at `i`, or -1. */
function threeDigits(s: string, i: number): number {
  const a = s.charCodeAt(i) - 0x30;
  const b = s.charCodeAt(i + 1) - 0x30;
  const c = s.charCodeAt(i + 2) - 0x30;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9 ? a * 100 + b * 10 + c : -1;
}

function tryPartial(buf: Buffer): SipMessage | null {
  const text = buf.toString('latin1');
  const { msg } = parseHead(text.replace(/(\r?\n)+$/, ''), -1);
  return msg;
}

/**
 * Parse start line and header lines of the (already unframed) head text.
 * `lastEol` ≥ 0: the head is byte-aligned and its last line's end (CRLF = 2,
 * LF = 1) follows it; header byte offsets are recorded. -1: not recorded.
 */
function parseHead(head: string, lastEol: number): { msg: SipMessage | null; error: SipParseError | null } {
  let eol = head.indexOf('\n');
  if (eol < 0) eol = head.length;
  const startLine = head.charCodeAt(eol - 1) === 0x0d ? head.slice(0, eol - 1) : head.slice(0, eol);
  const headers: HeaderField[] = [];
  let error: SipParseError | null = null;
  let pos = eol + 1;
  let prevStart = pos; // start of the last header line, to extend its raw text over folding
  const n = head.length;
  while (pos < n) {
    let e = head.indexOf('\n', pos);
    if (e < 0) e = n;
    const lineEnd = e > pos && head.charCodeAt(e - 1) === 0x0d ? e - 1 : e;
    const c0 = head.charCodeAt(pos);
    if (c0 === 0x20 || c0 === 0x09) {
      // folded continuation (LWS = [*WSP CRLF] 1*WSP): joins the previous header with one SP
      const prev = headers[headers.length - 1];
      const cont = head.slice(pos, lineEnd).trim();
      if (prev === undefined) error ??= parseError('header-line', 'continuation line before any header');
      else {
        prev.value = prev.value.length === 0 ? cont : cont.length === 0 ? prev.value : `${prev.value} ${cont}`;
        prev.raw = head.slice(prevStart, lineEnd);
        if (prev.at >= 0) prev.end = e < n ? e + 1 : n + lastEol;
      }
    } else {
      const colon = head.indexOf(':', pos);
      if (colon < 0 || colon >= lineEnd) {
        error ??= parseError('header-line', `header line without ':' (${JSON.stringify(head.slice(pos, Math.min(lineEnd, pos + 40)))})`);
      } else {
        let ne = colon;
        while (ne > pos && (head.charCodeAt(ne - 1) === 0x20 || head.charCodeAt(ne - 1) === 0x09)) ne--;
        const name = head.slice(pos, ne);
        // a name the fast path knows is a token already; others are checked
        const known = knownHeaderKey(name);
        if (known === undefined && !isToken(name)) error ??= parseError('header-line', `invalid header name ${JSON.stringify(name)}`);
        else {
          let vs = colon + 1;
          while (vs < lineEnd && (head.charCodeAt(vs) === 0x20 || head.charCodeAt(vs) === 0x09)) vs++;
          let ve = lineEnd;
          while (ve > vs && (head.charCodeAt(ve - 1) === 0x20 || head.charCodeAt(ve - 1) === 0x09)) ve--;
          // raw text is kept only when it differs from the canonical "Name: value"
          const canonical = ne === colon && vs === colon + 2 && head.charCodeAt(colon + 1) === 0x20 && ve === lineEnd;
          const at = lastEol >= 0 ? pos : -1;
          const end = lastEol < 0 ? -1 : e < n ? e + 1 : n + lastEol;
          headers.push({ name, key: known ?? headerKey(name), value: head.slice(vs, ve), raw: canonical ? null : head.slice(pos, lineEnd), at, end });
          prevStart = pos;
        }
      }
    }
    pos = e + 1;
  }

  // start line; the usual Status-Line first ("SIP/2.0 200 OK"), without slicing or regex
  if (startLine.startsWith('SIP/2.0 ') && (startLine.length === 11 || startLine.charCodeAt(11) === 0x20)) {
    const status = threeDigits(startLine, 8);
    if (status >= 100 && status <= 699) {
      const res = new SipResponse(status, startLine.length === 11 ? '' : startLine.slice(12), headers);
      return { msg: res, error };
    }
  }
  if (startLine.length >= 4 && (startLine.charCodeAt(0) | 0x20) === 0x73 && startLine.slice(0, 4).toUpperCase() === 'SIP/') {
    // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
    const sp1 = startLine.indexOf(' ');
    const version = sp1 < 0 ? startLine : startLine.slice(0, sp1);
    const rest = sp1 < 0 ? '' : startLine.slice(sp1 + 1);
    const sp2 = rest.indexOf(' ');
    const code = sp2 < 0 ? rest : rest.slice(0, sp2);
    const reason = sp2 < 0 ? '' : rest.slice(sp2 + 1);
    const res = new SipResponse(Number(code), reason, headers);
    res.version = version;
    if (!/^\d{3}$/.test(code) || Number(code) < 100 || Number(code) > 699) {
      return { msg: res, error: new SipParseError('status-code', `invalid status code '${code.slice(0, 20)}'`, null) };
    }
    if (!VERSION.test(version)) return { msg: res, error: new SipParseError('version', `invalid SIP version '${version}'`, null) };
    return { msg: res, error };
  }
  // Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1). Extra SPs
  // between or after the elements are tolerated and dropped on re-serialization
  // (RFC 4475 §3.1.2.10, §3.1.2.11).
  let parts = startLine.split(' ');
  const irregular = parts.length !== 3 || parts.some((p) => p.length === 0);
  if (irregular) parts = startLine.split(/ +/).filter((p) => p.length > 0);
  const method = parts[0] ?? '';
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
    const req = new SipRequest(isToken(method) ? method : 'INVALID', '', headers);
    if (startLine.length === 0 || !isToken(method)) return { msg: headers.length > 0 ? req : null, error: parseError('start-line', 'malformed start line') };
    return { msg: req, error: parseError('start-line', 'malformed Request-Line (SP separated Method, Request-URI, SIP-Version expected)') };
  }
  const [, uri = '', version = ''] = parts;
  const req = new SipRequest(method, uri, headers);
  req.version = version;
  if (irregular) req.normalized = true;
  if (!isToken(method)) return { msg: req, error: parseError('start-line', `invalid method '${method}'`) };
  if (!VERSION.test(version)) return { msg: req, error: parseError('start-line', `invalid SIP version '${version}'`) };
  return { msg: req, error };
}

