/**
 * SIP messages (RFC 3261 §7), the part requests and responses share. Headers are an ordered list of fields kept as
 * received; the typed accessors (`vias()`, `from()`, `cseq()` …) parse on first use
 * and cache. An unchanged parsed message serializes to its original bytes; a
 * changed one rewrites only the changed header lines.
 */
import { parseError } from './errors.js';
import { splitList } from './grammar.js';
import { headerKey, prettyName } from './header-names.js';
import type { NameAddr } from './name-addr.js';
import { parseNameAddr } from './name-addr.js';
import type { Via } from './via.js';
import { parseVia } from './via.js';
import type { CSeq } from './header-values.js';
import { parseCallId, parseContacts, parseCSeq, parseDeltaSeconds, parseMaxForwards, parseOptionTags } from './header-values.js';

export interface HeaderField {
  /** The name as written ("v", "Via", "VIA" …). */
  name: string;
  /** Canonical key: lower-case long form ("via"). */
  key: string;
  /** Value with folding replaced by a space, trimmed. */
  value: string;
  /**
   * The exact original line(s) without the final CRLF, when they differ from
   * `${name}: ${value}` (folding, unusual spacing); null otherwise and once changed.
   */
  raw: string | null;
  /**
   * Byte offsets of the line (with its line end) in the received message, so a
   * changed message can copy its untouched lines as bytes; -1 for lines we wrote.
   */
  at: number;
  end: number;
}

export type HeaderInit = Array<[string, string]> | Record<string, string | string[]>;

const UNSET: unique symbol = Symbol('unset');
const SLOT: Record<string, number> = { via: 0, from: 1, to: 2, 'call-id': 3, cseq: 4, contact: 5, 'max-forwards': 6, route: 7, 'record-route': 8 };

function toFields(init: HeaderInit | undefined): HeaderField[] {
  const out: HeaderField[] = [];
  if (!init) return out;
  const pairs = Array.isArray(init)
    ? init
    : Object.entries(init).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x] as [string, string]) : [[k, v] as [string, string]]));
  for (const [name, value] of pairs) out.push({ name: prettyName(name), key: headerKey(name), value, raw: null, at: -1, end: -1 });
  return out;
}

export abstract class SipMessageBase {
  abstract readonly kind: 'request' | 'response';
  version = 'SIP/2.0';
  headers: HeaderField[];
  /** How header text maps to bytes: utf8 unless the received header bytes were not valid UTF-8. */
  encoding: 'utf8' | 'latin1' = 'utf8';
  /** Set by the parser when the start line had to be normalized (extra SPs). */
  normalized = false;
  /** Original bytes while the message is unchanged. */
  protected rawBytes: Buffer | null = null;
  /** The received bytes, kept after changes to copy untouched lines from (see HeaderField.at). */
  private src: Buffer | null = null;
  /** Byte length of the received start line with its line end. */
  private srcStartLen = 0;
  /** Line end of the received message ('\n' for the LF-only messages we tolerate). */
  private srcEol = '\r\n';
  /** The received body (the tail of src), to tell whether the body changed. */
  private srcBody: Buffer | null = null;
  /** Whether the start line changed since it was received. */
  protected startChanged = false;
  private _body: Buffer;
  private cache: Map<string, unknown> | null = null;
  /** Parsed values of the hot headers (see SLOT), allocated on first use. */
  private slots: unknown[] | null = null;

  constructor(headers?: HeaderInit | HeaderField[], body?: Buffer | string) {
    this.headers = Array.isArray(headers) && (headers.length === 0 || !Array.isArray(headers[0]))
      ? (headers as HeaderField[])
      : toFields(headers as HeaderInit | undefined);
    this._body = body === undefined ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body;
  }

  abstract startLine(): string;

  // ---- raw header access -------------------------------------------------------

  /** First value of a header (any spelling, compact forms included). */
  get(name: string): string | undefined {
    const key = headerKey(name);
    for (const h of this.headers) if (h.key === key) return h.value;
    return undefined;
  }

  /** Every line's value of a header, in order. */
  getAll(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const h of this.headers) if (h.key === key) out.push(h.value);
    return out;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  count(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const h of this.headers) if (h.key === key) n++;
    return n;
  }

  /** All comma-separated elements of a list header across its lines. */
  elements(name: string): string[] {
    return this.elementsOf(headerKey(name));
  }

  private elementsOf(key: string): string[] {
    const out: string[] = [];
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (h.value.indexOf(',') < 0 && h.value.indexOf('"') < 0) {
        if (h.value.length > 0) out.push(h.value); // one element: no split needed
        continue;
      }
      const parts = splitList(h.value);
      if (parts === null) throw parseError('header-value', `unbalanced quotes or brackets in ${key}`, key);
      for (const p of parts) if (p.length > 0) out.push(p);
    }
    return out;
  }

  /** Replace every line of a header with one line (or remove it when value is undefined). */
  set(name: string, value: string | undefined): this {
    const key = headerKey(name);
    const i = this.headers.findIndex((h) => h.key === key);
    const rest = this.headers.filter((h) => h.key !== key);
    if (value !== undefined) rest.splice(i < 0 ? rest.length : i, 0, { name: prettyName(name), key, value, raw: null, at: -1, end: -1 });
    this.headers = rest;
    return this.changed(key);
  }

  append(name: string, value: string): this {
    this.headers.push({ name: prettyName(name), key: headerKey(name), value, raw: null, at: -1, end: -1 });
    return this.changed(headerKey(name));
  }

  /** Insert before the first line of the same header (or at the top). */
  prepend(name: string, value: string): this {
    const key = headerKey(name);
    const i = this.headers.findIndex((h) => h.key === key);
    this.headers.splice(i < 0 ? 0 : i, 0, { name: prettyName(name), key, value, raw: null, at: -1, end: -1 });
    return this.changed(key);
  }

  remove(name: string): this {
    const key = headerKey(name);
    this.headers = this.headers.filter((h) => h.key !== key);
    return this.changed(key);
  }

  /** Remove the first element of a list header (splitting a combined line). */
  removeFirstElement(name: string): string | undefined {
    const key = headerKey(name);
    const i = this.headers.findIndex((h) => h.key === key);
    if (i < 0) return undefined;
    const h = this.headers[i]!;
    const parts = splitList(h.value);
    if (parts === null) throw parseError('header-value', `unbalanced quotes or brackets in ${key}`, key);
    const first = parts.shift();
    if (parts.length === 0) this.headers.splice(i, 1);
    else this.headers[i] = { name: h.name, key, value: parts.join(', '), raw: null, at: -1, end: -1 };
    this.changed(key);
    return first;
  }

  /** Replace the first element of a list header. */
  replaceFirstElement(name: string, value: string): void {
    const key = headerKey(name);
    const i = this.headers.findIndex((h) => h.key === key);
    if (i < 0) {
      this.prepend(name, value);
      return;
    }
    const h = this.headers[i]!;
    const parts = splitList(h.value);
    if (parts === null) throw parseError('header-value', `unbalanced quotes or brackets in ${key}`, key);
    parts[0] = value;
    this.headers[i] = { name: h.name, key, value: parts.join(', '), raw: null, at: -1, end: -1 };
    this.changed(key);
  }

  protected changed(key: string): this {
    this.rawBytes = null;
    const slot = SLOT[key];
    if (slot !== undefined) {
      if (this.slots !== null) this.slots[slot] = UNSET;
    } else if (this.cache) this.cache.delete(key);
    return this;
  }

  /** The cached value of a hot header (UNSET when not parsed yet). */
  private slot(i: number): unknown {
    if (this.slots === null) this.slots = [UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET, UNSET];
    return this.slots[i];
  }

  /** Parsed values, cached: fixed slots for the hot headers, a map for the rest. */
  protected cached<T>(key: string, make: () => T): T {
    const slot = SLOT[key];
    if (slot !== undefined) {
      const v = this.slot(slot);
      if (v !== UNSET) return v as T;
      const made = make();
      this.slots![slot] = made;
      return made;
    }
    if (this.cache === null) this.cache = new Map();
    else if (this.cache.has(key)) return this.cache.get(key) as T;
    const v = make();
    this.cache.set(key, v);
    return v;
  }

  // ---- typed accessors (lazy, cached; throw SipParseError on malformed input) -------

  vias(): Via[] {
    const v = this.slot(0);
    if (v !== UNSET) return v as Via[];
    const els = this.elementsOf('via');
    const out: Via[] = new Array(els.length);
    for (let i = 0; i < els.length; i++) out[i] = parseVia(els[i]!);
    this.slots![0] = out;
    return out;
  }

  topVia(): Via | undefined {
    return this.vias()[0];
  }

  /** Put `via` on top (a proxy forwarding a request, RFC 3261 §16.6 step 8). */
  pushVia(via: Via | string): void {
    this.prepend('via', via.toString());
  }

  /** Remove the top Via value (a proxy forwarding a response, RFC 3261 §16.7 step 3). */
  popVia(): void {
    const cached = this.slots === null ? UNSET : this.slots[0];
    const removed = this.removeFirstElement('via');
    // the other Vias are unchanged: keep them parsed (an empty element was not one of them)
    if (cached !== UNSET && removed !== undefined && removed.length > 0) this.slots![0] = (cached as Via[]).slice(1);
  }

  /** Rewrite the top Via (e.g. after adding received/rport, RFC 3581). */
  setTopVia(via: Via): void {
    this.replaceFirstElement('via', via.toString());
  }

  from(): NameAddr {
    const v = this.slot(1);
    if (v !== UNSET) return v as NameAddr;
    return (this.slots![1] = parseNameAddr(this.singleOf('from')!, 'from'));
  }

  to(): NameAddr {
    const v = this.slot(2);
    if (v !== UNSET) return v as NameAddr;
    return (this.slots![2] = parseNameAddr(this.singleOf('to')!, 'to'));
  }

  // the hot headers' accessors read their slot directly (no closure per call)
  callId(): string {
    const v = this.slot(3);
    return v !== UNSET ? (v as string) : (this.slots![3] = parseCallId(this.singleOf('call-id')!));
  }

  cseq(): CSeq {
    const v = this.slot(4);
    return v !== UNSET ? (v as CSeq) : (this.slots![4] = parseCSeq(this.singleOf('cseq')!));
  }

  /** Max-Forwards, or undefined when absent. */
  maxForwards(): number | undefined {
    const v = this.slot(6);
    if (v !== UNSET) return v as number | undefined;
    const s = this.singleOf('max-forwards', true);
    return (this.slots![6] = s === undefined ? undefined : parseMaxForwards(s));
  }

  /** Contact values; '*' for the REGISTER wildcard (RFC 3261 §10.2.2). */
  contacts(): NameAddr[] | '*' {
    const v = this.slot(5);
    return v !== UNSET ? (v as NameAddr[] | '*') : (this.slots![5] = parseContacts(this.elementsOf('contact')));
  }

  routes(): NameAddr[] {
    const v = this.slot(7);
    return v !== UNSET ? (v as NameAddr[]) : (this.slots![7] = this.addresses('route'));
  }

  recordRoutes(): NameAddr[] {
    const v = this.slot(8);
    return v !== UNSET ? (v as NameAddr[]) : (this.slots![8] = this.addresses('record-route'));
  }

  private addresses(key: string): NameAddr[] {
    const els = this.elementsOf(key);
    const out: NameAddr[] = new Array(els.length);
    for (let i = 0; i < els.length; i++) out[i] = parseNameAddr(els[i]!, key);
    return out;
  }

  /** Option tags of Require / Proxy-Require / Supported. */
  optionTags(name: 'require' | 'proxy-require' | 'supported' | 'unsupported'): string[] {
    return this.cached(name, () => parseOptionTags(this.elements(name), name));
  }

  /** Expires header as delta-seconds, or undefined. */
  expires(): number | undefined {
    return this.cached('expires', () => (this.has('expires') ? parseDeltaSeconds(this.single('expires')) : undefined));
  }

  /** The value of a header that may appear only once; throws if absent or repeated. */
  single(name: string): string {
    return this.singleOf(headerKey(name))!;
  }

  /** single() by canonical key; with `optional`, undefined when absent. */
  private singleOf(key: string, optional = false): string | undefined {
    let found: string | undefined;
    for (const h of this.headers) {
      if (h.key !== key) continue;
      if (found !== undefined) throw parseError('header-value', `${prettyName(key)} appears more than once`, key);
      found = h.value;
    }
    if (found === undefined && !optional) throw parseError('header-value', `missing ${prettyName(key)}`, key);
    return found;
  }

  // ---- body ------------------------------------------------------------------

  get body(): Buffer {
    return this._body;
  }

  /** Replace the body; Content-Length (and Content-Type when given) follow. */
  set body(b: Buffer | string) {
    this._body = typeof b === 'string' ? Buffer.from(b) : b;
    this.set('content-length', String(this._body.length));
  }

  setBody(body: Buffer | string, contentType?: string): this {
    this.body = body;
    if (contentType !== undefined) this.set('content-type', contentType);
    else if (this._body.length === 0) this.remove('content-type');
    return this;
  }

  // ---- serialization -------------------------------------------------------------

  /**
   * The message as bytes: the received bytes while unchanged; after a change, the
   * untouched lines are copied from the received bytes and only changed lines are
   * written (a proxy pushing a Via copies the rest of the message in one block).
   */
  toBuffer(): Buffer {
    if (this.rawBytes !== null) return this.rawBytes;
    const src = this.src;
    const enc = this.encoding;
    // texts[i] is written before the run [runs[2i], runs[2i+1]) of src is copied
    const texts: string[] = [];
    const runs: number[] = [];
    let text = '';
    let runFrom = -1;
    let runTo = -1;
    if (src !== null && !this.startChanged && !this.normalized) {
      runFrom = 0;
      runTo = this.srcStartLen;
    } else text = this.startLine() + '\r\n';
    let hasLength = false;
    for (const h of this.headers) {
      if (h.key === 'content-length') hasLength = true;
      if (src !== null && h.at >= 0) {
        if (runFrom >= 0 && runTo === h.at) runTo = h.end;
        else {
          if (runFrom >= 0) {
            texts.push(text);
            runs.push(runFrom, runTo);
            text = '';
          }
          runFrom = h.at;
          runTo = h.end;
        }
      } else {
        if (runFrom >= 0) {
          texts.push(text);
          runs.push(runFrom, runTo);
          text = '';
          runFrom = -1;
        }
        text += (h.raw ?? `${h.name}: ${h.value}`) + '\r\n';
      }
    }
    // after the last received header line come, in src, the empty line and the body:
    // when both are still the received ones, they join the run
    let tail = true;
    if (hasLength && runFrom >= 0 && this._body === this.srcBody && runTo === src!.length - this._body.length - this.srcEol.length) {
      runTo = src!.length;
      tail = false;
    }
    if (runFrom >= 0) {
      texts.push(text);
      runs.push(runFrom, runTo);
      text = '';
    }
    if (tail) {
      // every message we send carries Content-Length (mandatory on streams, RFC 3261 §18.3)
      if (!hasLength) text += `Content-Length: ${this._body.length}\r\n`;
      // the empty line keeps the received line end, so copied LF-only lines still frame
      text += src !== null ? this.srcEol : '\r\n';
    }
    let total = tail ? Buffer.byteLength(text, enc) + this._body.length : 0;
    for (let i = 0; i < texts.length; i++) {
      if (texts[i]!.length > 0) total += Buffer.byteLength(texts[i]!, enc);
      total += runs[2 * i + 1]! - runs[2 * i]!;
    }
    const out = Buffer.allocUnsafe(total);
    let o = 0;
    for (let i = 0; i < texts.length; i++) {
      if (texts[i]!.length > 0) o += out.write(texts[i]!, o, enc);
      o += src!.copy(out, o, runs[2 * i]!, runs[2 * i + 1]!);
    }
    if (tail) {
      o += out.write(text, o, enc);
      this._body.copy(out, o);
    }
    return out;
  }

  toString(): string {
    return this.toBuffer().toString(this.encoding);
  }

  /** @internal Used by the parser. */
  static adoptRaw(m: SipMessageBase, raw: Buffer, body: Buffer, encoding: 'utf8' | 'latin1', startLen = -1, eol = '\r\n'): void {
    // a start line received with irregular spacing is re-serialized normalized
    m.rawBytes = m.normalized ? null : raw;
    if (startLen >= 0) {
      m.src = raw;
      m.srcStartLen = startLen;
      m.srcEol = eol;
      m.srcBody = body;
    }
    m._body = body;
    m.encoding = encoding;
  }
}

const EMPTY = Buffer.alloc(0);
