/**
 * Nonce-count replay protection (RFC 2617 §3.2.2 / RFC 7616 §3.4: "the server can detect
 * request replays by maintaining its own copy of this count — if the same nc-value is
 * seen twice, then the request is a replay").
 *
 * Trade-off: the server's nonces are stateless (any cluster node verifies them), but nc
 * tracking is state. With an in-memory store on each node, a replay sent to the *other*
 * node of the pair is not detected; share the state (e.g. a Redis-backed store
 * implementing this interface) if that matters. Without a store, nc is not tracked and
 * replay protection is only the nonce lifetime.
 */

export interface NonceCountStore {
  /**
   * Records that `nc` was used with `nonce`. Returns false if this (nonce, nc) pair was
   * already seen (a replay) — or is too old to tell — and true otherwise.
   */
  checkAndSet(nonce: string, nc: number): boolean | Promise<boolean>;
}

export interface MemoryNonceCountStoreOptions {
  /** Most nonces remembered; the least recently used is forgotten first. Default 10 000. */
  maxEntries?: number;
  /**
   * How far below the highest nc seen an nc may arrive and still be accepted once
   * (out-of-order requests sharing a nonce), 1..64. Default 32.
   */
  window?: number;
}

interface Entry {
  max: number;
  /** Bit i set ⇔ nc (max - i) was seen; bit 0 is `max` itself. */
  seen: bigint;
}

/**
 * Bounded in-memory {@link NonceCountStore}: LRU over nonces, and per nonce a sliding
 * window like IPsec anti-replay (RFC 4303 §3.4.3), so that requests reusing a nonce may
 * arrive slightly out of order but none is accepted twice.
 *
 * Size it for the number of nonces in use within the nonce lifetime: once a nonce is
 * evicted its history is lost and old nc values would be accepted again.
 */
export class MemoryNonceCountStore implements NonceCountStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly window: number;

  constructor(options: MemoryNonceCountStoreOptions = {}) {
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? 10_000));
    this.window = Math.min(64, Math.max(1, Math.floor(options.window ?? 32)));
  }

  get size(): number {
    return this.entries.size;
  }

  checkAndSet(nonce: string, nc: number): boolean {
    if (!Number.isInteger(nc) || nc < 0) return false;
    const e = this.entries.get(nonce);
    if (e === undefined) {
      this.touch(nonce, { max: nc, seen: 1n });
      return true;
    }
    this.touch(nonce, e); // refresh recency either way
    if (nc > e.max) {
      const shift = nc - e.max;
      e.seen = shift >= this.window ? 1n : ((e.seen << BigInt(shift)) | 1n) & this.mask();
      e.max = nc;
      return true;
    }
    const back = e.max - nc;
    if (back >= this.window) return false;
    const bit = 1n << BigInt(back);
    if ((e.seen & bit) !== 0n) return false;
    e.seen |= bit;
    return true;
  }

  /** Forgets everything (e.g. after a secret rotation). */
  clear(): void {
    this.entries.clear();
  }

  private mask(): bigint {
    return (1n << BigInt(this.window)) - 1n;
  }

  private touch(nonce: string, e: Entry): void {
    this.entries.delete(nonce);
    this.entries.set(nonce, e);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
  }
}
