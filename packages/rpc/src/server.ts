/**
 * A daemon's control endpoint: JSON-RPC 2.0 over HTTP/1.1 (keep-alive) on `POST /`,
 * Prometheus text on `GET /metrics`, 404 for anything else. Handlers are registered by
 * name (`<area>.<verb>`, or a single word for the built-ins like `health`); a handler
 * that throws `RpcError` answers with that error, any other throw answers -32603 and is
 * logged — the server keeps serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { RPC_ERRORS, RpcError } from './errors.js';
import { dispatch, errorResponse, type RpcHandler, type RpcResponse } from './protocol.js';

export interface RpcServerOptions {
  host: string;
  port: number;
  logger: Logger;
  /** Served at GET /metrics; the server adds `rpc_requests_total{method,outcome}` to it. */
  metrics?: Registry;
  /**
   * What GET /metrics serves instead of `metrics.metrics()` (a daemon of several processes
   * serving the sum of its workers' registries); `metrics` still holds `rpc_requests_total`.
   */
  metricsText?: () => Promise<{ contentType: string; text: string }>;
  /** Largest request body accepted (default 1 MiB); larger ones get HTTP 413. */
  bodyLimit?: number;
  /** How long `close()` waits for requests in progress before cutting their connections (default 5 s). */
  closeTimeoutMs?: number;
}

/** `health`, `stats`, `dispatcher.reload`, `registrar.list`; `rpc.*` is reserved by JSON-RPC 2.0. */
const METHOD_NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json(?:\s*;.*)?$/i;

export class RpcServer {
  private readonly opts: RpcServerOptions;
  private readonly logger: Logger;
  private readonly handlers = new Map<string, RpcHandler>();
  private readonly bodyLimit: number;
  private server: Server | undefined;
  private closing: Promise<void> | undefined;
  private readonly requests: Counter<'method' | 'outcome'> | undefined;

  constructor(opts: RpcServerOptions) {
    this.opts = opts;
    this.logger = opts.logger.child({ component: 'rpc' });
    this.bodyLimit = opts.bodyLimit ?? 1024 * 1024;
    if (opts.metrics) {
      this.requests =
        (opts.metrics.getSingleMetric('rpc_requests_total') as Counter<'method' | 'outcome'> | undefined) ??
        new Counter({ name: 'rpc_requests_total', help: 'JSON-RPC calls on the control endpoint by method and outcome', labelNames: ['method', 'outcome'], registers: [opts.metrics] });
    }
  }

  /** Adds a method; throws on a bad or duplicate name (a programmer error). */
  register(method: string, handler: RpcHandler): this {
    if (!METHOD_NAME.test(method) || method.startsWith('rpc.')) throw new Error(`bad RPC method name '${method}' (want '<area>.<verb>', lower case, not rpc.*)`);
    if (this.handlers.has(method)) throw new Error(`RPC method '${method}' is already registered`);
    this.handlers.set(method, handler);
    return this;
  }

  methods(): string[] {
    return [...this.handlers.keys()].sort();
  }

  listen(): Promise<{ host: string; port: number }> {
    if (this.server) throw new Error('RpcServer.listen() called twice');
    const server = createServer((req, res) => this.onRequest(req, res));
    server.keepAliveTimeout = 30_000;
    server.headersTimeout = 35_000;
    server.requestTimeout = 60_000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.logger.error({ err }, 'control endpoint error'));
        const a = server.address() as AddressInfo;
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  /** Stops accepting connections, lets requests in progress finish (up to closeTimeoutMs), closes every connection. */
  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    this.closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.closeAllConnections(), this.opts.closeTimeoutMs ?? 5000);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return this.closing;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.closing) res.setHeader('connection', 'close');
    res.on('finish', () => {
      if (this.closing) this.server?.closeIdleConnections();
    });
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'POST' && path === '/') return this.onRpc(req, res);
    if ((req.method === 'GET' || req.method === 'HEAD') && path === '/metrics' && this.opts.metrics) return void this.onMetrics(res);
    req.resume();
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }

  private async onMetrics(res: ServerResponse): Promise<void> {
    const registry = this.opts.metrics!;
    try {
      if (this.opts.metricsText) {
        const m = await this.opts.metricsText();
        return void send(res, 200, m.contentType, m.text);
      }
      send(res, 200, registry.contentType, await registry.metrics());
    } catch (err) {
      this.logger.error({ err }, 'metrics collection failed');
      send(res, 500, 'text/plain; charset=utf-8', 'metrics collection failed\n');
    }
  }

  private onRpc(req: IncomingMessage, res: ServerResponse): void {
    const type = req.headers['content-type'] ?? '';
    if (!JSON_TYPE.test(type)) {
      req.resume();
      return sendJson(res, 415, errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, `content-type must be application/json (got ${type || 'none'})`)));
    }
    const tooLarge = (): void => {
      // answer now, keep discarding what the client still sends (up to a bound), then close
      res.setHeader('connection', 'close');
      sendJson(res, 413, errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, `request body larger than ${this.bodyLimit} bytes`)));
      let discarded = 0;
      req.removeAllListeners('data');
      req.on('data', (c: Buffer) => {
        discarded += c.length;
        if (discarded > 16 * this.bodyLimit) req.socket.destroy();
      });
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.bodyLimit) return tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > this.bodyLimit) {
        over = true;
        chunks.length = 0;
        return tooLarge();
      }
      chunks.push(c);
    });
    req.on('error', (err) => this.logger.debug({ err }, 'request stream error'));
    req.on('end', () => {
      if (over) return;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return sendJson(res, 200, errorResponse(null, new RpcError(RPC_ERRORS.PARSE_ERROR, 'parse error: the body is not JSON')));
      }
      dispatch(body, this.handlers, this.logger, {
        onCall: (method, outcome) => this.requests?.inc({ method: method ?? '(unknown)', outcome }),
      }).then(
        (out) => (out === undefined ? send(res, 204) : sendJson(res, 200, out)),
        (err: unknown) => {
          // dispatch catches handler errors; this is a bug in the dispatcher itself
          this.logger.error({ err }, 'rpc dispatch failed');
          sendJson(res, 500, errorResponse(null, new RpcError(RPC_ERRORS.INTERNAL_ERROR, 'internal error')));
        },
      );
    });
  }
}

function send(res: ServerResponse, status: number, type?: string, body?: string): void {
  if (res.headersSent) return;
  const headers: Record<string, string | number> = { 'content-length': body === undefined ? 0 : Buffer.byteLength(body) };
  if (type) headers['content-type'] = type;
  res.writeHead(status, headers);
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, value: RpcResponse | RpcResponse[]): void {
  send(res, status, 'application/json', Array.isArray(value) ? `[${value.map(stringify).join(',')}]` : stringify(value));
}

/** A handler may return something JSON cannot carry (a cycle, a BigInt): that member answers -32603. */
function stringify(r: RpcResponse): string {
  try {
    return JSON.stringify(r);
  } catch {
    return JSON.stringify(errorResponse(r.id, new RpcError(RPC_ERRORS.INTERNAL_ERROR, 'internal error: the result is not JSON-serialisable')));
  }
}
