/**
 * URIs (RFC 3261 §19.1, §25.1; IPv6 references per RFC 5118 / RFC 3986).
 * SIP and SIPS URIs are parsed into parts; other schemes (tel, urn, …) are kept
 * opaque with only their generic syntax checked. Parts keep their escaped form as
 * written, so `toString()` of an unchanged URI is byte-exact.
 */
import { isIP } from 'node:net';
import { parseError } from './errors.js';
import { ALPHA, DIGIT, HEX, HNV_CHARS, PARAM_CHARS, PASSWORD_CHARS, USER_CHARS } from './grammar.js';
import type { Param } from './params.js';
import { findParam, setParamIn, withoutParam } from './params.js';

export type HostType = 'ipv4' | 'ipv6' | 'name';

export class SipUri {
  constructor(
    public scheme: 'sip' | 'sips',
    public user: string | null,
    public password: string | null,
    /** As written; an IPv6 reference includes its brackets. */
    public host: string,
    public hostType: HostType,
    public port: number | null,
    public params: Param[] = [],
    /** Everything after '?', as written, or null. */
    public headers: string | null = null,
  ) {}

  get isSip(): true {
    return true;
  }

  param(name: string): string | null | undefined {
    const p = findParam(this.params, name);
    return p ? p.value : undefined;
  }

  hasParam(name: string): boolean {
    return findParam(this.params, name) !== undefined;
  }

  setParam(name: string, value: string | null): void {
    setParamIn(this.params, name, value);
  }

  removeParam(name: string): void {
    this.params = withoutParam(this.params, name);
  }

  /** Host without IPv6 brackets, lower-cased (for comparisons and sockets). */
  get hostname(): string {
    const h = this.hostType === 'ipv6' ? this.host.slice(1, -1) : this.host;
    return h.toLowerCase();
  }

  /** The `transport` parameter, lower-cased, if any. */
  get transport(): string | undefined {
    const t = this.param('transport');
    return typeof t === 'string' ? t.toLowerCase() : undefined;
  }

  clone(): SipUri {
    return new SipUri(this.scheme, this.user, this.password, this.host, this.hostType, this.port,
      this.params.map((p) => ({ ...p })), this.headers);
  }

  toString(): string {
    let s = `${this.scheme}:`;
    if (this.user !== null) {
      s += this.user;
      if (this.password !== null) s += `:${this.password}`;
      s += '@';
    }
    s += this.host;
    if (this.port !== null) s += `:${this.port}`;
    for (const p of this.params) s += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
    if (this.headers !== null) s += `?${this.headers}`;
    return s;
  }
}

/** A URI of a scheme other than sip/sips, kept as written. */
export class OpaqueUri {
  constructor(
    public scheme: string,
    public rest: string,
  ) {}
  get isSip(): false {
    return false;
  }
  toString(): string {
    return `${this.scheme}:${this.rest}`;
  }
}

export type Uri = SipUri | OpaqueUri;

function checkChars(s: string, allowed: Uint8Array, what: string): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      // escaped = "%" HEXDIG HEXDIG
      if (HEX[s.charCodeAt(i + 1)] !== 1 || HEX[s.charCodeAt(i + 2)] !== 1) throw parseError('uri', `bad escape in ${what}`);
      i += 2;
    } else if (c > 255 || allowed[c] !== 1) {
      throw parseError('uri', `invalid character ${JSON.stringify(s[i])} in ${what}`);
    }
  }
}

/** IPv4address: four dec-octets 0-255 without leading zeros (RFC 3986 §3.2.2). */
function isIPv4(h: string): boolean {
  const n = h.length;
  let i = 0;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (h.charCodeAt(i) !== 0x2e) return false;
      i++;
    }
    const a = i;
    let v = 0;
    for (let c = h.charCodeAt(i); i < n && c >= 0x30 && c <= 0x39; c = h.charCodeAt(++i)) v = v * 10 + (c - 0x30);
    const len = i - a;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && h.charCodeAt(a) === 0x30)) return false;
  }
  return i === n;
}

/** Classify and validate a host (hostname / IPv4address / IPv6reference). */
export function hostType(host: string): HostType | null {
  if (host.charCodeAt(0) === 0x5b) {
    if (host.charCodeAt(host.length - 1) !== 0x5d) return null;
    const a = host.slice(1, -1);
    // RFC 5118 §4.8: tolerate the extra colon RFC 3261's IPv6 ABNF allowed ("::::" → "::")
    return isIP(a) === 6 || isIP(a.replace(/:::+/, '::')) === 6 ? 'ipv6' : null;
  }
  const c0 = host.charCodeAt(0);
  if (c0 >= 0x30 && c0 <= 0x39 && isIPv4(host)) return 'ipv4';
  return isHostname(host) ? 'name' : null;
}

/**
 * hostname = *( domainlabel "." ) toplabel [ "." ] with labels of alphanum and
 * inner '-' ('_' tolerated); all-digit names (broken dotted quads) are refused.
 */
function isHostname(h: string): boolean {
  const n = h.length;
  if (n === 0 || n > 255) return false;
  let labelStart = 0;
  let allDigits = true;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? h.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (i === labelStart) return i === n && i > 0 && !allDigits; // empty label only as the trailing dot
      if (h.charCodeAt(i - 1) === 0x2d) return false;
      labelStart = i + 1;
      continue;
    }
    if (c >= 0x30 && c <= 0x39) continue;
    allDigits = false;
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f) continue;
    if (c === 0x2d && i !== labelStart) continue;
    return false;
  }
  return !allDigits;
}

/** Split "host[:port]" (host may be an IPv6 reference). */
export function splitHostPort(s: string, what: string): { host: string; type: HostType; port: number | null } {
  let host: string;
  let rest: string;
  if (s.charCodeAt(0) === 0x5b) {
    const e = s.indexOf(']');
    if (e < 0) throw parseError('uri', `unterminated IPv6 reference in ${what}`);
    host = s.slice(0, e + 1);
    rest = s.slice(e + 1);
  } else {
    const c = s.indexOf(':');
    host = c < 0 ? s : s.slice(0, c);
    rest = c < 0 ? '' : s.slice(c);
  }
  const type = hostType(host);
  if (type === null) throw parseError('uri', `invalid host '${host}' in ${what}`);
  let port: number | null = null;
  if (rest.length > 0) {
    if (rest.charCodeAt(0) !== 0x3a) throw parseError('uri', `unexpected text after host in ${what}`);
    const p = rest.slice(1);
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw parseError('uri', `invalid port '${p}' in ${what}`);
    port = Number(p);
  }
  return { host, type, port };
}

function parseUriParams(s: string, from: number, to: number): Param[] {
  const out: Param[] = [];
  let i = from;
  while (i <= to) {
    let e = s.indexOf(';', i);
    if (e < 0 || e > to) e = to;
    if (e === i) throw parseError('uri', 'empty URI parameter');
    let eq = s.indexOf('=', i);
    if (eq >= e) eq = -1;
    const name = s.slice(i, eq < 0 ? e : eq);
    if (name.length === 0) throw parseError('uri', 'empty URI parameter name');
    checkChars(name, PARAM_CHARS, 'URI parameter');
    let value: string | null = null;
    if (eq >= 0) {
      value = s.slice(eq + 1, e);
      if (value.length === 0) throw parseError('uri', `empty value of URI parameter '${name}'`);
      checkChars(value, PARAM_CHARS, 'URI parameter');
    }
    out.push({ name, value });
    i = e + 1;
  }
  return out;
}

function isScheme(s: string): boolean {
  if (s.length === 0 || ALPHA[s.charCodeAt(0)] !== 1) return false;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (ALPHA[c] !== 1 && DIGIT[c] !== 1 && c !== 0x2b && c !== 0x2d && c !== 0x2e) return false;
  }
  return true;
}

/** Parse any absolute URI; SIP/SIPS into parts. Throws SipParseError ('uri'). */
export function parseUri(s: string): Uri {
  const colon = s.indexOf(':');
  if (colon <= 0) throw parseError('uri', 'URI without scheme');
  const scheme = s.slice(0, colon);
  // fast path for the common lower-case schemes
  const lower = scheme === 'sip' || scheme === 'sips' ? scheme : isScheme(scheme) ? scheme.toLowerCase() : null;
  if (lower === null) throw parseError('uri', `invalid URI scheme '${scheme}'`);
  if (lower !== 'sip' && lower !== 'sips') {
    const rest = s.slice(colon + 1);
    if (rest.length === 0) throw parseError('uri', 'empty URI');
    for (let i = 0; i < rest.length; i++) {
      const c = rest.charCodeAt(i);
      // no whitespace, controls, or delimiters that end a URI in a header
      if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x22) throw parseError('uri', 'invalid character in URI');
    }
    return new OpaqueUri(scheme, rest);
  }
  // index-based scan: slice only the parts kept
  const n = s.length;
  let i = colon + 1;
  let end = n;
  let headers: string | null = null;
  // '@' cannot appear unescaped in user, host, params or headers: the first one ends userinfo
  const at = s.indexOf('@', i);
  const q = s.indexOf('?', at < 0 ? i : at + 1);
  if (q >= 0) {
    headers = s.slice(q + 1);
    end = q;
    if (headers.length === 0) throw parseError('uri', 'empty URI headers');
    for (const h of headers.split('&')) {
      const eq = h.indexOf('=');
      if (eq <= 0) throw parseError('uri', 'bad URI header');
      checkChars(h.slice(0, eq), HNV_CHARS, 'URI header name');
      checkChars(h.slice(eq + 1), HNV_CHARS, 'URI header value');
    }
  }
  let user: string | null = null;
  let password: string | null = null;
  if (at >= 0) {
    const at2 = s.indexOf('@', at + 1);
    if (at2 >= 0 && at2 < end) throw parseError('uri', "unescaped '@' in URI");
    let pc = s.indexOf(':', i);
    if (pc > at) pc = -1;
    user = s.slice(i, pc < 0 ? at : pc);
    if (user.length === 0) throw parseError('uri', 'empty user part');
    checkChars(user, USER_CHARS, 'user part');
    if (pc >= 0) {
      password = s.slice(pc + 1, at);
      checkChars(password, PASSWORD_CHARS, 'password');
    }
    i = at + 1;
  }
  let semi = s.indexOf(';', i);
  if (semi < 0 || semi > end) semi = end;
  // host: IPv6 reference or up to ':' / ';'
  let hostEnd: number;
  if (s.charCodeAt(i) === 0x5b) {
    const close = s.indexOf(']', i);
    if (close < 0 || close >= semi) throw parseError('uri', 'unterminated IPv6 reference in URI');
    hostEnd = close + 1;
  } else {
    hostEnd = s.indexOf(':', i);
    if (hostEnd < 0 || hostEnd > semi) hostEnd = semi;
  }
  const host = s.slice(i, hostEnd);
  const type = hostType(host);
  if (type === null) throw parseError('uri', `invalid host '${host}' in URI`);
  let port: number | null = null;
  if (hostEnd < semi) {
    if (s.charCodeAt(hostEnd) !== 0x3a) throw parseError('uri', 'unexpected text after host in URI');
    port = 0;
    const digits = semi - hostEnd - 1;
    if (digits < 1 || digits > 5) throw parseError('uri', `invalid port '${s.slice(hostEnd + 1, semi)}' in URI`);
    for (let k = hostEnd + 1; k < semi; k++) {
      const c = s.charCodeAt(k);
      if (c < 0x30 || c > 0x39) throw parseError('uri', `invalid port '${s.slice(hostEnd + 1, semi)}' in URI`);
      port = port * 10 + (c - 0x30);
    }
    if (port > 65535) throw parseError('uri', `invalid port '${port}' in URI`);
  }
  const params = semi < end ? parseUriParams(s, semi + 1, end) : [];
  return new SipUri(lower === 'sips' ? 'sips' : 'sip', user, password, host, type, port, params, headers);
}

/** Decode %HH escapes (for comparing user parts; RFC 3261 §19.1.4). */
export function unescapeUri(s: string): string {
  if (s.indexOf('%') < 0) return s;
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
}
