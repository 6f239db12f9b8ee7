/**
 * mediactl as the daemon runs it (startDaemon: its control endpoint over HTTP, called with
 * RpcClient) against two real rtpengines and a real Redis (private, from @ngcp/testkit):
 * SDP rewritten, RTP really relayed both ways, weighted spread and pinning, a restarted
 * mediactl on the same Redis, failover of new calls and UNAVAILABLE for pinned calls when
 * one rtpengine is stopped (by PID); a lost ng datagram retransmitted (same cookie) and counted.
 */
import { lossyRelay, startRedis, startRtpengine, type RedisInstance, type RtpengineInstance } from '@ngcp/testkit';
import { Redis } from 'ioredis';
import { startDaemon, type RunningDaemon } from '@ngcp/daemon';
import { RpcClient } from '@ngcp/rpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MediactlConfig } from '../src/config.js';
import { mediactlDaemon } from '../src/daemon.js';
import type { Mediactl } from '../src/mediactl.js';
import { silentLogger } from './fakes.js';
import { rtpEndpoint, sdpAudio, sdpFor } from './rtp.js';

let redis: RedisInstance;
let e1: RtpengineInstance;
let e2: RtpengineInstance;
let peek: Redis;
const services: Array<{ d: RunningDaemon; rpc: RpcClient }> = [];

beforeAll(async () => {
  [redis, e1, e2] = await Promise.all([startRedis(), startRtpengine(), startRtpengine()]);
  peek = new Redis(redis.connectionOptions());
}, 120_000);

afterAll(async () => {
  for (const s of services.splice(0)) {
    s.rpc.close();
    await s.d.stop();
  }
  peek?.disconnect();
  await Promise.allSettled([e1?.stop(), e2?.stop(), redis?.stop()]);
}, 120_000);

function config(): MediactlConfig {
  return {
    node: 'test',
    control: { address: '127.0.0.1', port: 0 },
    log: { level: 'silent' },
    rtpengines: [
      { id: 'e1', ng: `127.0.0.1:${e1.ngPort}`, weight: 1 },
      { id: 'e2', ng: `127.0.0.1:${e2.ngPort}`, weight: 1 },
    ],
    redis: { host: redis.host, port: redis.port, db: 0 },
    probe_interval_ms: 100,
    probe_failures: 2,
    ng_timeout_ms: 500,
    ng_retransmit_ms: 100,
    max_call_s: 3600,
  };
}

interface Started {
  m: Mediactl;
  call: <T>(method: string, params?: unknown) => Promise<T>;
  metrics: () => Promise<string>;
  stop: () => Promise<void>;
}

async function newMediactl(cfg: MediactlConfig = config()): Promise<Started> {
  const d = await startDaemon(mediactlDaemon, cfg, { logger: silentLogger });
  const rpc = new RpcClient(d.url, { timeoutMs: 5000 });
  const entry = { d, rpc };
  services.push(entry);
  return {
    m: d.daemon as Mediactl,
    call: <T>(method: string, params?: unknown) => rpc.call<T>(method, params),
    metrics: async () => (await fetch(new URL('/metrics', d.url))).text(),
    stop: async () => {
      services.splice(services.indexOf(entry), 1);
      rpc.close();
      await d.stop();
    },
  };
}

const engine = (id: string): RtpengineInstance => (id === 'e1' ? e1 : e2);
const inRange = (id: string, port: number): boolean => port >= engine(id).portMin && port <= engine(id).portMax;

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface SdpResult {
  sdp: string;
  instance: string;
}

describe('mediactl with real rtpengine and Redis', () => {
  it('rewrites both SDPs to rtpengine and relays RTP both ways; query, list and delete', async () => {
    const { call } = await newMediactl();
    const a = await rtpEndpoint('127.0.0.3');
    const b = await rtpEndpoint('127.0.0.4');
    try {
      const callId = `rtp-${Date.now()}@test`;
      const off = await call<SdpResult>('media.offer', { call_id: callId, from_tag: 'ta', sdp: sdpFor(a.address, a.port, 1) });
      // what B is told: rtpengine's address and a port of the chosen instance, no ICE
      const toB = sdpAudio(off.sdp);
      expect(toB.address).toBe('127.0.0.1');
      expect(inRange(off.instance, toB.port)).toBe(true);
      expect(off.sdp).toMatch(/^o=phone 1 \d+ IN IP4 127\.0\.0\.1\r?$/m);
      expect(off.sdp).not.toMatch(/a=candidate|a=ice-/);
      expect(off.sdp).toMatch(/^m=audio \d+ RTP\/AVP 0 101/m);

      const ans = await call<SdpResult>('media.answer', { call_id: callId, from_tag: 'ta', to_tag: 'tb', sdp: sdpFor(b.address, b.port, 2) });
      expect(ans.instance).toBe(off.instance);
      const toA = sdpAudio(ans.sdp);
      expect(toA.address).toBe('127.0.0.1');
      expect(inRange(ans.instance, toA.port)).toBe(true);
      expect(toA.port).not.toBe(toB.port);
      expect(await peek.get(`media:${callId}`)).toBe(off.instance);

      // A sends where A's answered SDP points; B receives at its own port, from rtpengine
      await a.sendUntil(toA, 'from A', () => b.received.length >= 3);
      expect(b.received.length).toBeGreaterThanOrEqual(3);
      expect(b.received[0]!.payload).toMatch(/^from A #\d+/);
      expect(b.received[0]!.from).toBe(`127.0.0.1:${toB.port}`);
      await b.sendUntil(toB, 'from B', () => a.received.length >= 3);
      expect(a.received.length).toBeGreaterThanOrEqual(3);
      expect(a.received[0]!.payload).toMatch(/^from B #\d+/);
      expect(a.received[0]!.from).toBe(`127.0.0.1:${toA.port}`);

      const q = await call<Record<string, unknown>>('media.query', { call_id: callId });
      expect(q).toMatchObject({ result: 'ok', instance: off.instance });
      expect(JSON.stringify(q['tags'])).toContain('"ta"');
      expect((await call<{ calls: string[] }>('media.list', {})).calls).toContain(callId);

      await expect(call('media.delete', { call_id: callId, from_tag: 'ta', to_tag: 'tb' })).resolves.toEqual({ deleted: true });
      expect(await peek.get(`media:${callId}`)).toBeNull();
      await expect(call('media.query', { call_id: callId })).rejects.toMatchObject({ code: -32004 });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a lost ng datagram is sent again with the same cookie: the call gets its SDP, ng_retransmissions_total counts it', async () => {
    // every request's first datagram is lost between mediactl and rtpengine e1
    const relay = await lossyRelay(e1.ngHost, e1.ngPort, 'request');
    const { call, metrics, stop } = await newMediactl({ ...config(), rtpengines: [{ id: 'lossy', ng: `127.0.0.1:${relay.port}`, weight: 1 }] });
    try {
      await until('the lossy instance up (its pings get through on the retransmission)', async () => /rtpengine_up\{instance="lossy"[^}]*\} 1/.test(await metrics()));
      const a = await rtpEndpoint('127.0.0.3');
      const callId = `retx-${Date.now()}@test`;
      try {
        const off = await call<SdpResult>('media.offer', { call_id: callId, from_tag: 'ta', sdp: sdpFor(a.address, a.port, 1) });
        expect(off.instance).toBe('lossy');
        expect(inRange('e1', sdpAudio(off.sdp).port)).toBe(true);
        const text = await metrics();
        expect(Number(/ng_retransmissions_total\{command="offer",instance="lossy"[^}]*\} (\d+)/.exec(text)?.[1])).toBe(1);
        expect(text).not.toMatch(/ng_errors_total\{command="offer"/);
        // the offer's cookie (its reply carries the SDP) crossed the relay twice: lost, then sent again
        const offerCookie = [...relay.replies.entries()].find(([, r]) => r.some((t) => t.includes('m=audio')))?.[0];
        expect(offerCookie).toBeDefined();
        expect(relay.requests.get(offerCookie as string)).toBe(2);
      } finally {
        await call('media.delete', { call_id: callId }).catch(() => undefined);
        await a.close();
      }
    } finally {
      await stop();
      await relay.close();
    }
  });

  it('refuses an SDP rtpengine cannot parse with its reason, and an unknown call with NOT_FOUND', async () => {
    const { call } = await newMediactl();
    await expect(call('media.offer', { call_id: 'bad-sdp@test', from_tag: 'x', sdp: 'not an sdp' })).rejects.toMatchObject({ code: -32602, message: expect.stringContaining("refused 'offer'") });
    await expect(call('media.answer', { call_id: 'nobody@test', from_tag: 'x', to_tag: 'y', sdp: sdpFor('127.0.0.3', 4000, 1) })).rejects.toMatchObject({
      code: -32004,
    });
  });

  it('spreads new calls over both instances; a new mediactl on the same Redis routes every call to its instance', async () => {
    const first = await newMediactl();
    const pinned = new Map<string, string>();
    for (let k = 0; k < 6; k++) {
      const callId = `spread-${k}-${Date.now()}@test`;
      const r = await first.call<SdpResult>('media.offer', { call_id: callId, from_tag: 'ta', sdp: sdpFor('127.0.0.3', 40_000 + 2 * k, k) });
      pinned.set(callId, r.instance);
    }
    expect(new Set(pinned.values())).toEqual(new Set(['e1', 'e2']));
    await first.stop();

    const second = await newMediactl();
    for (const [callId, id] of pinned) {
      const r = await second.call<SdpResult>('media.answer', { call_id: callId, from_tag: 'ta', to_tag: 'tb', sdp: sdpFor('127.0.0.4', 41_000, 9) });
      expect(r.instance).toBe(id);
      expect(inRange(id, sdpAudio(r.sdp).port)).toBe(true);
    }
    // found through Redis, not by asking the rtpengines
    expect(await second.metrics()).not.toContain('command="query"');
    expect(await second.metrics()).toMatch(/^ng_roundtrip_seconds_count\{(?=[^}]*daemon="mediactl")(?=[^}]*command="answer")[^}]*\} [1-9]\d*$/m);
    for (const callId of pinned.keys()) await expect(second.call('media.delete', { call_id: callId })).resolves.toEqual({ deleted: true });
  });

  it('keeps answering while Redis is away and writes the pins when it is back', async () => {
    const { call } = await newMediactl();
    const health = () => call<{ redis: string; pins_pending: number }>('health');
    const port = redis.port;
    await redis.stop();
    await until('mediactl to see Redis gone', async () => (await health()).redis !== 'ready');
    const callId = `no-redis-${Date.now()}@test`;
    const off = await call<SdpResult>('media.offer', { call_id: callId, from_tag: 'ta', sdp: sdpFor('127.0.0.3', 42_000, 1) });
    await expect(call('media.answer', { call_id: callId, from_tag: 'ta', to_tag: 'tb', sdp: sdpFor('127.0.0.4', 42_002, 2) })).resolves.toMatchObject({ instance: off.instance });
    expect((await health()).pins_pending).toBeGreaterThan(0);

    redis = await startRedis({ port });
    peek.disconnect();
    peek = new Redis(redis.connectionOptions());
    await until('the pin to reach the new Redis', async () => (await peek.get(`media:${callId}`)) === off.instance);
    expect(await health()).toMatchObject({ ok: true, redis: 'ready', pins_pending: 0 });
    await expect(call('media.delete', { call_id: callId })).resolves.toEqual({ deleted: true });
  });

  it('sends new calls to the live rtpengine when one is stopped, and answers UNAVAILABLE for the calls pinned to it', async () => {
    const { m, call } = await newMediactl();
    const calls: Array<[string, string]> = [];
    for (let k = 0; k < 4; k++) {
      const callId = `failover-${k}-${Date.now()}@test`;
      calls.push([callId, (await call<SdpResult>('media.offer', { call_id: callId, from_tag: 'ta', sdp: sdpFor('127.0.0.3', 43_000 + 2 * k, k) })).instance]);
    }
    const onE2 = calls.filter(([, id]) => id === 'e2');
    expect(onE2.length).toBeGreaterThan(0);

    await e2.stop();
    await until('e2 to be marked down', () => call<Array<{ id: string; healthy: boolean }>>('rtpengine.list').then((l) => l.find((i) => i.id === 'e2')?.healthy === false));

    for (let k = 0; k < 3; k++) {
      const r = await call<SdpResult>('media.offer', { call_id: `after-${k}-${Date.now()}@test`, from_tag: 'ta', sdp: sdpFor('127.0.0.3', 44_000 + 2 * k, k) });
      expect(r.instance).toBe('e1');
    }
    const [pinnedCall] = onE2[0]!;
    await expect(call('media.answer', { call_id: pinnedCall, from_tag: 'ta', to_tag: 'tb', sdp: sdpFor('127.0.0.4', 45_000, 1) })).rejects.toMatchObject({
      code: -32001,
      message: expect.stringContaining("pinned to rtpengine 'e2'"),
    });
    expect(await call('health')).toMatchObject({ ok: true, rtpengines_up: 1, rtpengines: 2 });

    await e1.stop();
    await until('e1 to be marked down', () => m.health().rtpengines_up === 0);
    await expect(call('media.offer', { call_id: `none-${Date.now()}@test`, from_tag: 'ta', sdp: sdpFor('127.0.0.3', 46_000, 1) })).rejects.toMatchObject({
      code: -32001,
      message: 'no healthy rtpengine for a new call (0 of 2 up)',
    });
    // health answers UNAVAILABLE with the report: mediactl is up, but cannot relay media
    await expect(call('health')).rejects.toMatchObject({ code: -32001, data: { ok: false, rtpengines_up: 0, rtpengines: 2 } });
  });
});
