/**
 * The proxy as a DaemonDefinition (docs: /work DAEMON-CONTRACT, @ngcp/daemon `runDaemon`):
 * name `proxy` (env NGCP_PROXY_CONFIG), the config schema, the control address, and
 * `build()` turning the service into a Daemon (health, stats, reload, control methods).
 * Typed structurally so this file does not need @ngcp/daemon; `runDaemon(proxyDaemon)` takes it.
 */
import type { JSONSchemaType } from 'ajv';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { proxyConfigDefaults, proxyConfigSchema, type ProxyConfig } from './config.js';
import { createProxyService, type ControlHandler } from './service.js';

export interface ProxyDaemonContext { name: string; config: Readonly<ProxyConfig>; logger: Logger; metrics: Registry; configPath?: string }

export interface ProxyDaemon {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): Promise<{ ok: boolean; [k: string]: unknown }>;
  stats(): Promise<Record<string, unknown>>;
  reload(): Promise<void>;
  methods: Record<string, ControlHandler>;
}

export const proxyDaemon = {
  name: 'proxy',
  schema: proxyConfigSchema as JSONSchemaType<ProxyConfig>,
  defaults: proxyConfigDefaults,
  control: (c: ProxyConfig) => ({ address: c.control.address, port: c.control.port }),
  build(ctx: ProxyDaemonContext): ProxyDaemon {
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
