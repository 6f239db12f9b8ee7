/**
 * Interop with a real SIP client: sipp's built-in UAC places calls through the lb
 * (UDP and TCP) to a proxy that answers like a UAS; sipp exits 0 only when every call
 * (INVITE/180/200/ACK/BYE/200) succeeded. sipp is bounded in calls and time.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse, newTag } from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';
import { Peer, lbConfig, startLb } from './helpers.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function sipp(args: string[], limitMs: number): Promise<{ code: number | null; out: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'sipp-lb-'));
  const p = spawn('sipp', [...args, '-nostdin', '-timeout', `${Math.ceil(limitMs / 1000)}s`, '-timeout_error', '-trace_err'], { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), limitMs + 5000);
  cleanup.push(() => {
    if (p.exitCode === null) p.kill('SIGKILL');
    rmSync(cwd, { recursive: true, force: true });
  });
  return new Promise((resolve) => p.on('exit', (code) => {
    clearTimeout(timer);
    resolve({ code, out });
  }));
}

describe('sipp UAC through the lb', () => {
  for (const transport of ['udp', 'tcp'] as const) {
    it(`completes 20 calls over ${transport.toUpperCase()}`, async () => {
      const proxy = await Peer.start('127.0.0.2');
      cleanup.push(() => proxy.close());
      proxy.handler = (tx, req) => {
        if (req.method !== 'INVITE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
        const toTag = newTag();
        tx.respond(createResponse(req, 180, { toTag, copyRecordRoute: true }));
        const ok = createResponse(req, 200, { toTag, copyRecordRoute: true, body: 'v=0\r\no=- 1 1 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\n', contentType: 'application/sdp' });
        ok.append('Contact', `<sip:uas@${proxy.address}:${proxy.port}>`);
        tx.respond(ok);
      };
      const lb = await startLb(await lbConfig({ proxies: [{ address: proxy.address, port: proxy.port }] }));
      cleanup.push(() => lb.stop());
      const port = await freePort({ udp: true, tcp: true });
      const target = `127.0.0.1:${transport === 'udp' ? lb.udp : lb.tcp}`;
      const r = await sipp(['-sn', 'uac', target, '-i', '127.0.0.1', '-p', String(port), '-t', transport === 'udp' ? 'u1' : 't1', '-m', '20', '-r', '20', '-l', '20', '-d', '10'], 30_000);
      expect(r.code, r.out.slice(-2000)).toBe(0);
      expect(proxy.methods('INVITE')).toHaveLength(20);
      expect(proxy.methods('BYE')).toHaveLength(20);
      expect(proxy.methods('ACK')).toHaveLength(20);
    }, 60_000);
  }
});
