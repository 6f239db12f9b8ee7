/**
 * The proxy as a DaemonDefinition for `runDaemon` (@ngcp/daemon): name `proxy` (env
 * NGCP_PROXY_CONFIG), the config schema and defaults, cross-key checks, the control
 * address, and `build()` turning the service into a Daemon.
 */
import type { DaemonConfigProblem, DaemonDefinition } from '@ngcp/daemon';
import type { RpcHandler } from '@ngcp/rpc';
import { proxyConfigDefaults, proxyConfigSchema, type ProxyConfig } from './config.js';
import { createProxyService } from './service.js';
import { serveWorkerChannel, workerConfig, workerIndex, workerPorts, WorkerPool } from './workers.js';

export const proxyDaemon: DaemonDefinition<ProxyConfig> = {
  name: 'proxy',
  schema: proxyConfigSchema,
  defaults: proxyConfigDefaults,
  check(c): DaemonConfigProblem[] {
    const r = c.registrar;
    const out: DaemonConfigProblem[] = [];
    if (r.min_expires > r.max_expires) out.push({ path: 'registrar.min_expires', message: `must not exceed registrar.max_expires (${r.max_expires})` });
    if (r.default_expires < r.min_expires || r.default_expires > r.max_expires) {
      out.push({ path: 'registrar.default_expires', message: `must lie between min_expires (${r.min_expires}) and max_expires (${r.max_expires})` });
    }
    if (c.sbc?.enable && !/:\d+$/.test(c.sbc.address)) out.push({ path: 'sbc.address', message: 'must be ip:port when sbc.enable is true' });
    if (c.vsc) {
      const seen = new Map<string, string>();
      for (const key of ['cfu_code', 'cfb_code', 'cft_code', 'cfna_code', 'clir_code'] as const) {
        const other = seen.get(c.vsc[key]);
        if (other) out.push({ path: `vsc.${key}`, message: `must differ from vsc.${other} (${c.vsc[key]})` });
        seen.set(c.vsc[key], key);
      }
    }
    return out;
  },
  // worker 0 (the process pm2 runs) on control.port; a forked worker on an ephemeral one
  control: (c) => {
    const w = workerConfig(c, Math.min(workerIndex(), c.workers - 1));
    return { address: w.control.address, port: w.control.port };
  },
  build(ctx) {
    const base = ctx.config as ProxyConfig;
    const index = workerIndex();
    if (index >= base.workers) throw new Error(`NGCP_PROXY_WORKER=${index} but workers is ${base.workers}`);
    const config = workerConfig(base, index);
    const logger = base.workers > 1 ? ctx.logger.child({ worker: index }) : ctx.logger;
    const svc = createProxyService({ config, logger, metrics: ctx.metrics, worker: index, workerPorts: workerPorts(base) });
    // worker 0 forks the others (the same entry script and V8 flags, NGCP_PROXY_WORKER=i)
    const pool = index === 0 && base.workers > 1 && process.argv[1]
      ? new WorkerPool({ count: base.workers, script: process.argv[1], args: process.argv.slice(2), logger })
      : null;
    if (index > 0) serveWorkerChannel(ctx.metrics, logger, (role) => svc.setRole(role));
    // hbd's `ha.role` reaches worker 0 (the control endpoint); the workers hear it from there
    const haRole: RpcHandler = async (params, rpc) => {
      const r = (await svc.methods['ha.role']!(params, rpc)) as { role: 'active' | 'standby' };
      pool?.setRole(r.role);
      return r;
    };
    const methods = pool ? { ...svc.methods, 'ha.role': haRole } : svc.methods;
    return {
      start: async () => {
        await svc.start();
        pool?.start();
      },
      stop: async () => {
        await Promise.all([pool?.stop(), svc.stop()]);
      },
      health: async () => {
        const h = await svc.health();
        return pool ? { ...h, workers: { configured: base.workers, running: 1 + pool.running() } } : h;
      },
      stats: async () => {
        const st = await svc.stats();
        return pool ? { ...st, worker: index, workers: pool.status() } : { ...st, worker: index };
      },
      reload: () => svc.reload(),
      methods,
      ...(pool ? { metricsText: () => pool.metricsText(ctx.metrics) } : {}),
    };
  },
};
