/**
 * Session timers (RFC 4028), pure: what the sbc asks for on each leg, what it accepts,
 * who refreshes, when the next refresh is due and when a leg counts as dead. The sbc
 * runs the timer of each leg on its own (as SEMS's SBC does): it is the UAC of the B leg
 * and of every refresh it sends, the UAS of the A leg and of every refresh it receives.
 * The I/O (sending refreshes, BYE) is b2bua.ts's; the state lives in the call (store.ts).
 */
import type { SipRequest, SipResponse } from '@ngcp/sip';

/** What a profile asks for: `session_timer_s` (0: off) and `min_se_s`. */
export interface TimerPolicy {
  /** The interval the sbc asks for and grants at most (s). */
  interval: number;
  /** The smallest interval it accepts (s): its Min-SE. */
  minSe: number;
}

export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  delta: number;
  refresher?: Refresher;
}

/** One leg's timer, from the sbc's side (JSON-safe: part of the call in Redis). */
export interface LegTimer {
  /** The negotiated session interval (s). */
  interval: number;
  /** Min-SE in force on this leg (s): ours, raised by the peer's (its request's Min-SE, a 422). */
  minSe: number;
  /** Who refreshes: the sbc, or the peer (then the sbc only watches for its refreshes). */
  refresher: 'sbc' | 'peer';
  /** The peer said `Supported: timer`. */
  peerAware: boolean;
  /** How the sbc refreshes: UPDATE when the peer allows it, else re-INVITE with the leg's last SDP. */
  method: 'UPDATE' | 'INVITE';
  /** When the sbc sends its next refresh (ms since the epoch); null when the peer refreshes. */
  refreshAt: number | null;
  /** When the leg is dead without a successful refresh (ms since the epoch): BYE on both legs. */
  expiresAt: number;
  /** The sbc's refresh in flight (its CSeq and method), null when none. */
  pending: { seq: number; method: 'UPDATE' | 'INVITE' } | null;
}

/** A refresh request of ours still unanswered after this long belongs to a process that is gone (64·T1 + slack): sent again. */
export const PENDING_LIFETIME_MS = 33_000;

/** `Session-Expires: 1800;refresher=uac` → { delta, refresher }; null when absent, 'bad' when it does not parse. */
export function parseSessionExpires(value: string | undefined): SessionExpires | null | 'bad' {
  if (value === undefined) return null;
  const [first, ...params] = value.split(';');
  const delta = first!.trim();
  if (!/^[0-9]{1,10}$/.test(delta)) return 'bad';
  const out: SessionExpires = { delta: Number(delta) };
  for (const p of params) {
    const [k, v] = p.split('=').map((s) => s.trim().toLowerCase());
    if (k === 'refresher' && (v === 'uac' || v === 'uas')) out.refresher = v;
  }
  return out;
}

/** `Min-SE: 90` → 90; null when absent or bad (a bad Min-SE is ignored, the delta matters only when it raises ours). */
export function parseMinSe(value: string | undefined): number | null {
  const m = value === undefined ? null : /^\s*([0-9]{1,10})\s*(;|$)/.exec(value);
  return m ? Number(m[1]) : null;
}

const lists = (msg: SipRequest | SipResponse, name: string, tag: string): boolean => {
  try {
    return msg.elements(name).some((t) => t.trim().toLowerCase() === tag);
  } catch {
    return false;
  }
};

/** The refresh method for a peer: UPDATE when its Allow lists it (RFC 3311), else re-INVITE. */
export function refreshMethod(msg: SipRequest | SipResponse): 'UPDATE' | 'INVITE' {
  return lists(msg, 'allow', 'update') ? 'UPDATE' : 'INVITE';
}

const timerAware = (msg: SipRequest | SipResponse): boolean => lists(msg, 'supported', 'timer') || lists(msg, 'require', 'timer');

/** The fields of a request the sbc sends as the UAC of a leg (§7.1): its interval and Min-SE; `refresher` only when it keeps a role. */
export function requestFields(interval: number, minSe: number, refresher?: Refresher): Array<[string, string]> {
  return [['Session-Expires', refresher ? `${interval};refresher=${refresher}` : String(interval)], ['Min-SE', String(minSe)]];
}

/** §9: the UAS answers a Session-Expires below its Min-SE with 422 and its Min-SE. */
export type UasOutcome =
  | { ok: true; timer: Omit<LegTimer, 'refreshAt' | 'expiresAt' | 'pending'>; responseFields: Array<[string, string]> }
  | { ok: false; status: 422; minSe: number }
  | { ok: false; status: 400; reason: string };

/**
 * The sbc as the UAS of an INVITE or UPDATE on a leg (§9): the interval is the request's
 * Session-Expires, lowered to the policy's interval but never below either Min-SE
 * (the policy's, the request's); without one it is the policy's. The peer refreshes
 * only when it supports timers and asked to (`refresher=uac`); otherwise the sbc does
 * (on behalf of a peer that does not). The 2xx carries Session-Expires with the
 * refresher and, to a peer that supports timers, `Require: timer`.
 */
export function negotiateAsUas(req: SipRequest, policy: TimerPolicy): UasOutcome {
  const se = parseSessionExpires(req.get('session-expires'));
  if (se === 'bad') return { ok: false, status: 400, reason: 'Bad Session-Expires' };
  if (se && se.delta < policy.minSe) return { ok: false, status: 422, minSe: policy.minSe };
  const floor = Math.max(policy.minSe, parseMinSe(req.get('min-se')) ?? 0);
  const interval = se ? Math.max(floor, Math.min(se.delta, policy.interval)) : Math.max(floor, policy.interval);
  const peerAware = timerAware(req);
  const refresher = peerAware && se?.refresher === 'uac' ? 'peer' : 'sbc';
  const responseFields: Array<[string, string]> = [['Session-Expires', `${interval};refresher=${refresher === 'peer' ? 'uac' : 'uas'}`]];
  if (peerAware) responseFields.push(['Require', 'timer']);
  return { ok: true, timer: { interval, minSe: floor, refresher, peerAware, method: refreshMethod(req) }, responseFields };
}

/**
 * The sbc as the UAC of an INVITE or UPDATE (§7.2): a 2xx with Session-Expires sets the
 * interval (never below our Min-SE, against a rogue peer) and the refresher
 * (`refresher=uas`: the peer; `uac` or none: the sbc); a 2xx without one means the peer
 * does not do timers: the sbc refreshes at the interval it asked for.
 */
export function negotiateAsUac(res: SipResponse, asked: { interval: number; minSe: number }, prev?: Pick<LegTimer, 'method'>): Omit<LegTimer, 'refreshAt' | 'expiresAt' | 'pending'> {
  const se = parseSessionExpires(res.get('session-expires'));
  const given = se && se !== 'bad' ? se : null;
  const interval = given ? Math.max(given.delta, asked.minSe) : asked.interval;
  // the 2xx of a refresh usually has no Allow: keep what the dialog's first answer said
  const method = res.has('allow') ? refreshMethod(res) : (prev?.method ?? 'INVITE');
  return { interval, minSe: asked.minSe, refresher: given?.refresher === 'uas' ? 'peer' : 'sbc', peerAware: given !== null || timerAware(res), method };
}

/**
 * The interval to retry with after a 422 (§7.4: the response's Min-SE, above what was
 * asked); null when the 422 gives nothing larger (the retry would fail the same way).
 */
export function retryInterval(res: SipResponse, asked: number): number | null {
  const min = parseMinSe(res.get('min-se'));
  return min !== null && min > asked ? min : null;
}

/** §10: the side that does not refresh gives up this long before the session ends: min(32 s, interval/3). */
export function giveUpMarginMs(intervalS: number): number {
  return Math.min(32_000, Math.floor((intervalS * 1000) / 3));
}

/**
 * The timer of a leg (re)armed at `now` by a successful refresh or the answer (§10): the
 * sbc as refresher refreshes at half the interval and counts the leg dead when the
 * interval passes without a 2xx to its refresh; when the peer refreshes, its refresh must
 * come before the interval minus min(32 s, interval/3).
 */
export function arm(t: Omit<LegTimer, 'refreshAt' | 'expiresAt' | 'pending'>, now: number): LegTimer {
  const ms = t.interval * 1000;
  return t.refresher === 'sbc'
    ? { ...t, refreshAt: now + Math.floor(ms / 2), expiresAt: now + ms, pending: null }
    : { ...t, refreshAt: null, expiresAt: now + ms - giveUpMarginMs(t.interval), pending: null };
}

/** When a leg's timer next needs the sbc (a refresh to send, a refresh gone missing, the end); null without a timer. */
export function nextDue(t: LegTimer | null | undefined): number | null {
  if (!t) return null;
  return t.refreshAt === null ? t.expiresAt : Math.min(t.refreshAt, t.expiresAt);
}

export type DueAction = 'none' | 'refresh' | 'expired';

/** What a leg's timer asks for at `now`. */
export function dueAction(t: LegTimer | null | undefined, now: number): DueAction {
  if (!t) return 'none';
  if (now >= t.expiresAt) return 'expired';
  if (t.refreshAt !== null && now >= t.refreshAt) return 'refresh';
  return 'none';
}

/** How long after a refresh the peer turned down (491, 500, ...) the sbc tries again: a quarter interval, at most 2 s. */
export function retryDelayMs(intervalS: number): number {
  return Math.min(2000, Math.max(100, Math.floor((intervalS * 1000) / 4)));
}

/** Say `Supported: timer` on a message the sbc sends (one Supported field: the tag added to the one copied from the other leg). */
export function addTimerSupport(msg: SipRequest | SipResponse): void {
  let tags: string[];
  try {
    tags = msg.elements('supported').map((t) => t.trim()).filter(Boolean);
  } catch {
    tags = [];
  }
  if (tags.some((t) => t.toLowerCase() === 'timer')) return;
  msg.set('Supported', [...tags, 'timer'].join(', '));
}

/** The header keys that are the sbc's own on each leg while it runs the timers (never copied between legs then). */
export const TIMER_FIELDS: readonly string[] = ['session-expires', 'min-se'];
