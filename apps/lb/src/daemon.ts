/** The lb as @ngcp/daemon runs it: config schema and defaults, control address, builder. */
import type { DaemonDefinition, DaemonConfigProblem } from '@ngcp/daemon';
import type { LbConfig } from './config.js';
import { lbConfigDefaults, lbConfigSchema } from './config.js';
import { createLbService } from './service.js';

export const lbDaemon: DaemonDefinition<LbConfig> = {
  name: 'lb',
  schema: lbConfigSchema,
  defaults: lbConfigDefaults as unknown as DaemonDefinition<LbConfig>['defaults'],
  check(c: LbConfig): DaemonConfigProblem[] {
    const problems: DaemonConfigProblem[] = [];
    const p = c.public;
    if (p.address === c.internal.address && p.udp_port === c.internal.udp_port && p.udp_port !== 0) {
      problems.push({ path: 'internal.udp_port', message: 'must differ from public.udp_port on the same address' });
    }
    if (p.tls_enable && p.tls_port === p.tcp_port && p.tls_port !== 0) problems.push({ path: 'public.tls_port', message: 'must differ from public.tcp_port' });
    const seen = new Set<string>();
    c.dispatch.proxies.forEach((x, i) => {
      const id = `${x.address}:${x.port}`;
      if (seen.has(id)) problems.push({ path: `dispatch.proxies.${i}`, message: `${id} is listed twice` });
      seen.add(id);
    });
    return problems;
  },
  control: (c) => c.control,
  stopTimeoutMs: () => 10_000,
  build: ({ config, logger, metrics }) => createLbService({ config, logger, metrics }),
};
