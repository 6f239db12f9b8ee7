/**
 * Failover walk over a resolved target list (RFC 3263 §4.3).
 *
 * Contract for the transaction layer:
 *   const it = resolver.iterate(uriTarget);
 *   let t = await it.next();                  // first destination
 *   … send; on timeout (Timer B/F), transport error or 503:
 *   it.markFailed(t, 'timeout' | '503' | 'transport');
 *   t = await it.next();                      // undefined → no more destinations
 *   … each retry is a NEW client transaction (new Via branch, RFC 3263 §4.3).
 *
 * Ordering of next(): targets not yet tried and not blacklisted, in resolve()
 * order; once those run out, the blacklisted ones (in resolve() order) as a last
 * resort, so a request is never refused just because everything was marked down.
 * The blacklist is consulted at each next() call, so a failure reported by another
 * transaction in the meantime is honoured. A target is returned at most once.
 */
import { destinationKey } from './blacklist.js';
import type { Blacklist, FailureReason } from './blacklist.js';
import type { Target } from './types.js';

export class TargetIterator {
  private targets: Target[] | undefined;
  private loading: Promise<Target[]> | undefined;
  private readonly used = new Set<string>();
  private readonly triedList: Target[] = [];

  constructor(
    private readonly load: () => Promise<Target[]>,
    private readonly blacklist: Blacklist,
  ) {}

  /**
   * The next destination to try, or undefined when every target has been
   * returned. Rejects with DnsError only if resolution itself failed.
   */
  async next(): Promise<Target | undefined> {
    if (!this.targets) {
      this.loading ??= this.load();
      this.targets = await this.loading;
    }
    const fresh = this.targets.filter((t) => !this.used.has(destinationKey(t)));
    const pick = fresh.find((t) => !this.blacklist.has(destinationKey(t))) ?? fresh[0];
    if (!pick) return undefined;
    this.used.add(destinationKey(pick));
    this.triedList.push(pick);
    return pick;
  }

  /**
   * Record that `target` failed: it is blacklisted for the resolver's configured
   * time (or `seconds`, e.g. from a 503 Retry-After) for every transaction.
   */
  markFailed(target: Target, reason: FailureReason, seconds?: number): void {
    this.blacklist.add(destinationKey(target), reason, seconds);
  }

  /** Targets returned so far, in order. */
  get tried(): readonly Target[] {
    return this.triedList;
  }

  /** Full resolved list, once the first next() has resolved. */
  get all(): readonly Target[] | undefined {
    return this.targets;
  }
}
