/** SIP transports: UDP, TCP, TLS, the receiving edge, response routing, connection pool. */
export * from './types.js';
export * from './routing.js';
export * from './stats.js';
export type { MessageHandler, EdgeOptions } from './edge.js';
export type { ConnectionInfo } from './pool.js';
export type { UdpOptions } from './udp.js';
export { DEFAULT_UDP_BUFFER } from './udp.js';
export type { TlsOptions, PemSource } from './tls.js';
export { loadPem } from './tls.js';
export * from './transport-layer.js';
