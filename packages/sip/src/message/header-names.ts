/**
 * Header names: compact forms (RFC 3261 §7.3.3 and later RFCs), canonical
 * lower-case keys, and the spelling we use when we write a header ourselves.
 */

const COMPACT: Record<string, string> = {
  a: 'accept-contact', // RFC 3841
  b: 'referred-by', // RFC 3892
  c: 'content-type',
  d: 'request-disposition', // RFC 3841
  e: 'content-encoding',
  f: 'from',
  i: 'call-id',
  j: 'reject-contact', // RFC 3841
  k: 'supported',
  l: 'content-length',
  m: 'contact',
  n: 'identity-info', // RFC 4474
  o: 'event', // RFC 6665
  r: 'refer-to', // RFC 3515
  s: 'subject',
  t: 'to',
  u: 'allow-events', // RFC 6665
  v: 'via',
  x: 'session-expires', // RFC 4028
  y: 'identity', // RFC 4474
};

const PRETTY: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'rack': 'RAck',
  'rseq': 'RSeq',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
  'min-se': 'Min-SE', // RFC 4028
};

/** Fast path: exact spellings seen on the wire → canonical key. */
const EXACT = new Map<string, string>();
for (const [k, v] of Object.entries(COMPACT)) {
  EXACT.set(k, v);
  EXACT.set(k.toUpperCase(), v);
}
for (const n of [
  'Via', 'From', 'To', 'Call-ID', 'Call-Id', 'CSeq', 'Contact', 'Max-Forwards', 'Route', 'Record-Route',
  'Content-Length', 'Content-Type', 'Expires', 'User-Agent', 'Allow', 'Supported', 'Require', 'Proxy-Require',
  'Authorization', 'Proxy-Authorization', 'WWW-Authenticate', 'Proxy-Authenticate', 'Path', 'Server', 'Accept',
  'Subject', 'Date', 'Timestamp', 'Event', 'Session-Expires', 'Min-SE', 'Unsupported', 'Warning', 'Reason',
]) {
  EXACT.set(n, n.toLowerCase());
  EXACT.set(n.toLowerCase(), n.toLowerCase());
}

/** Canonical key (lower-case long form) of a header name as written. */
export function headerKey(name: string): string {
  const k = knownHeaderKey(name);
  if (k !== undefined) return k;
  if (name.length === 1) {
    const c = String.fromCharCode(name.charCodeAt(0) | 0x20);
    return COMPACT[c] ?? c;
  }
  const e = EXACT.get(name);
  if (e !== undefined) return e;
  const lower = name.toLowerCase();
  return COMPACT[lower] ?? lower;
}

/**
 * The key of the usual spellings (which are valid tokens), compared without
 * hashing the freshly sliced name; undefined for anything else.
 */
export function knownHeaderKey(name: string): string | undefined {
  switch (name.length) {
    case 1: {
      const c = name.charCodeAt(0) | 0x20;
      return c >= 0x61 && c <= 0x7a ? COMPACT[String.fromCharCode(c)] : undefined;
    }
    case 2:
      if (name === 'To') return 'to';
      break;
    case 3:
      if (name === 'Via') return 'via';
      break;
    case 4:
      if (name === 'From') return 'from';
      if (name === 'CSeq') return 'cseq';
      if (name === 'Path') return 'path';
      break;
    case 5:
      if (name === 'Route') return 'route';
      if (name === 'Allow') return 'allow';
      break;
    case 7:
      if (name === 'Call-ID') return 'call-id';
      if (name === 'Contact') return 'contact';
      if (name === 'Expires') return 'expires';
      if (name === 'Call-Id') return 'call-id';
      break;
    case 9:
      if (name === 'Supported') return 'supported';
      break;
    case 10:
      if (name === 'User-Agent') return 'user-agent';
      break;
    case 12:
      if (name === 'Max-Forwards') return 'max-forwards';
      if (name === 'Record-Route') return 'record-route';
      if (name === 'Content-Type') return 'content-type';
      break;
    case 13:
      if (name === 'Authorization') return 'authorization';
      break;
    case 14:
      if (name === 'Content-Length') return 'content-length';
      break;
  }
  return undefined;
}

const PRETTY_MEMO = new Map<string, string>();

/** The spelling we use when creating a header: `Call-ID`, `CSeq`, `Max-Forwards` … */
export function prettyName(name: string): string {
  const memo = PRETTY_MEMO.get(name);
  if (memo !== undefined) return memo;
  const key = headerKey(name);
  const p = PRETTY[key] ?? key.replace(/(^|-)([a-z])/g, (_m, d: string, c: string) => d + c.toUpperCase());
  if (PRETTY_MEMO.size < 1000) PRETTY_MEMO.set(name, p); // bounded: names can come from the network
  return p;
}

/** Headers that may appear once only (RFC 3261 §20; RFC 4475 §3.3.8). */
export const SINGLE_VALUED = new Set([
  'call-id', 'cseq', 'from', 'to', 'max-forwards', 'content-length', 'content-type', 'expires', 'min-expires',
  'content-encoding', 'mime-version', 'date', 'timestamp', 'organization', 'priority', 'reply-to', 'retry-after',
  'server', 'subject', 'user-agent', 'session-expires', 'min-se', 'rseq', 'rack', 'event', 'refer-to',
]);

/** Headers whose values are comma-separated lists (so multiple lines may be combined). */
export const LIST_VALUED = new Set([
  'via', 'contact', 'route', 'record-route', 'path', 'service-route', 'allow', 'supported', 'require',
  'proxy-require', 'unsupported', 'accept', 'accept-encoding', 'accept-language', 'content-language',
  'allow-events', 'in-reply-to', 'warning', 'alert-info', 'call-info', 'error-info', 'p-asserted-identity',
  'p-preferred-identity', 'history-info', 'reason', 'security-client', 'security-server', 'security-verify',
]);
