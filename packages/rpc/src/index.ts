/**
 * @ngcp/rpc — JSON-RPC 2.0 over HTTP: the control endpoint of every daemon
 * (`RpcServer`, with Prometheus text on GET /metrics) and the client the CLI and the
 * API use (`RpcClient`). One error-code table (`RPC_ERRORS`). See README.md.
 */
export { RPC_ERRORS, RpcError } from './errors.js';
export type { RpcErrorName, RpcErrorCode } from './errors.js';

export { dispatch } from './protocol.js';
export type { RpcHandler, RpcId, RpcResponse } from './protocol.js';

export { RpcServer } from './server.js';
export type { RpcServerOptions } from './server.js';

export { RpcClient } from './client.js';
export type { RpcClientOptions } from './client.js';
