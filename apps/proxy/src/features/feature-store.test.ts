/** FeatureStore's cache under change: a request after a change never gets a value loaded before it. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Db } from '@ngcp/db';
import { FeatureStore } from './feature-store.js';

type Loader = (cache: unknown, kind: string, key: number, load: () => Promise<string>) => Promise<string>;

describe('FeatureStore cache', () => {
  it('a request after a change starts its own load instead of joining one that began before the change', async () => {
    const store = new FeatureStore({} as Db, pino({ level: 'silent' }));
    const s = store as unknown as { cached: Loader; sets: unknown };
    const cached = (load: () => Promise<string>) => s.cached.call(store, s.sets, 's', 7, load);
    let releaseOld!: (v: string) => void;
    let loads = 0;
    const before = cached(() => {
      loads++;
      return new Promise<string>((r) => (releaseOld = r));
    });
    // a second request while the first load is in flight, with no change between: it shares the load
    const joined = cached(async () => {
      loads++;
      return 'unexpected';
    });
    // the set changes while the first load is still in flight
    store.onChange({ entity: 'rewrite_rule', id: 99, op: 'update', ts: Date.now() });
    const after = cached(async () => {
      loads++;
      return 'new';
    });
    releaseOld('old');
    expect(await before).toBe('old');
    expect(await joined).toBe('old');
    expect(await after).toBe('new');
    expect(loads).toBe(2);
    // and the value kept is the one loaded after the change
    expect(await cached(async () => 'not loaded again')).toBe('new');
  });
});
