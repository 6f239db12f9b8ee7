/**
 * Subscribers, numbers and domains as the proxy needs them, from MariaDB through a small
 * cache. Entries are dropped on `ngcp:changes` (subscriber, number, domain) and everything is
 * dropped when the subscription (re)connects, as packages/db/REDIS.md asks; a TTL bounds
 * staleness when a notification is lost (best effort, at most once).
 */
import type { Logger } from 'pino';
import type { ChangeNotification, Db, NumberTarget, SubscriberCredentials } from '@ngcp/db';
import { domainExists, findSubscriberCredentials, lookupNumber, TtlCache } from '@ngcp/db';

export interface DirectoryOptions {
  /** seconds a found entry stays (notifications drop it earlier). Default 300. */
  ttlSeconds?: number;
  /** seconds a "not found" stays. Default 30. */
  negativeTtlSeconds?: number;
  /** entries per map at most. Default 100 000. */
  maxEntries?: number;
  now?: () => number;
}

export class SubscriberDirectory {
  private subs: TtlCache<SubscriberCredentials | undefined>;
  private numbers: TtlCache<NumberTarget | undefined>;
  private domains: TtlCache<boolean>;
  private ttl: number;
  private negTtl: number;
  private now: () => number;
  readonly stats = { hits: 0, misses: 0, invalidations: 0, reloads: 0 };

  constructor(private db: Db, private logger: Logger, opts: DirectoryOptions = {}) {
    const max = opts.maxEntries ?? 100_000;
    this.subs = new TtlCache(max);
    this.numbers = new TtlCache(max);
    this.domains = new TtlCache(max);
    this.ttl = (opts.ttlSeconds ?? 300) * 1000;
    this.negTtl = (opts.negativeTtlSeconds ?? 30) * 1000;
    this.now = opts.now ?? Date.now;
  }

  /** HA1s, status and ids of `username@domain`; undefined when there is no such subscriber. Throws when MariaDB fails. */
  async credentials(username: string, domain: string): Promise<SubscriberCredentials | undefined> {
    const key = `${username}@${domain.toLowerCase()}`;
    return this.cached(this.subs, key, () => findSubscriberCredentials(this.db, username, domain.toLowerCase()));
  }

  async number(e164: string): Promise<NumberTarget | undefined> {
    return this.cached(this.numbers, e164, () => lookupNumber(this.db, e164));
  }

  async domainServed(domain: string): Promise<boolean> {
    const v = await this.cached(this.domains, domain.toLowerCase(), () => domainExists(this.db, domain.toLowerCase()));
    return v === true;
  }

  private async cached<T>(cache: TtlCache<T>, key: string, load: () => Promise<T>): Promise<T> {
    const now = this.now();
    const hit = cache.get(key, now);
    if (hit !== null) {
      this.stats.hits++;
      return hit as T;
    }
    this.stats.misses++;
    const gen = this.generation;
    const v = await load();
    // a change that arrived while loading must not be overwritten by what was read before it
    if (gen === this.generation) {
      const found = v !== undefined && (v as unknown) !== false;
      cache.set(key, v, now + (found ? this.ttl : this.negTtl));
    }
    return v;
  }

  /** Bumped by every change and clear(): a load that began before it is not cached. */
  private generation = 0;

  /** Apply one `ngcp:changes` message. */
  onChange(n: ChangeNotification): void {
    this.generation++;
    switch (n.entity) {
      case 'subscriber':
        this.stats.invalidations++;
        this.subs.deleteWhere((s) => s === undefined || String(s.subscriberId) === String(n.id));
        // the numbers of a subscriber are announced as a subscriber change
        this.numbers.clear();
        break;
      case 'number':
        this.stats.invalidations++;
        this.numbers.clear();
        break;
      case 'domain':
        this.stats.invalidations++;
        this.subs.clear();
        this.numbers.clear();
        this.domains.clear();
        break;
      default:
        break;
    }
  }

  /** Forget everything (start, and every (re)connect of the change subscription). */
  clear(): void {
    this.generation++;
    this.stats.reloads++;
    this.subs.clear();
    this.numbers.clear();
    this.domains.clear();
    this.logger.debug({ component: 'directory' }, 'cache cleared');
  }

  size(): { subscribers: number; numbers: number; domains: number } {
    return { subscribers: this.subs.size, numbers: this.numbers.size, domains: this.domains.size };
  }
}
