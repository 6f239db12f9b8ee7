/** Building messages from others (RFC 3261 §8.2.6 responses). */
import type { HeaderField } from './message.js';
import type { SipRequest } from './message.js';
import { SipResponse } from './message.js';
import { reasonPhrase } from './reasons.js';

export interface ResponseOptions {
  reason?: string;
  /** To-tag to add when the request's To has none (not added to 100 Trying). */
  toTag?: string;
  headers?: Array<[string, string]>;
  body?: Buffer | string;
  contentType?: string;
  /** Copy Record-Route (a UAS answering a dialog-creating request, §12.1.1). */
  copyRecordRoute?: boolean;
}

const COPIED = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

/**
 * A response to `req` (RFC 3261 §8.2.6.2): Via (all values, in order), From, To,
 * Call-ID and CSeq copied; the To-tag added when asked and absent; Timestamp echoed
 * in 100 (§8.2.6.1). Works on partly parsed requests too (for 400 answers): header
 * lines are copied as text, not re-parsed.
 */
export function createResponse(req: SipRequest, status: number, opts: ResponseOptions = {}): SipResponse {
  const headers: HeaderField[] = [];
  for (const h of req.headers) {
    if (COPIED.has(h.key) || (opts.copyRecordRoute && h.key === 'record-route') || (status === 100 && h.key === 'timestamp')) {
      let value = h.value;
      if (h.key === 'to' && opts.toTag !== undefined && status !== 100 && !hasTag(value)) value = `${value};tag=${opts.toTag}`;
      headers.push({ name: h.name.length === 1 ? longName(h.key) : h.name, key: h.key, value, raw: null, at: -1, end: -1 });
    }
  }
  const res = new SipResponse(status, opts.reason ?? reasonPhrase(status), headers);
  for (const [n, v] of opts.headers ?? []) res.append(n, v);
  if (opts.body !== undefined) res.setBody(opts.body, opts.contentType);
  return res;
}

function hasTag(toValue: string): boolean {
  // the header parameters follow '>' (name-addr) or the first ';' (addr-spec)
  const gt = toValue.lastIndexOf('>');
  const params = gt >= 0 ? toValue.slice(gt + 1) : toValue.slice(Math.max(0, toValue.indexOf(';')));
  return /;[ \t]*tag[ \t]*=/i.test(params);
}

function longName(key: string): string {
  switch (key) {
    case 'via': return 'Via';
    case 'from': return 'From';
    case 'to': return 'To';
    case 'call-id': return 'Call-ID';
    default: return key;
  }
}

