/**
 * mediactl's operational failures: one class, a stable code each, and the JSON-RPC code
 * the control endpoint answers with (the table of @ngcp/rpc's RPC_ERRORS).
 */

export const MEDIA_ERRORS = {
  /** no healthy rtpengine for a new call, the call's rtpengine is down, or it did not answer in time */
  unavailable: -32001,
  /** a parameter is missing or malformed; the message names it */
  'invalid-params': -32602,
  /** rtpengine refused the request (bad SDP …); `data.reason` is its error-reason */
  rejected: -32602,
  /** no media session for this Call-ID on any rtpengine */
  'not-found': -32004,
} as const;

export type MediaErrorCode = keyof typeof MEDIA_ERRORS;

export class MediaError extends Error {
  override readonly name = 'MediaError';
  readonly code: MediaErrorCode;
  readonly data: Record<string, unknown> | undefined;

  constructor(code: MediaErrorCode, message: string, data?: Record<string, unknown>, opts?: { cause?: unknown }) {
    super(message, opts);
    this.code = code;
    this.data = data;
  }

  /** The JSON-RPC error code for this failure. */
  get rpcCode(): number {
    return MEDIA_ERRORS[this.code];
  }
}
