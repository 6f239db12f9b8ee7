import { resolveDaemonConfig } from '@ngcp/daemon';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeRedis, fakeFactory, silentLogger } from '../test/fakes.js';
import { mediactlDefaults, type MediactlConfig } from './config.js';
import { mediactlDaemon } from './daemon.js';
import { MediaError } from './media-error.js';
import { Mediactl } from './mediactl.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

function config(over: Partial<MediactlConfig> = {}): MediactlConfig {
  return {
    ...mediactlDefaults,
    control: { address: '127.0.0.1', port: 9090 },
    redis: { host: '127.0.0.1', port: 6379, db: 0 },
    rtpengines: [
      { id: 'a', ng: '127.0.0.1:2001' },
      { id: 'b', ng: '127.0.0.1:2002' },
    ],
    probe_failures: 1,
    ...over,
  };
}

const running: Mediactl[] = [];
afterEach(async () => {
  for (const m of running.splice(0)) await m.stop();
});

async function mediactl(over: Partial<MediactlConfig> = {}, redis = new FakeRedis()) {
  const { factory, engines } = fakeFactory();
  const registry = new Registry();
  const m = new Mediactl({ config: config(over), logger: silentLogger, metrics: registry, ngFactory: factory, pinBackend: redis });
  running.push(m);
  await m.start();
  const call = (method: string, params?: unknown) => (m.methods[method] as (p: unknown) => Promise<unknown>)(params);
  return { m, engines, redis, registry, call };
}

const offer = (callId: string) => ({ call_id: callId, from_tag: 'ft', sdp: SDP });

describe('Mediactl control methods', () => {
  it('offer pins a new call to a healthy instance; answer, query and delete go to that instance', async () => {
    const { engines, redis, call } = await mediactl();
    const r = (await call('media.offer', offer('c1'))) as { sdp: string; instance: string };
    expect(r.instance).toMatch(/^[ab]$/);
    expect(redis.data.get('media:c1')).toEqual({ value: r.instance, ttlS: 21_600 });
    const engine = engines.get(r.instance)!;
    expect(engine.sent.at(-1)).toMatchObject({
      command: 'offer',
      params: { 'call-id': 'c1', 'from-tag': 'ft', replace: ['origin', 'session-connection'], ICE: 'remove', 'transport-protocol': 'RTP/AVP' },
    });
    await expect(call('media.answer', { ...offer('c1'), to_tag: 'tt' })).resolves.toMatchObject({ instance: r.instance });
    await expect(call('media.query', { call_id: 'c1' })).resolves.toMatchObject({ result: 'ok', instance: r.instance });
    await expect(call('media.delete', { call_id: 'c1', from_tag: 'ft' })).resolves.toEqual({ deleted: true });
    expect(redis.data.has('media:c1')).toBe(false);
    await expect(call('media.delete', { call_id: 'c1' })).resolves.toEqual({ deleted: false });
  });

  it('spreads new calls over both instances and keeps a re-offer on its instance', async () => {
    const { call } = await mediactl();
    const first = await Promise.all(['c1', 'c2', 'c3', 'c4'].map(async (c) => ((await call('media.offer', offer(c))) as { instance: string }).instance));
    expect(new Set(first)).toEqual(new Set(['a', 'b']));
    for (const [k, c] of ['c1', 'c2', 'c3', 'c4'].entries()) {
      expect(((await call('media.offer', offer(c))) as { instance: string }).instance).toBe(first[k]);
    }
  });

  it('answers UNAVAILABLE for a call pinned to a dead instance, and sends new calls to the live one', async () => {
    const { m, engines, call } = await mediactl();
    const r = (await call('media.offer', offer('c1'))) as { instance: string };
    engines.get(r.instance)!.alive = false;
    await m.pool.probeAll();
    const err = await call('media.answer', { ...offer('c1'), to_tag: 'tt' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MediaError);
    expect(err).toMatchObject({ code: 'unavailable', rpcCode: -32001, message: expect.stringContaining(`pinned to rtpengine '${r.instance}'`) });
    const other = r.instance === 'a' ? 'b' : 'a';
    for (const c of ['n1', 'n2', 'n3']) await expect(call('media.offer', offer(c))).resolves.toMatchObject({ instance: other });
  });

  it('answers UNAVAILABLE for a new call when no instance is healthy', async () => {
    const { m, engines, call } = await mediactl();
    for (const e of engines.values()) e.alive = false;
    await m.pool.probeAll();
    await expect(call('media.offer', offer('c1'))).rejects.toMatchObject({ code: 'unavailable', message: 'no healthy rtpengine for a new call (0 of 2 up)' });
    expect(m.health()).toMatchObject({ ok: false, rtpengines_up: 0, rtpengines: 2 });
    await expect(call('media.list', {})).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('answers UNAVAILABLE when the instance stops answering mid-call (ng timeout)', async () => {
    const { engines, call } = await mediactl({ probe_failures: 3 });
    const r = (await call('media.offer', offer('c1'))) as { instance: string };
    engines.get(r.instance)!.alive = false;
    await expect(call('media.answer', { ...offer('c1'), to_tag: 'tt' })).rejects.toMatchObject({
      code: 'unavailable',
      message: expect.stringContaining('did not answer'),
    });
  });

  it('finds a call whose pin was lost (Redis key gone, new process) by asking every instance', async () => {
    const redis = new FakeRedis();
    const first = await mediactl({}, redis);
    const r = (await first.call('media.offer', offer('c1'))) as { instance: string };
    const engine = first.engines.get(r.instance)!;
    redis.data.clear();
    // a second process whose fakes share the first one's calls
    const second = await mediactl({}, redis);
    for (const [id, e] of second.engines) for (const [k, v] of first.engines.get(id)!.calls) e.calls.set(k, v);
    await expect(second.call('media.answer', { ...offer('c1'), to_tag: 'tt' })).resolves.toMatchObject({ instance: r.instance });
    expect(redis.data.get('media:c1')?.value).toBe(r.instance);
    expect(engine.calls.has('c1')).toBe(true);
  });

  it('answer for an unknown call is NOT_FOUND; an SDP rtpengine refuses is INVALID_PARAMS with its reason', async () => {
    const { call } = await mediactl();
    await expect(call('media.answer', { ...offer('nope'), to_tag: 'tt' })).rejects.toMatchObject({ code: 'not-found', rpcCode: -32004 });
    await expect(call('media.offer', { ...offer('c1'), sdp: 'garbage' })).rejects.toMatchObject({
      code: 'rejected',
      rpcCode: -32602,
      data: expect.objectContaining({ reason: 'Failed to parse SDP' }),
    });
  });

  it('keeps answering with Redis away: a new call is pinned in memory and written when Redis is back', async () => {
    const redis = new FakeRedis();
    const { m, call } = await mediactl({}, redis);
    redis.ready = false;
    const r = (await call('media.offer', offer('c1'))) as { instance: string };
    await expect(call('media.answer', { ...offer('c1'), to_tag: 'tt' })).resolves.toMatchObject({ instance: r.instance });
    expect(m.health()).toMatchObject({ ok: true, pins_pending: 1 });
    redis.ready = true;
    await m.pins.flush();
    expect(redis.data.get('media:c1')?.value).toBe(r.instance);
  });

  it('names the bad field in INVALID_PARAMS', async () => {
    const { call } = await mediactl();
    await expect(call('media.offer', { from_tag: 'x', sdp: SDP })).rejects.toMatchObject({ code: 'invalid-params', message: 'call_id: required non-empty string' });
    await expect(call('media.answer', offer('c1'))).rejects.toMatchObject({ message: 'to_tag: required non-empty string' });
    await expect(call('media.offer', { ...offer('c1'), flags: ['ok', 7] })).rejects.toMatchObject({ message: expect.stringMatching(/^flags\[1\]/) });
    await expect(call('media.list', { limit: 0 })).rejects.toMatchObject({ message: expect.stringMatching(/^limit:/) });
    await expect(call('media.offer', 'x')).rejects.toMatchObject({ message: 'params: expected an object' });
  });

  it('lists calls, instances and the metrics a scrape shows', async () => {
    const { m, call, registry } = await mediactl();
    await call('media.offer', offer('c1'));
    await call('media.offer', offer('c2'));
    expect(((await call('media.list', {})) as { calls: string[] }).calls.sort()).toEqual(['c1', 'c2']);
    const list = (await call('rtpengine.list')) as Array<{ id: string; healthy: boolean; calls: number }>;
    expect(list.map((i) => [i.id, i.healthy, i.calls])).toEqual([['a', true, 1], ['b', true, 1]]);
    const text = await registry.metrics();
    expect(text).toMatch(/^media_sessions_live 2$/m);
    expect(text).toMatch(/^ng_roundtrip_seconds_count\{command="offer",instance="a"\} 1$/m);
    expect(text).toMatch(/^media_requests_total\{method="media.offer",outcome="ok"\} 2$/m);
    await call('media.delete', { call_id: 'c1' });
    expect(await registry.metrics()).toMatch(/^media_sessions_live 1$/m);
    expect(m.stats()).toMatchObject({ sessions_live: 1 });
  });
});

describe('mediactl config (the daemon loader with mediactl\'s schema and check)', () => {
  const load = (c: unknown) => () => resolveDaemonConfig(mediactlDaemon, c, 'mediactl.yml');
  const { node: _n, log: _l, probe_interval_ms: _p, probe_failures: _f, ng_timeout_ms: _t, ng_retransmit_ms: _r, max_call_s: _m, ...minimal } = config();
  it('accepts the rendered keys and fills the defaults', () => {
    expect(load(config())()).toEqual(config());
    expect(load(minimal)()).toMatchObject({ probe_interval_ms: 1000, probe_failures: 3, ng_timeout_ms: 2000, ng_retransmit_ms: 250, max_call_s: 21_600, log: { level: 'info' } });
  });
  it('refuses a bad ng address, a duplicate id, an empty list and unknown keys, naming the key', () => {
    expect(load(config({ rtpengines: [{ ng: 'localhost:2223' }] }))).toThrow(/rtpengines\[0\]\.ng/);
    expect(load(config({ rtpengines: [{ ng: '127.0.0.1:1' }, { ng: '127.0.0.1:1' }] }))).toThrow(/rtpengines\[1\]\.id: '127.0.0.1:1' is used twice/);
    expect(load(config({ rtpengines: [] }))).toThrow(/rtpengines/);
    expect(load({ ...config(), surprise: 1 })).toThrow(/surprise/);
  });
});
