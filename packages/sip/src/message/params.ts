/**
 * Header parameters (`;name=value`, RFC 3261 §25.1 generic-param): ordered, names
 * compared case-insensitively, values kept as written (quoted strings stay quoted).
 */
import { parseError } from './errors.js';
import { isToken, skipQuoted, unquote, WORD } from './grammar.js';

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

function isGenValue(v: string): boolean {
  // gen-value = token / host / quoted-string; host covers IPv6 references.
  if (v.charCodeAt(0) === 0x22) return true; // validated by the caller's quote scan
  if (v.charCodeAt(0) === 0x5b) return /^\[[0-9A-Fa-f:.]+\]$/.test(v);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c > 255 || (WORD[c] !== 1 && c !== 0x3a)) return false;
  }
  return v.length > 0;
}

/**
 * Parse `*( SEMI generic-param )` from `s` (which must start at a ';' or be empty).
 * LWS around ';' and '=' is allowed (SEMI/EQUAL are SWS-delimited).
 */
export function parseHeaderParams(s: string, header: string): Param[] {
  const out: Param[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09)) i++;
    if (i >= n) break;
    if (s.charCodeAt(i) !== 0x3b) throw parseError('header-value', `expected ';' in parameters`, header);
    i++;
    let j = i;
    while (j < n && s.charCodeAt(j) !== 0x3d && s.charCodeAt(j) !== 0x3b) j++;
    let a = i;
    let b = j;
    while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
    while (b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)) b--;
    const name = s.slice(a, b);
    if (!isToken(name)) throw parseError('header-value', `bad parameter name '${name}'`, header);
    if (j < n && s.charCodeAt(j) === 0x3d) {
      let k = j + 1;
      while (k < n && (s.charCodeAt(k) === 0x20 || s.charCodeAt(k) === 0x09)) k++;
      let end: number;
      if (s.charCodeAt(k) === 0x22) {
        end = skipQuoted(s, k);
        if (end < 0) throw parseError('header-value', `unterminated quoted parameter '${name}'`, header);
      } else {
        end = k;
        while (end < n && s.charCodeAt(end) !== 0x3b && s.charCodeAt(end) !== 0x20 && s.charCodeAt(end) !== 0x09) end++;
      }
      const value = s.slice(k, end);
      if (!isGenValue(value)) throw parseError('header-value', `bad value for parameter '${name}'`, header);
      out.push({ name, value });
      i = end;
    } else {
      out.push({ name, value: null });
      i = j;
    }
  }
  return out;
}
