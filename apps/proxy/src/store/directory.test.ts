/** The directory cache under change: what a load read before a change is not kept after it. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Db } from '@ngcp/db';
import { SubscriberDirectory } from './directory.js';

type Loader = (cache: unknown, key: string, load: () => Promise<unknown>) => Promise<unknown>;

describe('Directory cache', () => {
  it('a load that began before a change answers its caller but is not cached; the next lookup loads again', async () => {
    const dir = new SubscriberDirectory({} as Db, pino({ level: 'silent' }));
    const d = dir as unknown as { cached: Loader; numbers: unknown };
    const lookup = (load: () => Promise<unknown>) => d.cached.call(dir, d.numbers, '4930123', load);
    let release!: (v: unknown) => void;
    const before = lookup(() => new Promise((r) => (release = r)));
    // the number is provisioned while the first lookup (which found nothing) is still reading
    dir.onChange({ entity: 'number', id: 1, op: 'create', ts: Date.now() });
    release(undefined);
    expect(await before).toBeUndefined();
    let loads = 0;
    expect(await lookup(async () => (loads++, { subscriberId: 5 }))).toEqual({ subscriberId: 5 });
    expect(loads).toBe(1);
    // and that one is kept
    expect(await lookup(async () => (loads++, undefined))).toEqual({ subscriberId: 5 });
    expect(loads).toBe(1);
  });
});
