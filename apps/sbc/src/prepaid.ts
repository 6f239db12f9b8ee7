/**
 * Prepaid calls (docs/sbc.md "Prepaid"): at an initial INVITE of a subscriber whose
 * customer is prepaid, the fee of the destination and a first quota of talk time reserved
 * on the customer's balance (credit control: concurrent calls cannot spend the same
 * money), else 402; while the call talks, the next quota at each quota's end (the deadline
 * is part of the call in Redis and of `sbc:timers`, swept with the session timers), and a
 * cut (BYE on both legs) when nothing is left; at the end the rated talk time charged and
 * the reservation released, once (packages/db `settlePrepaidCall`). Arithmetic: rating.ts.
 */
import type { Logger } from 'pino';
import type { Knex } from '@ngcp/db';
import { findBillingFees, findPrepaidAccount, getBalance, reserveCredit, settlePrepaidCall, TtlCache, type PrepaidAccount } from '@ngcp/db';
import type { SipRequest } from '@ngcp/sip';
import type { ResolvedProfile } from './config.js';
import { CALLER_FIELD } from './headers.js';
import type { SbcMetrics } from './metrics.js';
import { calleeNumber, chargeOf, findFee, nextGrant, prefixesOf, talkSeconds, type Fee, type Grant } from './rating.js';
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
}

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

  constructor(private readonly d: PrepaidDeps) {
    this.log = d.logger.child({ component: 'prepaid' });
  }

  /**
   * The hook at an initial INVITE: a subscriber's call (`X-NGCP-Caller: sub`, the From AoR
   * is the subscriber) whose customer is prepaid, through a profile with prepaid on, gets
   * its fee and its first quota reserved — or 402 (no fee for the destination, not enough
   * credit for the first interval). Any other call passes untouched. A database error throws.
   */
  async authorize(req: SipRequest, profile: ResolvedProfile): Promise<Authorization> {
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
    const grant = await this.reserve(account.customerId, fee, 0, 0);
    if (!grant) {
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

  /** The next grant reserved on the balance (see rating.ts `nextGrant`); null when the balance has not even one interval more. */
  private async reserve(customer: number, fee: Fee, granted: number, held: number): Promise<Grant | null> {
    for (let i = 0; i < RESERVE_TRIES; i++) {
      const available = (await getBalance(this.d.db, customer))?.available ?? 0;
      const grant = nextGrant(fee, this.d.quotaS, granted, held, available);
      if (!grant) return null;
      // atomic: only while cash − reserved still covers it; another call may have reserved meanwhile
      if (await reserveCredit(this.d.db, customer, grant.extra)) return grant;
    }
    return null;
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
    try {
      const charged = await settlePrepaidCall(this.d.db, { callId: id, customerId: state.customer, seconds, amount, released: state.held });
      if (charged) this.d.metrics.prepaidCharged.inc(amount);
      this.log.info({ id, customer: state.customer, seconds, amount, released: state.held, charged }, 'prepaid call settled');
    } catch (err) {
      // the charge is lost; the reservation stays until an operator corrects the balance (README: not done)
      this.log.error({ id, customer: state.customer, seconds, amount, released: state.held, err: (err as Error).message }, 'prepaid call NOT settled');
    }
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
      const grant = await this.reserve(p.customer, p.fee, p.granted, p.held);
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
