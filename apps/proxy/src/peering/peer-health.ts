/**
 * Which peering servers are down (pure, no I/O): a server is marked down after `downAfter`
 * failures in a row (a 408, a 5xx, a timeout of a call attempt or of an OPTIONS probe), and up
 * again on its next success (any other response). Calls skip down servers; the prober
 * (peering/prober.ts) sends OPTIONS to every down server and every `probe` server. Every
 * change carries its time, so that changes seen by other proxies (workers, the other node:
 * Redis `peer:state`, peer-state-store.ts) are applied when they are newer (`apply`).
 */
export interface PeerHealthEvent { id: number; down: boolean; failures: number; at: number }

export class PeerHealth {
  private failures = new Map<number, number>();
  private down = new Set<number>();
  /** when each server last changed state (ms), here or as applied from elsewhere */
  private changed = new Map<number, number>();

  constructor(
    private readonly downAfter: number,
    private readonly onChange: (e: PeerHealthEvent, local: boolean) => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(downAfter) || downAfter < 1) throw new Error(`downAfter must be a positive integer, not ${downAfter}`);
  }

  isDown(id: number): boolean {
    return this.down.has(id);
  }

  success(id: number): void {
    this.failures.delete(id);
    if (this.down.delete(id)) this.changedNow(id, false, 0);
  }

  failure(id: number): void {
    const n = (this.failures.get(id) ?? 0) + 1;
    this.failures.set(id, n);
    if (n >= this.downAfter && !this.down.has(id)) {
      this.down.add(id);
      this.changedNow(id, true, n);
    }
  }

  private changedNow(id: number, down: boolean, failures: number): void {
    const at = Math.max(this.now(), (this.changed.get(id) ?? 0) + 1);
    this.changed.set(id, at);
    this.onChange({ id, down, failures, at }, true);
  }

  /** A state another proxy saw at `at`: taken over when it is newer than our last change. */
  apply(id: number, down: boolean, at: number): void {
    if (at <= (this.changed.get(id) ?? 0)) return;
    this.changed.set(id, at);
    if (down === this.down.has(id)) return;
    if (down) this.down.add(id);
    else this.down.delete(id);
    this.failures.delete(id);
    this.onChange({ id, down, failures: 0, at }, false);
  }

  /** Forget servers that are no longer provisioned (after a reload). */
  retain(ids: ReadonlySet<number>): void {
    for (const m of [this.failures, this.changed]) for (const id of [...m.keys()]) if (!ids.has(id)) m.delete(id);
    for (const id of [...this.down]) if (!ids.has(id)) this.down.delete(id);
  }

  snapshot(): Array<{ id: number; down: boolean; failures: number }> {
    const ids = new Set([...this.failures.keys(), ...this.down]);
    return [...ids].sort((a, b) => a - b).map((id) => ({ id, down: this.down.has(id), failures: this.failures.get(id) ?? 0 }));
  }
}
