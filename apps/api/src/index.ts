/** @ngcp/api — the OSS/BSS REST API. Entry point: src/main.ts; see README.md. */
export { buildApp, API_VERSION } from './app.js';
export type { BuildOptions } from './app.js';
export { startServer } from './server.js';
export type { RunningApi } from './server.js';
export { resolveConfig, loadConfigFile, DEFAULT_CONFIG, apiConfigSchema, apiConfigDefinition } from './config.js';
export type { ApiConfig, ApiConfigInput } from './config.js';
export { ensureAdmin, apiUrl } from './bootstrap.js';
export { ensureCertificate } from '@ngcp/daemon';
export { createLogger } from './logger.js';
export { ERRORS, ApiError } from './errors.js';
export type { ErrorCode, ApiErrorBody, FieldError } from './errors.js';
