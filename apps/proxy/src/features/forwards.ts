/**
 * Call forwards (sip:provider's meanings; docs/routing.md "Call forwards"): the pure decisions
 * of the proxy's forwarding. The I/O (lookups, forking, CANCEL) is in sip/invite-session.ts.
 *
 *   cfu   unconditional: the subscriber's phones do not ring, the call goes to the destinations
 *   cfb   busy: the subscriber's branches ended and the best final (RFC 3261 §16.7) is 486
 *   cfna  not available: no binding (not registered), or the best final says unreachable
 *         (408, 480, 500/503 — a timeout, an unroutable binding, a dead phone)
 *   cft   timeout: no answer within the ring timeout (cft's `ring_timeout`, else
 *         `calls.forward_ring_timeout_s`) → the ringing branches are CANCELled and the call forwarded
 *
 * A forward's destinations are tried one after the other in `position` order (serial
 * hunting, as sip:provider's destination sets with priorities): the next when one fails. A
 * destination followed by others gets the set's ring timeout as its own no-answer timeout.
 * Chains follow: a destination that is another subscriber gets that subscriber's forwards.
 * `ForwardChain` ends a loop (a subscriber reached twice → 482) and a chain longer than
 * `calls.forward_max_hops` (→ 483).
 */
import type { CallForwardDestination, CallForwardMap, CallForwardType } from '@ngcp/db';

export type ForwardType = CallForwardType;
export type Forwards = CallForwardMap;
export type ForwardDestination = CallForwardDestination;

export const FORWARD_TYPES: readonly ForwardType[] = ['cfu', 'cfb', 'cfna', 'cft'];

/** Best finals that mean "not available" (CFNA); 503 is selected as 500 (RFC 3261 §16.7 step 6). */
export const UNAVAILABLE: ReadonlySet<number> = new Set([408, 480, 500, 503]);

/** How a subscriber's stage of a call ended without an answer. */
export type StageOutcome =
  /** before ringing: the subscriber has an enabled CFU with destinations */
  | { kind: 'unconditional' }
  /** the ring timeout passed with no answer */
  | { kind: 'timeout' }
  /** every branch had its final; `best` the selected one, undefined when there was no branch (no binding) */
  | { kind: 'failed'; best: number | undefined };

export function hasForward(fw: Forwards | undefined, type: ForwardType): boolean {
  return fw !== undefined && fw[type].destinations.length > 0;
}

/** The forward that applies to an outcome, or undefined (the stage's final stands). */
export function forwardFor(fw: Forwards | undefined, outcome: StageOutcome): ForwardType | undefined {
  if (!fw) return undefined;
  switch (outcome.kind) {
    case 'unconditional':
      return hasForward(fw, 'cfu') ? 'cfu' : undefined;
    case 'timeout':
      return hasForward(fw, 'cft') ? 'cft' : undefined;
    case 'failed':
      if (outcome.best === undefined || UNAVAILABLE.has(outcome.best)) return hasForward(fw, 'cfna') ? 'cfna' : undefined;
      if (outcome.best === 486) return hasForward(fw, 'cfb') ? 'cfb' : undefined;
      return undefined;
  }
}

/** ms of ringing before CFT applies, or undefined when the subscriber has no CFT. */
export function cftTimeoutMs(fw: Forwards | undefined, defaultSeconds: number): number | undefined {
  if (!hasForward(fw, 'cft')) return undefined;
  return (fw!.cft.ringTimeout ?? defaultSeconds) * 1000;
}

/** Where one destination leads. */
export type ForwardTarget =
  | { kind: 'number'; e164: string }
  | { kind: 'uri'; user: string; host: string }
  | { kind: 'voicemail' }
  | { kind: 'invalid'; reason: string };

const E164 = /^\+?([1-9][0-9]{1,31})$/;
const SIP_URI = /^sips?:([^@\s;?]+)@([^\s;?>:]+)(?::[0-9]+)?(?:[;?].*)?$/i;

export function forwardTarget(d: ForwardDestination): ForwardTarget {
  if (d.type === 'voicemail') return { kind: 'voicemail' };
  const v = (d.destination ?? '').trim();
  if (d.type === 'number') {
    const m = E164.exec(v);
    return m ? { kind: 'number', e164: m[1]! } : { kind: 'invalid', reason: `not an E.164 number: ${JSON.stringify(v)}` };
  }
  const m = SIP_URI.exec(v);
  if (!m) return { kind: 'invalid', reason: `not a sip: URI with user@host: ${JSON.stringify(v)}` };
  let user = m[1]!;
  try {
    user = decodeURIComponent(user);
  } catch {
    // kept as written
  }
  return { kind: 'uri', user, host: m[2]!.toLowerCase() };
}

/** A URI user that is a number (digits, optional '+'): E.164 digits, else undefined. */
export function numberOf(user: string): string | undefined {
  const m = E164.exec(user.replace(/[-.()]/g, ''));
  return m ? m[1] : undefined;
}

/** Forward-loop protection: the subscribers a call reached, and the number of forwards taken. */
export class ForwardChain {
  private reached = new Set<number>();
  hops = 0;
  constructor(readonly maxHops: number) {}

  /** The call reaches subscriber `id`: false when it did already (a loop). */
  enter(id: number): boolean {
    if (this.reached.has(id)) return false;
    this.reached.add(id);
    return true;
  }

  /** One more forward: false when it would be more than `maxHops`. */
  forward(): boolean {
    if (this.hops >= this.maxHops) return false;
    this.hops++;
    return true;
  }
}

/** RFC 5806 Diversion reason of a forward type. */
export function diversionReason(t: ForwardType): string {
  switch (t) {
    case 'cfu':
      return 'unconditional';
    case 'cfb':
      return 'user-busy';
    case 'cft':
      return 'no-answer';
    case 'cfna':
      return 'unavailable';
  }
}

/** A Diversion header value (RFC 5806) for the subscriber that forwarded (its number, else its AoR user). */
export function diversionHeader(user: string, domain: string, t: ForwardType, counter: number): string {
  const u = user.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) => encodeURIComponent(c));
  return `<sip:${u}@${domain}>;reason=${diversionReason(t)};counter=${counter}`;
}
