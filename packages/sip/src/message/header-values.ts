/**
 * Parsers of single header values (RFC 3261 §25.1), used by the message's lazy
 * accessors and usable on their own. Each throws SipParseError naming the header.
 */
import { parseError } from './errors.js';
import { isDigits, isToken, WORD } from './grammar.js';
import type { NameAddr } from './name-addr.js';
import { parseNameAddr } from './name-addr.js';

export interface CSeq {
  seq: number;
  method: string;
}

const MAX_CSEQ = 2 ** 31 - 1; // RFC 3261 §8.1.1.5

/** Leading zeros are valid in numbers (RFC 4475 §3.1.1.1). */
const stripZeros = (d: string): string => d.replace(/^0+(?=\d)/, '');

/** callid = word [ "@" word ] */
export function parseCallId(v: string): string {
  const at = v.indexOf('@');
  const parts = at < 0 ? [v] : [v.slice(0, at), v.slice(at + 1)];
  for (const p of parts) {
    if (p.length === 0) throw parseError('header-value', 'invalid Call-ID', 'call-id');
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c > 255 || WORD[c] !== 1) throw parseError('header-value', 'invalid Call-ID', 'call-id');
    }
  }
  return v;
}

/** CSeq = 1*DIGIT LWS Method, the number below 2^31. */
export function parseCSeq(v: string): CSeq {
  const n = v.length;
  let i = 0;
  while (i < n && v.charCodeAt(i) === 0x30) i++; // leading zeros
  const d = i;
  let seq = 0;
  for (let c = v.charCodeAt(i); i < n && c >= 0x30 && c <= 0x39; c = v.charCodeAt(++i)) seq = seq * 10 + (c - 0x30);
  const ws = i;
  while (i < n && (v.charCodeAt(i) === 0x20 || v.charCodeAt(i) === 0x09)) i++;
  if (ws === 0 || i === ws || i === n || !isToken(v.slice(i))) throw parseError('header-value', 'malformed CSeq', 'cseq');
  if (ws - d > 10 || seq > MAX_CSEQ) throw parseError('header-value', 'CSeq number too large', 'cseq');
  return { seq, method: v.slice(i) };
}

/** Max-Forwards = 1*DIGIT, 0–255. */
export function parseMaxForwards(v: string): number {
  const d = stripZeros(v);
  if (!isDigits(v) || d.length > 3 || Number(d) > 255) throw parseError('header-value', 'invalid Max-Forwards', 'max-forwards');
  return Number(d);
}

/** delta-seconds (Expires, Min-Expires …); beyond 2^32-1 is malformed here (§20.19). */
export function parseDeltaSeconds(v: string, header = 'expires'): number {
  if (!isDigits(v)) throw parseError('header-value', `invalid ${header}`, header);
  const d = stripZeros(v);
  if (d.length > 10 || Number(d) > 0xffffffff) throw parseError('header-value', `${header} too large`, header);
  return Number(d);
}

/** Contact values, or '*' for the REGISTER wildcard (§10.2.2). */
export function parseContacts(elements: string[]): NameAddr[] | '*' {
  if (elements.length === 1 && elements[0] === '*') return '*';
  return elements.map((e) => {
    if (e === '*') throw parseError('header-value', "'*' mixed with other Contacts", 'contact');
    return parseNameAddr(e, 'contact');
  });
}

/** option-tag = token (Require, Proxy-Require, Supported, Unsupported). */
export function parseOptionTags(elements: string[], header: string): string[] {
  for (const t of elements) if (!isToken(t)) throw parseError('header-value', `invalid option tag '${t}'`, header);
  return elements;
}
