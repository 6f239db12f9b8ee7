/**
 * JSON-RPC 2.0 dispatch, without I/O: a parsed body in, the response body out (or
 * nothing, for notifications). Follows the spec's rules: batches answer with an array
 * of the non-notification responses (nothing at all if every member was a
 * notification), an empty batch is one Invalid Request, a member that is not a request
 * gets its own Invalid Request, and a notification never gets an answer — not even an
 * error.
 */
import type { Logger } from 'pino';
import { RPC_ERRORS, RpcError } from './errors.js';

export type RpcHandler = (params: unknown, ctx: { logger: Logger }) => unknown | Promise<unknown>;

export type RpcId = string | number | null;

export interface RpcResponse {
  jsonrpc: '2.0';
  id: RpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export type Outcome = 'ok' | 'error';

export interface DispatchHooks {
  /** Called once per handled request or notification with the method (or undefined when unknown) and the outcome. */
  onCall?(method: string | undefined, outcome: Outcome): void;
}

const isId = (v: unknown): v is RpcId => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

export function errorResponse(id: RpcId, err: RpcError): RpcResponse {
  return { jsonrpc: '2.0', id, error: err.toJSON() };
}

async function one(msg: unknown, methods: ReadonlyMap<string, RpcHandler>, logger: Logger, hooks: DispatchHooks): Promise<RpcResponse | undefined> {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
    return errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'invalid request: not an object'));
  }
  const req = msg as Record<string, unknown>;
  const hasId = Object.prototype.hasOwnProperty.call(req, 'id');
  const id = hasId && isId(req.id) ? req.id : null;
  const invalid = (why: string): RpcResponse => errorResponse(id, new RpcError(RPC_ERRORS.INVALID_REQUEST, `invalid request: ${why}`));
  if (req.jsonrpc !== '2.0') return invalid('jsonrpc must be "2.0"');
  if (typeof req.method !== 'string' || req.method === '') return invalid('method must be a non-empty string');
  if (hasId && !isId(req.id)) return invalid('id must be a string, a number or null');
  if (req.params !== undefined && (req.params === null || typeof req.params !== 'object')) return invalid('params must be an object or an array');

  const method = req.method;
  const handler = methods.get(method);
  let response: RpcResponse;
  if (!handler) {
    hooks.onCall?.(undefined, 'error');
    response = errorResponse(id, new RpcError(RPC_ERRORS.METHOD_NOT_FOUND, `method not found: ${method}`));
  } else {
    try {
      const result = await handler(req.params, { logger });
      hooks.onCall?.(method, 'ok');
      response = { jsonrpc: '2.0', id, result: result === undefined ? null : result };
    } catch (e) {
      hooks.onCall?.(method, 'error');
      if (e instanceof RpcError) {
        response = errorResponse(id, e);
      } else {
        logger.error({ err: e, method }, 'rpc handler failed');
        response = errorResponse(id, new RpcError(RPC_ERRORS.INTERNAL_ERROR, 'internal error'));
      }
    }
  }
  return hasId ? response : undefined;
}

/** The response body for a parsed request body; undefined when there is nothing to answer (notifications only). */
export async function dispatch(body: unknown, methods: ReadonlyMap<string, RpcHandler>, logger: Logger, hooks: DispatchHooks = {}): Promise<RpcResponse | RpcResponse[] | undefined> {
  if (!Array.isArray(body)) return one(body, methods, logger, hooks);
  if (body.length === 0) return errorResponse(null, new RpcError(RPC_ERRORS.INVALID_REQUEST, 'invalid request: empty batch'));
  const out = (await Promise.all(body.map((m) => one(m, methods, logger, hooks)))).filter((r): r is RpcResponse => r !== undefined);
  return out.length ? out : undefined;
}
