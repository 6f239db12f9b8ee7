/**
 * A stand-in for @ngcp/daemon's runDaemon until that package is merged: the rendered
 * config (NGCP_PROXY_CONFIG) validated with ajv and frozen, a pino root logger, JSON-RPC
 * 2.0 control (POST /) with `health`, `stats`, `reload`, `methods` + the proxy's own, and
 * Prometheus `/metrics` on the control port; SIGTERM/SIGINT drain, SIGHUP reload.
 * Replace with `await runDaemon(proxyDaemon)` once @ngcp/daemon is there.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { Ajv } from 'ajv';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse as parseYaml } from 'yaml';
import type { ProxyConfig } from './config.js';
import { proxyDaemon } from './daemon.js';

function merge(base: unknown, over: unknown): unknown {
  if (typeof base !== 'object' || base === null || typeof over !== 'object' || over === null || Array.isArray(over)) return over ?? base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
  return out;
}

export function loadProxyConfig(path: string): Readonly<ProxyConfig> {
  const raw = merge(proxyDaemon.defaults, parseYaml(readFileSync(path, 'utf8')));
  const validate = new Ajv({ allErrors: true }).compile(proxyDaemon.schema);
  if (!validate(raw)) {
    const why = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new Error(`${path}: invalid proxy config: ${why}`);
  }
  return Object.freeze(raw as ProxyConfig);
}

export async function runStandalone(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const path = env.NGCP_PROXY_CONFIG;
  if (!path) throw new Error('NGCP_PROXY_CONFIG is not set (path of the rendered etc/ngcp/proxy.yml)');
  const config = loadProxyConfig(path);
  const logger = pino({ level: config.log.level, base: { daemon: 'proxy' } });
  const metrics = new Registry();
  metrics.setDefaultLabels({ daemon: 'proxy' });
  collectDefaultMetrics({ register: metrics });
  const daemon = proxyDaemon.build({ name: 'proxy', config, logger, metrics, configPath: path });
  const methods: Record<string, (p: unknown) => unknown> = {
    health: () => daemon.health(),
    stats: () => daemon.stats(),
    reload: async () => (await daemon.reload(), { reloaded: true }),
    methods: () => Object.keys(methods).sort(),
    ...daemon.methods,
  };
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      metrics.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text), () => res.writeHead(500).end());
      return;
    }
    if (req.method !== 'POST') return void res.writeHead(405).end();
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const send = (o: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o));
      let msg: { id?: unknown; method?: unknown; params?: unknown };
      try {
        msg = JSON.parse(body);
      } catch {
        return send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
      }
      const fn = typeof msg.method === 'string' ? methods[msg.method] : undefined;
      if (!fn) return send({ jsonrpc: '2.0', id: msg.id ?? null, error: { code: -32601, message: 'method not found' } });
      Promise.resolve()
        .then(() => fn(msg.params))
        .then(
          (result) => send({ jsonrpc: '2.0', id: msg.id ?? null, result }),
          (err: Error & { code?: number }) => send({ jsonrpc: '2.0', id: msg.id ?? null, error: { code: typeof err.code === 'number' ? err.code : -32603, message: err.message } }),
        );
    });
  });
  await daemon.start();
  const ctl = proxyDaemon.control(config);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(ctl.port, ctl.address, resolve));
  logger.info({ control: `${ctl.address}:${ctl.port}` }, 'control endpoint listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    server.close();
    daemon.stop().then(() => process.exit(0), (err: unknown) => (logger.error({ err }, 'unclean stop'), process.exit(1)));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void daemon.reload().then(() => logger.info('caches reloaded')));
}
