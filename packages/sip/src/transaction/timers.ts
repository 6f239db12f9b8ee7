/**
 * Transaction timers (RFC 3261 §17, Table 4 in §A; RFC 6026 §8.1 for L and M) and
 * the scheduler the transaction layer runs them on.
 */

/**
 * Timer names exactly as in RFC 3261 Table 4 / RFC 6026, plus two the RFC describes
 * without naming: 'Trying100', the 200 ms "send 100 Trying" timer of §17.2.1, and
 * 'Cancel', the 64·T1 an INVITE client transaction waits for a final response after
 * its CANCEL was sent (§9.1).
 */
export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M' | 'Trying100' | 'Cancel' | 'Guard';

/** Base values, milliseconds. */
export interface TimerConfig {
  /** RTT estimate, default 500 ms (§17.1.1.1). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2: number;
  /** Maximum duration a message remains in the network, default 5 s. */
  T4: number;
  /** Timer D on unreliable transports: "at least 32 seconds" (§17.1.1.2). Default 32000. */
  D: number;
  /**
   * When the INVITE server transaction sends 100 Trying by itself if the TU has not
   * answered (§17.2.1: "if the TU will not generate a provisional response within 200 ms").
   * Default 200; 0 sends it at once; false never.
   */
  trying100: number | false;
  /**
   * Not in RFC 3261: how long a server transaction waits for its TU's final response
   * before answering 500 by itself, so a TU that never answers cannot keep it alive
   * forever ('Guard', run by the driver). INVITE: default 300000 (5 min, longer than a
   * proxy's Timer C of 3 min, §16.6); non-INVITE: default 64·T1, when the client has
   * given up (Timer F). 0 disables.
   */
  tuTimeoutInvite?: number;
  tuTimeoutNonInvite?: number;
}

export const DEFAULT_TIMER_CONFIG: Readonly<TimerConfig> = Object.freeze({ T1: 500, T2: 4000, T4: 5000, D: 32_000, trying100: 200 });

/**
 * Durations for one kind of transport. For the retransmission timers (A, E, G) 0 means
 * "not started" (reliable transports, §17.1.1.2, §17.1.2.2, §17.2.1); for the
 * wait timers (D, I, J, K) 0 means "go to Terminated at once".
 */
export interface TimerValues {
  readonly reliable: boolean;
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  readonly A: number;
  readonly B: number;
  readonly D: number;
  readonly E: number;
  readonly F: number;
  readonly G: number;
  readonly H: number;
  readonly I: number;
  readonly J: number;
  readonly K: number;
  readonly L: number;
  readonly M: number;
  /** §9.1: 64·T1 after sending CANCEL. */
  readonly Cancel: number;
  readonly trying100: number | false;
  /** The TU-answer guards of server transactions (0 = off), see TimerConfig. */
  readonly guardInvite: number;
  readonly guardNonInvite: number;
}

/** The timer values of RFC 3261 Table 4 (and RFC 6026 §8.1) for a reliable or unreliable transport. */
export function timerValues(config: Partial<TimerConfig>, reliable: boolean): TimerValues {
  const c = { ...DEFAULT_TIMER_CONFIG, ...config };
  for (const k of ['T1', 'T2', 'T4', 'D'] as const) {
    if (!Number.isFinite(c[k]) || c[k] < 0) throw new RangeError(`timer ${k} must be a non-negative number of ms`);
  }
  if (c.T1 <= 0 || c.T2 < c.T1) throw new RangeError('timers need 0 < T1 <= T2');
  const t64 = 64 * c.T1;
  return Object.freeze({
    reliable,
    T1: c.T1,
    T2: c.T2,
    T4: c.T4,
    A: reliable ? 0 : c.T1, // initially T1, doubling
    B: t64,
    D: reliable ? 0 : c.D,
    E: reliable ? 0 : c.T1, // initially T1, doubling up to T2
    F: t64,
    G: reliable ? 0 : c.T1, // initially T1, doubling up to T2
    H: t64,
    I: reliable ? 0 : c.T4,
    J: reliable ? 0 : t64,
    K: reliable ? 0 : c.T4,
    L: t64,
    M: t64,
    Cancel: t64,
    trying100: c.trying100,
    guardInvite: c.tuTimeoutInvite ?? 300_000,
    guardNonInvite: c.tuTimeoutNonInvite ?? t64,
  });
}

/** Whether a timer paces retransmissions (A, E, G, Trying100) rather than bounding a state. */
export function isRetransmitTimer(name: TimerName): boolean {
  return name === 'A' || name === 'E' || name === 'G' || name === 'Trying100';
}

/** Opaque handle returned by a scheduler. */
export type TimerHandle = unknown;

/**
 * Where timers run. `fn` is called with `arg` so a caller can share one function
 * among many timers instead of allocating a closure per timer.
 */
export interface TimerScheduler {
  now(): number;
  setTimer<T>(ms: number, fn: (arg: T) => void, arg: T): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The default scheduler: Node timers and Date.now(). */
export const nodeScheduler: TimerScheduler = {
  now: () => Date.now(),
  setTimer: <T>(ms: number, fn: (arg: T) => void, arg: T): TimerHandle => setTimeout(fn, ms, arg),
  clearTimer: (h: TimerHandle): void => clearTimeout(h as ReturnType<typeof setTimeout>),
};
