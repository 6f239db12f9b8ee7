/** Counters of the transaction layer (exposed through `TransactionLayer.stats()`). */
import type { TransactionKind } from './types.js';

export type PerKind = Record<TransactionKind, number>;

export interface TransactionStats {
  /** Transactions created since start. */
  created: PerKind;
  /** Transactions alive now. */
  live: PerKind;
  /** Timer B or Cancel (ict), F (nict), H (ist) fired. */
  timeouts: PerKind;
  /** Messages sent again: requests (A, E), ACKs (ict), responses (G, on request retransmission, 2xx from the TU in Accepted). */
  retransmissions: PerKind;
  /** Sends that failed. */
  transportErrors: PerKind;
  /** Server transactions whose TU gave no final response in time: answered 500 by the layer (Guard). */
  tuTimeouts: PerKind;
  /** Received messages no transaction took. */
  stray: { responses: number; acks: number; cancels: number };
  /** Received messages dropped because the headers matching reads were malformed. */
  malformed: number;
}

const perKind = (): PerKind => ({ ict: 0, nict: 0, ist: 0, nist: 0 });

export function emptyStats(): TransactionStats {
  return {
    created: perKind(),
    live: perKind(),
    timeouts: perKind(),
    retransmissions: perKind(),
    transportErrors: perKind(),
    tuTimeouts: perKind(),
    stray: { responses: 0, acks: 0, cancels: 0 },
    malformed: 0,
  };
}

export function copyStats(s: TransactionStats): TransactionStats {
  return {
    created: { ...s.created },
    live: { ...s.live },
    timeouts: { ...s.timeouts },
    retransmissions: { ...s.retransmissions },
    transportErrors: { ...s.transportErrors },
    tuTimeouts: { ...s.tuTimeouts },
    stray: { ...s.stray },
    malformed: s.malformed,
  };
}
