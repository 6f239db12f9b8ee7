import { describe, expect, it } from 'vitest';
import { FakeRedis, silentLogger } from '../test/fakes.js';
import { PinStore } from './pin-store.js';

function store(redis = new FakeRedis(), clock = { t: 1_000_000 }) {
  return { s: new PinStore({ backend: redis, ttlS: 60, logger: silentLogger, now: () => clock.t }), redis, clock };
}

describe('PinStore', () => {
  it('pins a call in Redis as media:<call-id> with the TTL, and forgets it on unpin', async () => {
    const { s, redis } = store();
    await s.pin('c1', 'rtp1', { created: true });
    expect(redis.data.get('media:c1')).toEqual({ value: 'rtp1', ttlS: 60 });
    expect(await s.lookup('c1')).toBe('rtp1');
    expect(s.liveCreated()).toBe(1);
    await s.unpin('c1');
    expect(redis.data.has('media:c1')).toBe(false);
    expect(await s.lookup('c1')).toBeUndefined();
    expect(s.liveCreated()).toBe(0);
  });

  it('a new store on the same Redis (a restarted mediactl) finds the pin', async () => {
    const redis = new FakeRedis();
    await store(redis).s.pin('c1', 'rtp2');
    const { s } = store(redis);
    expect(await s.lookup('c1')).toBe('rtp2');
    // learned pins are not calls this process created
    expect(s.liveCreated()).toBe(0);
  });

  it('keeps working from memory while Redis is away, and replays pins and deletions when it is back', async () => {
    const { s, redis } = store();
    await s.pin('gone', 'rtp1');
    redis.ready = false;
    await s.pin('c1', 'rtp1', { created: true });
    await s.unpin('gone');
    expect(await s.lookup('c1')).toBe('rtp1');
    expect(s.pending()).toBe(2);
    expect(redis.data.has('media:c1')).toBe(false);
    expect(redis.data.has('media:gone')).toBe(true);
    redis.ready = true;
    await s.flush();
    expect(s.pending()).toBe(0);
    expect(redis.data.get('media:c1')?.value).toBe('rtp1');
    expect(redis.data.has('media:gone')).toBe(false);
  });

  it('a deletion owed to Redis hides a stale key there', async () => {
    const { s, redis } = store();
    await s.pin('c1', 'rtp1');
    redis.ready = false;
    await s.unpin('c1');
    redis.ready = true; // back, but not flushed yet
    expect(await s.lookup('c1')).toBeUndefined();
  });

  it('drops memory pins past their TTL; the offer/answer refresh pushes it out', async () => {
    const { s, clock } = store();
    await s.pin('old', 'rtp1', { created: true });
    clock.t += 50_000;
    await s.pin('fresh', 'rtp1', { created: true });
    await s.pin('old', 'rtp1'); // answer refreshes
    clock.t += 50_000;
    expect(s.sweep()).toBe(0);
    clock.t += 20_000;
    expect(s.sweep()).toBe(2);
    expect(s.liveCreated()).toBe(0);
  });

  it('counts pins by instance', async () => {
    const { s } = store();
    await s.pin('a', 'rtp1');
    await s.pin('b', 'rtp1');
    await s.pin('c', 'rtp2');
    expect(Object.fromEntries(s.countByInstance())).toEqual({ rtp1: 2, rtp2: 1 });
  });
});
