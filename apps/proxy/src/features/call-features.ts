/**
 * The number handling and call restrictions of one initial INVITE, in the order a carrier
 * applies them (sip:provider's proxy):
 *
 *   1. `inbound()` — before the callee lookup: the caller's rewrite rule set (the
 *      subscriber's, else the domain's), direction `in`, normalises the dialled callee and
 *      the caller's number to E.164.
 *   2. `admit()` — once the callee is known: the caller's NCOS level on the callee number,
 *      the caller's `block_out_*`, the callee's `block_in_*` and `block_in_clir`, then the
 *      concurrent-call limits (counted in Redis, call-limits.ts). Refusals are results with
 *      a status and an RFC 3326 Reason, not exceptions.
 *   3. `identityFor()` + `applyIdentity()` — on the request forwarded: P-Asserted-Identity
 *      from the caller's network number (RFC 3325), the caller number the callee sees
 *      rewritten by the target's set, direction `out` (the callee subscriber's or its
 *      domain's; a peer's for peering), anonymous From and `Privacy: id` for CLIR (RFC 3323).
 */
import type { Logger } from 'pino';
import type { SipRequest } from '@ngcp/sip';
import { parseNameAddr } from '@ngcp/sip';
import type { CallLimits, LimitSlot } from './call-limits.js';
import { concKey } from './call-limits.js';
import type { FeatureStore, SubscriberProfile } from './feature-store.js';
import { boolPref, intPref, listPref, stringPref } from './feature-store.js';
import { blockedBy, e164, ncosAllows, reasonHeader, type BlockMode } from './policy.js';
import { rewrite, type RewriteSet } from './rewrite.js';

export interface Party { subscriberId: number; username: string; domain: string; customerId: number | null }

export interface InboundResult {
  caller: Party;
  profile: SubscriberProfile | undefined;
  /** the caller's rewrite set (subscriber's, else domain's) */
  set: RewriteSet | undefined;
  /** the caller's network number (cli, else the primary number) after `in` rewriting; undefined without one */
  callerNumber: string | undefined;
  /** the dialled Request-URI user after `in` rewriting (the callee lookup uses it) */
  callee: string;
}

export type Refusal = { ok: false; status: 403 | 486; reason: string; header: string; code: RefusalCode };
export type RefusalCode = 'ncos' | 'block-out' | 'block-in' | 'block-in-clir' | 'limit-caller' | 'limit-callee';

export interface Admission {
  ok: true;
  /** the `conc:*` sets the call is counted in (store them in `call:<id>` field `conc`) */
  concKeys: string[];
  /** CLIR: the caller's identity is withheld (clir preference or the caller asked) */
  anonymous: boolean;
}

/** What the far end is shown as the caller. */
export interface Identity {
  /** the number as the target sees it (after its `out` caller rules), or the caller's username without a number */
  user: string;
  domain: string;
  anonymous: boolean;
}

const TEXT: Record<RefusalCode, string> = {
  ncos: 'callee blocked by NCOS',
  'block-out': 'callee blocked by block list',
  'block-in': 'caller blocked by callee',
  'block-in-clir': 'anonymous caller blocked by callee',
  'limit-caller': 'caller concurrent call limit reached',
  'limit-callee': 'callee concurrent call limit reached',
};

function refuse(code: RefusalCode): Refusal {
  const status = code === 'limit-callee' ? 486 : 403;
  return { ok: false, status, reason: status === 486 ? 'Busy Here' : 'Forbidden', header: reasonHeader(status, TEXT[code]), code };
}

/** Did the caller ask for privacy (RFC 3323 Privacy: id/header/user, or an anonymous From)? */
export function callerAsksPrivacy(req: SipRequest): boolean {
  const privacy = (req.get('privacy') ?? '').toLowerCase().split(/[;,\s]+/);
  if (privacy.some((p) => p === 'id' || p === 'header' || p === 'user')) return true;
  const from = req.from().uri;
  return from.isSip && (from.user?.toLowerCase() === 'anonymous' || from.hostname === 'anonymous.invalid');
}

export class CallFeatures {
  readonly stats: Record<RefusalCode, number> & { rewritten: number } = {
    ncos: 0, 'block-out': 0, 'block-in': 0, 'block-in-clir': 0, 'limit-caller': 0, 'limit-callee': 0, rewritten: 0,
  };

  /** call forwards taken, by type, and destinations / forwards that ended without a branch, by reason (docs/routing.md) */
  readonly forwardStats = {
    taken: { cfu: 0, cfb: 0, cfna: 0, cft: 0 },
    skipped: { voicemail: 0, invalid: 0, 'foreign-uri': 0, 'not-routable': 0, loop: 0, 'too-many-hops': 0, 'limit-callee': 0 },
  };

  constructor(readonly store: FeatureStore, readonly limits: CallLimits, private logger: Logger) {}

  /** The rewrite set that applies to a subscriber: its own, else its domain's. */
  async rewriteSetOf(profile: SubscriberProfile | undefined): Promise<RewriteSet | undefined> {
    if (!profile) return undefined;
    const id = intPref(profile.prefs.subscriber.rewrite_rule_set_id) ?? intPref(profile.prefs.domain.rewrite_rule_set_id);
    return id === undefined ? undefined : this.store.rewriteSet(id);
  }

  /** Step 1: normalise the caller's and the dialled number with the caller's set (direction in). */
  async inbound(caller: Party, dialled: string): Promise<InboundResult> {
    const profile = await this.store.profile(caller.subscriberId);
    const set = await this.rewriteSetOf(profile);
    const own = stringPref(profile?.prefs.subscriber.cli) ?? profile?.number;
    const callerNumber = own === undefined ? undefined : e164(rewrite(set, 'in', 'caller', own));
    let callee = dialled;
    if (set && dialled.length > 0) {
      const r = rewrite(set, 'in', 'callee', dialled);
      if (r !== dialled) {
        this.stats.rewritten++;
        callee = r;
      }
    }
    return { caller, profile, set, callerNumber, callee };
  }

  /**
   * Step 2: may this call go ahead? `callee` is the subscriber called (undefined when the
   * call leaves the platform); `calleeNumber` the number NCOS and block lists look at (the
   * rewritten dialled number; for a call by username the callee's primary number).
   * Counts the call in Redis last, so a refused call counts nowhere (`count: false`: checks
   * only, for a call that is going to fail anyway).
   */
  async admit(callId: string, inb: InboundResult, callee: Party | undefined, wantsPrivacy: boolean, opts: { count?: boolean } = {}): Promise<Admission | Refusal> {
    const caller = inb.profile;
    const calleeProfile = callee ? await this.store.profile(callee.subscriberId) : undefined;
    const calleeNumber = /^\+?[0-9]+$/.test(inb.callee) ? e164(inb.callee) : (calleeProfile?.number ?? inb.callee);
    if (caller) {
      // NCOS: the operator's level (adm_ncos_id) over the subscriber's, customer's, domain's ncos_id
      const p = caller.prefs;
      const levelId = intPref(p.subscriber.adm_ncos_id) ?? intPref(p.subscriber.ncos_id) ?? intPref(p.customer.ncos_id) ?? intPref(p.domain.ncos_id);
      if (levelId !== undefined) {
        const level = await this.store.ncosLevel(levelId);
        if (!level) this.logger.warn({ component: 'features', levelId, subscriberId: caller.subscriberId }, 'NCOS level not found; not applied');
        else if (!ncosAllows(level, calleeNumber)) return this.refused('ncos', callId);
      }
      if (listBlocks(caller, 'block_out', calleeNumber)) return this.refused('block-out', callId);
    }
    const anonymous = wantsPrivacy || (caller ? boolPref(caller.prefs.subscriber.clir) : false);
    if (calleeProfile) {
      if (listBlocks(calleeProfile, 'block_in', inb.callerNumber)) return this.refused('block-in', callId);
      const p = calleeProfile.prefs;
      const blockClir = p.subscriber.block_in_clir !== undefined ? boolPref(p.subscriber.block_in_clir) : boolPref(p.domain.block_in_clir);
      if (anonymous && blockClir) return this.refused('block-in-clir', callId);
    }
    if (opts.count === false) return { ok: true, concKeys: [], anonymous };
    const slots = limitSlots(inb.caller, caller, callee, calleeProfile);
    const r = await this.limits.admit(callId, slots);
    if (!r.ok) {
      this.logger.info({ component: 'features', callId, key: r.slot.key, max: r.slot.max, count: r.count }, 'concurrent call limit reached');
      return this.refused(r.slot.side === 'caller' ? 'limit-caller' : 'limit-callee', callId);
    }
    return { ok: true, concKeys: r.keys, anonymous };
  }

  /**
   * A call from a peer to subscriber `callee`: the callee's side of `admit()` — its block_in
   * list on the caller's number (`callerNumber`, as the peer sent it), block_in_clir, and its
   * concurrent-call sets (full → 486). The caller is no subscriber: nothing of its side applies.
   */
  async admitFromPeer(callId: string, callee: Party, callerNumber: string | undefined, anonymous: boolean): Promise<Admission | Refusal> {
    const profile = await this.store.profile(callee.subscriberId);
    if (profile) {
      if (listBlocks(profile, 'block_in', callerNumber === undefined ? undefined : e164(callerNumber))) return this.refused('block-in', callId);
      const p = profile.prefs;
      const blockClir = p.subscriber.block_in_clir !== undefined ? boolPref(p.subscriber.block_in_clir) : boolPref(p.domain.block_in_clir);
      if (anonymous && blockClir) return this.refused('block-in-clir', callId);
    }
    const r = await this.limits.admit(callId, calleeSlots(callee, profile));
    if (!r.ok) {
      this.logger.info({ component: 'features', callId, key: r.slot.key, max: r.slot.max, count: r.count }, 'concurrent call limit reached (call from a peer)');
      return this.refused('limit-callee', callId);
    }
    return { ok: true, concKeys: r.keys, anonymous };
  }

  /**
   * A forward reaches subscriber `callee`: count the call in the callee's sets too (the same
   * Call-ID: a set counts it once). Full → the callee-limit refusal (486), nothing counted.
   */
  async admitTarget(callId: string, callee: Party): Promise<Admission | Refusal> {
    const profile = await this.store.profile(callee.subscriberId);
    const r = await this.limits.admit(callId, calleeSlots(callee, profile));
    if (!r.ok) {
      this.logger.info({ component: 'features', callId, key: r.slot.key, max: r.slot.max, count: r.count }, 'concurrent call limit of a forward target reached');
      return this.refused('limit-callee', callId);
    }
    return { ok: true, concKeys: r.keys, anonymous: false };
  }

  /** The `conc:*` keys a caller / a callee is counted in (whatever its limits). */
  callerKeys(caller: Party): string[] {
    return callerSlots(caller, undefined).map((s) => s.key);
  }

  calleeKeys(callee: Party): string[] {
    return calleeSlots(callee, undefined).map((s) => s.key);
  }

  private refused(code: RefusalCode, callId: string): Refusal {
    this.stats[code]++;
    this.logger.info({ component: 'features', callId, code }, 'call refused');
    return refuse(code);
  }

  /** Step 3a: how the caller is shown to a target whose rewrite set is `targetSet` (direction out). */
  identityFor(inb: InboundResult, anonymous: boolean, targetSet: RewriteSet | undefined): Identity {
    const user = inb.callerNumber !== undefined ? rewrite(targetSet, 'out', 'caller', inb.callerNumber) : inb.caller.username;
    return { user, domain: inb.caller.domain, anonymous };
  }

  /** The identity a subscriber callee sees: the caller number in the callee's (else its domain's) `out` format. */
  async identityForSubscriber(inb: InboundResult, anonymous: boolean, callee: Party): Promise<Identity> {
    const set = await this.rewriteSetOf(await this.store.profile(callee.subscriberId));
    return this.identityFor(inb, anonymous, set);
  }
}

/** A level's block list with its mode: the subscriber's and the domain's lists each apply. */
function listBlocks(profile: SubscriberProfile, prefix: 'block_in' | 'block_out', number: string | undefined): boolean {
  for (const level of [profile.prefs.subscriber, profile.prefs.domain]) {
    const list = listPref(level[`${prefix}_list`]);
    const mode = stringPref(level[`${prefix}_mode`]) as BlockMode | undefined;
    if (blockedBy(mode === 'whitelist' ? 'whitelist' : 'blacklist', list, number)) return true;
  }
  return false;
}

function limitSlots(caller: Party, callerProfile: SubscriberProfile | undefined, callee: Party | undefined, calleeProfile: SubscriberProfile | undefined): LimitSlot[] {
  return [...callerSlots(caller, callerProfile), ...(callee ? calleeSlots(callee, calleeProfile) : [])];
}

function slot(scope: LimitSlot['scope'], id: number, max: number | null | undefined, side: LimitSlot['side']): LimitSlot {
  return { key: concKey(scope, id), scope, side, ...(max != null ? { max } : {}) };
}

/** The caller's sets: every call and outgoing calls, of the subscriber and of its customer. */
export function callerSlots(caller: Party, callerProfile: SubscriberProfile | undefined): LimitSlot[] {
  const sp = callerProfile?.prefs.subscriber;
  const slots = [slot('sub', caller.subscriberId, intPref(sp?.concurrent_max), 'caller'), slot('subout', caller.subscriberId, intPref(sp?.concurrent_max_out), 'caller')];
  const callerCustomer = callerProfile?.customerId ?? caller.customerId;
  if (callerCustomer != null) slots.push(slot('cust', callerCustomer, callerProfile?.customerMax, 'caller'), slot('custout', callerCustomer, callerProfile?.customerMaxOut, 'caller'));
  return slots;
}

/** The callee's sets: every call of the subscriber and of its customer. */
export function calleeSlots(callee: Party, calleeProfile: SubscriberProfile | undefined): LimitSlot[] {
  const slots = [slot('sub', callee.subscriberId, intPref(calleeProfile?.prefs.subscriber.concurrent_max), 'callee')];
  const calleeCustomer = calleeProfile?.customerId ?? callee.customerId;
  if (calleeCustomer != null) slots.push(slot('cust', calleeCustomer, calleeProfile?.customerMax, 'callee'));
  return slots;
}

/**
 * Step 3b: the caller's identity on a request the proxy forwards. Whatever the caller sent
 * as P-Asserted-Identity / P-Preferred-Identity / Privacy is removed (a subscriber is not
 * trusted, RFC 3325 §5). Then:
 *  - not anonymous: From user = the number as the target sees it (display name, host and tag
 *    kept), `P-Asserted-Identity: <sip:user@domain>`;
 *  - anonymous (RFC 3323): `From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=…`,
 *    `Privacy: id`, and P-Asserted-Identity only towards a `trusted` target (a peer); a
 *    subscriber's phone is outside the trust domain and gets none.
 * Returns the new From value (the CANCEL of a branch and a takeover need the same From).
 */
export function applyIdentity(out: SipRequest, id: Identity, trusted: boolean): string {
  out.remove('p-asserted-identity');
  out.remove('p-preferred-identity');
  out.remove('privacy');
  const value = fromFor(out.get('from') ?? '', id);
  if (id.anonymous) out.set('Privacy', 'id');
  if (!id.anonymous || trusted) out.set('P-Asserted-Identity', `<sip:${escapeUser(id.user)}@${id.domain}>`);
  out.set('From', value);
  return value;
}

/** The From header value a target is sent for this identity (the tag kept). */
export function fromFor(fromValue: string, id: Identity): string {
  const from = parseNameAddr(fromValue, 'From');
  if (id.anonymous) {
    const tag = from.tag;
    return `"Anonymous" <sip:anonymous@anonymous.invalid>${tag !== undefined ? `;tag=${tag}` : ''}`;
  }
  if (from.uri.isSip) from.uri.user = escapeUser(id.user);
  return from.toString();
}

/** A user part as the SIP grammar allows it (RFC 3261 §25.1 user: unreserved / escaped / user-unreserved). */
function escapeUser(u: string): string {
  return u.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/g, (c) => encodeURIComponent(c));
}
