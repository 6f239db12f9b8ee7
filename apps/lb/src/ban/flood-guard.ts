/**
 * The flood guard's decision (Kamailio pike + htable, sip:provider's ipban), pure: packets
 * per source address over a sliding window, and the bans it holds in memory. No I/O — the
 * service writes bans to Redis (ban-store.ts) and feeds back bans read from there; the
 * clock is injected, so the tests are tables with a fake clock.
 *
 * The window slides with two counters per source (the last full period and the current
 * one, this packet included): estimate = ⌊previous × (part of the window still overlapping
 * the previous period)⌋ + current — it assumes the previous period's packets were spread
 * evenly, so it can be off from an exact count by about a packet or two (thresholds are
 * hundreds). A source sending steadily at r packets per window is estimated at ≈ r; a
 * burst of max_requests + 1 inside one period bans at the packet that exceeds it. The state
 * per source is four numbers, swept once it has been quiet for two periods; the number of
 * sources tracked is capped (`maxTracked`) so a flood from many spoofed addresses cannot
 * grow memory without bound — beyond the cap new sources are admitted uncounted (counted
 * in `counters.untracked`).
 */
export interface FloodGuardOptions {
  windowMs: number;
  /** packets a source may send within windowMs; one more bans it */
  maxRequests: number;
  banMs: number;
  /** never counted nor banned */
  exempt: { has(address: string): boolean };
  /** sources tracked at most (default 100 000) */
  maxTracked?: number;
  now?: () => number;
  /** a source was just banned by the guard (not by `applyBan`) */
  onBan?: (address: string, count: number, untilMs: number) => void;
}

interface Window {
  /** index of the current period (floor(now / windowMs)) */
  period: number;
  current: number;
  previous: number;
  exempt: boolean;
}

export class FloodGuard {
  private readonly windows = new Map<string, Window>();
  /** address → ban end (ms since the epoch; Infinity = until lifted) */
  private readonly bans = new Map<string, number>();
  private readonly now: () => number;
  private readonly maxTracked: number;
  readonly counters = { admitted: 0, refused: 0, bans: 0, lifted: 0, untracked: 0 };

  constructor(private readonly o: FloodGuardOptions) {
    if (!(o.windowMs > 0) || !(o.maxRequests >= 1) || !(o.banMs > 0)) throw new Error('FloodGuard: windowMs, maxRequests and banMs must be positive');
    this.now = o.now ?? Date.now;
    this.maxTracked = o.maxTracked ?? 100_000;
  }

  /** One packet (or connection) from `address`: true = let it through, false = drop it unanswered. */
  admit(address: string): boolean {
    const now = this.now();
    if (this.bans.size > 0) {
      const until = this.bans.get(address);
      if (until !== undefined) {
        if (until > now) {
          this.counters.refused++;
          return false;
        }
        this.bans.delete(address); // expired: counted afresh from here
      }
    }
    const period = Math.floor(now / this.o.windowMs);
    let w = this.windows.get(address);
    if (w === undefined) {
      if (this.windows.size >= this.maxTracked) {
        this.sweep(now);
        if (this.windows.size >= this.maxTracked) {
          this.counters.untracked++;
          return true;
        }
      }
      w = { period, current: 0, previous: 0, exempt: this.o.exempt.has(address) };
      this.windows.set(address, w);
    }
    if (w.exempt) {
      this.counters.admitted++;
      return true;
    }
    if (w.period !== period) {
      w.previous = w.period === period - 1 ? w.current : 0;
      w.current = 0;
      w.period = period;
    }
    w.current++;
    const overlap = 1 - (now - period * this.o.windowMs) / this.o.windowMs;
    const estimate = Math.floor(w.previous * overlap) + w.current;
    if (estimate > this.o.maxRequests) {
      const until = now + this.o.banMs;
      this.bans.set(address, until);
      this.windows.delete(address);
      this.counters.bans++;
      this.counters.refused++;
      this.o.onBan?.(address, Math.ceil(estimate), until);
      return false;
    }
    this.counters.admitted++;
    return true;
  }

  /** A ban learnt from elsewhere (Redis at start, the other node, an operator); exempt addresses are never banned. */
  applyBan(address: string, untilMs: number): boolean {
    if (this.o.exempt.has(address) || untilMs <= this.now()) return false;
    this.bans.set(address, untilMs);
    this.windows.delete(address);
    return true;
  }

  /** Lift a ban (DELETE /api/bannedips/<ip>): the source starts with an empty window. */
  lift(address: string): boolean {
    this.windows.delete(address);
    const had = this.bans.delete(address);
    if (had) this.counters.lifted++;
    return had;
  }

  /** Replace every ban with `bans` (a resync from Redis, the truth). */
  replaceBans(bans: Iterable<[string, number]>): void {
    this.bans.clear();
    for (const [a, until] of bans) this.applyBan(a, until);
  }

  /** Bans in force: address → ms left (Infinity: until lifted). */
  activeBans(): Map<string, number> {
    const now = this.now();
    const out = new Map<string, number>();
    for (const [a, until] of this.bans) if (until > now) out.set(a, until - now);
    return out;
  }

  isBanned(address: string): boolean {
    const until = this.bans.get(address);
    return until !== undefined && until > this.now();
  }

  get tracked(): number {
    return this.windows.size;
  }

  /** Forget sources quiet for two periods and bans that ended (run every window or so). */
  sweep(now = this.now()): void {
    const period = Math.floor(now / this.o.windowMs);
    for (const [a, w] of this.windows) if (w.period < period - 1) this.windows.delete(a);
    for (const [a, until] of this.bans) if (until <= now) this.bans.delete(a);
  }
}
