/**
 * Stream framing for TCP/TLS (RFC 3261 §18.3): messages are delimited by their
 * Content-Length, which is mandatory on streams. Handles partial reads, several
 * messages in one chunk, and RFC 5626 §3.5.1 keep-alives (CRLFCRLF ping → the
 * caller answers CRLF pong; a lone CRLF is a pong and is skipped). A framing error
 * is fatal for the connection: after it the stream position is unknown.
 */
import { SipParseError } from '../message/errors.js';
import { findHead } from './parse.js';

export type FramerEvent =
  | { type: 'message'; bytes: Buffer }
  | { type: 'ping' }
  | { type: 'pong' }
  | { type: 'error'; error: SipParseError; /** bytes of the offending message so far, to answer 400 when possible */ bytes: Buffer };

export interface StreamFramerOptions {
  /** Largest message accepted (headers + body), bytes. Default 65535. */
  maxMessageSize?: number;
}

const CL_LINE = /(?:^|\n)[ \t]*(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi;

export class StreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  private failed = false;
  readonly maxMessageSize: number;

  constructor(opts: StreamFramerOptions = {}) {
    this.maxMessageSize = opts.maxMessageSize ?? 65535;
  }

  /** Bytes received but not yet framed. */
  get pending(): number {
    return this.buf.length;
  }

  push(chunk: Buffer): FramerEvent[] {
    if (this.failed) return [];
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: FramerEvent[] = [];
    for (;;) {
      const b = this.buf;
      if (b.length === 0) break;
      if (b[0] === 0x0d || b[0] === 0x0a) {
        if (b.length >= 4 && b[0] === 0x0d && b[1] === 0x0a && b[2] === 0x0d && b[3] === 0x0a) {
          out.push({ type: 'ping' });
          this.buf = b.subarray(4);
          continue;
        }
        if (b.length >= 3 && b[0] === 0x0d && b[1] === 0x0a && b[2] !== 0x0d) {
          out.push({ type: 'pong' });
          this.buf = b.subarray(2);
          continue;
        }
        if (b[0] === 0x0a) {
          this.buf = b.subarray(1);
          continue;
        }
        if (b.length < 4) break; // wait: could become a ping
        this.buf = b.subarray(2);
        continue;
      }
      const head = findHead(b);
      if (head === null) {
        if (b.length > this.maxMessageSize) return this.fail(out, new SipParseError('too-large', 'header section larger than the limit', 513));
        break;
      }
      const text = b.toString('latin1', head.start, head.headEnd);
      let cl: string | undefined;
      let count = 0;
      CL_LINE.lastIndex = 0;
      for (let m = CL_LINE.exec(text); m !== null; m = CL_LINE.exec(text)) {
        cl = m[1]!.trim();
        count++;
      }
      if (count === 0) return this.fail(out, new SipParseError('content-length', 'Content-Length is mandatory on a stream transport', 400, 'content-length'));
      if (count > 1 || !/^\d{1,10}$/.test(cl!)) return this.fail(out, new SipParseError('content-length', 'invalid Content-Length', 400, 'content-length'));
      const total = head.bodyStart + Number(cl);
      if (total > this.maxMessageSize) return this.fail(out, new SipParseError('too-large', `message of ${total} bytes exceeds the limit`, 513));
      if (b.length < total) break;
      out.push({ type: 'message', bytes: b.subarray(0, total) });
      this.buf = b.subarray(total);
    }
    return out;
  }

  private fail(out: FramerEvent[], error: SipParseError): FramerEvent[] {
    this.failed = true;
    out.push({ type: 'error', error, bytes: this.buf });
    this.buf = Buffer.alloc(0);
    return out;
  }
}
