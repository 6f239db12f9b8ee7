/**
 * Escaping of operator values per target format, for templates (`it.q.yaml(v)` …). A
 * template interpolates every operator value that could hold a quote, a backslash, a
 * `#`, a `:`, spaces or a newline (secrets, paths) through the helper of its file's
 * format; the helper adds the quotes itself. Each round-trips exactly through the
 * target's own parser (tested: the daemons' YAML loader, redis-server,
 * my_print_defaults).
 */

const hex2 = (c: string): string => c.charCodeAt(0).toString(16).padStart(2, '0');

/** A YAML double-quoted scalar (JSON strings are YAML 1.2 double-quoted scalars). */
function yaml(v: unknown): string {
  return JSON.stringify(String(v)).replace(/[\u2028\u2029\u0085]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A redis.conf argument: double quotes, in which redis (sdssplitargs) reads `\\`, `\"`,
 * `\n`, `\r`, `\t`, `\b`, `\a` and `\xHH`.
 */
function redis(v: unknown): string {
  let out = '"';
  for (const ch of String(v)) {
    if (ch === '\\' || ch === '"') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch < ' ' || ch === '\x7f') out += `\\x${hex2(ch)}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * A MariaDB/MySQL option-file value (my.cnf): in double quotes (so `#` and surrounding
 * spaces stay), with the escapes the option-file reader knows: `\\`, `\n`, `\r`, `\t`,
 * `\b`. An inner `"` needs no escape (only the outer pair is stripped).
 */
function ini(v: unknown): string {
  const s = String(v).replace(/[\\\n\r\t\b]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b' })[c]!);
  return `"${s}"`;
}

/**
 * A GLib key-file string value (rtpengine.conf): no quotes; `\\`, `\n`, `\r`, `\t`, and
 * `\s` for a leading space (GLib strips leading whitespace otherwise).
 */
function keyfile(v: unknown): string {
  const s = String(v).replace(/[\\\n\r\t]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!);
  return s.replace(/^ /, '\\s').replace(/ $/, '\\s');
}

export interface Quoters {
  yaml(v: unknown): string;
  redis(v: unknown): string;
  ini(v: unknown): string;
  keyfile(v: unknown): string;
}

/** The escaping helpers templates see as `it.q`. */
export const quote: Readonly<Quoters> = Object.freeze({ yaml, redis, ini, keyfile });
