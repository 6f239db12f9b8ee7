import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { pidAlive, startRedis, startRtpengine } from './index.js';

const SDP = [
  'v=0',
  'o=- 1545997027 1 IN IP4 198.51.100.1',
  's=tester',
  't=0 0',
  'm=audio 2000 RTP/AVP 0',
  'c=IN IP4 198.51.100.1',
  'a=sendrecv',
  '',
].join('\r\n');

describe('startRtpengine', () => {
  it('answers ng ping and rewrites an offer onto 127.0.0.1 within its own port range', async () => {
    const t0 = Date.now();
    const rtp = await startRtpengine();
    const startMs = Date.now() - t0;
    expect(startMs).toBeLessThan(5000);
    try {
      expect(rtp.portMax - rtp.portMin + 1).toBe(100);
      expect(await rtp.ng('ping')).toEqual({ result: 'pong' });

      const reply = await rtp.ng('offer', { 'call-id': 'testkit-1', 'from-tag': 'ft1', sdp: SDP });
      expect(reply['result']).toBe('ok');
      const sdp = String(reply['sdp']);
      expect(sdp).toMatch(/c=IN IP4 127\.0\.0\.1/);
      expect(sdp).not.toMatch(/c=IN IP4 198\.51\.100\.1/);
      const port = Number(/m=audio (\d+) /.exec(sdp)?.[1]);
      expect(port).toBeGreaterThanOrEqual(rtp.portMin);
      expect(port).toBeLessThanOrEqual(rtp.portMax);

      const del = await rtp.ng('delete', { 'call-id': 'testkit-1', 'from-tag': 'ft1' });
      expect(del['result']).toBe('ok');
    } finally {
      await rtp.stop();
    }
    expect(pidAlive(rtp.pid)).toBe(false);
    expect(existsSync(rtp.dataDir)).toBe(false);
  });

  it('parallel instances get disjoint ng ports and media ranges', async () => {
    const [a, b] = await Promise.all([startRtpengine(), startRtpengine({ portCount: 200 })]);
    try {
      expect(a.ngPort).not.toBe(b.ngPort);
      expect(a.portMax < b.portMin || b.portMax < a.portMin).toBe(true);
      expect(b.portMax - b.portMin + 1).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('passes --redis through: calls are written to redis', async () => {
    const redis = await startRedis();
    const rtp = await startRtpengine({ redis: { host: redis.host, port: redis.port, db: 3 } });
    const client = new Redis({ ...redis.connectionOptions(), db: 3 });
    try {
      const reply = await rtp.ng('offer', { 'call-id': 'redis-call', 'from-tag': 'ft', sdp: SDP });
      expect(reply['result']).toBe('ok');
      const end = Date.now() + 5000;
      let keys: string[] = [];
      while (Date.now() < end && keys.length === 0) {
        keys = await client.keys('*redis-call*');
        if (keys.length === 0) await new Promise((r) => setTimeout(r, 25));
      }
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      client.disconnect();
      await rtp.stop();
      await redis.stop();
    }
  });

  it('reports an unusable option with the rtpengine log', async () => {
    // rtpengine reports command-line errors to syslog only; the error shows the command line
    await expect(startRtpengine({ extraArgs: ['--no-such-option'] })).rejects.toThrow(
      /rtpengine failed to start: process \d+ exited during startup \(code 255[\s\S]*command: .*--no-such-option/,
    );
  });
});
