/** Character classes of RFC 3261 §25.1 as lookup tables (index = char code). */

function table(chars: string, ranges: Array<[number, number]> = []): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  for (const [a, b] of ranges) for (let c = a; c <= b; c++) t[c] = 1;
  return t;
}

const ALNUM: Array<[number, number]> = [
  [0x30, 0x39],
  [0x41, 0x5a],
  [0x61, 0x7a],
];

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" ) */
export const TOKEN = table("-.!%*_+`'~", ALNUM);
/** word = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" / "(" / ")" / "<" / ">" / ":" / "\" / DQUOTE / "/" / "[" / "]" / "?" / "{" / "}" ) */
export const WORD = table('-.!%*_+`\'~()<>:\\"/[]?{}', ALNUM);
/** unreserved = alphanum / mark */
export const UNRESERVED = table("-_.!~*'()", ALNUM);
/** user-unreserved plus unreserved (escaped handled separately) */
export const USER_CHARS = table("-_.!~*'()&=+$,;?/", ALNUM);
export const PASSWORD_CHARS = table("-_.!~*'()&=+$,", ALNUM);
/** paramchar = param-unreserved / unreserved (escaped separately) */
export const PARAM_CHARS = table("-_.!~*'()[]/:&+$", ALNUM);
/** hnv-unreserved / unreserved for URI headers */
export const HNV_CHARS = table("-_.!~*'()[]/?:+$", ALNUM);
export const HEX = table('', [
  [0x30, 0x39],
  [0x41, 0x46],
  [0x61, 0x66],
]);
export const DIGIT = table('', [[0x30, 0x39]]);
export const ALPHA = table('', [
  [0x41, 0x5a],
  [0x61, 0x7a],
]);

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] !== 1) return false;
  }
  return true;
}

export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

export function isWsp(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

/** Strip SP/HTAB (and CR/LF left by folding) at both ends. */
export function trimLws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b) {
    const c = s.charCodeAt(a);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    a++;
  }
  while (b > a) {
    const c = s.charCodeAt(b - 1);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
    b--;
  }
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Index after a quoted-string starting at `i` (s[i] === '"'), or -1 if unterminated. */
export function skipQuoted(s: string, i: number): number {
  for (let j = i + 1; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c) {
      j++; // quoted-pair
      continue;
    }
    if (c === 0x22) return j + 1;
  }
  return -1;
}

/** Remove the quotes and quoted-pair escapes of a quoted-string. */
export function unquote(q: string): string {
  if (q.length < 2 || q.charCodeAt(0) !== 0x22) return q;
  const inner = q.slice(1, -1);
  return inner.indexOf('\\') === -1 ? inner : inner.replace(/\\(.)/gs, '$1');
}

/** Make a quoted-string of `s`, escaping `"` and `\`. */
export function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Split a comma-separated header value into its elements, ignoring commas inside
 * quoted strings and <…>. Returns null on an unterminated quote or bracket.
 */
export function splitList(value: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  if (value.indexOf('"') < 0 && value.indexOf('<') < 0) {
    // no quoted string, no <…>: every comma separates (the usual Via line), found natively
    for (let c = value.indexOf(','); c >= 0; c = value.indexOf(',', start)) {
      out.push(trimLws(value.slice(start, c)));
      start = c + 1;
    }
    out.push(trimLws(value.slice(start)));
    return out;
  }
  let angle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22) {
      const e = skipQuoted(value, i);
      if (e < 0) return null;
      i = e - 1;
    } else if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) {
      out.push(trimLws(value.slice(start, i)));
      start = i + 1;
    }
  }
  if (angle) return null;
  out.push(trimLws(value.slice(start)));
  return out;
}
