/**
 * The SIP transaction layer (RFC 3261 §17, RFC 6026): four pure state machines, the
 * TransactionLayer that drives them, transaction matching, and stateless forwarding
 * helpers (§16.11). See README.md.
 */
export { TransactionLayer } from './manager.js';
export type { ReceiveResult } from './manager.js';
export { ClientTransaction, ServerTransaction } from './transaction.js';
export type {
  CancelResult,
  ClientCancelOptions,
  ClientTransactionUser,
  FinalOrigin,
  ServerTransactionUser,
  Transaction,
  TransactionLayerOptions,
  TransactionUser,
} from './transaction.js';
export type { ClientEvent, Effect, ServerEvent, TransactionKind, TransactionTransport, Transition } from './types.js';
export { DEFAULT_TIMER_CONFIG, nodeScheduler, timerValues } from './timers.js';
export { QueuedScheduler } from './timer-queue.js';
export type { TimerConfig, TimerHandle, TimerName, TimerScheduler, TimerValues } from './timers.js';
export type { PerKind, TransactionStats } from './stats.js';
export { TRANSACTION_ERRORS, TransactionError } from './errors.js';
export type { TransactionErrorCode } from './errors.js';

// the machines, for tests, tracing and other drivers
export { ict, ictStart } from './invite-client.js';
export type { IctState } from './invite-client.js';
export { nict, nictStart } from './non-invite-client.js';
export type { NictState } from './non-invite-client.js';
export { ist, istAcceptsResponse, istStart } from './invite-server.js';
export type { IstState } from './invite-server.js';
export { nist, nistAcceptsResponse, nistStart } from './non-invite-server.js';
export type { NistState } from './non-invite-server.js';

export { ackKeyOfResponse, clientKey, clientKeyOfRequest, clientKeyOfResponse, isRfc3261Branch, serverKey } from './matching.js';
export { buildAck, buildCancel, localResponse } from './build.js';
export type { CancelOptions } from './build.js';
export { answerCancel } from './cancel.js';
export { forwardResponseStatelessly, statelessBranch, statelessVia, viaHop } from './stateless.js';
export type { StatelessBranchOptions, StatelessResponseDecision, ViaHop } from './stateless.js';

