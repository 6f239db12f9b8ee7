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

/** The end of one prepaid call: what it is charged and what it held. */
export interface PrepaidSettlement {
  /** the sbc's call id: a call is settled once */
  callId: string;
  customerId: number;
  seconds: number;
  /** charged (units) */
  amount: number;
  /** its reservation, released */
  released: number;
}

/**
 * Charge a call and release its reservation in one transaction, exactly once: the
 * `prepaid_charges` row keyed by the call id is inserted with INSERT IGNORE, and only the
 * transaction that inserted it changes the balance. True when this call charged it; false
 * when it was settled before (a second BYE, a restarted sbc, the other node).
 */
export async function settlePrepaidCall(db: Knex, s: PrepaidSettlement): Promise<boolean> {
  return db.transaction(async (trx) => {
    const q = trx('prepaid_charges')
      .insert({ call_id: s.callId, customer_id: s.customerId, seconds: s.seconds, amount: s.amount, released: s.released })
      .onConflict().ignore().toSQL().toNative();
    const [header] = (await trx.raw(q.sql, q.bindings as Knex.RawBinding[])) as unknown as [{ affectedRows: number }];
    if (header.affectedRows !== 1) return false;
    if (s.amount !== 0 || s.released !== 0) {
      await trx('customer_balances').where('customer_id', s.customerId).update({
        cash_balance: trx.raw('cash_balance - ?', [s.amount]),
        reserved: trx.raw('reserved - ?', [s.released]),
      });
    }
    return true;
  });
}
