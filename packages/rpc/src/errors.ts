/**
 * The one table of JSON-RPC error codes used on every control endpoint. The first five
 * are JSON-RPC 2.0's own (§5.1); the rest are in the range the spec leaves to the
 * server (-32000 to -32099):
 *
 * | code   | name             | meaning                                                         |
 * |--------|------------------|-----------------------------------------------------------------|
 * | -32700 | PARSE_ERROR      | the body is not JSON                                            |
 * | -32600 | INVALID_REQUEST  | JSON, but not a JSON-RPC 2.0 request (or the body is too large) |
 * | -32601 | METHOD_NOT_FOUND | no such method on this daemon                                   |
 * | -32602 | INVALID_PARAMS   | the method's params are wrong (the handler says which)          |
 * | -32603 | INTERNAL_ERROR   | the handler failed unexpectedly (details only in the log)       |
 * | -32001 | UNAVAILABLE      | not able to serve now: unhealthy, stopping, or (client side) the endpoint refused the connection or did not answer in time |
 * | -32004 | NOT_FOUND        | the thing the params name does not exist (a call, a peer…)      |
 */
export const RPC_ERRORS = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  UNAVAILABLE: -32001,
  NOT_FOUND: -32004,
} as const;

export type RpcErrorName = keyof typeof RPC_ERRORS;
export type RpcErrorCode = (typeof RPC_ERRORS)[RpcErrorName];

/** A JSON-RPC error: thrown by a handler to answer with it, rejected by `RpcClient.call` when the answer is one. */
export class RpcError extends Error {
  readonly code: number;
  readonly data?: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    if (data !== undefined) this.data = data;
  }

  /** The `error` member of a response. */
  toJSON(): { code: number; message: string; data?: unknown } {
    return this.data === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, data: this.data };
  }
}
