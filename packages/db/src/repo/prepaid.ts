/**
 * Prepaid balances (migration 0008; docs/sbc.md "Prepaid"): what the sbc reads at a call's
 * INVITE, its credit-control reservations, and the one settlement of each call. Amounts
 * are integer units (1/10000 of the currency).
 */
import type { Knex } from 'knex';

/** The prepaid side of the subscriber `username@domain`: its customer, whether prepaid, its billing profile. */
export interface PrepaidAccount {
  subscriberId: number;
  customerId: number;
  prepaid: boolean;
  billingProfileId: number | null;
}

/** The subscriber's customer and its prepaid settings; undefined for an unknown subscriber or one without a customer. */
export async function findPrepaidAccount(db: Knex, username: string, domain: string): Promise<PrepaidAccount | undefined> {
  const row = await db('subscribers as s')
    .join('domains as d', 'd.id', 's.domain_id')
    .join('customers as c', 'c.id', 's.customer_id')
    .where({ 's.username': username, 'd.domain': domain })
    .first('s.id', 'c.id as customer_id', 'c.prepaid', 'c.billing_profile_id');
  if (!row) return undefined;
  return { subscriberId: row.id, customerId: row.customer_id, prepaid: Number(row.prepaid) === 1, billingProfileId: row.billing_profile_id ?? null };
}

/** A fee row: destination prefix, price per minute (units), first and next interval (s). */
export interface BillingFee {
  destination: string;
  price: number;
  first: number;
  next: number;
}

/** The fees of a profile whose destination is one of `prefixes` (the caller picks the longest). */
export async function findBillingFees(db: Knex, profileId: number, prefixes: readonly string[]): Promise<BillingFee[]> {
  if (prefixes.length === 0) return [];
  const rows: { destination: string; price_per_minute: number | string; first_interval: number; next_interval: number }[] = await db('billing_fees')
    .where('billing_profile_id', profileId)
    .whereIn('destination', [...prefixes])
    .select('destination', 'price_per_minute', 'first_interval', 'next_interval');
  return rows.map((r) => ({ destination: r.destination, price: Number(r.price_per_minute), first: r.first_interval, next: r.next_interval }));
}

/** A customer's balance: cash, reserved by calls in progress, and what is free (cash − reserved); undefined without a balance row. */
export async function getBalance(db: Knex, customerId: number): Promise<{ cash: number; reserved: number; available: number } | undefined> {
  const row = await db('customer_balances').where('customer_id', customerId).first('cash_balance', 'reserved');
  if (!row) return undefined;
  const cash = Number(row.cash_balance);
  const reserved = Number(row.reserved);
  return { cash, reserved, available: cash - reserved };
}

/**
 * Reserve `amount` units of the customer's balance, atomically: only when cash minus
 * everything reserved still covers it (concurrent calls of one customer cannot spend the
 * same money). True when reserved; false when the balance has not that much free.
 */
export async function reserveCredit(db: Knex, customerId: number, amount: number): Promise<boolean> {
  if (amount <= 0) return true;
  const n = await db('customer_balances')
    .where('customer_id', customerId)
    .andWhereRaw('cash_balance - reserved >= ?', [amount])
    .update({ reserved: db.raw('reserved + ?', [amount]) });
  return n === 1;
}

/** The fee a reserved call is rated with (as rating's Fee in the sbc): destination prefix, units per minute, first and next interval (s). */
export interface ReservationFee {
  destination: string;
  price: number;
  first: number;
  next: number;
}

/** A grant to reserve for a call: `extra` more units, making `held` in all for `granted` seconds of talk time. */
export interface PrepaidReservation {
  /** the sbc's call id */
  callId: string;
  customerId: number;
  /** units to add to the balance's reservation now */
  extra: number;
  /** units the call holds in all with them */
  held: number;
  /** talk time (s from the answer) they pay */
  granted: number;
  /** the first quota (the INVITE) creates the call's row; a next one updates it */
  first: boolean;
  /** the fee to keep for a later rating (the first quota; a next one: to recreate the row of a call reserved before migration 0011) */
  fee?: ReservationFee;
  /** a next quota: when the call was answered (ms) */
  answeredAt?: number | null;
  /** ms since the epoch: the row's `updated_at` (the last time the call was seen live) */
  now: number;
}

/** Thrown inside a transaction to roll it back with an answer. */
class Rollback {
  constructor(readonly result: 'no_credit' | 'gone') {}
}

const affected = (r: unknown): number => (r as [{ affectedRows: number }])[0].affectedRows;

/**
 * Reserve a quota of a prepaid call, durably: the call's `prepaid_reservations` row
 * (created by the first quota, updated by each next one) and `customer_balances.reserved`
 * in ONE transaction (BEGIN, the row, the balance's conditional UPDATE, COMMIT: 4 round
 * trips), so a reservation never exists without its row. 'ok'; 'no_credit' when cash minus
 * everything reserved does not cover `extra` (nothing changed); 'gone' for a next quota of
 * a call whose row is gone because it was settled or swept (nothing changed). A next quota of
 * a call without a row nor a charge (reserved before migration 0011) creates its row.
 */
export async function reservePrepaidCall(db: Knex, r: PrepaidReservation): Promise<'ok' | 'no_credit' | 'gone'> {
  const now = new Date(r.now);
  try {
    await db.transaction(async (trx) => {
      if (r.first) {
        const fee = r.fee ?? { destination: '', price: 0, first: 1, next: 1 };
        await trx('prepaid_reservations').insert({
          call_id: r.callId, customer_id: r.customerId, held: r.held, granted: r.granted,
          destination: fee.destination, price_per_minute: fee.price, first_interval: fee.first, next_interval: fee.next,
          created_at: now, answered_at: null, updated_at: now,
        });
      } else {
        const n = await trx('prepaid_reservations').where('call_id', r.callId).update({
          held: r.held, granted: r.granted, updated_at: now,
          ...(r.answeredAt != null ? { answered_at: trx.raw('COALESCE(answered_at, ?)', [new Date(r.answeredAt)]) } : {}),
        });
        if (n !== 1) {
          // a call reserved before migration 0011 has no row: it gets one now; a settled or swept call (its charge row exists) does not
          const settled = await trx('prepaid_charges').where('call_id', r.callId).first('call_id');
          if (settled || !r.fee) throw new Rollback('gone');
          await trx('prepaid_reservations').insert({
            call_id: r.callId, customer_id: r.customerId, held: r.held, granted: r.granted,
            destination: r.fee.destination, price_per_minute: r.fee.price, first_interval: r.fee.first, next_interval: r.fee.next,
            created_at: now, answered_at: r.answeredAt != null ? new Date(r.answeredAt) : null, updated_at: now,
          });
        }
      }
      if (r.extra > 0) {
        const n = await trx('customer_balances')
          .where('customer_id', r.customerId)
          .andWhereRaw('cash_balance - reserved >= ?', [r.extra])
          .update({ reserved: trx.raw('reserved + ?', [r.extra]) });
        if (n !== 1) throw new Rollback('no_credit');
      }
    });
  } catch (err) {
    if (err instanceof Rollback) return err.result;
    throw err;
  }
  return 'ok';
}

/** The answer of a reserved call (one UPDATE): `answered_at` set once, `updated_at` moved; false when the row is gone. */
export async function markPrepaidAnswered(db: Knex, callId: string, answeredAt: number): Promise<boolean> {
  const at = new Date(answeredAt);
  const n = await db('prepaid_reservations').where('call_id', callId).whereNull('answered_at').update({ answered_at: at, updated_at: at });
  return n === 1;
}

/** A reservation row as the sweep reads it (times in ms since the epoch). */
export interface StoredReservation {
  callId: string;
  customerId: number;
  held: number;
  granted: number;
  fee: ReservationFee;
  createdAt: number;
  answeredAt: number | null;
  updatedAt: number;
}

/** The reservations last written before `before` (ms), oldest first, at most `limit`. */
export async function staleReservations(db: Knex, before: number, limit = 100): Promise<StoredReservation[]> {
  const rows: {
    call_id: string; customer_id: number; held: number | string; granted: number; destination: string; price_per_minute: number | string;
    first_interval: number; next_interval: number; created_at: Date; answered_at: Date | null; updated_at: Date;
  }[] = await db('prepaid_reservations').where('updated_at', '<', new Date(before)).orderBy('updated_at').limit(limit).select();
  return rows.map((r) => ({
    callId: r.call_id, customerId: r.customer_id, held: Number(r.held), granted: r.granted,
    fee: { destination: r.destination, price: Number(r.price_per_minute), first: r.first_interval, next: r.next_interval },
    createdAt: r.created_at.getTime(), answeredAt: r.answered_at ? r.answered_at.getTime() : null, updatedAt: r.updated_at.getTime(),
  }));
}

/** The end of one prepaid call: what it is charged and what it held. */
export interface PrepaidSettlement {
  /** the sbc's call id: a call is settled once */
  callId: string;
  customerId: number;
  seconds: number;
  /** charged (units); never more than what the call held */
  amount: number;
  /** its reservation as the caller knows it; the call's row, when there is one, says what is released */
  released: number;
}

/**
 * Charge a call and release its reservation in one transaction, exactly once (BEGIN, DELETE
 * of the reservation row … RETURNING held, INSERT IGNORE of the `prepaid_charges` row, the
 * balance's UPDATE, COMMIT: 5 round trips). The amount released is the row's `held` (what
 * the balance really holds for the call), else — a call reserved before migration 0011 —
 * `released`. Only the transaction that inserted the charge row changes the balance: true
 * when this call charged it; false when it was settled (or swept) before — a second BYE, a
 * retried settlement whose first try did commit, a restarted sbc, the other node.
 */
export async function settlePrepaidCall(db: Knex, s: PrepaidSettlement): Promise<boolean> {
  return db.transaction(async (trx) => {
    const [deleted] = (await trx.raw('DELETE FROM prepaid_reservations WHERE call_id = ? RETURNING held', [s.callId])) as unknown as [{ held: number | string }[]];
    const released = deleted[0] ? Number(deleted[0].held) : s.released;
    const amount = Math.min(s.amount, released);
    const q = trx('prepaid_charges')
      .insert({ call_id: s.callId, customer_id: s.customerId, seconds: s.seconds, amount, released })
      .onConflict().ignore().toSQL().toNative();
    if (affected(await trx.raw(q.sql, q.bindings as Knex.RawBinding[])) !== 1) return false;
    if (amount !== 0 || released !== 0) {
      await trx('customer_balances').where('customer_id', s.customerId).update({
        cash_balance: trx.raw('cash_balance - ?', [amount]),
        reserved: trx.raw('reserved - ?', [released]),
      });
    }
    return true;
  });
}
