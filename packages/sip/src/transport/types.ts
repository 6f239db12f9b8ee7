/**
 * Transport-layer types (RFC 3261 §18): where a message came from, where it goes,
 * and the errors a send can fail with.
 */
import type { PeerCertificate } from 'node:tls';
import type { Destination, TransportName } from '../message/transports.js';

/** A Destination after normalisation: known transport in lower case, bare address. */
export interface TransportRoute extends Destination {
  transport: TransportName;
  connectionId?: string;
}

/** Where a message came from: the remote address as seen on the socket. */
export interface TransportSource {
  transport: TransportName;
  address: string;
  port: number;
  localAddress: string;
  localPort: number;
  /** TCP/TLS: the connection it arrived on. */
  connectionId?: string;
  /** TLS: whether the peer presented a certificate our CA list verifies. */
  tlsAuthorized?: boolean;
  /** TLS: the peer certificate (when the peer sent one). */
  peerCertificate?: PeerCertificate;
}

export type TransportErrorCode =
  | 'connect-failed'
  | 'connect-timeout'
  | 'connection-closed'
  | 'max-connections'
  | 'buffer-full'
  | 'send-failed'
  | 'no-socket'
  | 'unsupported-transport'
  | 'unroutable'
  | 'closed';

/**
 * A send failed at the transport. The transaction layer maps any TransportError to
 * a transport error of the transaction (RFC 3261 §17.1.4 / §17.2.4).
 */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly code: TransportErrorCode,
    message: string,
    readonly destination?: Destination,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isTransportError(e: unknown): e is TransportError {
  return e instanceof TransportError;
}
