/**
 * Transport vocabulary shared by every layer (RFC 3261 §18, §19.1.2, §20.42): the
 * transports this stack implements, which transports are reliable, default ports,
 * and where a message goes or came from. A Via may name other transports (SCTP,
 * WS, WSS …); they stay plain strings here.
 */

/** The transports this stack implements (lower case, as in a URI `transport` parameter). */
export type TransportName = 'udp' | 'tcp' | 'tls';

/** A transport token in any case ('UDP' as written in a Via) → TransportName; null when not implemented. */
export function toTransportName(t: string): TransportName | null {
  const l = t.toLowerCase();
  return l === 'udp' || l === 'tcp' || l === 'tls' ? l : null;
}

const RELIABLE = new Set(['TCP', 'TLS', 'SCTP', 'TLS-SCTP', 'WS', 'WSS']);

/**
 * RFC 3261 §18, RFC 4168, RFC 7118: TCP, TLS, SCTP, WS and WSS are reliable; UDP
 * (and DTLS, and anything unknown) is not — so retransmission timers run for them.
 * Any case.
 */
export function isReliableTransport(transport: string): boolean {
  return RELIABLE.has(transport.toUpperCase());
}

/** Default port per transport (RFC 3261 §19.1.2, RFC 3263 §4.2): 5061 for TLS, 5060 otherwise. Any case. */
export function defaultPort(transport: string): number {
  return transport === 'TLS' || transport === 'tls' || (transport.length === 3 && transport.toLowerCase() === 'tls') ? 5061 : 5060;
}

/**
 * Where a message goes, or where it came from. `address` is an IP (IPv6 with or
 * without brackets). `transport` in any case ('UDP' as written in a Via works); a
 * transport's Source can be passed as is.
 */
export interface Destination {
  /** Transport name, any case: 'udp' | 'tcp' | 'tls' are sent on; a Via may name others. */
  transport: string;
  address: string;
  port: number;
  /** TCP/TLS: send over this connection when it is still open (e.g. Source.connectionId). */
  connectionId?: string | number;
  /** UDP: send from the socket bound to this local address/port (the one that received the request). */
  localAddress?: string;
  localPort?: number;
  /** TLS: SNI server name and the name the peer certificate is checked against. */
  servername?: string;
}
