/** @ngcp/proxy — the SIP proxy/registrar daemon. Entry point: src/main.ts; see README.md. */
export { createProxyService } from './service.js';
export type { ProxyService, ProxyServiceOptions, ControlHandler } from './service.js';
export { proxyConfigSchema, proxyConfigDefaults } from './config.js';
export type { ProxyConfig } from './config.js';
export { rpcMediaControl } from './media/media-control.js';
export type { MediaControl, MediaOfferParams, MediaAnswerParams, MediaDeleteParams, MediaSdpResult, RpcCaller } from './media/media-control.js';
export { decideRegister, liveBindings, contactHeaderValues } from './registrar/bindings.js';
export type { RegisterDecision, RegisterInput, RegistrarLimits, RegisterContact } from './registrar/bindings.js';
export { proxyDaemon } from './daemon.js';
export { compileRewriteSet, rewrite, RewriteSet, applyIdentity, fromFor, CallFeatures, CallLimits, concKey, ncosAllows, blockedBy, e164 } from './features/index.js';
export type { RewriteDirection, RewriteField, RewriteRuleSpec, Identity, InboundResult, Party, Admission, Refusal } from './features/index.js';
