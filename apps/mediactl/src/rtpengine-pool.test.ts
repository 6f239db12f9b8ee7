import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { fakeFactory, silentLogger } from '../test/fakes.js';
import { resolveTargets } from './config.js';
import { createMediaMetrics } from './metrics.js';
import { RtpenginePool } from './rtpengine-pool.js';

function pool(targets: Array<{ id?: string; ng: string; weight?: number }>, failures = 2) {
  const { factory, engines } = fakeFactory();
  const registry = new Registry();
  const metrics = createMediaMetrics(registry, () => 0);
  const p = new RtpenginePool({ targets: resolveTargets(targets), factory, timeoutMs: 100, failures, logger: silentLogger, metrics });
  return { p, engines, registry };
}

const pickIds = (p: RtpenginePool, n: number): string[] => Array.from({ length: n }, () => p.pick()?.id ?? '-');

describe('RtpenginePool', () => {
  it('starts with every instance down and picks none before the first pong', async () => {
    const { p } = pool([{ ng: '127.0.0.1:2223' }]);
    expect(p.pick()).toBeUndefined();
    await p.probeAll();
    expect(p.pick()?.id).toBe('127.0.0.1:2223');
  });

  it('shares new calls by weight (3:1), interleaved', async () => {
    const { p } = pool([
      { id: 'a', ng: '127.0.0.1:1', weight: 3 },
      { id: 'b', ng: '127.0.0.1:2', weight: 1 },
    ]);
    await p.probeAll();
    const ids = pickIds(p, 8);
    expect(ids.filter((i) => i === 'a')).toHaveLength(6);
    expect(ids.filter((i) => i === 'b')).toHaveLength(2);
    expect(ids.slice(0, 4)).toContain('b');
  });

  it('never picks an instance of weight 0 (drain) or one that is down', async () => {
    const { p, engines } = pool([
      { id: 'a', ng: '127.0.0.1:1', weight: 1 },
      { id: 'b', ng: '127.0.0.1:2', weight: 0 },
      { id: 'c', ng: '127.0.0.1:3', weight: 1 },
    ], 1);
    engines.get('c')!.alive = false;
    await p.probeAll();
    expect(new Set(pickIds(p, 6))).toEqual(new Set(['a']));
    engines.get('a')!.alive = false;
    await p.probeAll();
    expect(p.pick()).toBeUndefined();
  });

  it('marks an instance down after N missed pings in a row and up on the next pong', async () => {
    const { p, engines, registry } = pool([{ id: 'a', ng: '127.0.0.1:1' }], 3);
    await p.probeAll();
    const a = engines.get('a')!;
    a.alive = false;
    await p.probeAll();
    await p.probeAll();
    expect(p.get('a')!.healthy).toBe(true);
    await p.probeAll();
    expect(p.get('a')!.healthy).toBe(false);
    expect(p.snapshot()[0]).toMatchObject({ id: 'a', healthy: false, last_error: expect.stringContaining('no reply') });
    expect(await registry.getSingleMetricAsString('rtpengine_up')).toMatch(/rtpengine_up\{instance="a"\} 0/);
    expect(await registry.getSingleMetricAsString('ng_errors_total')).toMatch(/ng_errors_total\{command="ping",instance="a",code="timeout"\} 3/);
    a.alive = true;
    await p.probeAll();
    expect(p.get('a')!.healthy).toBe(true);
    expect(await registry.getSingleMetricAsString('rtpengine_up')).toMatch(/rtpengine_up\{instance="a"\} 1/);
  });

  it('counts a timed-out request as a miss, but not an error answer (rtpengine is alive)', async () => {
    const { p, engines } = pool([{ id: 'a', ng: '127.0.0.1:1' }], 2);
    await p.probeAll();
    const inst = p.get('a')!;
    await expect(p.request(inst, 'answer', { 'call-id': 'x' })).rejects.toMatchObject({ code: 'error-result' });
    await expect(p.request(inst, 'answer', { 'call-id': 'x' })).rejects.toMatchObject({ code: 'error-result' });
    expect(inst.healthy).toBe(true);
    engines.get('a')!.alive = false;
    await expect(p.request(inst, 'offer', {})).rejects.toMatchObject({ code: 'timeout' });
    await expect(p.request(inst, 'offer', {})).rejects.toMatchObject({ code: 'timeout' });
    expect(inst.healthy).toBe(false);
  });

  it('refuses duplicate ids and bad addresses, naming the entry', () => {
    expect(() => resolveTargets([{ ng: '127.0.0.1:1' }, { ng: '127.0.0.1:1' }])).toThrow(/rtpengines\[1\]\.id/);
    expect(() => resolveTargets([{ ng: '127.0.0.1:99999' }])).toThrow(/rtpengines\[0\]\.ng/);
    expect(resolveTargets([{ ng: '127.0.0.2:2223' }])).toEqual([{ id: '127.0.0.2:2223', host: '127.0.0.2', port: 2223, ng: '127.0.0.2:2223', weight: 1 }]);
  });

  it('closes every client', async () => {
    const { p, engines } = pool([{ id: 'a', ng: '127.0.0.1:1' }, { id: 'b', ng: '127.0.0.1:2' }]);
    await p.close();
    expect([...engines.values()].every((e) => e.closed)).toBe(true);
  });
});
