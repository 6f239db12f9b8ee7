/** Counters of the transport layer. Keys of the maps are bounded (status codes, fixed reasons). */

/** Why a message (or bytes) was dropped without an answer. */
export type DropReason =
  /** bytes that are no SIP message at all (nothing readable) */
  | 'unparseable'
  /** a malformed or unusable response (RFC 3261 §18.1.2: discarded) */
  | 'malformed-response'
  /** a broken request that cannot be answered (no usable Via) */
  | 'unanswerable'
  /** a request that would be rejected but is an ACK (never answered) */
  | 'ack-rejected'
  /** a response whose top Via sent-by is not ours (option `sentBy`) */
  | 'via-mismatch'
  /** UDP datagram made of CR/LF only (keep-alive) */
  | 'keepalive'
  /** STUN packet on the SIP port (RFC 5626 §4.4.2), not answered */
  | 'stun'
  /** stream framing error that could not be answered */
  | 'framing'
  /** an accepted message with no onMessage handler installed */
  | 'no-handler'
  /** inbound connection refused: maxConnections reached */
  | 'max-connections'
  /** a packet, message or connection from a source the `admit` hook refused (a banned flooder) */
  | 'refused'
  /** the edge check itself threw (a bug in the parser/checker; logged) */
  | 'internal-error';

export interface TransportStatsSnapshot {
  /** Datagrams and framed stream messages received (before the edge check). */
  received: number;
  /** Messages that passed the edge check and were handed to onMessage. */
  accepted: number;
  /** Messages sent, stateless rejects included (pongs are counted under keepalives). */
  sent: number;
  /** Send failures (any TransportError from send). */
  sendErrors: number;
  /** Requests answered by the edge, by status code. */
  rejected: Record<string, number>;
  /** Dropped input, by reason. */
  dropped: Partial<Record<DropReason, number>>;
  /** Exceptions thrown (or rejected promises) by the onMessage callback. */
  handlerErrors: number;
  bytesReceived: number;
  bytesSent: number;
  connections: { open: number; opened: number; closed: number; failed: number; inbound: number; outbound: number };
  /** RFC 5626 §3.5.1: CRLFCRLF pings received and CRLF pongs sent/received. */
  keepalives: { pingsReceived: number; pongsSent: number; pongsReceived: number };
  /** Per UDP socket: the buffer sizes the kernel really granted (Linux reports twice the set value, capped by net.core.rmem_max / wmem_max). */
  udp: Array<{ address: string; port: number; recvBufferSize: number; sendBufferSize: number }>;
}

export class TransportStats {
  received = 0;
  accepted = 0;
  sent = 0;
  sendErrors = 0;
  handlerErrors = 0;
  bytesReceived = 0;
  bytesSent = 0;
  readonly rejected = new Map<number, number>();
  readonly dropped = new Map<DropReason, number>();
  readonly connections = { open: 0, opened: 0, closed: 0, failed: 0, inbound: 0, outbound: 0 };
  readonly keepalives = { pingsReceived: 0, pongsSent: 0, pongsReceived: 0 };

  drop(reason: DropReason): void {
    this.dropped.set(reason, (this.dropped.get(reason) ?? 0) + 1);
  }

  reject(status: number): void {
    this.rejected.set(status, (this.rejected.get(status) ?? 0) + 1);
  }

  snapshot(udp: TransportStatsSnapshot['udp']): TransportStatsSnapshot {
    return {
      received: this.received,
      accepted: this.accepted,
      sent: this.sent,
      sendErrors: this.sendErrors,
      rejected: Object.fromEntries([...this.rejected].map(([k, v]) => [String(k), v])),
      dropped: Object.fromEntries(this.dropped),
      handlerErrors: this.handlerErrors,
      bytesReceived: this.bytesReceived,
      bytesSent: this.bytesSent,
      connections: { ...this.connections },
      keepalives: { ...this.keepalives },
      udp,
    };
  }
}
