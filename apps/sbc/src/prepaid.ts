/**
 * Prepaid calls (docs/sbc.md "Prepaid"): at an initial INVITE of a subscriber whose
 * customer is prepaid, the fee of the destination and a first quota of talk time reserved
 * on the customer's balance (credit control: concurrent calls cannot spend the same
 * money), else 402; while the call talks, the next quota at each quota's end (the deadline
 * is part of the call in Redis and of `sbc:timers`, swept with the session timers), and a
 * cut (BYE on both legs) when nothing is left; at the end the rated talk time charged and
 * the reservation released, once (packages/db `settlePrepaidCall`). Arithmetic: rating.ts.
 *
 * Every reservation is also a row of `prepaid_reservations` (migration 0011), written in the
 * transaction that changes the balance: a settlement that fails (MariaDB away) is retried
 * with backoff while the process lives, and the sweep closes the rows whose call is gone
 * (a sbc that died while it rang, a call whose Redis state expired) — docs/sbc.md
 * "Reservations that cannot leak".
 */
import type { Logger } from 'pino';
import type { Knex } from '@ngcp/db';
import { findBillingFees, findPrepaidAccount, getBalance, markPrepaidAnswered, reservePrepaidCall, settlePrepaidCall, staleReservations, TtlCache, type PrepaidAccount, type PrepaidSettlement } from '@ngcp/db';
import type { SipRequest } from '@ngcp/sip';
import { STALE_AFTER_S, type ResolvedProfile } from './config.js';
import { CALLER_FIELD } from './headers.js';
import type { SbcMetrics } from './metrics.js';
import { calleeNumber, chargeOf, findFee, nextGrant, prefixesOf, strandedCharge, talkSeconds, type Fee, type Grant } from './rating.js';
import type { CallStore, SbcCall } from './store.js';

/** The Reason text (and `sbc_teardowns_total` reason) of a call cut because its credit ran out. */
export const CREDIT_REASON = 'credit exhausted';

/** A prepaid call's credit, from the sbc's side (JSON-safe: part of the call in Redis, `prepaid`). */
export interface PrepaidState {
  /** customers.id whose balance pays */
  customer: number;
  /** the fee the call is rated with */
  fee: Fee;
  /** talk time granted so far (s from the answer) */
  granted: number;
  /** units reserved for it on the balance */
  held: number;
  /** when the granted time runs out (ms since the epoch); null until the call is answered */
  until: number | null;
}

/** What an initial INVITE gets: go on (with the call's credit, null for a call that is not prepaid) or 402. */
export type Authorization =
  | { ok: true; state: PrepaidState | null }
  | { ok: false; result: 'no_fee' | 'no_credit' };

export interface PrepaidDeps {
  db: Knex;
  /** seconds of talk time reserved at a time (`prepaid.quota_s`) */
  quotaS: number;
  store: CallStore;
  metrics: SbcMetrics;
  logger: Logger;
  /** the B2BUA's per-call serialisation */
  locked<T>(id: string, fn: () => Promise<T>): Promise<T>;
  /** BYE on both legs */
  teardown(id: string, reason: string, cause: number): Promise<unknown>;
  /** clock of the account cache (tests) */
  now?: () => number;
  /** a reservation whose call is not live is swept when last written longer ago than this (s; `prepaid.stale_after_s`) */
  staleAfterS?: number;
  /** this sbc's node name (who holds the sweep's turn) */
  node?: string;
}

/** How often the sweep of stale reservations runs: a quarter of the grace period, between 1 s and 60 s. */
export function sweepEveryMs(staleAfterS: number): number {
  return Math.min(60_000, Math.max(1000, (staleAfterS * 1000) / 4));
}

/** The first retry of a failed settlement after this (ms), doubling up to SETTLE_RETRY_MAX_MS. */
const SETTLE_RETRY_MIN_MS = 500;
const SETTLE_RETRY_MAX_MS = 30_000;
/** Stale reservations closed per sweep at most (the next sweep takes the rest). */
const SWEEP_BATCH = 100;

/**
 * How long a subscriber's account (customer, prepaid or not, billing profile) is reused: every
 * subscriber's INVITE through the sbc needs it, most customers are not prepaid, and their calls
 * should neither cost a MariaDB read each nor fail while MariaDB is briefly away. A customer
 * made prepaid (or not) through the API takes effect within this time; the balance and the
 * fees are read per call.
 */
export const ACCOUNT_CACHE_MS = 10_000;

/** How often a reservation is tried again when another call of the customer took the money between the read and the update. */
const RESERVE_TRIES = 5;

export class PrepaidControl {
  private readonly log: Logger;
  private readonly accounts = new TtlCache<PrepaidAccount | undefined>(100_000);
  /** settlements that failed, by call id: retried until MariaDB takes them */
  private readonly retries = new Map<string, NodeJS.Timeout>();

  constructor(private readonly d: PrepaidDeps) {
    this.log = d.logger.child({ component: 'prepaid' });
  }

  /**
   * The hook at an initial INVITE: a subscriber's call (`X-NGCP-Caller: sub`, the From AoR
   * is the subscriber) whose customer is prepaid, through a profile with prepaid on, gets
   * its fee and its first quota reserved — or 402 (no fee for the destination, not enough
   * credit for the first interval). Any other call passes untouched. A database error throws.
   */
  async authorize(req: SipRequest, profile: ResolvedProfile, id: string): Promise<Authorization> {
    if (!profile.prepaid || req.get(CALLER_FIELD)?.trim() !== 'sub') return { ok: true, state: null };
    const from = req.from().uri;
    if (!from.isSip || !from.user) return { ok: true, state: null };
    const account = await this.account(from.user, from.hostname);
    if (!account?.prepaid) return { ok: true, state: null };
    const ruri = req.requestUri();
    const number = calleeNumber(ruri.isSip ? (ruri.user ?? undefined) : undefined);
    const fees = account.billingProfileId === null ? [] : await findBillingFees(this.d.db, account.billingProfileId, prefixesOf(number));
    const fee = findFee(fees, number);
    const ctx = { callId: req.callId(), customer: account.customerId, number };
    if (!fee) {
      this.d.metrics.prepaidCalls.inc({ result: 'no_fee' });
      this.log.info(ctx, 'prepaid call to a destination without a fee; answered 402');
      return { ok: false, result: 'no_fee' };
    }
    const grant = await this.reserve(id, account.customerId, fee, 0, 0, null);
    if (grant === 'gone' || !grant) {
      this.d.metrics.prepaidCalls.inc({ result: 'no_credit' });
      this.log.info(ctx, 'prepaid call without credit for the first interval; answered 402');
      return { ok: false, result: 'no_credit' };
    }
    this.d.metrics.prepaidCalls.inc({ result: 'allowed' });
    this.log.debug({ ...ctx, fee: fee.destination, granted: grant.seconds, held: grant.held }, 'prepaid quota reserved');
    return { ok: true, state: { customer: account.customerId, fee, granted: grant.seconds, held: grant.held, until: null } };
  }

  /** The subscriber's account, from MariaDB at most once per ACCOUNT_CACHE_MS (an unknown one too). */
  private async account(user: string, domain: string): Promise<PrepaidAccount | undefined> {
    const key = `${user}@${domain.toLowerCase()}`;
    const now = (this.d.now ?? Date.now)();
    const cached = this.accounts.get(key, now);
    if (cached !== null) return cached;
    const found = await findPrepaidAccount(this.d.db, user, domain);
    this.accounts.set(key, found, now + ACCOUNT_CACHE_MS);
    return found;
  }

  /**
   * The next grant of call `id` reserved on the balance and in its reservation row (see
   * rating.ts `nextGrant`; `answeredAt` undefined: the first quota, which creates the row);
   * null when the balance has not even one interval more; 'gone' when the call's row was
   * settled or swept meanwhile (nothing reserved).
   */
  private async reserve(id: string, customer: number, fee: Fee, granted: number, held: number, answeredAt: number | null, first = granted === 0): Promise<Grant | null | 'gone'> {
    for (let i = 0; i < RESERVE_TRIES; i++) {
      const available = (await getBalance(this.d.db, customer))?.available ?? 0;
      const grant = nextGrant(fee, this.d.quotaS, granted, held, available);
      if (!grant) return null;
      // atomic: only while cash − reserved still covers it; another call may have reserved meanwhile
      const r = await reservePrepaidCall(this.d.db, {
        callId: id, customerId: customer, extra: grant.extra, held: grant.held, granted: grant.seconds, first,
        fee, ...(first ? {} : { answeredAt }), now: Date.now(),
      });
      if (r === 'ok') return grant;
      if (r === 'gone') return 'gone';
    }
    return null;
  }

  /** The call answered: its reservation row says so (best effort: the first next quota says it too). */
  answered(id: string, at: number): void {
    markPrepaidAnswered(this.d.db, id, at).catch((err: unknown) => this.log.warn({ id, err: (err as Error).message }, 'prepaid answer not recorded'));
  }

  /** Settlements waiting for their retry (MariaDB was away). */
  pendingSettlements(): number {
    return this.retries.size;
  }

  /**
   * The end of a prepaid call (`id`: the sbc call id): its talk time rated and charged, never
   * more than it held, and its reservation released — once, whoever ends it (the BYE of
   * either side, a teardown, a restarted sbc). `answeredAt` null: never answered (nothing charged).
   */
  async settle(id: string, state: PrepaidState, answeredAt: number | null, endedAt = Date.now()): Promise<void> {
    // never more than granted: a call is cut at its grant's end (the sweep may come a little later)
    const seconds = answeredAt === null ? 0 : Math.min(talkSeconds(answeredAt, endedAt), state.granted);
    const amount = answeredAt === null ? 0 : chargeOf(seconds, state.fee, state.held);
    if (this.retries.has(id)) return; // its settlement is already waiting for MariaDB
    await this.trySettle({ callId: id, customerId: state.customer, seconds, amount, released: state.held }, 0);
  }

  /** One try of a settlement; a failure (MariaDB away) is tried again with backoff while the process lives. */
  private async trySettle(s: PrepaidSettlement, attempt: number): Promise<void> {
    const ctx = { id: s.callId, customer: s.customerId, seconds: s.seconds, amount: s.amount, released: s.released };
    try {
      const charged = await settlePrepaidCall(this.d.db, s);
      this.retries.delete(s.callId);
      if (charged) this.d.metrics.prepaidCharged.inc(s.amount);
      this.log.info({ ...ctx, charged, ...(attempt > 0 ? { retries: attempt } : {}) }, 'prepaid call settled');
    } catch (err) {
      // idempotent: a try whose COMMIT went through but whose answer was lost charges nothing the next time
      const delay = Math.min(SETTLE_RETRY_MIN_MS * 2 ** attempt, SETTLE_RETRY_MAX_MS);
      this.log.error({ ...ctx, attempt: attempt + 1, retryInMs: delay, err: (err as Error).message }, 'prepaid call not settled; retrying');
      const timer = setTimeout(() => void this.trySettle(s, attempt + 1), delay);
      timer.unref();
      this.retries.set(s.callId, timer);
    }
  }

  /**
   * The sweep of stale reservations (docs/sbc.md "Reservations that cannot leak"): rows last
   * written more than `stale_after_s` ago whose call is not live — not in Redis
   * (`sbc:call:<id>`), not ringing in this process (`busy`), no settlement of it waiting here —
   * are closed: released, and an answered call charged what can be proven (rating.ts
   * `strandedCharge`). Only one sbc sweeps at a time (`sbc:prepaid:sweep`, a write: a standby's
   * read-only Redis throws READONLY and it sweeps nothing). Returns how many were closed.
   */
  async sweep(nowMs: number, busy: (id: string) => boolean): Promise<number> {
    const staleMs = (this.d.staleAfterS ?? STALE_AFTER_S) * 1000;
    if (!(await this.d.store.claimSweep(this.d.node ?? '', sweepEveryMs(staleMs / 1000)))) return 0;
    let closed = 0;
    for (const r of await staleReservations(this.d.db, nowMs - staleMs, SWEEP_BATCH)) {
      if (this.retries.has(r.callId) || busy(r.callId) || (await this.d.store.exists(r.callId))) continue;
      const { seconds, amount } = strandedCharge(r);
      if (!(await settlePrepaidCall(this.d.db, { callId: r.callId, customerId: r.customerId, seconds, amount, released: r.held }))) continue;
      closed++;
      const kind = r.answeredAt === null ? 'unanswered' : 'answered';
      this.d.metrics.prepaidSwept.inc({ kind });
      if (amount > 0) this.d.metrics.prepaidCharged.inc(amount);
      this.log.warn({
        id: r.callId, customer: r.customerId, kind, seconds, amount, released: r.held,
        created: new Date(r.createdAt).toISOString(), lastSeen: new Date(r.updatedAt).toISOString(),
      }, 'stale prepaid reservation swept');
    }
    return closed;
  }

  /** Stop the retries (a stopping process): their reservations stay in MariaDB for a later sweep. */
  close(): void {
    for (const [id, t] of this.retries) {
      clearTimeout(t);
      this.log.error({ id }, 'prepaid settlement still failing at shutdown; its reservation is left to the sweep');
    }
    this.retries.clear();
  }

  /** Settle a call that is ending, if it is prepaid. */
  async settleCall(call: SbcCall, endedAt = Date.now()): Promise<void> {
    if (call.prepaid) await this.settle(call.id, call.prepaid, call.answeredAt, endedAt);
  }

  /**
   * A call whose granted time is up (from `sbc:timers`): the next quota reserved and the
   * deadline moved, or — nothing left — the call cut: BYE on both legs with
   * `Reason: SIP;cause=402;text="credit exhausted"`, then settled. True when it was cut.
   */
  async due(id: string, nowMs = Date.now()): Promise<boolean> {
    const cut = await this.d.locked(id, async () => {
      const call = await this.d.store.get(id);
      const p = call?.prepaid;
      if (!call || !p || p.until === null || p.until > nowMs) return false;
      // saved first: a process whose Redis is read-only (the standby's) reserves nothing
      await this.d.store.save(call);
      const grant = await this.reserve(id, p.customer, p.fee, p.granted, p.held, call.answeredAt, false);
      if (grant === 'gone') {
        // settled or swept behind its back: the call has no reservation to talk on
        this.log.warn({ id, customer: p.customer }, 'prepaid reservation of a live call is gone; cutting the call');
        return true;
      }
      if (!grant) return true;
      call.prepaid = { ...p, granted: grant.seconds, held: grant.held, until: call.answeredAt + grant.seconds * 1000 };
      await this.d.store.save(call);
      this.log.debug({ id, granted: grant.seconds, held: grant.held }, 'prepaid quota extended');
      return false;
    });
    if (!cut) return false;
    this.d.metrics.prepaidCalls.inc({ result: 'cut' });
    this.log.info({ id }, 'prepaid credit exhausted; cutting the call');
    await this.d.teardown(id, CREDIT_REASON, 402);
    return true;
  }
}
