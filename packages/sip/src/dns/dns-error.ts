/**
 * Typed DNS failure. Every operational failure of the DNS client and of the
 * SIP resolver surfaces as a `DnsError` with a stable `code`; NXDOMAIN and
 * NODATA are *results* (see `DnsResult.status`), not errors.
 */
export type DnsErrorCode =
  /** RCODE 2 from every server tried (RFC 1035 §4.1.1). */
  | 'SERVFAIL'
  /** RCODE 5: the server refused the query. */
  | 'REFUSED'
  /** RCODE 4: the server does not implement the query. */
  | 'NOTIMP'
  /** RCODE 1: the server could not interpret our query. */
  | 'FORMERR'
  /** Any other non-zero RCODE. */
  | 'BADRCODE'
  /** No usable response from any server within the configured attempts. */
  | 'TIMEOUT'
  /** A response that could not be decoded or failed validation. */
  | 'MALFORMED'
  /** Socket error (ECONNREFUSED, EHOSTUNREACH, …). */
  | 'NETWORK'
  /** The client was closed while the query was in flight. */
  | 'CANCELLED'
  /** The queried name is not a valid DNS name. */
  | 'BADNAME'
  /** Invalid configuration (server address, option value). */
  | 'BADCONFIG'
  /** A resolve() input that cannot be honoured (bad port, sips with transport=udp). */
  | 'BADTARGET';

export class DnsError extends Error {
  override readonly name = 'DnsError';
  constructor(
    readonly code: DnsErrorCode,
    message: string,
    /** Query name and type, when the error belongs to one query. */
    readonly query?: { name: string; type: string },
    /** Server (`host:port`) the last failure came from, when known. */
    readonly server?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isDnsError(e: unknown): e is DnsError {
  return e instanceof DnsError;
}
