/**
 * Parsing of WWW-Authenticate / Proxy-Authenticate (challenge) and Authorization /
 * Proxy-Authorization (credentials) header values — RFC 3261 §25.1:
 *
 *   challenge    = ("Digest" LWS digest-cln *(COMMA digest-cln)) / other-challenge
 *   credentials  = ("Digest" LWS digest-response) / other-response
 *   auth-param   = auth-param-name EQUAL ( token / quoted-string )
 *   EQUAL = SWS "=" SWS          COMMA = SWS "," SWS       SWS = [LWS]
 *   LWS = [*WSP CRLF] 1*WSP
 *   quoted-string = SWS DQUOTE *(qdtext / quoted-pair) DQUOTE
 *   qdtext = LWS / %x21 / %x23-5B / %x5D-7E / UTF8-NONASCII
 *   quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
 *
 * One header value holds one challenge / one credentials (RFC 3261 §7.3.1 forbids
 * comma-combining these headers). Parameter names are case-insensitive; a parameter
 * may appear only once (RFC 7616 §3.3, §3.4). Any malformed input raises
 * {@link DigestParseError} — never another exception type.
 */

export type DigestParseErrorCode =
  | 'empty' // nothing but whitespace (or not a string at all)
  | 'bad-scheme' // auth-scheme is not a token
  | 'expected-whitespace' // scheme not followed by LWS
  | 'expected-param-name'
  | 'expected-equals'
  | 'expected-value' // neither token nor quoted-string after "="
  | 'unterminated-quote'
  | 'invalid-char' // control character / bad quoted-pair / bare CR or LF
  | 'expected-comma' // garbage (or a missing comma) after a parameter
  | 'duplicate-param'
  | 'unsupported-scheme' // well-formed, but not Digest
  | 'missing-param' // a parameter Digest requires is absent
  | 'bad-value'; // a parameter with an invalid value (e.g. nc not 8 hex digits)

export class DigestParseError extends Error {
  override readonly name = 'DigestParseError';
  constructor(
    readonly code: DigestParseErrorCode,
    message: string,
    /** Offset in the input where the problem was found, when meaningful. */
    readonly position?: number,
  ) {
    super(message);
  }
}

/** One auth-param as received: original name case, unescaped value, whether it was quoted. */
export interface AuthParam {
  readonly name: string;
  readonly value: string;
  readonly quoted: boolean;
}

/** Scheme-agnostic parse result. */
export interface AuthHeaderValue {
  readonly scheme: string;
  readonly params: readonly AuthParam[];
}

/** A Digest challenge (RFC 3261 §25.1 digest-cln, RFC 7616 §3.3). Values are unescaped. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  domain?: string | undefined;
  opaque?: string | undefined;
  stale?: boolean | undefined;
  /** As received (use `parseAlgorithm` to canonicalise); absent means MD5. */
  algorithm?: string | undefined;
  /** qop-options split into values; absent means an RFC 2069 style challenge. */
  qop?: string[] | undefined;
  /** Parameters not listed above (charset, userhash, …), in order, kept for the caller. */
  extensions?: AuthParam[] | undefined;
}

/** Digest credentials (RFC 3261 §25.1 digest-response, RFC 7616 §3.4). Values are unescaped. */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm?: string | undefined;
  cnonce?: string | undefined;
  opaque?: string | undefined;
  qop?: string | undefined;
  /** nonce-count exactly as received (8 hex digits). */
  nc?: string | undefined;
  extensions?: AuthParam[] | undefined;
}

const WSP = (c: number): boolean => c === 0x20 || c === 0x09;

// token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
const TOKEN = new Uint8Array(128);
for (const ch of "-.!%*_+`'~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[ch.charCodeAt(0)] = 1;
}
const isToken = (s: string): boolean => s.length > 0 && scanToken(s, 0) === s.length;

function scanToken(s: string, i: number): number {
  while (i < s.length && TOKEN[s.charCodeAt(i)] === 1) i++;
  return i;
}

/** Skip SWS, including header folding (CRLF followed by WSP; a bare LF is tolerated). */
function skipLws(s: string, i: number): number {
  for (;;) {
    const c = s.charCodeAt(i);
    if (WSP(c)) i++;
    else if (c === 0x0d && s.charCodeAt(i + 1) === 0x0a && WSP(s.charCodeAt(i + 2))) i += 3;
    else if (c === 0x0a && WSP(s.charCodeAt(i + 1))) i += 2;
    else return i;
  }
}

/** Reads a quoted-string starting at the DQUOTE at `start`; returns [unescaped, next index]. */
function readQuoted(s: string, start: number): [string, number] {
  let out = '';
  let i = start + 1;
  let chunk = i;
  for (;;) {
    if (i >= s.length) throw new DigestParseError('unterminated-quote', 'unterminated quoted-string', start);
    const c = s.charCodeAt(i);
    if (c === 0x22) return [out + s.slice(chunk, i), i + 1];
    if (c === 0x5c) {
      if (i + 1 >= s.length) throw new DigestParseError('unterminated-quote', 'unterminated quoted-string', start);
      const d = s.charCodeAt(i + 1);
      if (d === 0x0a || d === 0x0d || d > 0x7f) throw new DigestParseError('invalid-char', 'invalid quoted-pair', i);
      out += s.slice(chunk, i) + s.charAt(i + 1);
      i += 2;
      chunk = i;
    } else if (c === 0x0d || c === 0x0a) {
      // LWS inside qdtext: a fold. Drop the line break, keep the WSP.
      const j = c === 0x0d && s.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
      if (!WSP(s.charCodeAt(j))) throw new DigestParseError('invalid-char', 'line break in quoted-string', i);
      out += s.slice(chunk, i);
      i = j;
      chunk = i;
    } else if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new DigestParseError('invalid-char', 'control character in quoted-string', i);
    } else i++;
  }
}

/** Parses `scheme [LWS auth-param *(COMMA auth-param)]`, any scheme. */
export function parseAuthHeader(input: string): AuthHeaderValue {
  if (typeof input !== 'string') throw new DigestParseError('empty', 'header value is not a string');
  const s = input;
  let i = skipLws(s, 0);
  if (i >= s.length) throw new DigestParseError('empty', 'empty header value', 0);
  const schemeEnd = scanToken(s, i);
  if (schemeEnd === i) throw new DigestParseError('bad-scheme', 'auth-scheme is not a token', i);
  const scheme = s.slice(i, schemeEnd);
  const params: AuthParam[] = [];
  i = skipLws(s, schemeEnd);
  if (i >= s.length) return { scheme, params };
  if (i === schemeEnd) throw new DigestParseError('expected-whitespace', 'expected LWS after auth-scheme', i);
  const seen = new Set<string>();
  for (;;) {
    const nameEnd = scanToken(s, i);
    if (nameEnd === i) throw new DigestParseError('expected-param-name', 'expected a parameter name', i);
    const name = s.slice(i, nameEnd);
    i = skipLws(s, nameEnd);
    if (s.charCodeAt(i) !== 0x3d) throw new DigestParseError('expected-equals', `expected "=" after ${name}`, i);
    i = skipLws(s, i + 1);
    let value: string;
    let quoted = false;
    if (s.charCodeAt(i) === 0x22) {
      [value, i] = readQuoted(s, i);
      quoted = true;
    } else {
      const end = scanToken(s, i);
      if (end === i) throw new DigestParseError('expected-value', `expected a value for ${name}`, i);
      value = s.slice(i, end);
      i = end;
    }
    const key = name.toLowerCase();
    if (seen.has(key)) throw new DigestParseError('duplicate-param', `duplicate parameter ${name}`, i);
    seen.add(key);
    params.push({ name, value, quoted });
    i = skipLws(s, i);
    if (i >= s.length) return { scheme, params };
    if (s.charCodeAt(i) !== 0x2c) throw new DigestParseError('expected-comma', 'expected "," between parameters', i);
    i = skipLws(s, i + 1);
  }
}

const CHALLENGE_KEYS = new Set(['realm', 'domain', 'nonce', 'opaque', 'stale', 'algorithm', 'qop']);
const CREDENTIAL_KEYS = new Set(['username', 'realm', 'nonce', 'uri', 'response', 'algorithm', 'cnonce', 'opaque', 'qop', 'nc']);

function splitDigest(input: string, known: ReadonlySet<string>): [Map<string, string>, AuthParam[]] {
  const { scheme, params } = parseAuthHeader(input);
  if (scheme.toLowerCase() !== 'digest') {
    throw new DigestParseError('unsupported-scheme', `unsupported auth-scheme ${scheme}`, 0);
  }
  const map = new Map<string, string>();
  const extensions: AuthParam[] = [];
  for (const p of params) {
    const key = p.name.toLowerCase();
    if (known.has(key)) map.set(key, p.value);
    else extensions.push(p);
  }
  return [map, extensions];
}

function required(map: Map<string, string>, key: string): string {
  const v = map.get(key);
  if (v === undefined) throw new DigestParseError('missing-param', `missing ${key} parameter`);
  return v;
}

/** Parses a WWW-Authenticate / Proxy-Authenticate value with the Digest scheme. */
export function parseChallenge(input: string): DigestChallenge {
  const [m, extensions] = splitDigest(input, CHALLENGE_KEYS);
  const qop = m.get('qop');
  const stale = m.get('stale');
  return {
    realm: required(m, 'realm'),
    nonce: required(m, 'nonce'),
    domain: m.get('domain'),
    opaque: m.get('opaque'),
    // RFC 7616 §3.3: anything other than (case-insensitive) "true" means false.
    stale: stale === undefined ? undefined : stale.toLowerCase() === 'true',
    algorithm: m.get('algorithm'),
    // qop-options = "qop" EQUAL LDQUOT qop-value *("," qop-value) RDQUOT; tolerate a bare token.
    qop: qop === undefined ? undefined : qop.split(',').map((v) => v.trim()).filter((v) => v !== ''),
    extensions,
  };
}

/** Parses an Authorization / Proxy-Authorization value with the Digest scheme. */
export function parseCredentials(input: string): DigestCredentials {
  const [m, extensions] = splitDigest(input, CREDENTIAL_KEYS);
  const creds: DigestCredentials = {
    username: required(m, 'username'),
    realm: required(m, 'realm'),
    nonce: required(m, 'nonce'),
    uri: required(m, 'uri'),
    response: required(m, 'response'),
    algorithm: m.get('algorithm'),
    cnonce: m.get('cnonce'),
    opaque: m.get('opaque'),
    qop: m.get('qop'),
    nc: m.get('nc'),
    extensions,
  };
  // RFC 2617 §3.2.2: cnonce and nc MUST be sent with qop (and only then).
  if (creds.qop !== undefined) {
    required(m, 'cnonce');
    required(m, 'nc');
  }
  if (creds.nc !== undefined && !/^[0-9a-fA-F]{8}$/.test(creds.nc)) {
    throw new DigestParseError('bad-value', 'nc must be 8 hex digits');
  }
  return creds;
}

// ---------------------------------------------------------------------------------------
// Serialisation. Quoted: realm, domain, nonce, opaque, qop-options (challenge), username,
// uri, response, cnonce. Tokens: stale, algorithm, qop (credentials), nc.
// (RFC 3261 §25.1, RFC 7616 §3.3/§3.4.) Values that cannot be represented (control
// characters, non-token where a token is required) throw RangeError: the caller built them.

/** quoted-string with `\` and `"` escaped. */
export function quoteString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(value)) throw new RangeError('control character in quoted-string value');
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function token(name: string, value: string): string {
  if (!isToken(value)) throw new RangeError(`${name} must be a token: ${JSON.stringify(value)}`);
  return `${name}=${value}`;
}

function appendExtensions(parts: string[], known: ReadonlySet<string>, ext: readonly AuthParam[] | undefined): void {
  for (const p of ext ?? []) {
    if (!isToken(p.name) || known.has(p.name.toLowerCase())) throw new RangeError(`bad extension parameter ${p.name}`);
    parts.push(p.quoted || !isToken(p.value) ? `${p.name}=${quoteString(p.value)}` : `${p.name}=${p.value}`);
  }
}

/** Serialises a Digest challenge: `Digest realm="…", nonce="…", algorithm=…, qop="auth"`. */
export function formatChallenge(c: DigestChallenge): string {
  const parts = [`realm=${quoteString(c.realm)}`];
  if (c.domain !== undefined) parts.push(`domain=${quoteString(c.domain)}`);
  parts.push(`nonce=${quoteString(c.nonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quoteString(c.opaque)}`);
  if (c.stale !== undefined) parts.push(`stale=${c.stale ? 'true' : 'false'}`);
  if (c.algorithm !== undefined) parts.push(token('algorithm', c.algorithm));
  if (c.qop !== undefined) {
    for (const q of c.qop) if (!isToken(q)) throw new RangeError(`qop value must be a token: ${q}`);
    parts.push(`qop=${quoteString(c.qop.join(','))}`);
  }
  appendExtensions(parts, CHALLENGE_KEYS, c.extensions);
  return `Digest ${parts.join(', ')}`;
}

/** Serialises Digest credentials in the RFC 3261 §22.4 example order. */
export function formatCredentials(c: DigestCredentials): string {
  const parts = [
    `username=${quoteString(c.username)}`,
    `realm=${quoteString(c.realm)}`,
    `nonce=${quoteString(c.nonce)}`,
    `uri=${quoteString(c.uri)}`,
    `response=${quoteString(c.response)}`,
  ];
  if (c.algorithm !== undefined) parts.push(token('algorithm', c.algorithm));
  if (c.cnonce !== undefined) parts.push(`cnonce=${quoteString(c.cnonce)}`);
  if (c.opaque !== undefined) parts.push(`opaque=${quoteString(c.opaque)}`);
  if (c.qop !== undefined) parts.push(token('qop', c.qop));
  if (c.nc !== undefined) parts.push(token('nc', c.nc));
  appendExtensions(parts, CREDENTIAL_KEYS, c.extensions);
  return `Digest ${parts.join(', ')}`;
}
