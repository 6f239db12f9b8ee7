/**
 * Applying a star code that changes a call forward (features/vsc.ts): through @ngcp/db's
 * `updateCallForwards` — the same check, rows and journal row as `PUT /api/callforwards/:id` —
 * then the change announced on `ngcp:changes` (`publishChange`, as the API does), so every proxy
 * drops its cached forwards; this process drops its own at once, so the next call sees the change.
 */
import type { Logger } from 'pino';
import {
  CALL_FORWARD_RING_TIMEOUT, CALL_FORWARDS_ENTITY, publishChange, updateCallForwards, type CallForwardSet, type ChangePublisher, type Db,
} from '@ngcp/db';
import type { Party } from './call-features.js';
import type { FeatureStore } from './feature-store.js';
import type { ForwardType } from './forwards.js';
import type { VscCodes } from './vsc.js';

export interface StarCodesOptions {
  db: Db;
  redis: ChangePublisher;
  store: FeatureStore;
  logger: Logger;
  codes: VscCodes;
  /** CFT's ring timeout (s) when the subscriber's CFT has none yet (clamped to the API's range) */
  cftRingTimeoutS: number;
}

export type StarCodeResult = { ok: true } | { ok: false; reason: string };

export class StarCodes {
  readonly codes: VscCodes;
  constructor(private o: StarCodesOptions) {
    this.codes = o.codes;
  }

  /**
   * Set forward `type` of the caller to `number` (E.164 as the caller's rewrite rules made it;
   * it replaces the type's destinations), or clear it (`number` null). Refused with the checker's
   * reason when the number is no E.164 number.
   */
  async setForward(caller: Party, type: ForwardType, number: string | null, remoteAddr: string): Promise<StarCodeResult> {
    const { db, redis, store, logger } = this.o;
    const ringTimeout = Math.min(CALL_FORWARD_RING_TIMEOUT.max, Math.max(CALL_FORWARD_RING_TIMEOUT.min, this.o.cftRingTimeoutS));
    const change = number === null
      ? (c: CallForwardSet): CallForwardSet => ({ ...c, destinations: [] })
      : (c: CallForwardSet): CallForwardSet => ({
        ...c, enabled: true, destinations: [{ type: 'number', destination: number }], ...(type === 'cft' ? { ringtimeout: c.ringtimeout ?? ringTimeout } : {}),
      });
    const actor = { apiUserId: null, login: `sip:${caller.username}@${caller.domain}`, role: 'subscriber', remoteAddr };
    const r = await updateCallForwards(db, caller.subscriberId, { [type]: change }, actor);
    if (!r.ok) return { ok: false, reason: r.errors.map((e) => `${e.field} ${e.message}`).join('; ') };
    const ts = Date.now();
    store.onChange({ entity: CALL_FORWARDS_ENTITY, id: caller.subscriberId, op: 'update', ts });
    await publishChange(redis, CALL_FORWARDS_ENTITY, caller.subscriberId, 'update', ts).catch((err: Error) => {
      // stored and journalled; the other proxies' caches hold the old forwards until their TTL (300 s)
      logger.warn({ component: 'vsc', err: err.message, subscriberId: caller.subscriberId }, 'call forward change not announced');
    });
    return { ok: true };
  }
}
