/** @ngcp/lb — the SIP load-balancer. See README.md. */
export { createLbService, LbParamsError } from './service.js';
export type { LbService, LbServiceContext, HealthReport } from './service.js';
export { lbConfigSchema, lbConfigDefaults, DISPATCH_ALGORITHMS } from './config.js';
export type { LbConfig, DispatchAlgorithm, DispatchConfig, ProxyDestinationConfig } from './config.js';
