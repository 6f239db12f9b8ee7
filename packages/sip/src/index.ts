/**
 * @ngcp/sip — a SIP stack: message model, parser and framing, edge sanity checks,
 * transports, transaction layer, dialogs, digest authentication, RFC 3263 DNS.
 * Layers: message ← parser ← transport ← transaction ← dialog.
 */
export type { LogFields, Logger } from './logger.js';
export * from './message/index.js';
export * from './parser/parse.js';
export * from './parser/stream-framer.js';
export * from './sanity/inspect.js';
export * from './digest/index.js';
export * from './dialog/index.js';
export * from './dns/index.js';
export * from './transport/index.js';
export * from './transaction/index.js';
export * from './core/index.js';
