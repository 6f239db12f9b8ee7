/**
 * @ngcp/mediactl — the media-relay controller: owns all ng-protocol traffic to the node's
 * rtpengine instances. See README.md.
 */
export { mediactlDaemon } from './daemon.js';
export { Mediactl } from './mediactl.js';
export type { MediactlOptions, MediactlHealth, ControlHandler } from './mediactl.js';
export { mediactlSchema, mediactlDefaults, resolveTargets, targetProblems } from './config.js';
export type { MediactlConfig, MediactlRedisConfig, RtpengineTarget, ResolvedTarget } from './config.js';
export { MediaError, MEDIA_ERRORS } from './media-error.js';
export type { MediaErrorCode } from './media-error.js';
export { mediaKey } from './pin-store.js';
export type { PinBackend } from './pin-store.js';
export type { NgControl, NgControlFactory, NgTarget, NgParams, NgResult } from './ng-control.js';
export { offerParams, answerParams } from './ng-params.js';
