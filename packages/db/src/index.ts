/**
 * @ngcp/db — the provisioning, routing, accounting and voicemail schema (knex migrations)
 * and the small data-access functions the API and the SIP daemons share. See README.md.
 */
export { createDb, knexConfig } from './knex-config.js';
export type { Db, DbConfig } from './knex-config.js';
export type { Knex } from 'knex';
export { createReader, readerFor } from './reader.js';
export type { Reader, ReaderConfig } from './reader.js';

export { migrate, MIGRATIONS } from './migrate.js';
export type { Migration, MigrateResult } from './migrate.js';
export { BUILTIN_PREFERENCES } from './migrations/0003-preferences.js';
export { CALL_STATUSES, VOICEMAIL_FOLDERS } from './migrations/0004-accounting.js';
export { CALL_TYPES, VOICEBOX_DOMAIN } from './migrations/0010-call-type-voicemail.js';
export { ACC_KINDS } from './migrations/0005-acc-kind.js';

export { subscriberHa1, hashPassword, verifyPassword, newToken, hashToken, randomPassword, DEFAULT_SCRYPT } from './secrets.js';
export type { ScryptParams } from './secrets.js';

export { findSubscriberCredentials, lookupNumber, normalizeE164, subscriberNumbers, domainExists } from './repo/subscribers.js';
export type { SubscriberCredentials, NumberTarget } from './repo/subscribers.js';

export {
  PREFERENCE_TABLES, toPreferenceDef, loadPreferenceDefs, decodeValue, encodeValue, getPreferences, getEffectivePreferences,
} from './repo/preferences.js';
export type { PreferenceDef, PreferenceMap, PreferenceValue } from './repo/preferences.js';

export { getCallForwards, getRewriteRules, applyRewriteRules, getNcosLevel, ncosAllows, findPeeringRoutes } from './repo/routing.js';
export type { CallForwardMap, CallForwardDestination, RewriteRule, NcosLevel, PeeringRoute } from './repo/routing.js';

export {
  CALL_FORWARDS_ENTITY, CALL_FORWARD_TYPES, CALL_FORWARD_RING_TIMEOUT, CALL_FORWARD_MAX_DESTINATIONS, emptyCallForwardSet, readCallForwardDocs, checkCallForwards,
  replaceCallForwards, removeCallForwards, updateCallForwards,
} from './repo/call-forwards.js';
export type { CallForwardDoc, CallForwardSet, CallForwardDocDestination, CallForwardFieldError, CallForwardCheck } from './repo/call-forwards.js';
export { insertJournal, publishChange } from './repo/journal.js';
export type { JournalActor, JournalChange, ChangePublisher } from './repo/journal.js';
export { findPrepaidAccount, findBillingFees, getBalance, reserveCredit, reservePrepaidCall, markPrepaidAnswered, staleReservations, settlePrepaidCall } from './repo/prepaid.js';
export type { PrepaidAccount, BillingFee, PrepaidSettlement, PrepaidReservation, ReservationFee, StoredReservation } from './repo/prepaid.js';

export { accKind, insertAcc, insertAccs, insertCdr } from './repo/accounting.js';
export type { NewAcc, NewCdr } from './repo/accounting.js';
export {
  ensureVoicemailBox, insertVoicemail, depositVoicemail, voicemailFile, findVoicemailOwner, voicemailCounts, listBoxMessages, voicemailAudio,
  markVoicemailRead, moveVoicemail, deleteVoicemail,
} from './repo/voicemail.js';
export type { NewVoicemail, VoicemailOwner, VoicemailCounts, BoxMessage } from './repo/voicemail.js';

export { CHANGES_CHANNEL, redisKeys, REDIS_PATTERNS, keyDeadlines, parsePeerRegistration } from './redis-keys.js';
export type { ChangeNotification, ChangeOp, LocationBinding, ActiveCall, BanEntry, CallBranch, CallFork, DispatcherDestinationState, PeerServerState, PeerRegistration, ScanPttlClient } from './redis-keys.js';

export type * from './rows.js';
export { TtlCache } from './ttl-cache.js';
