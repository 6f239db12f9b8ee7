/**
 * What the call features read from MariaDB, cached: a subscriber's profile (domain,
 * customer and its call limits, primary number, the preferences of each level), compiled
 * rewrite rule sets and NCOS levels. Entries are dropped on `ngcp:changes` (REDIS.md) and
 * all at every (re)connect of the subscription; a TTL bounds staleness when a message is lost.
 *
 * A bad row never crashes a call: a preference value of the wrong shape is ignored with a log
 * line, a rule that does not compile is skipped (logged once per compile), a dangling id
 * (set or level deleted) means "none".
 */
import type { Logger } from 'pino';
import type { ChangeNotification, Db, PreferenceDef, PreferenceMap, PreferenceValue } from '@ngcp/db';
import type { CallForwardMap } from '@ngcp/db';
import { getCallForwards, getPreferences, loadPreferenceDefs, subscriberNumbers } from '@ngcp/db';
import type { NcosLevelSpec } from './policy.js';
import { compileRewriteSet, type RewriteRuleSpec, type RewriteSet } from './rewrite.js';

export interface SubscriberProfile {
  subscriberId: number;
  domainId: number;
  customerId: number | null;
  /** primary number, E.164 digits; undefined when the subscriber has none */
  number?: string;
  /** the customer's limits (customers.concurrent_max / concurrent_max_out), null = none */
  customerMax: number | null;
  customerMaxOut: number | null;
  prefs: { domain: PreferenceMap; customer: PreferenceMap; subscriber: PreferenceMap };
}

interface Entry<T> { value: T; until: number }

class Cache<K, T> {
  private map = new Map<K, Entry<T>>();
  constructor(private max: number) {}
  get(key: K, now: number): Entry<T> | undefined {
    const e = this.map.get(key);
    if (e && e.until <= now) {
      this.map.delete(key);
      return undefined;
    }
    return e;
  }
  set(key: K, value: T, until: number): void {
    if (this.map.size >= this.max && !this.map.has(key)) this.map.delete(this.map.keys().next().value as K);
    this.map.set(key, { value, until });
  }
  delete(key: K): void {
    this.map.delete(key);
  }
  clear(): void {
    this.map.clear();
  }
  get size(): number {
    return this.map.size;
  }
}

export interface FeatureStoreOptions {
  /** seconds an entry stays (notifications drop it earlier). Default 300. */
  ttlSeconds?: number;
  maxEntries?: number;
  now?: () => number;
}

export class FeatureStore {
  private profiles: Cache<number, SubscriberProfile | undefined>;
  private sets: Cache<number, RewriteSet | undefined>;
  private levels: Cache<number, NcosLevelSpec | undefined>;
  private forwardMaps: Cache<number, CallForwardMap>;
  private defs: Promise<PreferenceDef[]> | undefined;
  private ttl: number;
  private now: () => number;
  private inflight = new Map<string, Promise<unknown>>();
  readonly stats = { hits: 0, misses: 0, invalidations: 0, reloads: 0, rulesSkipped: 0 };

  constructor(private db: Db, private logger: Logger, opts: FeatureStoreOptions = {}) {
    const max = opts.maxEntries ?? 100_000;
    this.profiles = new Cache(max);
    this.sets = new Cache(10_000);
    this.levels = new Cache(10_000);
    this.forwardMaps = new Cache(max);
    this.ttl = (opts.ttlSeconds ?? 300) * 1000;
    this.now = opts.now ?? Date.now;
  }

  profile(subscriberId: number): Promise<SubscriberProfile | undefined> {
    return this.cached(this.profiles, 'p', subscriberId, () => this.loadProfile(subscriberId));
  }

  rewriteSet(id: number): Promise<RewriteSet | undefined> {
    return this.cached(this.sets, 's', id, () => this.loadSet(id));
  }

  ncosLevel(id: number): Promise<NcosLevelSpec | undefined> {
    return this.cached(this.levels, 'n', id, () => this.loadLevel(id));
  }

  /** A subscriber's enabled call forwards (`call_forwards`), destinations in position order. */
  forwards(subscriberId: number): Promise<CallForwardMap> {
    return this.cached(this.forwardMaps, 'f', subscriberId, () => getCallForwards(this.db, subscriberId));
  }

  private async cached<T>(cache: Cache<number, T>, kind: string, key: number, load: () => Promise<T>): Promise<T> {
    const hit = cache.get(key, this.now());
    if (hit) {
      this.stats.hits++;
      return hit.value;
    }
    this.stats.misses++;
    // one load per key at a time (a burst of calls of one subscriber makes one query) — per generation:
    // a request after a change must not join a load that started before it (it would get the old value)
    const gen = this.generation;
    const k = `${kind}:${key}:${gen}`;
    let p = this.inflight.get(k) as Promise<T> | undefined;
    if (!p) {
      p = load().then((v) => {
        // a change that arrived while loading must not be overwritten by the old value
        if (gen === this.generation) cache.set(key, v, this.now() + this.ttl);
        return v;
      }).finally(() => this.inflight.delete(k));
      this.inflight.set(k, p);
    }
    return p;
  }

  private generation = 0;

  private async loadProfile(subscriberId: number): Promise<SubscriberProfile | undefined> {
    const row: { domain_id: number; customer_id: number | null; cmax: number | null; cmax_out: number | null } | undefined = await this.db('subscribers as s')
      .leftJoin('customers as c', 'c.id', 's.customer_id')
      .where('s.id', subscriberId)
      .first('s.domain_id', 's.customer_id', 'c.concurrent_max as cmax', 'c.concurrent_max_out as cmax_out');
    if (!row) return undefined;
    this.defs ??= loadPreferenceDefs(this.db).catch((err: unknown) => {
      this.defs = undefined;
      throw err;
    });
    const defs = await this.defs;
    const [domain, customer, subscriber, numbers] = await Promise.all([
      getPreferences(this.db, 'domain', row.domain_id, defs),
      row.customer_id != null ? getPreferences(this.db, 'customer', row.customer_id, defs) : Promise.resolve({}),
      getPreferences(this.db, 'subscriber', subscriberId, defs),
      subscriberNumbers(this.db, subscriberId),
    ]);
    const primary = numbers.find((n) => n.isPrimary) ?? numbers[0];
    return {
      subscriberId, domainId: row.domain_id, customerId: row.customer_id,
      ...(primary ? { number: primary.e164 } : {}),
      customerMax: row.cmax ?? null, customerMaxOut: row.cmax_out ?? null,
      prefs: { domain, customer, subscriber },
    };
  }

  private async loadSet(id: number): Promise<RewriteSet | undefined> {
    const exists = await this.db('rewrite_rule_sets').where('id', id).first('id');
    if (!exists) return undefined;
    const rows: { id: number; direction: 'in' | 'out'; field: 'caller' | 'callee'; match_pattern: string; replace_pattern: string; priority: number }[] =
      await this.db('rewrite_rules').where({ set_id: id, enabled: true }).orderBy([{ column: 'priority' }, { column: 'id' }])
        .select('id', 'direction', 'field', 'match_pattern', 'replace_pattern', 'priority');
    const specs: RewriteRuleSpec[] = rows.map((r) => ({ id: r.id, direction: r.direction, field: r.field, match: r.match_pattern, replace: r.replace_pattern, priority: r.priority }));
    return compileRewriteSet(id, specs, (s) => {
      this.stats.rulesSkipped++;
      this.logger.warn({ component: 'features', setId: id, ruleId: s.id, pattern: s.match, err: s.error }, 'rewrite rule does not compile; skipped');
    });
  }

  private async loadLevel(id: number): Promise<NcosLevelSpec | undefined> {
    const level: { id: number; level: string; default_action: 'allow' | 'deny' } | undefined = await this.db('ncos_levels').where('id', id).first('id', 'level', 'default_action');
    if (!level) return undefined;
    const patterns: { prefix: string; action: 'allow' | 'deny' }[] = await this.db('ncos_patterns').where('level_id', id).select('prefix', 'action');
    return { id: level.id, level: level.level, defaultAction: level.default_action, patterns };
  }

  /** Apply one `ngcp:changes` message. */
  onChange(n: ChangeNotification): void {
    const id = Number(n.id);
    switch (n.entity) {
      case 'subscriber':
        this.invalidate(() => {
          this.profiles.delete(id);
          this.forwardMaps.delete(id);
        });
        break;
      case 'subscriber_preferences':
        this.invalidate(() => this.profiles.delete(id));
        break;
      case 'domain':
      case 'domain_preferences':
      case 'customer':
      case 'customer_preferences':
      case 'number':
        this.invalidate(() => this.profiles.clear());
        break;
      case 'preference_def':
        this.invalidate(() => {
          this.defs = undefined;
          this.profiles.clear();
        });
        break;
      case 'rewrite_rule_set':
        this.invalidate(() => this.sets.delete(id));
        break;
      case 'rewrite_rule':
        // the message names the rule, not its set
        this.invalidate(() => this.sets.clear());
        break;
      case 'call_forwards':
        // id: the subscriber whose forwards changed
        this.invalidate(() => this.forwardMaps.delete(id));
        break;
      case 'ncos_level':
        this.invalidate(() => this.levels.delete(id));
        break;
      default:
        break;
    }
  }

  private invalidate(fn: () => void): void {
    this.stats.invalidations++;
    this.generation++;
    fn();
  }

  /** Forget everything (start, every (re)connect of the change subscription, `reload`). */
  clear(): void {
    this.stats.reloads++;
    this.generation++;
    this.defs = undefined;
    this.profiles.clear();
    this.sets.clear();
    this.levels.clear();
    this.forwardMaps.clear();
  }

  size(): { profiles: number; rewriteSets: number; ncosLevels: number; forwards: number } {
    return { profiles: this.profiles.size, rewriteSets: this.sets.size, ncosLevels: this.levels.size, forwards: this.forwardMaps.size };
  }
}

/** An int preference (an id, a limit) or undefined when unset or not a positive integer. */
export function intPref(v: PreferenceValue | PreferenceValue[] | undefined): number | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : undefined;
}

export function boolPref(v: PreferenceValue | PreferenceValue[] | undefined): boolean {
  const x = Array.isArray(v) ? v[0] : v;
  return x === true;
}

export function stringPref(v: PreferenceValue | PreferenceValue[] | undefined): string | undefined {
  const x = Array.isArray(v) ? v[0] : v;
  return typeof x === 'string' && x.length > 0 ? x : undefined;
}

export function listPref(v: PreferenceValue | PreferenceValue[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const l = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string' && x.length > 0);
  return l.length > 0 ? l : undefined;
}
