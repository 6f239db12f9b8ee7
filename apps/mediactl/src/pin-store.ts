/**
 * Which rtpengine holds a call: Redis `media:<call-id>` = instance id (TTL = max_call_s,
 * refreshed by offer/answer, deleted by delete), so a restarted mediactl still routes every
 * call right; and the same pins in memory, so a lost Redis costs nothing for the calls this
 * process knows. Writes and deletes that could not reach Redis are kept and replayed when
 * it is back (`flush`).
 */
import type { Logger } from 'pino';

/** The Redis key of a call's pin (packages/db/REDIS.md). */
export const mediaKey = (callId: string): string => `media:${callId}`;

/** The little of Redis the pins need; `ready` false → no command is tried. */
export interface PinBackend {
  readonly ready: boolean;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlS: number): Promise<void>;
  del(key: string): Promise<void>;
}

/** Deletions kept for a Redis that is away; beyond this the keys are left to their TTL. */
const MAX_UNDELETED = 100_000;

interface Pin {
  instance: string;
  /** ms since the epoch */
  expiresAt: number;
  /** Created by this process (media.offer of a new call): counted in media_sessions_live. */
  created: boolean;
}

export interface PinStoreOptions {
  backend: PinBackend;
  ttlS: number;
  logger: Logger;
  now?: () => number;
}

export class PinStore {
  readonly #backend: PinBackend;
  readonly #ttlS: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #pins = new Map<string, Pin>();
  /** Call-IDs whose pin Redis has not got yet / whose deletion it has not seen yet. */
  readonly #unsaved = new Set<string>();
  readonly #undeleted = new Set<string>();
  #flushing: Promise<void> | undefined;

  constructor(opts: PinStoreOptions) {
    this.#backend = opts.backend;
    this.#ttlS = opts.ttlS;
    this.#logger = opts.logger.child({ component: 'pin-store' });
    this.#now = opts.now ?? Date.now;
  }

  /** The call's instance id: memory, then Redis; undefined when neither knows it (or Redis is unreachable). */
  async lookup(callId: string): Promise<string | undefined> {
    const mem = this.#pins.get(callId);
    if (mem && mem.expiresAt > this.#now()) return mem.instance;
    if (this.#undeleted.has(callId) || !this.#backend.ready) return undefined;
    try {
      const id = await this.#backend.get(mediaKey(callId));
      if (id === null) return undefined;
      this.#pins.set(callId, { instance: id, expiresAt: this.#now() + this.#ttlS * 1000, created: mem?.created ?? false });
      return id;
    } catch (err) {
      this.#logger.warn({ callId, err: (err as Error).message }, 'pin lookup in redis failed');
      return undefined;
    }
  }

  /** Pins (or re-pins, refreshing the TTL) a call to an instance. Never rejects. */
  async pin(callId: string, instance: string, opts: { created?: boolean } = {}): Promise<void> {
    const old = this.#pins.get(callId);
    this.#pins.set(callId, { instance, expiresAt: this.#now() + this.#ttlS * 1000, created: opts.created ?? old?.created ?? false });
    this.#undeleted.delete(callId);
    if (!(await this.#write(callId, instance))) this.#unsaved.add(callId);
  }

  /** Forgets a call. Never rejects. */
  async unpin(callId: string): Promise<void> {
    this.#pins.delete(callId);
    this.#unsaved.delete(callId);
    if (!(await this.#remove(callId))) {
      this.#undeleted.add(callId);
      // bounded: the oldest owed deletion goes first (its key expires by its TTL anyway)
      if (this.#undeleted.size > MAX_UNDELETED) this.#undeleted.delete(this.#undeleted.values().next().value as string);
    }
  }

  /** Writes what Redis missed while it was away; call when the backend is ready again. */
  flush(): Promise<void> {
    this.#flushing ??= (async () => {
      const saves = [...this.#unsaved];
      const deletes = [...this.#undeleted];
      let saved = 0;
      let deleted = 0;
      for (const callId of saves) {
        const pin = this.#pins.get(callId);
        this.#unsaved.delete(callId);
        if (!pin) continue;
        if (await this.#write(callId, pin.instance, Math.ceil((pin.expiresAt - this.#now()) / 1000))) saved++;
        else this.#unsaved.add(callId);
      }
      for (const callId of deletes) {
        this.#undeleted.delete(callId);
        if (await this.#remove(callId)) deleted++;
        else if (!this.#pins.has(callId)) this.#undeleted.add(callId);
      }
      if (saves.length + deletes.length > 0) this.#logger.info({ saved, deleted, pending: this.pending() }, 'pins replayed to redis');
    })().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** Drops pins past their TTL (memory only; Redis expires its keys itself). */
  sweep(): number {
    const now = this.#now();
    let n = 0;
    for (const [callId, pin] of this.#pins) {
      if (pin.expiresAt > now) continue;
      this.#pins.delete(callId);
      this.#unsaved.delete(callId);
      n++;
    }
    return n;
  }

  /** Calls this process created and has not deleted (nor seen expire). */
  liveCreated(): number {
    let n = 0;
    for (const p of this.#pins.values()) if (p.created) n++;
    return n;
  }

  /** Calls pinned to each instance, as far as this process knows. */
  countByInstance(): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of this.#pins.values()) out.set(p.instance, (out.get(p.instance) ?? 0) + 1);
    return out;
  }

  /** Pins and deletions Redis has not seen yet. */
  pending(): number {
    return this.#unsaved.size + this.#undeleted.size;
  }

  size(): number {
    return this.#pins.size;
  }

  async #write(callId: string, instance: string, ttlS = this.#ttlS): Promise<boolean> {
    if (!this.#backend.ready) return false;
    try {
      await this.#backend.set(mediaKey(callId), instance, Math.max(1, ttlS));
      return true;
    } catch (err) {
      this.#logger.warn({ callId, err: (err as Error).message }, 'pin write to redis failed');
      return false;
    }
  }

  async #remove(callId: string): Promise<boolean> {
    if (!this.#backend.ready) return false;
    try {
      await this.#backend.del(mediaKey(callId));
      return true;
    } catch (err) {
      this.#logger.warn({ callId, err: (err as Error).message }, 'pin delete in redis failed');
      return false;
    }
  }
}
