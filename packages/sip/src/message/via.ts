/** Via header values, RFC 3261 §20.42, §25.1 (via-parm), RFC 3581 (rport). */
import { isIP } from 'node:net';
import { parseError } from './errors.js';
import { isToken, trimLws } from './grammar.js';
import type { Param } from './params.js';
import { findParam, formatParams, parseHeaderParams } from './params.js';
import type { HostType } from './uri.js';
import { hostType } from './uri.js';

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
    const p = findParam(this.params, name);
    if (p) p.value = value;
    else this.params.push({ name, value });
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
    return `${this.host.toLowerCase()}:${this.port ?? (this.transport === 'TLS' ? 5061 : 5060)}`;
  }

  toString(): string {
    return `${this.protocol}/${this.version}/${this.transport} ${this.host}${this.port !== null ? `:${this.port}` : ''}${formatParams(this.params)}`;
  }
}

const PROTO = /^([^\s/]+)[ \t]*\/[ \t]*([^\s/]+)[ \t]*\/[ \t]*([^\s/;]+)[ \t]+/;

export function parseVia(value: string): Via {
  const v = trimLws(value);
  const m = PROTO.exec(v);
  if (!m) throw parseError('header-value', 'malformed Via sent-protocol', 'via');
  const [, protocol = '', version = '', transport = ''] = m;
  if (!isToken(protocol) || !isToken(version) || !isToken(transport)) {
    throw parseError('header-value', 'malformed Via sent-protocol', 'via');
  }
  let rest = v.slice(m[0].length);
  const semi = rest.indexOf(';');
  // COLON = SWS ":" SWS, so whitespace around the port separator is allowed
  const sentBy = (semi < 0 ? rest : rest.slice(0, semi)).replace(/[ \t]*:[ \t]*(\d+)[ \t]*$/, ':$1').trim();
  rest = semi < 0 ? '' : rest.slice(semi);
  let host: string;
  let port: number | null = null;
  const close = sentBy.lastIndexOf(']');
  const colon = sentBy.lastIndexOf(':');
  if (sentBy.charCodeAt(0) === 0x5b ? colon > close : colon >= 0) {
    host = sentBy.slice(0, colon);
    const p = sentBy.slice(colon + 1);
    if (!/^\d{1,5}$/.test(p) || Number(p) > 65535) throw parseError('header-value', `invalid Via port '${p}'`, 'via');
    port = Number(p);
  } else host = sentBy;
  const type = hostType(host);
  if (type === null) throw parseError('header-value', `invalid Via host '${host}'`, 'via');
  const params = parseHeaderParams(rest, 'via');
  for (const p of params) {
    const n = p.name.toLowerCase();
    if (n === 'received') {
      if (p.value === null || isIP(p.value.replace(/^\[|\]$/g, '')) === 0) throw parseError('header-value', 'Via received is not an IP address', 'via');
    } else if (n === 'branch') {
      if (p.value === null || !isToken(p.value)) throw parseError('header-value', 'invalid Via branch', 'via');
    } else if (n === 'rport') {
      if (p.value !== null && (!/^\d{1,5}$/.test(p.value) || Number(p.value) > 65535)) throw parseError('header-value', 'invalid Via rport', 'via');
    } else if (n === 'ttl') {
      if (p.value === null || !/^\d{1,3}$/.test(p.value) || Number(p.value) > 255) throw parseError('header-value', 'invalid Via ttl', 'via');
    } else if (n === 'maddr') {
      if (p.value === null || hostType(p.value) === null) throw parseError('header-value', 'invalid Via maddr', 'via');
    }
  }
  return new Via(protocol, version, transport.toUpperCase(), host, type, port, params);
}
