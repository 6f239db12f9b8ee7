/**
 * @ngcp/mediator — turns the proxy's accounting records (`acc`) into CDRs (`cdrs`), exactly
 * one per call. See README.md.
 */
export { mediatorDaemon } from './daemon.js';
export { Mediator } from './mediator.js';
export type { MediatorOptions, PassResult } from './mediator.js';
export { mediateCall, failureStatus, byCall } from './mediate.js';
export type { AccRecord, Mediated, MediateOptions, Outcome } from './mediate.js';
export { mediatorSchema, mediatorDefaults } from './config.js';
export type { MediatorConfig } from './config.js';
export { createMediatorMetrics } from './metrics.js';
export type { MediatorMetrics } from './metrics.js';
