/**
 * Typed parse error: the only exception the parser and the lazy header accessors
 * throw for untrusted input. `status` is the response a receiving element should
 * send when it can answer (400, 505, 416 …), or null when the message can only be
 * dropped (e.g. a malformed response).
 */
export type SipParseErrorCode =
  | 'empty'
  | 'start-line'
  | 'version'
  | 'status-code'
  | 'header-line'
  | 'header-value'
  | 'content-length'
  | 'body-truncated'
  | 'too-large'
  | 'incomplete'
  | 'uri';

export class SipParseError extends Error {
  override readonly name = 'SipParseError';
  constructor(
    readonly code: SipParseErrorCode,
    message: string,
    /** Response status a receiver should answer with, or null to drop. */
    readonly status: number | null = 400,
    /** The header the problem is in, canonical lower-case name, when known. */
    readonly header?: string,
  ) {
    super(message);
  }
}

export function parseError(code: SipParseErrorCode, message: string, header?: string, status: number | null = 400): SipParseError {
  return new SipParseError(code, message, status, header);
}
