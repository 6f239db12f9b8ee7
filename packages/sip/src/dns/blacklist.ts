/**
 * Short-lived "destination is down" list shared by all transactions of a resolver
 * (what Kamailio calls the dst_blocklist). Keyed by transport:address:port, so a
 * host that is down over UDP may still be tried over TLS.
 */
import { DnsError } from './dns-error.js';

export type FailureReason = 'timeout' | '503' | 'transport';

export interface BlacklistEntry {
  key: string;
  reason: FailureReason;
  /** Epoch ms when the entry lapses. */
  until: number;
}

export interface BlacklistOptions {
  /** Default duration, seconds. Default 30. */
  seconds?: number;
  /** Bound on entries; the oldest are dropped first. Default 10000. */
  maxEntries?: number;
  now?: () => number;
}

export function destinationKey(t: { transport: string; address: string; port: number }): string {
  return `${t.transport}:${t.address.toLowerCase()}:${t.port}`;
}

export class Blacklist {
  private readonly map = new Map<string, BlacklistEntry>();
  private readonly seconds: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: BlacklistOptions = {}) {
    this.seconds = opts.seconds ?? 30;
    this.maxEntries = opts.maxEntries ?? 10000;
    this.now = opts.now ?? Date.now;
    if (!(this.seconds >= 0) || !(this.maxEntries >= 0)) throw new DnsError('BADCONFIG', 'Blacklist seconds/maxEntries must be >= 0');
  }

  /** Add or extend. `seconds` overrides the default (e.g. a 503 Retry-After). */
  add(key: string, reason: FailureReason, seconds = this.seconds): void {
    if (seconds <= 0 || this.maxEntries === 0) return;
    const until = this.now() + seconds * 1000;
    const prev = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, { key, reason, until: Math.max(until, prev?.until ?? 0) });
    while (this.map.size > this.maxEntries) {
      const oldest = this.map.keys().next().value;
      if (oldest === undefined) break;
      this.map.delete(oldest);
    }
  }

  get(key: string): BlacklistEntry | undefined {
    const e = this.map.get(key);
    if (e && e.until <= this.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  remove(key: string): void {
    this.map.delete(key);
  }

  /** Live entries (expired ones are purged). */
  entries(): BlacklistEntry[] {
    return [...this.map.keys()].map((k) => this.get(k)).filter((e): e is BlacklistEntry => e !== undefined);
  }

  clear(): void {
    this.map.clear();
  }
}
