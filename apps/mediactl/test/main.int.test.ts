/**
 * The process pm2 runs (dist/main.js, config from NGCP_MEDIACTL_CONFIG): answers `health`
 * and a call on its control port, stops on SIGTERM with exit 0; a bad config exits 78
 * naming the key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcClient } from '@ngcp/rpc';
import { freePort, startRedis, startRtpengine, type RedisInstance, type RtpengineInstance } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdpFor } from './rtp.js';

const MAIN = resolve(import.meta.dirname, '../dist/main.js');

let redis: RedisInstance;
let engine: RtpengineInstance;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  [redis, engine] = await Promise.all([startRedis({ password: 'pw"\\x' }), startRtpengine()]);
  dir = mkdtempSync(join(tmpdir(), 'mediactl-main-'));
}, 120_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.allSettled([engine?.stop(), redis?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

function run(configText: string): { child: ChildProcess; exited: Promise<number | null>; output: () => string } {
  const path = join(dir, `mediactl-${children.length}.yml`);
  writeFileSync(path, configText);
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, NGCP_MEDIACTL_CONFIG: path }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, output: () => out };
}

describe('mediactl process (dist/main.js)', () => {
  it('answers on its control port, relays an offer, and exits 0 on SIGTERM', async () => {
    const port = await freePort({ tcp: true, host: '127.0.0.1' });
    const p = run(
      [
        'node: test',
        `control: { address: 127.0.0.1, port: ${port} }`,
        'log: { level: info }',
        `rtpengines: [{ id: local, ng: "127.0.0.1:${engine.ngPort}" }]`,
        `redis: { host: 127.0.0.1, port: ${redis.port}, password: ${JSON.stringify(redis.password)}, db: 0 }`,
        'probe_interval_ms: 200',
        '',
      ].join('\n'),
    );
    const rpc = new RpcClient(`http://127.0.0.1:${port}/`, { timeoutMs: 2000 });
    try {
      const end = Date.now() + 30_000;
      let health: unknown;
      while (Date.now() < end && p.child.exitCode === null) {
        health = await rpc.call('health').catch(() => undefined);
        if (health) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(health, p.output()).toMatchObject({ ok: true, rtpengines_up: 1, redis: 'ready' });
      expect(await rpc.call('methods')).toEqual(expect.arrayContaining(['media.offer', 'media.answer', 'media.delete', 'media.query', 'media.list', 'rtpengine.list']));
      const r = await rpc.call<{ instance: string; sdp: string }>('media.offer', { call_id: 'main@test', from_tag: 'a', sdp: sdpFor('127.0.0.3', 5000, 1) });
      expect(r.instance).toBe('local');
      await expect(rpc.call('media.delete', { call_id: 'main@test' })).resolves.toEqual({ deleted: true });
    } finally {
      rpc.close();
    }
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('refuses a bad config with exit 78, naming the file, line and key', async () => {
    const p = run(['control: { address: 127.0.0.1, port: 1 }', 'rtpengines: [{ ng: "127.0.0.1:2223", weight: -1 }]', 'redis: { host: 127.0.0.1, port: 6379, db: 0 }', ''].join('\n'));
    expect(await p.exited).toBe(78);
    expect(p.output()).toMatch(/mediactl-\d+\.yml:2: rtpengines\[0\]\.weight/);
  });
});
