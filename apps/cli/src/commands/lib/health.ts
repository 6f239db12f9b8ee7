/**
 * Health checks of supervised processes (what `ngcpcfg apply`, `ngcp-service` and
 * `ngcp up` wait for). Each probe makes one short attempt; `waitHealthy` polls it.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import type { HealthCheck } from '@ngcp/config';
import { NgClient } from '@ngcp/ng';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

function withSocket(host: string, port: number, timeoutMs: number, onData: (buf: Buffer, s: Socket) => ProbeResult | undefined, greet?: (s: Socket) => void): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (r: ProbeResult): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: `no answer from ${host}:${port} within ${timeoutMs} ms` }), timeoutMs);
    s.on('connect', () => greet?.(s));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const r = onData(buf, s);
      if (r) finish(r);
    });
    s.on('error', (e) => finish({ ok: false, reason: `${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
    s.on('close', () => finish({ ok: false, reason: `${host}:${port} closed the connection` }));
  });
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, reason: `connect to ${host}:${port} timed out` });
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ ok: true });
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: `${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}` });
    });
  });
}

function probeRedis(host: string, port: number, password: string, timeoutMs: number): Promise<ProbeResult> {
  const resp = (...parts: string[]): string => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
  return withSocket(
    host,
    port,
    timeoutMs,
    (buf) => {
      const lines = buf.toString('latin1').split('\r\n');
      if (lines.length < 3) return undefined;
      if (lines[0] !== '+OK') return { ok: false, reason: `AUTH: ${lines[0]}` };
      if (lines[1] === '+PONG') return { ok: true };
      return { ok: false, reason: `PING: ${lines[1]}` };
    },
    (s) => s.write(resp('AUTH', password) + resp('PING')),
  );
}

/** MariaDB/MySQL: the server's first packet is the handshake, protocol version 10. */
function probeMysql(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return withSocket(host, port, timeoutMs, (buf) => {
    if (buf.length < 5) return undefined;
    if (buf[4] === 0x0a) return { ok: true };
    if (buf[4] === 0xff) return { ok: false, reason: `refused: ${buf.subarray(7).toString('utf8').replace(/^#\w{5}/, '')}` };
    return { ok: false, reason: 'not a MariaDB handshake' };
  });
}

async function probeNg(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const ng = new NgClient({ host, port, timeoutMs });
  try {
    await ng.ping();
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    await ng.close();
  }
}

function probeHttp(url: string, timeoutMs: number, body?: string): Promise<{ ok: false; reason: string } | { ok: true; status: number; body: string }> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(
      u,
      {
        method: body ? 'POST' : 'GET',
        timeout: timeoutMs,
        rejectUnauthorized: false,
        headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {},
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (data.length < 65536) data += c;
        });
        res.on('end', () => resolve({ ok: true, status: res.statusCode ?? 0, body: data }));
        res.on('error', (e) => resolve({ ok: false, reason: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ ok: false, reason: `${url}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
    req.end(body);
  });
}

export async function probe(h: HealthCheck, timeoutMs = 2000): Promise<ProbeResult> {
  switch (h.kind) {
    case 'tcp':
      return probeTcp(h.host, h.port, timeoutMs);
    case 'redis':
      return probeRedis(h.host, h.port, h.password, timeoutMs);
    case 'mysql':
      return probeMysql(h.host, h.port, timeoutMs);
    case 'ng':
      return probeNg(h.host, h.port, timeoutMs);
    case 'http': {
      const r = await probeHttp(h.url, timeoutMs);
      if (!r.ok) return r;
      return r.status < 500 ? { ok: true } : { ok: false, reason: `HTTP ${r.status}` };
    }
    case 'jsonrpc': {
      const r = await probeHttp(h.url, timeoutMs, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'health' }));
      if (!r.ok) return r;
      try {
        const j = JSON.parse(r.body) as { result?: unknown; error?: { message?: string } };
        if (j.error) return { ok: false, reason: `health: ${j.error.message ?? 'error'}` };
        return j.result !== undefined ? { ok: true } : { ok: false, reason: 'health: no result' };
      } catch {
        return { ok: false, reason: `health: not JSON (HTTP ${r.status})` };
      }
    }
    default:
      return { ok: false, reason: `unknown health check ${(h as { kind: string }).kind}` };
  }
}

/** Polls until healthy or the deadline; the last failure reason on timeout. */
export async function waitHealthy(h: HealthCheck, timeoutMs: number, isAlive?: () => Promise<boolean>): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  let last: ProbeResult = { ok: false, reason: 'not checked' };
  for (let i = 0; ; i++) {
    last = await probe(h, Math.min(2000, Math.max(200, deadline - Date.now())));
    if (last.ok) return last;
    if (Date.now() >= deadline) return last;
    if (isAlive && i % 5 === 4 && !(await isAlive())) return { ok: false, reason: `process is not running (${last.reason})` };
    await new Promise((r) => setTimeout(r, Math.min(100 + i * 25, 400)));
  }
}
