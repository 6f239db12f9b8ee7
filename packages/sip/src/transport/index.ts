/** SIP transports: UDP, TCP, TLS, the receiving edge, response routing, connection pool. */
export { TransportLayer } from './transport-layer.js';
export type { ListenSpec, ListeningAddress, TransportLayerOptions } from './options.js';
export type { TransportErrorCode, TransportRoute, TransportSource } from './types.js';
export { TransportError, isTransportError } from './types.js';
export type { ResponseRouteOptions } from './routing.js';
export { flowKey, normalizeAddress, responseDestination, sameAddress, stampVia } from './routing.js';
export type { DropReason, TransportStatsSnapshot } from './stats.js';
export type { MessageHandler } from './edge.js';
export type { ConnectionInfo } from './pool.js';
export type { UdpOptions } from './udp.js';
export { DEFAULT_UDP_BUFFER } from './udp.js';
export type { PemSource, TlsOptions } from './tls.js';
export { loadPem } from './tls.js';
