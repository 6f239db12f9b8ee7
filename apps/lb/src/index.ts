/** @ngcp/lb — the SIP load-balancer. See README.md. */
export { createLbService } from './service.js';
export { lbDaemon } from './daemon.js';
export type { LbService, LbServiceContext, HealthReport } from './service.js';
export { lbConfigSchema, lbConfigDefaults, DISPATCH_ALGORITHMS } from './config.js';
export type { LbConfig, DispatchAlgorithm, DispatchConfig, ProxyDestinationConfig } from './config.js';
