/**
 * TTL cache for DNS answers: positive and negative (RFC 2308) entries, TTL clamps,
 * an LRU size bound, and an injected clock so tests can move time.
 *
 * An NXDOMAIN is remembered per name (RFC 2308 §5: it covers every type), NODATA
 * per name and type. Returned records carry their *remaining* TTL.
 */
import { DnsError } from './dns-error.js';
import { normalizeName } from './records.js';
import type { DnsQueryType, DnsRecord, RecordOf } from './records.js';
import type { DnsStatus } from './dns-client.js';

export interface DnsCacheOptions {
  /** Entry bound; least recently used entries go first. Default 10000. */
  maxEntries?: number;
  /** Lower clamp for positive TTLs, seconds. Default 0 (TTL 0 is not cached). */
  minTtl?: number;
  /** Upper clamp for positive TTLs, seconds. Default 86400. */
  maxTtl?: number;
  /** Negative TTL when the response carried no SOA, seconds. Default 60. */
  negativeTtl?: number;
  /** Upper clamp for negative TTLs, seconds (RFC 2308 §5). Default 300. */
  maxNegativeTtl?: number;
  /** Clock in milliseconds. Default Date.now. */
  now?: () => number;
}

export interface CachedAnswer<T extends DnsQueryType = DnsQueryType> {
  name: string;
  type: T;
  status: DnsStatus;
  records: RecordOf<T>[];
  /** Remaining seconds. */
  ttl: number;
}

interface Entry {
  status: DnsStatus;
  records: DnsRecord[];
  expiresAt: number;
  /** Came from an additional section: may be overwritten by an answer. */
  additional: boolean;
}

const NX = '*';

export class DnsCache {
  private readonly map = new Map<string, Entry>();
  private readonly o: Required<DnsCacheOptions>;

  constructor(opts: DnsCacheOptions = {}) {
    this.o = {
      maxEntries: opts.maxEntries ?? 10000,
      minTtl: opts.minTtl ?? 0,
      maxTtl: opts.maxTtl ?? 86400,
      negativeTtl: opts.negativeTtl ?? 60,
      maxNegativeTtl: opts.maxNegativeTtl ?? 300,
      now: opts.now ?? Date.now,
    };
    for (const k of ['maxEntries', 'minTtl', 'maxTtl', 'negativeTtl', 'maxNegativeTtl'] as const) {
      if (!(this.o[k] >= 0)) throw new DnsError('BADCONFIG', `DnsCache ${k} must be >= 0`);
    }
  }

  get size(): number {
    return this.map.size;
  }

  get<T extends DnsQueryType>(name: string, type: T): CachedAnswer<T> | undefined {
    const n = normalizeName(name);
    const now = this.o.now();
    for (const key of [`${type} ${n}`, `${NX} ${n}`]) {
      const e = this.map.get(key);
      if (!e) continue;
      if (e.expiresAt <= now) {
        this.map.delete(key);
        continue;
      }
      this.map.delete(key); // LRU: move to the back
      this.map.set(key, e);
      const ttl = Math.ceil((e.expiresAt - now) / 1000);
      const records = e.records.map((r) => ({ ...r, ttl: Math.min(r.ttl, ttl) })) as RecordOf<T>[];
      return { name: n, type, status: e.status, records, ttl };
    }
    return undefined;
  }

  /**
   * Store a positive answer. `ttl` defaults to the minimum record TTL (an RRset
   * has one TTL, RFC 2181 §5.2). With `additional`, an existing answer-section
   * entry is kept: additional data ranks lower (RFC 2181 §5.4.1).
   */
  setPositive(name: string, type: DnsQueryType, records: DnsRecord[], opts: { ttl?: number; additional?: boolean } = {}): void {
    if (records.length === 0) return;
    const raw = opts.ttl ?? Math.min(...records.map((r) => r.ttl));
    const ttl = Math.min(Math.max(raw, this.o.minTtl), this.o.maxTtl);
    const key = `${type} ${normalizeName(name)}`;
    const existing = this.map.get(key);
    if (opts.additional && existing && !existing.additional && existing.expiresAt > this.o.now()) return;
    this.map.delete(`${NX} ${normalizeName(name)}`); // the name exists after all
    this.put(key, { status: 'ok', records, expiresAt: this.o.now() + ttl * 1000, additional: opts.additional ?? false });
  }

  /** Store NXDOMAIN/NODATA. `ttl` is the SOA-derived value, or undefined. */
  setNegative(name: string, type: DnsQueryType, status: 'nodata' | 'nxdomain', ttl?: number): void {
    const t = Math.min(ttl ?? this.o.negativeTtl, this.o.maxNegativeTtl);
    const key = `${status === 'nxdomain' ? NX : type} ${normalizeName(name)}`;
    this.put(key, { status, records: [], expiresAt: this.o.now() + t * 1000, additional: false });
  }

  delete(name: string, type?: DnsQueryType): void {
    const n = normalizeName(name);
    if (type) this.map.delete(`${type} ${n}`);
    else for (const t of ['NAPTR', 'SRV', 'A', 'AAAA', NX]) this.map.delete(`${t} ${n}`);
  }

  clear(): void {
    this.map.clear();
  }

  private put(key: string, e: Entry): void {
    if (e.expiresAt <= this.o.now() || this.o.maxEntries === 0) return; // TTL 0: use once, don't keep
    this.map.delete(key);
    this.map.set(key, e);
    while (this.map.size > this.o.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }
}
