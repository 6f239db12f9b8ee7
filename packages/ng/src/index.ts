/**
 * @ngcp/ng — the rtpengine ng control protocol client (on rtpengine-client). See README.md.
 */
export { NgClient } from './ng-client.js';
export type { NgClientOptions, NgParams, NgResult } from './ng-client.js';
export { NgError, NG_ERRORS } from './ng-error.js';
export type { NgErrorCode } from './ng-error.js';
