/** RpcServer and RpcClient over real loopback sockets. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RPC_ERRORS, RpcClient, RpcError, RpcServer } from '../src/index.js';
import { captureLogger, post, raw } from './helpers.js';

const log = captureLogger();
const metrics = new Registry();
const server = new RpcServer({ host: '127.0.0.1', port: 0, logger: log.logger, metrics, bodyLimit: 64 * 1024 });
let port = 0;
let url = '';
const notified: unknown[] = [];

server
  .register('math.add', (p) => {
    const { a, b } = (p ?? {}) as { a?: unknown; b?: unknown };
    if (typeof a !== 'number' || typeof b !== 'number') throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'a and b must be numbers', { a, b });
    return a + b;
  })
  .register('math.slow', async (p) => {
    await new Promise((r) => setTimeout(r, (p as { ms: number }).ms));
    return 'late';
  })
  .register('calls.get', () => {
    throw new RpcError(RPC_ERRORS.NOT_FOUND, 'no such call', { callId: 'x' });
  })
  .register('bug.throw', () => {
    throw new TypeError('secret internals');
  })
  .register('bug.cycle', () => {
    const o: Record<string, unknown> = {};
    o.self = o;
    return o;
  })
  .register('event.note', (p) => {
    notified.push(p);
  })
  .register('health', () => ({ ok: true }));

beforeAll(async () => {
  ({ port } = await server.listen());
  url = `http://127.0.0.1:${port}/`;
});
afterAll(() => server.close());

describe('RpcServer: JSON-RPC 2.0', () => {
  it('answers a call with its result and the same id', async () => {
    expect(await post(port, { jsonrpc: '2.0', id: 'a-1', method: 'math.add', params: { a: 2, b: 40 } })).toEqual({
      status: 200,
      json: { jsonrpc: '2.0', id: 'a-1', result: 42 },
    });
  });

  it('answers null for a handler that returns nothing', async () => {
    expect((await post(port, { jsonrpc: '2.0', id: 7, method: 'event.note', params: [1] })).json).toEqual({ jsonrpc: '2.0', id: 7, result: null });
  });

  it('names each kind of bad request with its code', async () => {
    const cases: [unknown, number, RegExp][] = [
      ['{"jsonrpc": "2.0", "method"', RPC_ERRORS.PARSE_ERROR, /not JSON/],
      [{ id: 1, method: 'math.add' }, RPC_ERRORS.INVALID_REQUEST, /jsonrpc/],
      [{ jsonrpc: '2.0', id: 1, method: 5 }, RPC_ERRORS.INVALID_REQUEST, /method/],
      [{ jsonrpc: '2.0', id: 1, method: 'math.add', params: 'x' }, RPC_ERRORS.INVALID_REQUEST, /params/],
      [{ jsonrpc: '2.0', id: { x: 1 }, method: 'math.add' }, RPC_ERRORS.INVALID_REQUEST, /id/],
      ['42', RPC_ERRORS.INVALID_REQUEST, /not an object/],
      ['[]', RPC_ERRORS.INVALID_REQUEST, /empty batch/],
      [{ jsonrpc: '2.0', id: 1, method: 'no.such' }, RPC_ERRORS.METHOD_NOT_FOUND, /no\.such/],
      [{ jsonrpc: '2.0', id: 1, method: 'math.add', params: { a: 'x' } }, RPC_ERRORS.INVALID_PARAMS, /numbers/],
      [{ jsonrpc: '2.0', id: 1, method: 'calls.get' }, RPC_ERRORS.NOT_FOUND, /no such call/],
    ];
    for (const [body, code, message] of cases) {
      const r = await post(port, body);
      expect(r.status, JSON.stringify(body)).toBe(200);
      const err = (r.json as { error: { code: number; message: string } }).error;
      expect(err.code, JSON.stringify(body)).toBe(code);
      expect(err.message).toMatch(message);
    }
  });

  it('passes a thrown RpcError data through', async () => {
    const r = (await post(port, { jsonrpc: '2.0', id: 3, method: 'calls.get' })).json as { id: number; error: { data: unknown } };
    expect(r).toMatchObject({ id: 3, error: { code: RPC_ERRORS.NOT_FOUND, data: { callId: 'x' } } });
  });

  it('answers -32603 without details for any other throw, logs it, and keeps serving', async () => {
    const r = (await post(port, { jsonrpc: '2.0', id: 9, method: 'bug.throw' })).json as { error: { code: number; message: string } };
    expect(r.error).toEqual({ code: RPC_ERRORS.INTERNAL_ERROR, message: 'internal error' });
    expect(JSON.stringify(r)).not.toContain('secret internals');
    expect(log.lines().some((l) => l.msg === 'rpc handler failed' && l.method === 'bug.throw' && JSON.stringify(l.err).includes('secret internals'))).toBe(true);
    const c = (await post(port, { jsonrpc: '2.0', id: 10, method: 'bug.cycle' })).json as { id: number; error: { code: number } };
    expect(c).toMatchObject({ id: 10, error: { code: RPC_ERRORS.INTERNAL_ERROR } });
    expect((await post(port, { jsonrpc: '2.0', id: 11, method: 'math.add', params: { a: 1, b: 1 } })).json).toMatchObject({ result: 2 });
  });

  it('answers a batch with the non-notification responses, each with its id', async () => {
    const r = await post(port, [
      { jsonrpc: '2.0', id: 1, method: 'math.add', params: { a: 1, b: 2 } },
      { jsonrpc: '2.0', method: 'event.note', params: { n: 'batch' } },
      { jsonrpc: '2.0', id: 2, method: 'no.such' },
      5,
      { jsonrpc: '2.0', id: 3, method: 'bug.cycle' },
    ]);
    expect(r.status).toBe(200);
    expect(r.json).toEqual([
      { jsonrpc: '2.0', id: 1, result: 3 },
      { jsonrpc: '2.0', id: 2, error: { code: RPC_ERRORS.METHOD_NOT_FOUND, message: 'method not found: no.such' } },
      { jsonrpc: '2.0', id: null, error: { code: RPC_ERRORS.INVALID_REQUEST, message: 'invalid request: not an object' } },
      { jsonrpc: '2.0', id: 3, error: { code: RPC_ERRORS.INTERNAL_ERROR, message: 'internal error: the result is not JSON-serialisable' } },
    ]);
    expect(notified).toContainEqual({ n: 'batch' });
  });

  it('runs notifications (single or a batch of them) and answers 204 with no body, even for errors', async () => {
    const one = await raw(port, { body: JSON.stringify({ jsonrpc: '2.0', method: 'event.note', params: { n: 'single' } }) });
    expect(one).toMatchObject({ status: 204, body: '' });
    expect(notified).toContainEqual({ n: 'single' });
    const batch = await raw(port, { body: JSON.stringify([{ jsonrpc: '2.0', method: 'no.such' }, { jsonrpc: '2.0', method: 'bug.throw' }]) });
    expect(batch).toMatchObject({ status: 204, body: '' });
  });

  it('refuses a non-JSON content type with 415 and a body over the limit with 413', async () => {
    const form = await raw(port, { type: 'application/x-www-form-urlencoded', body: '{"jsonrpc":"2.0","id":1,"method":"health"}' });
    expect(form.status).toBe(415);
    expect(JSON.parse(form.body)).toMatchObject({ error: { code: RPC_ERRORS.INVALID_REQUEST, message: expect.stringMatching(/content-type/) } });
    expect((await raw(port, { type: null, body: '{}' })).status).toBe(415);
    expect((await raw(port, { type: 'application/json; charset=utf-8', body: '{"jsonrpc":"2.0","id":1,"method":"health"}' })).status).toBe(200);

    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'event.note', params: { pad: 'x'.repeat(200 * 1024) } });
    const r = await raw(port, { body: big });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: RPC_ERRORS.INVALID_REQUEST, message: expect.stringMatching(/larger than 65536 bytes/) } });
    expect(notified).not.toContainEqual(expect.objectContaining({ pad: expect.anything() }));
    // still serving
    expect((await post(port, { jsonrpc: '2.0', id: 1, method: 'health' })).json).toMatchObject({ result: { ok: true } });
  });

  it('serves Prometheus text on GET /metrics, 404 for anything else', async () => {
    const m = await raw(port, { method: 'GET', path: '/metrics', type: null });
    expect(m.status).toBe(200);
    expect(m.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.body).toMatch(/^# HELP rpc_requests_total /m);
    expect(m.body).toMatch(/^rpc_requests_total\{method="math.add",outcome="ok"\} [1-9]/m);
    expect(m.body).toMatch(/^rpc_requests_total\{method="\(unknown\)",outcome="error"\} [1-9]/m);
    expect((await raw(port, { method: 'GET', path: '/', type: null })).status).toBe(404);
    expect((await raw(port, { method: 'POST', path: '/other', body: '{}' })).status).toBe(404);
    expect((await raw(port, { method: 'PUT', path: '/metrics', body: '{}' })).status).toBe(404);
  });

  it('checks method names: <area>.<verb>, no duplicates, not rpc.*', () => {
    expect(() => server.register('math.add', () => 1)).toThrow(/already registered/);
    expect(() => server.register('rpc.discover', () => 1)).toThrow(/bad RPC method name/);
    expect(() => server.register('Math Add', () => 1)).toThrow(/bad RPC method name/);
    expect(server.methods()).toEqual(['bug.cycle', 'bug.throw', 'calls.get', 'event.note', 'health', 'math.add', 'math.slow']);
  });
});

describe('RpcClient', () => {
  it('resolves results over one kept-alive connection', async () => {
    const c = new RpcClient(url);
    const sockets = new Set<unknown>();
    const onConn = (s: unknown): void => void sockets.add(s);
    // count connections the server accepts while the client makes several calls
    const srv = (server as unknown as { server: Server }).server;
    srv.on('connection', onConn);
    try {
      for (let i = 0; i < 5; i++) expect(await c.call<number>('math.add', { a: i, b: 1 })).toBe(i + 1);
      expect(await c.call('health')).toEqual({ ok: true });
      expect(sockets.size).toBe(1);
    } finally {
      srv.off('connection', onConn);
      c.close();
    }
  });

  it('rejects with the server error as RpcError (code, message, data)', async () => {
    const c = new RpcClient(url);
    try {
      const e = await c.call('math.add', { a: 'x' }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(RpcError);
      expect(e).toMatchObject({ code: RPC_ERRORS.INVALID_PARAMS, message: 'a and b must be numbers', data: { a: 'x' } });
      await expect(c.call('no.such')).rejects.toMatchObject({ code: RPC_ERRORS.METHOD_NOT_FOUND });
    } finally {
      c.close();
    }
  });

  it('rejects with UNAVAILABLE naming the URL when the connection is refused', async () => {
    // a port that was just free and is now closed
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closedPort = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const c = new RpcClient(`http://127.0.0.1:${closedPort}/`);
    const e = await c.call('health').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RpcError);
    expect(e).toMatchObject({ code: RPC_ERRORS.UNAVAILABLE, message: `connection refused by http://127.0.0.1:${closedPort}/`, data: { reason: 'refused' } });
    c.close();
  });

  it('rejects with UNAVAILABLE naming the URL when there is no answer in time', async () => {
    const c = new RpcClient(url, { timeoutMs: 200 });
    try {
      const e = await c.call('math.slow', { ms: 3000 }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: RPC_ERRORS.UNAVAILABLE, message: `no answer from ${url} within 200 ms`, data: { reason: 'timeout' } });
    } finally {
      c.close();
    }
  });

  it('rejects with an RpcError when the endpoint is not JSON-RPC', async () => {
    const c = new RpcClient(`http://127.0.0.1:${port}/metrics`);
    try {
      await expect(c.call('health')).rejects.toMatchObject({ code: RPC_ERRORS.INTERNAL_ERROR, message: expect.stringMatching(/not a JSON-RPC answer .* \(HTTP 404\)/) });
    } finally {
      c.close();
    }
  });
});

describe('RpcServer.close', () => {
  it('lets a call in progress finish, then refuses new connections', async () => {
    const s = new RpcServer({ host: '127.0.0.1', port: 0, logger: log.logger });
    let started!: () => void;
    const inHandler = new Promise<void>((r) => (started = r));
    s.register('work.slow', async () => {
      started();
      await new Promise((r) => setTimeout(r, 300));
      return 'done';
    });
    const { port: p } = await s.listen();
    const c = new RpcClient(`http://127.0.0.1:${p}/`);
    const pending = c.call('work.slow');
    await inHandler;
    await Promise.all([s.close(), expect(pending).resolves.toBe('done')]);
    await expect(c.call('work.slow')).rejects.toMatchObject({ code: RPC_ERRORS.UNAVAILABLE, data: { reason: 'refused' } });
    c.close();
  });
});
