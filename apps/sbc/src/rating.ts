/**
 * Rating for prepaid calls (pure; docs/sbc.md "Prepaid"). Money is an integer number of
 * units (1/10000 of the currency, migration 0008); durations are whole seconds.
 *
 * - the fee of a call: the one whose destination is the longest prefix of the callee's
 *   number (the digits of the A leg's Request-URI user, a leading `+` dropped; '' = any);
 * - the cost of a duration: the first interval, then whole next intervals (each begun
 *   interval is paid), at the price per minute, rounded up to a unit;
 * - how long an amount lasts, and the quotas a call reserves (credit-control style): the
 *   next grant of talk time given what is held and what the balance still has free.
 */

/** One row of `billing_fees` as rating needs it. */
export interface Fee {
  destination: string;
  /** units per minute */
  price: number;
  /** seconds */
  first: number;
  next: number;
}

/** The callee's number for the fee lookup: the Request-URI user without a leading `+`; '' when it is not a number (only a '' fee applies). */
export function calleeNumber(user: string | undefined): string {
  const n = (user ?? '').replace(/^\+/, '');
  return /^[0-9]{1,32}$/.test(n) ? n : '';
}

/** Every destination prefix a fee may have for `number`, longest first ('' last). */
export function prefixesOf(number: string): string[] {
  const out: string[] = [];
  for (let i = number.length; i >= 0; i--) out.push(number.slice(0, i));
  return out;
}

/** The fee with the longest destination that is a prefix of `number`; null when none matches. */
export function findFee(fees: readonly Fee[], number: string): Fee | null {
  let best: Fee | null = null;
  for (const f of fees) {
    if (number.startsWith(f.destination) && (best === null || f.destination.length > best.destination.length)) best = f;
  }
  return best;
}

/** The seconds billed for a duration: 0 for none, else the first interval and each begun next interval. */
export function billedSeconds(seconds: number, fee: Fee): number {
  if (seconds <= 0) return 0;
  if (seconds <= fee.first) return fee.first;
  return fee.first + Math.ceil((seconds - fee.first) / fee.next) * fee.next;
}

/** What a duration costs (units, rounded up). */
export function costOf(seconds: number, fee: Fee): number {
  const billed = billedSeconds(seconds, fee);
  return Math.ceil((billed * fee.price) / 60);
}

/** The longest billable duration (a whole number of intervals) that `amount` pays for; 0 when not even the first interval; Infinity at price 0. */
export function secondsFor(amount: number, fee: Fee): number {
  if (fee.price === 0) return Number.POSITIVE_INFINITY;
  // cost(s) = ceil(s·price/60) ≤ amount  ⇔  s·price ≤ 60·amount
  const most = Math.floor((60 * amount) / fee.price);
  if (most < fee.first) return 0;
  return fee.first + Math.floor((most - fee.first) / fee.next) * fee.next;
}

/** A grant of talk time: the call may talk `seconds` (in all, from the answer) and holds `held` units for it. */
export interface Grant {
  seconds: number;
  held: number;
  /** units to add to the reservation for this grant (held minus what was held before) */
  extra: number;
}

/**
 * The next quota of a call that has talk time `granted` (s) paid by `held` units, when the
 * balance has `available` units free (cash minus every reservation): `quota` seconds more
 * (the first grant at least the first interval), or — not enough for that — as many whole
 * intervals as `held + available` pays. Null when that is not even one interval more:
 * the call has no credit left (at the start: answer 402; at a quota's end: cut it).
 */
export function nextGrant(fee: Fee, quota: number, granted: number, held: number, available: number): Grant | null {
  const wanted = billedSeconds(granted + Math.max(quota, 1), fee);
  const cost = costOf(wanted, fee);
  if (cost - held <= Math.max(available, 0)) return { seconds: wanted, held: Math.max(cost, held), extra: Math.max(cost - held, 0) };
  const affordable = secondsFor(held + Math.max(available, 0), fee);
  if (affordable <= granted) return null;
  const c = costOf(affordable, fee);
  return { seconds: affordable, held: Math.max(c, held), extra: Math.max(c - held, 0) };
}

/** Whole seconds of a call from its answer to its end (ms): rounded to the nearest second. */
export function talkSeconds(answeredAt: number, endedAt: number): number {
  return Math.max(0, Math.round((endedAt - answeredAt) / 1000));
}

/** The charge of a call that talked `seconds` holding `held`: its cost, never more than held (the quota is all the call may spend). */
export function chargeOf(seconds: number, fee: Fee, held: number): number {
  return Math.min(costOf(seconds, fee), held);
}

/** What the sweep knows of a reservation whose call is gone (ms since the epoch). */
export interface StrandedCall {
  fee: Fee;
  /** talk time granted (s) and units held for it */
  granted: number;
  held: number;
  /** null: never answered */
  answeredAt: number | null;
  /** the last time the call was seen live: its answer, or the last quota granted */
  updatedAt: number;
}

/**
 * The charge of a reservation whose call is gone (docs/sbc.md "Reservations that cannot
 * leak"): only what can be proven. A call never answered: nothing. An answered one: the
 * talk time from its answer to the last time it was seen live (the answer, or the last quota
 * granted — a quota is only granted to a call still in Redis at its grant's end), never more
 * than granted nor than held. What it talked after that is not charged (the customer's favour).
 */
export function strandedCharge(r: StrandedCall): { seconds: number; amount: number } {
  if (r.answeredAt === null) return { seconds: 0, amount: 0 };
  const seconds = Math.min(talkSeconds(r.answeredAt, r.updatedAt), r.granted);
  return { seconds, amount: chargeOf(seconds, r.fee, r.held) };
}
