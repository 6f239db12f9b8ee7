/**
 * Which peering servers are down (pure, no I/O): a server is marked down after `downAfter`
 * failures in a row (a 408, a 5xx, a timeout of a call attempt or of an OPTIONS probe), and up
 * again on its next success (any other response). Calls skip down servers; the prober
 * (peering/prober.ts) sends OPTIONS to every down server and every `probe` server.
 */
export interface PeerHealthEvent { id: number; down: boolean; failures: number }

export class PeerHealth {
  private failures = new Map<number, number>();
  private down = new Set<number>();

  constructor(private readonly downAfter: number, private readonly onChange: (e: PeerHealthEvent) => void = () => undefined) {
    if (!Number.isInteger(downAfter) || downAfter < 1) throw new Error(`downAfter must be a positive integer, not ${downAfter}`);
  }

  isDown(id: number): boolean {
    return this.down.has(id);
  }

  success(id: number): void {
    this.failures.delete(id);
    if (this.down.delete(id)) this.onChange({ id, down: false, failures: 0 });
  }

  failure(id: number): void {
    const n = (this.failures.get(id) ?? 0) + 1;
    this.failures.set(id, n);
    if (n >= this.downAfter && !this.down.has(id)) {
      this.down.add(id);
      this.onChange({ id, down: true, failures: n });
    }
  }

  /** Forget servers that are no longer provisioned (after a reload). */
  retain(ids: ReadonlySet<number>): void {
    for (const id of [...this.failures.keys()]) if (!ids.has(id)) this.failures.delete(id);
    for (const id of [...this.down]) if (!ids.has(id)) this.down.delete(id);
  }

  snapshot(): Array<{ id: number; down: boolean; failures: number }> {
    const ids = new Set([...this.failures.keys(), ...this.down]);
    return [...ids].sort((a, b) => a - b).map((id) => ({ id, down: this.down.has(id), failures: this.failures.get(id) ?? 0 }));
  }
}
