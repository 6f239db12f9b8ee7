/** Raw HTTP against a server on loopback, to see exactly what a non-RpcClient peer gets. */
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function raw(port: number, opts: { method?: string; path?: string; type?: string | null; body?: string | Buffer }): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (opts.type !== null) headers['content-type'] = opts.type ?? 'application/json';
    if (opts.body !== undefined) headers['content-length'] = Buffer.byteLength(opts.body);
    const req = request({ host: '127.0.0.1', port, method: opts.method ?? 'POST', path: opts.path ?? '/', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const post = async (port: number, body: unknown): Promise<{ status: number; json: unknown }> => {
  const r = await raw(port, { body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: r.status, json: r.body ? (JSON.parse(r.body) as unknown) : undefined };
};

/** A logger whose lines the test can read. */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  return { logger, lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}
