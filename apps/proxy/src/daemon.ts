/**
 * The proxy as a DaemonDefinition for `runDaemon` (@ngcp/daemon): name `proxy` (env
 * NGCP_PROXY_CONFIG), the config schema and defaults, cross-key checks, the control
 * address, and `build()` turning the service into a Daemon.
 */
import type { DaemonConfigProblem, DaemonDefinition } from '@ngcp/daemon';
import { proxyConfigDefaults, proxyConfigSchema, type ProxyConfig } from './config.js';
import { createProxyService } from './service.js';

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
    return out;
  },
  control: (c) => ({ address: c.control.address, port: c.control.port }),
  build(ctx) {
    const svc = createProxyService({ config: ctx.config as ProxyConfig, logger: ctx.logger, metrics: ctx.metrics });
    return {
      start: () => svc.start(),
      stop: () => svc.stop(),
      health: () => svc.health(),
      stats: () => svc.stats(),
      reload: () => svc.reload(),
      methods: svc.methods,
    };
  },
};
