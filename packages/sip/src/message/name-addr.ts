/**
 * name-addr / addr-spec with header parameters (From, To, Contact, Route,
 * Record-Route, Path, Refer-To, P-Asserted-Identity …), RFC 3261 §20.10, §25.1.
 */
import { parseError } from './errors.js';
import { TOKEN, quote, skipQuoted, trimLws, unquote } from './grammar.js';
import type { Param } from './params.js';
import { findParam, formatParams, parseHeaderParams, setParamIn, withoutParam } from './params.js';
import type { Uri } from './uri.js';
import { parseUri } from './uri.js';

export class NameAddr {
  constructor(
    public uri: Uri,
    /** Display name as written (a quoted-string keeps its quotes), or null. */
    public display: string | null = null,
    public params: Param[] = [],
    /** Whether the URI was written in <…> (always true when we write it). */
    public angle = true,
  ) {}

  /** The display name with quotes and escapes removed. */
  get displayName(): string | null {
    return this.display === null ? null : unquote(this.display);
  }

  get tag(): string | undefined {
    const p = findParam(this.params, 'tag');
    return p && p.value !== null ? p.value : undefined;
  }

  param(name: string): string | null | undefined {
    const p = findParam(this.params, name);
    return p ? p.value : undefined;
  }

  setParam(name: string, value: string | null): void {
    setParamIn(this.params, name, value);
  }

  removeParam(name: string): void {
    this.params = withoutParam(this.params, name);
  }

  toString(): string {
    const uri = this.uri.toString();
    const addr = this.angle || this.display !== null || /[;,?]/.test(uri) ? `<${uri}>` : uri;
    return (this.display !== null ? `${this.display} ` : '') + addr + formatParams(this.params);
  }

  static create(uri: Uri, displayName?: string, params: Param[] = []): NameAddr {
    return new NameAddr(uri, displayName === undefined ? null : quote(displayName), params, true);
  }
}

/** Parse one name-addr / addr-spec element followed by its header parameters. */
export function parseNameAddr(value: string, header: string): NameAddr {
  const v = trimLws(value);
  if (v.length === 0) throw parseError('header-value', 'empty address', header);
  let display: string | null = null;
  let i = 0;
  let lt: number;
  if (v.charCodeAt(0) === 0x22) {
    const e = skipQuoted(v, 0);
    if (e < 0) throw parseError('header-value', 'unterminated quoted display name', header);
    display = v.slice(0, e);
    i = e;
    while (i < v.length && (v.charCodeAt(i) === 0x20 || v.charCodeAt(i) === 0x09)) i++;
    if (v.charCodeAt(i) !== 0x3c) throw parseError('header-value', "expected '<' after display name", header);
    lt = i;
  } else {
    lt = v.indexOf('<');
    if (lt >= 0) {
      let de = lt;
      while (de > 0 && (v.charCodeAt(de - 1) === 0x20 || v.charCodeAt(de - 1) === 0x09)) de--;
      if (de > 0) {
        // display-name = *(token LWS) — each word must be a token (RFC 4475 §3.1.2.16)
        for (let i = 0; i < de; i++) {
          const c = v.charCodeAt(i);
          if (c !== 0x20 && c !== 0x09 && (c > 255 || TOKEN[c] !== 1)) {
            throw parseError('header-value', `invalid display name '${v.slice(0, de)}'`, header);
          }
        }
        display = v.slice(0, de);
      }
    }
  }
  if (lt >= 0) {
    const gt = v.indexOf('>', lt + 1);
    if (gt < 0) throw parseError('header-value', "missing '>'", header);
    // spaces inside <> are invalid but unambiguous: tolerated (RFC 4475 §3.1.2.15)
    const uri = parseUriIn(trimLws(v.slice(lt + 1, gt)), header);
    const params = parseHeaderParams(v.slice(gt + 1), header);
    return new NameAddr(uri, display, params, true);
  }
  // addr-spec: the URI ends at the first ';' (those params belong to the header) and
  // must not contain ',' '?' or ';' of its own (RFC 3261 §20.10)
  const semi = v.indexOf(';');
  const spec = trimLws(semi < 0 ? v : v.slice(0, semi));
  if (/[,?\s]/.test(spec)) throw parseError('header-value', 'addr-spec with , ? or space must be enclosed in <>', header);
  const uri = parseUriIn(spec, header);
  const params = semi < 0 ? [] : parseHeaderParams(v.slice(semi), header);
  return new NameAddr(uri, null, params, false);
}

function parseUriIn(s: string, header: string): Uri {
  try {
    return parseUri(s);
  } catch (e) {
    throw parseError('header-value', `${(e as Error).message} in ${header}`, header);
  }
}
