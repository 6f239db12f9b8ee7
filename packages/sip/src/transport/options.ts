/** Options and listen specifications of the TransportLayer. */
import type { InspectOptions } from '../sanity/inspect.js';
import type { MessageHandler } from './edge.js';
import type { ConnectionInfo } from './pool.js';
import type { TlsOptions } from './tls.js';
import type { TransportName } from '../message/transports.js';
import type { Logger } from '../logger.js';
import type { UdpOptions } from './udp.js';

export interface ListenSpec {
  transport: TransportName;
  /** An IP address (bind specific addresses, not 0.0.0.0: Node has no IP_PKTINFO). */
  address: string;
  /** 0 picks a free port; see listening() for the one bound. */
  port: number;
  /** TLS server options for this listener (default: the layer's `tls`). */
  tls?: TlsOptions;
}

export interface ListeningAddress {
  transport: TransportName;
  address: string;
  port: number;
}

export interface TransportLayerOptions extends Pick<InspectOptions, 'role' | 'schemes' | 'supported' | 'methods' | 'contentTypes' | 'maxMessageSize'> {
  onMessage?: MessageHandler;
  /** Called when a TCP/TLS connection closes (e.g. to fail transactions bound to the flow). */
  onConnectionClose?: (info: ConnectionInfo, error: Error | undefined) => void;
  /** A pino logger (or anything pino-shaped); the layer logs through a child with `component: 'sip-transport'`. Default: errors and warnings to stderr. */
  logger?: Logger;
  /** Drop responses whose top Via sent-by is not one of these ("host:port"). Default: no check. */
  sentBy?: readonly string[];
  /** Route responses to a Via maddr (RFC 3261 §18.2.2). Default true. */
  honorMaddr?: boolean;
  /**
   * Treat every received request as if its top Via asked for rport (RFC 3581), so
   * responses go back to the source address and port — what an edge proxy facing
   * NATed clients does (Kamailio's force_rport). Default false.
   */
  forceRport?: boolean;
  /** RFC 5923: alias a connection under the sent-by of requests whose Via has `alias`. Default false. */
  viaAlias?: boolean;
  udp?: UdpOptions;
  /** TLS options: server side for listeners without their own, client side for outgoing connections. */
  tls?: TlsOptions;
  /** ms. Default 10 000. */
  connectTimeout?: number;
  /** Idle timeout of accepted connections, ms (0: none). Default 3 600 000. */
  idleTimeoutInbound?: number;
  /** Idle timeout of connections we opened, ms (0: none). Default 600 000. */
  idleTimeoutOutbound?: number;
  /** Open TCP/TLS connections (both directions) at most. Default 10 000. */
  maxConnections?: number;
  /** Bytes a connection may have queued for writing before sends fail 'buffer-full'. Default 1 MiB. */
  maxWriteBuffer?: number;
  /**
   * Called for every datagram, every framed stream event (message, keep-alive, framing error)
   * and every accepted connection before anything is parsed, with the source address and the
   * local address and port it arrived on (the listener; for a connection the lb opened, its
   * local end): false drops it unanswered (counted as `refused`; a refused connection is
   * closed). The flood guard of an edge proxy: count and ban here, at the cost of one call per
   * packet; the local end tells a public listener from an internal one. Must not throw
   * (a throw is caught, logged and counted as `internal-error`). Default: everything is admitted.
   */
  admit?: (address: string, transport: 'udp' | 'tcp' | 'tls', localAddress: string, localPort: number) => boolean;
}
