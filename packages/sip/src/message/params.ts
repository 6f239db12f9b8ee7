/**
 * Header parameters (`;name=value`, RFC 3261 §25.1 generic-param): ordered, names
 * compared case-insensitively, values kept as written (quoted strings stay quoted).
 */
import { parseError } from './errors.js';
import { skipQuoted, TOKEN, unquote, WORD } from './grammar.js';

export interface Param {
  name: string;
  /** As written (quoted-string keeps its quotes); null for a flag (`;lr`). */
  value: string | null;
}

/** Case-insensitive equality where `lower` is already lower-case. */
export function eqLower(s: string, lower: string): boolean {
  return s.length === lower.length && (s === lower || s.toLowerCase() === lower);
}

export function findParam(params: readonly Param[], name: string): Param | undefined {
  const n = name.toLowerCase();
  for (const p of params) if (eqLower(p.name, n)) return p;
  return undefined;
}

/** Set a parameter in place (case-insensitive name match), appending it when absent. */
export function setParamIn(params: Param[], name: string, value: string | null): void {
  const p = findParam(params, name);
  if (p) p.value = value;
  else params.push({ name, value });
}

/** The parameters without `name` (case-insensitive). */
export function withoutParam(params: readonly Param[], name: string): Param[] {
  const n = name.toLowerCase();
  return params.filter((p) => !eqLower(p.name, n));
}

/** Value of a parameter with quotes removed; undefined when absent, null when a flag. */
export function paramValue(params: readonly Param[], name: string): string | null | undefined {
  const p = findParam(params, name);
  if (!p) return undefined;
  return p.value === null ? null : unquote(p.value);
}

export function formatParams(params: readonly Param[]): string {
  let s = '';
  for (const p of params) s += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return s;
}

/** gen-value characters of a token or host (word characters and ':'), as a table. */
const GEN_VALUE = WORD.slice();
GEN_VALUE[0x3a] = 1;

const isWsp = (c: number): boolean => c === 0x20 || c === 0x09;

/**
 * Parse `*( SEMI generic-param )` from `s` (which must start at a ';' or be empty).
 * LWS around ';' and '=' is allowed (SEMI/EQUAL are SWS-delimited).
 */
export function parseHeaderParams(s: string, header: string): Param[] {
  const out: Param[] = [];
  let i = 0;
  const n = s.length;
  // one pass: names are scanned as tokens, values as gen-value characters, so no
  // character is looked at twice
  while (i < n) {
    while (i < n && isWsp(s.charCodeAt(i))) i++;
    if (i >= n) break;
    if (s.charCodeAt(i) !== 0x3b) throw parseError('header-value', `expected ';' in parameters`, header);
    i++;
    while (i < n && isWsp(s.charCodeAt(i))) i++;
    const a = i;
    for (let c = s.charCodeAt(i); i < n && c < 256 && TOKEN[c] === 1; c = s.charCodeAt(++i));
    const name = s.slice(a, i);
    while (i < n && isWsp(s.charCodeAt(i))) i++;
    const c = s.charCodeAt(i);
    if (name.length === 0 || (i < n && c !== 0x3d && c !== 0x3b)) throw parseError('header-value', `bad parameter name '${badName(s, a)}'`, header);
    if (c !== 0x3d) {
      out.push({ name, value: null });
      continue;
    }
    i++;
    while (i < n && isWsp(s.charCodeAt(i))) i++;
    const k = i;
    const q = s.charCodeAt(k);
    if (q === 0x22) {
      i = skipQuoted(s, k);
      if (i < 0) throw parseError('header-value', `unterminated quoted parameter '${name}'`, header);
    } else if (q === 0x5b) {
      // an IPv6 reference (host)
      while (i < n && s.charCodeAt(i) !== 0x3b && !isWsp(s.charCodeAt(i))) i++;
      if (!/^\[[0-9A-Fa-f:.]+\]$/.test(s.slice(k, i))) throw parseError('header-value', `bad value for parameter '${name}'`, header);
    } else {
      for (let v = q; i < n && v < 256 && GEN_VALUE[v] === 1; v = s.charCodeAt(++i));
      const e = s.charCodeAt(i);
      if (i === k || (i < n && e !== 0x3b && !isWsp(e))) throw parseError('header-value', `bad value for parameter '${name}'`, header);
    }
    out.push({ name, value: s.slice(k, i) });
  }
  return out;
}

/** The parameter name as the old two-pass parser reported it (up to '=' or ';'). */
function badName(s: string, a: number): string {
  let j = a;
  while (j < s.length && s.charCodeAt(j) !== 0x3d && s.charCodeAt(j) !== 0x3b) j++;
  return s.slice(a, j).trim();
}
