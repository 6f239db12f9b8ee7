/**
 * SIP messages (RFC 3261 §7): the shared base (headers as received, lazy typed
 * accessors, serialization) and the request and response classes.
 */
import type { SipRequest } from './request.js';
import type { SipResponse } from './response.js';

export * from './message-base.js';
export { SipRequest } from './request.js';
export { SipResponse } from './response.js';

export type SipMessage = SipRequest | SipResponse;

export function isRequest(m: SipMessage): m is SipRequest {
  return m.kind === 'request';
}

