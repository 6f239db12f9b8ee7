/** hbd's Prometheus metrics, registered on the Registry the daemon skeleton passes in. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';

export interface HbdMetrics {
  role: Gauge;
  epoch: Gauge;
  beatsSent: Counter<'path'>;
  beatsReceived: Counter<'path'>;
  beatsDropped: Counter<'path' | 'reason'>;
  sendErrors: Counter<'path'>;
  peerAlive: Gauge<'path'>;
  pingnodesReachable: Gauge;
  transitions: Counter<'to' | 'rule'>;
  stepSeconds: Gauge<'step' | 'direction'>;
  stepFailures: Counter<'step' | 'direction'>;
  drift: Counter<'step'>;
  tickLateMax: Gauge;
  takeoversDeferred: Counter;
  loopDelay: LoopDelayWatch;
}

export function createHbdMetrics(registry: Registry): HbdMetrics {
  const registers = [registry];
  const loopDelay = new LoopDelayWatch();
  const m: HbdMetrics = {
    role: new Gauge({ name: 'hbd_role_active', help: '1 while this node is (or is becoming) active, 0 while standby', registers }),
    epoch: new Gauge({ name: 'hbd_epoch', help: 'Generation of the active role this node knows', registers }),
    beatsSent: new Counter({ name: 'hbd_beats_sent_total', help: 'Heartbeats sent, by path', labelNames: ['path'], registers }),
    beatsReceived: new Counter({ name: 'hbd_beats_received_total', help: 'Heartbeats of the peer accepted, by path', labelNames: ['path'], registers }),
    beatsDropped: new Counter({
      name: 'hbd_beats_dropped_total',
      help: 'Datagrams dropped on a heartbeat socket, by path and reason (short, too_long, bad_signature, malformed, replay, unknown_node)',
      labelNames: ['path', 'reason'],
      registers,
    }),
    sendErrors: new Counter({ name: 'hbd_beat_send_errors_total', help: 'Heartbeats the socket refused to send, by path', labelNames: ['path'], registers }),
    peerAlive: new Gauge({ name: 'hbd_peer_alive', help: '1 while an accepted beat came on this path within the deadtime', labelNames: ['path'], registers }),
    pingnodesReachable: new Gauge({ name: 'hbd_pingnodes_reachable', help: 'Ping nodes reached in the last round', registers }),
    transitions: new Counter({ name: 'hbd_transitions_total', help: 'Role changes, by new role and the rule that made it (docs/ha.md)', labelNames: ['to', 'rule'], registers }),
    stepSeconds: new Gauge({ name: 'hbd_step_seconds', help: 'Duration of the last run of each step, by direction (activate, deactivate)', labelNames: ['step', 'direction'], registers }),
    stepFailures: new Counter({ name: 'hbd_step_failures_total', help: 'Failed steps, by direction', labelNames: ['step', 'direction'], registers }),
    drift: new Counter({ name: 'hbd_drift_total', help: 'Audits that found the world off the role (e.g. a restarted Redis back as master on the standby) and ran the step again, by step', labelNames: ['step'], registers }),
    tickLateMax: new Gauge({ name: 'hbd_tick_late_max_seconds', help: 'Worst lateness of the heartbeat timer since start', registers }),
    takeoversDeferred: new Counter({ name: 'hbd_takeovers_deferred_total', help: 'Takeovers decided outside the tick while the tick was overdue (own loop behind), left to the tick (R10)', registers }),
    loopDelay,
  };
  new Gauge({
    name: 'hbd_event_loop_delay_max_seconds',
    help: 'Worst event-loop pause of hbd since start (perf_hooks monitorEventLoopDelay); a SIGSTOP shows here too',
    registers,
    collect() {
      this.set(loopDelay.maxSinceStartMs() / 1000);
    },
  });
  new Gauge({
    name: 'hbd_event_loop_delay_recent_max_seconds',
    help: 'Worst event-loop pause of hbd in the last 10 s',
    registers,
    collect() {
      this.set(loopDelay.recentMaxMs() / 1000);
    },
  });
  return m;
}

/**
 * hbd's own event-loop pauses: perf_hooks' histogram, folded every second into the
 * maximum since start and a ring of the last ten one-second maxima. A fold also counts
 * how late it itself ran: after a freeze (SIGSTOP, the VM paused) the fold's timer may run
 * before the histogram's, whose reset then drops the frozen interval (the histogram only
 * measures from its last sample, which the reset clears).
 */
export class LoopDelayWatch {
  private readonly h = monitorEventLoopDelay({ resolution: 5 });
  private readonly ring: number[] = [];
  private total = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastFold = 0;

  enable(): void {
    this.h.enable();
    this.lastFold = performance.now();
    this.timer = setInterval(() => this.fold(), 1000);
    this.timer.unref();
  }

  disable(): void {
    clearInterval(this.timer);
    this.h.disable();
  }

  /** ms */
  maxSinceStartMs(): number {
    return Math.max(this.total, this.currentMs());
  }

  /** ms, over the last ~10 s */
  recentMaxMs(): number {
    return Math.max(this.currentMs(), ...this.ring);
  }

  private currentMs(): number {
    return this.h.count > 0 ? this.h.max / 1e6 : 0;
  }

  private fold(): void {
    const now = performance.now();
    const late = now - this.lastFold - 1000;
    this.lastFold = now;
    const m = Math.max(this.currentMs(), late);
    this.total = Math.max(this.total, m);
    this.ring.push(m);
    if (this.ring.length > 10) this.ring.shift();
    this.h.reset();
  }
}
