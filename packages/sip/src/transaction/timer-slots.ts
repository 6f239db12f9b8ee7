/**
 * The two timer slots of a transaction. No state of any machine runs more than one
 * retransmission timer (A, E, G, Trying100) and one state-bounding timer (B, D, F, H,
 * I, J, K, L, M) at a time, so a transaction needs two handles, not thirteen. Fired
 * timers call one shared function per slot with the transaction as argument — no
 * closure per timer.
 */
import type { TimerHandle, TimerName, TimerScheduler } from './timers.js';
import { isRetransmitTimer } from './timers.js';

export interface TimerSlotted {
  rt: TimerHandle | null;
  rtName: TimerName | null;
  lt: TimerHandle | null;
  ltName: TimerName | null;
}

export class TimerSlots<T extends TimerSlotted> {
  private readonly fireRetransmit: (tx: T) => void;
  private readonly fireLifetime: (tx: T) => void;

  constructor(
    private readonly scheduler: TimerScheduler,
    fired: (tx: T, name: TimerName) => void,
  ) {
    this.fireRetransmit = (tx: T): void => {
      const name = tx.rtName;
      tx.rt = null;
      tx.rtName = null;
      if (name !== null) fired(tx, name);
    };
    this.fireLifetime = (tx: T): void => {
      const name = tx.ltName;
      tx.lt = null;
      tx.ltName = null;
      if (name !== null) fired(tx, name);
    };
  }

  /** (Re)start a timer; it replaces whatever ran in its slot. */
  start(tx: T, name: TimerName, ms: number): void {
    if (isRetransmitTimer(name)) {
      if (tx.rt !== null) this.scheduler.clearTimer(tx.rt);
      tx.rt = this.scheduler.setTimer(ms, this.fireRetransmit, tx);
      tx.rtName = name;
    } else {
      if (tx.lt !== null) this.scheduler.clearTimer(tx.lt);
      tx.lt = this.scheduler.setTimer(ms, this.fireLifetime, tx);
      tx.ltName = name;
    }
  }

  /** Stop a timer if it is the one running in its slot. */
  stop(tx: T, name: TimerName): void {
    if (tx.rtName === name && tx.rt !== null) {
      this.scheduler.clearTimer(tx.rt);
      tx.rt = null;
      tx.rtName = null;
    } else if (tx.ltName === name && tx.lt !== null) {
      this.scheduler.clearTimer(tx.lt);
      tx.lt = null;
      tx.ltName = null;
    }
  }

  clear(tx: T): void {
    if (tx.rt !== null) this.scheduler.clearTimer(tx.rt);
    if (tx.lt !== null) this.scheduler.clearTimer(tx.lt);
    tx.rt = tx.lt = tx.rtName = tx.ltName = null;
  }
}
