/** Via header values, RFC 3261 §20.42, §25.1 (via-parm), RFC 3581 (rport). */
import { isIP } from 'node:net';
import { parseError } from './errors.js';
import { TOKEN, isDigits, isToken, trimLws } from './grammar.js';
import type { Param } from './params.js';
import { eqLower, findParam, formatParams, parseHeaderParams, setParamIn, withoutParam } from './params.js';
import type { HostType } from './uri.js';
import { hostType } from './uri.js';
import { defaultPort } from './transports.js';

/** RFC 3261 §8.1.1.7: branch IDs of RFC 3261 elements start with this. */
export const MAGIC_COOKIE = 'z9hG4bK';

export class Via {
  constructor(
    public protocol: string,
    public version: string,
    /** Upper-case: UDP, TCP, TLS, SCTP, WS, WSS … */
    public transport: string,
    public host: string,
    public hostType: HostType,
    public port: number | null,
    public params: Param[] = [],
  ) {}

  param(name: string): string | null | undefined {
    const p = findParam(this.params, name);
    return p ? p.value : undefined;
  }

  setParam(name: string, value: string | null): void {
    setParamIn(this.params, name, value);
  }

  get branch(): string | undefined {
    const b = this.param('branch');
    return typeof b === 'string' ? b : undefined;
  }

  get received(): string | undefined {
    const r = this.param('received');
    return typeof r === 'string' ? r : undefined;
  }

  /** undefined: no rport; null: rport requested (empty); number: filled in. */
  get rport(): number | null | undefined {
    const p = findParam(this.params, 'rport');
    if (!p) return undefined;
    return p.value === null ? null : Number(p.value);
  }

  /** sent-by as "host:port" (port defaulted per transport). */
  get sentBy(): string {
    return `${this.host.toLowerCase()}:${this.port ?? defaultPort(this.transport)}`;
  }

  toString(): string {
    return `${this.protocol}/${this.version}/${this.transport} ${this.host}${this.port !== null ? `:${this.port}` : ''}${formatParams(this.params)}`;
  }
}

function skipWs(s: string, i: number): number {
  while (i < s.length && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
  return i;
}

/** Read a token at i; returns its end index (i when none). */
function tokenEnd(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] !== 1) break;
    i++;
  }
  return i;
}

function badProtocol(): Error {
  return parseError('header-value', 'malformed Via sent-protocol', 'via');
}

export function parseVia(value: string): Via {
  const v = trimLws(value);
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport (SLASH = SWS "/" SWS)
  const e1 = tokenEnd(v, 0);
  let i = skipWs(v, e1);
  if (e1 === 0 || v.charCodeAt(i) !== 0x2f) throw badProtocol();
  const s2 = skipWs(v, i + 1);
  const e2 = tokenEnd(v, s2);
  i = skipWs(v, e2);
  if (e2 === s2 || v.charCodeAt(i) !== 0x2f) throw badProtocol();
  const s3 = skipWs(v, i + 1);
  const e3 = tokenEnd(v, s3);
  if (e3 === s3) throw badProtocol();
  const protocol = v.slice(0, e1);
  const version = v.slice(s2, e2);
  const transport = v.slice(s3, e3);
  // LWS sent-by
  const hs = skipWs(v, e3);
  if (hs === e3) throw badProtocol();
  let semi = v.indexOf(';', hs);
  if (semi < 0) semi = v.length;
  let he = semi;
  while (he > hs && (v.charCodeAt(he - 1) === 0x20 || v.charCodeAt(he - 1) === 0x09)) he--;
  let host: string;
  let port: number | null = null;
  // sent-by = host [ COLON port ]; an IPv6 reference ends with ']'
  const close = v.charCodeAt(hs) === 0x5b ? v.indexOf(']', hs) : -1;
  const colon = v.indexOf(':', close >= 0 ? close : hs);
  if (colon >= 0 && colon < he) {
    let hend = colon;
    while (hend > hs && (v.charCodeAt(hend - 1) === 0x20 || v.charCodeAt(hend - 1) === 0x09)) hend--;
    host = v.slice(hs, hend);
    const p = v.slice(skipWs(v, colon + 1), he);
    if (p.length === 0 || p.length > 5 || !isDigits(p) || Number(p) > 65535) throw parseError('header-value', `invalid Via port '${p}'`, 'via');
    port = Number(p);
  } else host = v.slice(hs, he);
  const type = hostType(host);
  if (type === null) throw parseError('header-value', `invalid Via host '${host}'`, 'via');
  const rest = v.slice(semi);
  const params = parseHeaderParams(rest, 'via');
  for (const p of params) {
    const name = p.name;
    if (eqLower(name, 'branch')) {
      if (p.value === null || !isToken(p.value)) throw parseError('header-value', 'invalid Via branch', 'via');
    } else if (eqLower(name, 'received')) {
      if (p.value === null || (hostType(p.value) !== 'ipv4' && isIP(p.value.replace(/^\[|\]$/g, '')) === 0)) throw parseError('header-value', 'Via received is not an IP address', 'via');
    } else if (eqLower(name, 'rport')) {
      if (p.value !== null && (!/^\d{1,5}$/.test(p.value) || Number(p.value) > 65535)) throw parseError('header-value', 'invalid Via rport', 'via');
    } else if (eqLower(name, 'ttl')) {
      if (p.value === null || !/^\d{1,3}$/.test(p.value) || Number(p.value) > 255) throw parseError('header-value', 'invalid Via ttl', 'via');
    } else if (eqLower(name, 'maddr')) {
      if (p.value === null || hostType(p.value) === null) throw parseError('header-value', 'invalid Via maddr', 'via');
    }
  }
  const t = transport === 'UDP' || transport === 'TCP' || transport === 'TLS' ? transport : transport.toUpperCase();
  return new Via(protocol, version, t, host, type, port, params);
}
