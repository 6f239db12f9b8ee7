import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createTcp, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { probe, waitHealthy } from './health.js';

const servers: { close(): unknown }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listen<T extends Server | ReturnType<typeof createTcp>>(s: T): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

describe('health probes', () => {
  it('tcp: connect or the reason', async () => {
    const port = await listen(createTcp((c) => c.end()));
    expect(await probe({ kind: 'tcp', host: '127.0.0.1', port })).toEqual({ ok: true });
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(await probe({ kind: 'tcp', host: '127.0.0.1', port })).toMatchObject({ ok: false, reason: expect.stringContaining('ECONNREFUSED') });
  });

  it('mysql: a protocol-10 handshake is healthy, an error packet is not', async () => {
    const good = await listen(createTcp((c) => c.write(Buffer.from([5, 0, 0, 0, 0x0a, 0x31, 0x30, 0x2e, 0]))));
    expect(await probe({ kind: 'mysql', host: '127.0.0.1', port: good })).toEqual({ ok: true });
    const bad = await listen(createTcp((c) => c.end(Buffer.concat([Buffer.from([20, 0, 0, 0, 0xff, 0x69, 0x04]), Buffer.from('#HY000Host blocked')]))));
    expect(await probe({ kind: 'mysql', host: '127.0.0.1', port: bad })).toMatchObject({ ok: false, reason: expect.stringContaining('Host blocked') });
  });

  it('redis: AUTH then PING', async () => {
    const port = await listen(
      createTcp((c) => {
        let buf = '';
        c.on('data', (d) => {
          buf += d.toString();
          if (buf.includes('PING')) c.write(buf.includes('secret') ? '+OK\r\n+PONG\r\n' : '-WRONGPASS invalid\r\n-NOAUTH\r\n');
        });
      }),
    );
    expect(await probe({ kind: 'redis', host: '127.0.0.1', port, password: 'secret' })).toEqual({ ok: true });
    expect(await probe({ kind: 'redis', host: '127.0.0.1', port, password: 'nope' })).toMatchObject({ ok: false, reason: expect.stringContaining('WRONGPASS') });
  });

  it('http: any answer below 500; jsonrpc: a result', async () => {
    let status = 404;
    let body = '{"jsonrpc":"2.0","id":1,"result":{"status":"ok"}}';
    const port = await listen(createHttp((_q, s) => s.writeHead(status).end(body)));
    expect(await probe({ kind: 'http', url: `http://127.0.0.1:${port}/` })).toEqual({ ok: true });
    expect(await probe({ kind: 'jsonrpc', url: `http://127.0.0.1:${port}/` })).toEqual({ ok: true });
    status = 503;
    expect(await probe({ kind: 'http', url: `http://127.0.0.1:${port}/` })).toEqual({ ok: false, reason: 'HTTP 503' });
    body = '{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"db down"}}';
    expect(await probe({ kind: 'jsonrpc', url: `http://127.0.0.1:${port}/` })).toEqual({ ok: false, reason: 'health: db down' });
  });

  it('waitHealthy polls until healthy, or gives the last reason at the deadline', async () => {
    const port = await listen(createTcp((c) => c.end()));
    servers.pop()!.close();
    setTimeout(() => {
      const later = createTcp((c) => c.end());
      servers.push(later);
      later.listen(port, '127.0.0.1');
    }, 300);
    const t0 = Date.now();
    expect(await waitHealthy({ kind: 'tcp', host: '127.0.0.1', port }, 5000)).toEqual({ ok: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const r = await waitHealthy({ kind: 'tcp', host: '127.0.0.1', port: 1 }, 300);
    expect(r.ok).toBe(false);
  });
});
