/**
 * A JSON-RPC 2.0 client for a control endpoint (HTTP/1.1 keep-alive). `call()` resolves
 * with the result, or rejects with `RpcError`: the server's error as sent, or
 * `UNAVAILABLE` (-32001) when the endpoint refused the connection or did not answer
 * within `timeoutMs` — the message says which, and the URL.
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import { RPC_ERRORS, RpcError } from './errors.js';

export interface RpcClientOptions {
  /** Per call, from sending to the whole answer (default 5000). */
  timeoutMs?: number;
}

export class RpcClient {
  private readonly url: URL;
  private readonly timeoutMs: number;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 8 });
  private nextId = 1;

  constructor(url: string, opts: RpcClientOptions = {}) {
    this.url = new URL(url);
    if (this.url.protocol !== 'http:') throw new Error(`RpcClient: only http: URLs (got ${url})`);
    this.timeoutMs = opts.timeoutMs ?? 5000;
  }

  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const id = this.nextId++;
    const body = JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
    const { status, text } = await this.post(body);
    let msg: { id?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown; data?: unknown } };
    try {
      msg = JSON.parse(text) as typeof msg;
    } catch {
      throw new RpcError(RPC_ERRORS.INTERNAL_ERROR, `${method}: not a JSON-RPC answer from ${this.url.href} (HTTP ${status})`);
    }
    if (msg && typeof msg === 'object' && msg.error && typeof msg.error === 'object') {
      const e = msg.error;
      throw new RpcError(typeof e.code === 'number' ? e.code : RPC_ERRORS.INTERNAL_ERROR, typeof e.message === 'string' ? e.message : 'error', e.data);
    }
    if (!msg || typeof msg !== 'object' || !('result' in msg)) {
      throw new RpcError(RPC_ERRORS.INTERNAL_ERROR, `${method}: not a JSON-RPC answer from ${this.url.href} (HTTP ${status})`);
    }
    return msg.result as T;
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private post(body: string, retried = false): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (e: RpcError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      };
      const req = request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail(unavailable(`connection lost to ${this.url.href}: ${err.message}`, this.url.href, 'lost')));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
      });
      const timer = setTimeout(() => {
        fail(unavailable(`no answer from ${this.url.href} within ${this.timeoutMs} ms`, this.url.href, 'timeout'));
        req.destroy();
      }, this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        // the server closed an idle kept-alive connection just as we reused it: the
        // request never reached it, so one retry on a fresh connection is safe
        if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          settled = true;
          clearTimeout(timer);
          this.post(body, true).then(resolve, reject);
          return;
        }
        if (err.code === 'ECONNREFUSED') fail(unavailable(`connection refused by ${this.url.href}`, this.url.href, 'refused'));
        else fail(unavailable(`cannot reach ${this.url.href}: ${err.code ?? err.message}`, this.url.href, err.code ?? 'error'));
      });
      req.end(body);
    });
  }
}

function unavailable(message: string, url: string, reason: string): RpcError {
  return new RpcError(RPC_ERRORS.UNAVAILABLE, message, { url, reason });
}
