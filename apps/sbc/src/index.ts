/**
 * @ngcp/sbc — the B2BUA: a new leg for every call the proxy hands over, topology hiding,
 * header whitelist, reply translation, codec filter, call length limit and prepaid per profile, leg state in Redis. See README.md.
 */
export { sbcDaemon } from './daemon.js';
export { B2bua } from './b2bua.js';
export type { B2buaOptions, TeardownResult } from './b2bua.js';
export { sbcSchema, sbcDefaults, checkSbcConfig, resolveProfiles, prepaidSettings, DEFAULT_HEADERS } from './config.js';
export type { SbcConfig, SbcProfile, ResolvedProfile, ReplyTranslation, PrepaidConfig } from './config.js';
export { PROFILE_HEADER, CALLER_FIELD, proxyContextFields, OWN_FIELDS, copiedFields, isInternalField, passes, requestedProfile, whitelist } from './headers.js';
export { bLegInvite, nextHop, offerUnusable, ourContact, relayRequest, relayResponse } from './legs.js';
export type { Self } from './legs.js';
export { CallStore } from './store.js';
export type { SbcCall, SbcLeg, Side } from './store.js';
export { createSbcMetrics } from './metrics.js';
export type { SbcMetrics } from './metrics.js';
export { filterCodecs, isSdp } from './sdp.js';
export type { SdpFilterResult } from './sdp.js';
export { PrepaidControl, CREDIT_REASON } from './prepaid.js';
export type { PrepaidState, Authorization } from './prepaid.js';
export { billedSeconds, calleeNumber, chargeOf, costOf, findFee, nextGrant, prefixesOf, secondsFor, talkSeconds } from './rating.js';
export type { Fee, Grant } from './rating.js';
