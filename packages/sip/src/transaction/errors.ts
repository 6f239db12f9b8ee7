/**
 * Errors the transaction layer throws at its caller (programmer errors: wrong state,
 * wrong message). A SIP non-2xx is a result, never an exception; transport failures
 * reach the TU through callbacks, not throws.
 */
export const TRANSACTION_ERRORS = {
  'no-via': 'the request has no Via header field',
  'ack-not-transaction': 'ACK for a 2xx is not a transaction; send it through the transport',
  'duplicate-transaction': 'a client transaction with this branch and method already exists',
  'invalid-response': 'a response status must be 100-699',
  'not-invite': 'only INVITE client transactions can be cancelled',
  'closed': 'the transaction layer is closed',
} as const;

export type TransactionErrorCode = keyof typeof TRANSACTION_ERRORS;

export class TransactionError extends Error {
  override readonly name = 'TransactionError';
  constructor(
    readonly code: TransactionErrorCode,
    detail?: string,
  ) {
    super(detail === undefined ? TRANSACTION_ERRORS[code] : `${TRANSACTION_ERRORS[code]}: ${detail}`);
  }
}
