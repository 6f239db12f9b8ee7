/**
 * A small map with a deadline per entry and a size bound (the oldest entry goes first), for
 * the daemons' caches of provisioning rows (the proxy's directory, the sbc's prepaid accounts).
 * `get` answers `null` for a missing or expired entry, so `undefined` can be cached ("not found").
 */
interface Entry<T> { value: T; until: number }

export class TtlCache<T> {
  private map = new Map<string, Entry<T>>();
  constructor(private readonly max: number) {}
  get(key: string, now: number): T | undefined | null {
    const e = this.map.get(key);
    if (!e) return null;
    if (e.until <= now) {
      this.map.delete(key);
      return null;
    }
    return e.value;
  }
  set(key: string, value: T, until: number): void {
    if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, { value, until });
  }
  deleteWhere(pred: (v: T) => boolean): void {
    for (const [k, e] of this.map) if (pred(e.value)) this.map.delete(k);
  }
  clear(): void {
    this.map.clear();
  }
  get size(): number {
    return this.map.size;
  }
}

