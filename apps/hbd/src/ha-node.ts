/**
 * The driver of one node of the pair: heartbeat sockets (one per path), the ping
 * prober, the timer that judges the peer, the role machine (role-machine.ts), and the
 * steps that make the role true (steps.ts), run one change at a time.
 */
import { createSocket, type Socket } from 'node:dgram';
import { stat } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { Daemon, HealthReport, Logger, Registry, RpcHandler } from '@ngcp/daemon';
import { RpcError, RPC_ERRORS } from '@ngcp/rpc';
import { BeatFilter, decodeBeat, encodeBeat, initialSeq, type Beat } from './beat.js';
import type { HbdConfig } from './config.js';
import { createHbdMetrics, type HbdMetrics } from './metrics.js';
import { Pinger } from './pinger.js';
import { raisePriority, raiseRealtime } from './priority.js';
import { decide, deferTakeover, peerAlive, type Decision, type PeerView, type Role } from './role-machine.js';
import { buildSteps, runChildrenAsOrdinary, StepError, type HaStep, type StepContext } from './steps.js';

export interface HaNodeOptions {
  config: HbdConfig;
  logger: Logger;
  metrics: Registry;
  /** Default: buildSteps(config). */
  steps?: HaStep[];
}

export interface StepResult {
  step: string;
  ms: number;
  ok: boolean;
  error?: string;
}

export interface TransitionRecord {
  to: Role;
  epoch: number;
  started: string;
  ms: number | null;
  steps: StepResult[];
}

export class HaNode implements Daemon {
  private readonly cfg: HbdConfig;
  private readonly log: Logger;
  private readonly m: HbdMetrics;
  private readonly steps: HaStep[];
  private readonly filter: BeatFilter;
  private readonly pinger: Pinger;
  private readonly sockets = new Map<string, Socket>();
  private readonly lastSeenByPath = new Map<string, number>();

  private role: Role = 'standby';
  private epoch = 0;
  private yielding = false;
  private yieldingSince = 0;
  private applied: Role | 'none' = 'none';
  private chain: Promise<void> = Promise.resolve();
  private peer: PeerView | null = null;
  private listeningSince = 0;
  private pingAdvantageSince: number | null = null;
  private lastTick = 0;
  private seq = initialSeq();
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private lastDecision: Decision | null = null;
  private lastTransition: TransitionRecord | null = null;

  readonly methods: Record<string, RpcHandler>;

  constructor(opts: HaNodeOptions) {
    this.cfg = opts.config;
    this.log = opts.logger.child({ component: 'ha' });
    this.m = createHbdMetrics(opts.metrics);
    this.steps = opts.steps ?? buildSteps(this.cfg);
    this.filter = new BeatFilter(this.cfg.peer);
    let lastPings = -1;
    this.pinger = new Pinger(this.cfg.pingnodes, this.cfg.ping, (n) => {
      this.m.pingnodesReachable.set(n);
      this.evaluate();
      // a changed count is news for the peer's R5: told at once, not at the next beat
      if (n !== lastPings && lastPings !== -1 && this.sockets.size > 0) this.sendBeat();
      lastPings = n;
    });
    this.methods = {
      'ha.status': () => this.status(),
      'ha.make_active': () => this.makeActive(),
      'ha.make_standby': () => this.makeStandby(),
    };
  }

  async start(): Promise<void> {
    // libuv starts its thread pool at the first use; start it now, so that its threads are
    // among the ones given the priority below (threads made later by a SCHED_RR thread with
    // reset-on-fork would start as ordinary ones)
    await stat('/').catch(() => undefined);
    try {
      const r = raisePriority(this.cfg.nice);
      if (r.failed) this.log.warn({ nice: this.cfg.nice, threads: r.threads, failed: r.failed, err: r.firstError }, 'some threads kept their scheduling priority');
    } catch (e) {
      this.log.warn({ nice: this.cfg.nice, err: (e as Error).message }, 'cannot raise the scheduling priority; beats may be late under CPU load');
    }
    if (this.cfg.realtime_priority > 0) {
      try {
        raiseRealtime(this.cfg.realtime_priority);
        // its forks stay real-time until they exec `chrt --other 0 <command>` (steps.ts run())
        runChildrenAsOrdinary(true);
        this.log.info({ realtime_priority: this.cfg.realtime_priority }, 'running SCHED_RR');
      } catch (e) {
        this.log.warn({ realtime_priority: this.cfg.realtime_priority, err: (e as Error).message }, 'cannot run real-time (SCHED_RR); only nice: beats may be late under CPU load');
      }
    }
    this.m.loopDelay.enable();
    // R1: join as standby — drop a stale shared IP (and follow the peer) before anything else.
    this.schedule();
    await this.chain;
    // beats may arrive while the other sockets bind: R1 holds from here on
    this.listeningSince = this.lastTick = performance.now();
    for (const p of this.cfg.paths) {
      const s = createSocket({ type: 'udp4' });
      s.on('message', (msg) => this.onMessage(p.name, msg));
      await new Promise<void>((resolve, reject) => {
        s.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`heartbeat path ${p.name}: cannot bind ${p.address}:${p.port}: ${e.code ?? e.message}`)));
        s.bind(p.port, p.address, () => {
          s.removeAllListeners('error');
          // after the bind, a socket error (e.g. a send to a link that is down) is logged; the other path carries on
          s.on('error', (e) => this.log.warn({ path: p.name, err: e.message }, 'heartbeat socket error'));
          resolve();
        });
      }).catch((e: unknown) => {
        s.close();
        for (const other of this.sockets.values()) other.close();
        this.sockets.clear();
        throw e;
      });
      this.sockets.set(p.name, s);
    }
    this.pinger.start();
    this.listeningSince = this.lastTick = performance.now();
    this.timer = setInterval(() => this.tick(), this.cfg.interval_ms);
    if (this.cfg.audit_interval_ms > 0) this.auditTimer = setInterval(() => void this.audit(), this.cfg.audit_interval_ms);
    this.sendBeat();
    this.log.info({ node: this.cfg.node, peer: this.cfg.peer, paths: this.cfg.paths.map((p) => `${p.name} ${p.address}->${p.peer_address}:${p.port}`), steps: this.steps.map((s) => s.name) }, 'joined as standby');
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.role === 'active' && this.isPeerAlive()) {
      // SIGTERM on the active: a planned switchover to the live peer.
      this.log.info({}, 'stopping: handing the active role to the peer');
      this.evaluate('make_standby');
      const took = await this.waitFor(() => this.peerIsActive(), this.cfg.switchover_timeout_ms);
      this.log.info({ peer_active: took }, took ? 'peer took over' : 'peer did not take over in time');
    } else if (this.role === 'active') {
      this.log.warn({}, 'stopping the active node with no live peer: the shared IPs stay (the next start drops them)');
    }
    clearInterval(this.auditTimer);
    await this.chain;
    clearInterval(this.timer);
    if (this.deadTimer) clearTimeout(this.deadTimer);
    this.deadTimer = null;
    this.pinger.stop();
    this.sendBeat();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
    this.m.loopDelay.disable();
  }

  health(): HealthReport {
    return { ok: true, role: this.role, epoch: this.epoch, peer_alive: this.isPeerAlive() };
  }

  stats(): Record<string, unknown> {
    return this.status();
  }

  status(): Record<string, unknown> {
    const now = performance.now();
    return {
      node: this.cfg.node,
      role: this.role,
      epoch: this.epoch,
      applied: this.applied,
      yielding: this.yielding,
      rule: this.lastDecision ? { id: this.lastDecision.rule, reason: this.lastDecision.reason } : null,
      peer: {
        node: this.cfg.peer,
        alive: this.isPeerAlive(),
        role: this.peer?.role ?? null,
        epoch: this.peer?.epoch ?? null,
        pings: this.peer?.pings ?? null,
        paths: Object.fromEntries(
          this.cfg.paths.map((p) => {
            const seen = this.lastSeenByPath.get(p.name);
            return [p.name, { alive: seen !== undefined && now - seen <= this.cfg.deadtime_ms, last_beat_ms_ago: seen === undefined ? null : Math.round(now - seen) }];
          }),
        ),
      },
      pingnodes: { configured: this.cfg.pingnodes.length, reachable: this.pinger.reachable, last: Object.fromEntries(this.pinger.last) },
      last_transition: this.lastTransition,
      event_loop_delay_max_ms: round(this.m.loopDelay.maxSinceStartMs()),
      event_loop_delay_recent_max_ms: round(this.m.loopDelay.recentMaxMs()),
    };
  }

  // ---- control methods ------------------------------------------------------------

  private async makeActive(): Promise<unknown> {
    if (this.stopping) throw new RpcError(RPC_ERRORS.UNAVAILABLE, 'hbd is stopping');
    this.evaluate('make_active');
    await this.chain;
    return this.status();
  }

  private async makeStandby(): Promise<unknown> {
    if (this.stopping) throw new RpcError(RPC_ERRORS.UNAVAILABLE, 'hbd is stopping');
    const d = this.evaluate('make_standby');
    if (d?.refused) throw new RpcError(RPC_ERRORS.UNAVAILABLE, `make_standby refused: ${d.refused}`);
    const took = await this.waitFor(() => this.peerIsActive(), this.cfg.switchover_timeout_ms);
    await this.chain;
    return { ...this.status(), switched: took };
  }

  // ---- heartbeats ---------------------------------------------------------------------

  private onMessage(path: string, msg: Buffer): void {
    const r = decodeBeat(msg, this.cfg.key);
    if ('drop' in r) return this.drop(path, r.drop);
    const bad = this.filter.check(path, r.beat);
    if (bad) return this.drop(path, bad);
    this.m.beatsReceived.inc({ path });
    this.lastSeenByPath.set(path, performance.now());
    // the peer's death is decided the moment its deadtime runs out, not at the next tick
    // (up to an interval later); tick() first checks for an own stall (R10)
    if (this.deadTimer) this.deadTimer.refresh();
    else if (this.timer) this.deadTimer = setTimeout(() => this.timer && this.tick(), this.cfg.deadtime_ms + 1);
    this.onBeat(r.beat);
  }

  private deadTimer: NodeJS.Timeout | null = null;

  private drop(path: string, reason: string): void {
    this.m.beatsDropped.inc({ path, reason });
    this.log.debug({ path, reason }, 'heartbeat dropped');
  }

  private onBeat(b: Beat): void {
    const prev = this.peer;
    this.peer = { node: b.node, role: b.role, epoch: b.epoch, pings: b.pings, priority: b.priority, yielding: b.yielding };
    if (!prev || prev.role !== b.role || prev.epoch !== b.epoch) this.log.info({ peer: b.node, peer_role: b.role, peer_epoch: b.epoch }, 'peer role');
    this.evaluate();
  }

  private sendBeat(): void {
    const beat: Beat = { node: this.cfg.node, role: this.role, epoch: this.epoch, pings: this.pinger.reachable, priority: this.cfg.priority, yielding: this.yielding, seq: ++this.seq, ts: Date.now() };
    const buf = encodeBeat(beat, this.cfg.key);
    for (const p of this.cfg.paths) {
      const s = this.sockets.get(p.name);
      if (!s) continue;
      s.send(buf, p.port, p.peer_address, (err) => {
        if (err) this.m.sendErrors.inc({ path: p.name });
        else this.m.beatsSent.inc({ path: p.name });
      });
    }
  }

  private tick(): void {
    const now = performance.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    const cpu = process.cpuUsage();
    const cpuMs = (cpu.user + cpu.system - this.lastTickCpuUs) / 1000;
    this.lastTickCpuUs = cpu.user + cpu.system;
    const late = gap - this.cfg.interval_ms;
    if (late / 1000 > this.tickLateMaxS) {
      this.tickLateMaxS = late / 1000;
      this.m.tickLateMax.set(this.tickLateMaxS);
    }
    // R10: this node's own stall (SIGSTOP, a long pause) is not the peer's death: listen again.
    if (gap > this.cfg.interval_ms + Math.max(this.cfg.interval_ms, this.cfg.deadtime_ms / 2)) {
      this.listeningSince = now;
      // cpu_ms tells the two kinds of stall apart: ≈ gap_ms — this process was busy (blocking
      // work on its loop); ≪ gap_ms — it was not scheduled (machine overloaded, SIGSTOP, a VM pause)
      this.log.warn({ gap_ms: Math.round(gap), cpu_ms: Math.round(cpuMs) }, 'own stall: listening for the peer again before any takeover');
    }
    for (const p of this.cfg.paths) {
      const seen = this.lastSeenByPath.get(p.name);
      this.m.peerAlive.set({ path: p.name }, seen !== undefined && now - seen <= this.cfg.deadtime_ms ? 1 : 0);
    }
    this.evaluate(null, true);
    this.sendBeat();
  }

  private tickLateMaxS = 0;
  /** process CPU time (user + system, µs) at the last tick */
  private lastTickCpuUs = 0;

  // ---- the audit ----------------------------------------------------------------------

  private auditTimer: NodeJS.Timeout | undefined;
  private auditing = false;

  /**
   * Between role changes, asks each step whether the world still matches the role (a
   * Redis restarted on the standby comes back master, a MariaDB restarted on the active
   * comes back read-only, someone deleted the shared IP) and re-runs that step alone,
   * through the same chain as role changes so the two never overlap.
   */
  async audit(): Promise<void> {
    if (this.stopping || this.auditing || this.applied !== this.role) return;
    this.auditing = true;
    try {
      const role = this.role;
      for (const step of this.steps) {
        if (!step.check) continue;
        const drift = await step.check(role);
        if (drift === null || this.stopping || this.role !== role || this.applied !== role) continue;
        this.m.drift.inc({ step: step.name });
        this.log.warn({ step: step.name, role, drift }, 'drift: running the step again');
        this.chain = this.chain.then(async () => {
          if (this.role !== role || this.applied !== role) return; // a role change came first and re-ran every step
          const direction = role === 'active' ? 'activate' : 'deactivate';
          const s0 = performance.now();
          try {
            await step[direction](this.stepContext(role, direction));
            this.log.info({ step: step.name, direction, ms: round(performance.now() - s0) }, 'drift corrected');
          } catch (e) {
            this.m.stepFailures.inc({ step: step.name, direction });
            this.log.error({ step: step.name, direction, err: (e as Error).message }, 'drift: step failed');
          }
        });
        await this.chain;
      }
    } finally {
      this.auditing = false;
    }
  }

  // ---- the role machine ---------------------------------------------------------------

  private peerLastSeen(): number | null {
    let last: number | null = null;
    for (const t of this.lastSeenByPath.values()) if (last === null || t > last) last = t;
    return last;
  }

  private isPeerAlive(now = performance.now()): boolean {
    return peerAlive({ now, deadtimeMs: this.cfg.deadtime_ms, peerLastSeen: this.peerLastSeen() });
  }

  private peerIsActive(): boolean {
    return this.isPeerAlive() && this.peer?.role === 'active';
  }

  private evaluate(request: 'make_active' | 'make_standby' | null = null, fromTick = false): Decision | null {
    if (this.stopping && request !== 'make_standby') return null;
    const now = performance.now();
    const pings = this.pinger.reachable;
    if (this.peer && pings > this.peer.pings && this.isPeerAlive(now)) this.pingAdvantageSince ??= now;
    else this.pingAdvantageSince = null;
    if (this.yielding && (this.peerIsActive() || now - this.yieldingSince > this.cfg.switchover_timeout_ms)) this.yielding = false;
    const d = decide({
      now,
      deadtimeMs: this.cfg.deadtime_ms,
      self: { node: this.cfg.node, priority: this.cfg.priority, role: this.role, epoch: this.epoch, pings, pingnodes: this.cfg.pingnodes.length, yielding: this.yielding },
      peerLastSeen: this.peerLastSeen(),
      peer: this.peer,
      // R1: before its first ping round a node does not know its ping count: it keeps listening
      listeningSince: this.cfg.pingnodes.length > 0 && this.pinger.rounds === 0 ? now : this.listeningSince,
      pingAdvantageSince: this.pingAdvantageSince,
      request,
    });
    // R10 on every path (deferTakeover, role-machine.ts)
    if (this.timer && deferTakeover({ fromTick, request, role: this.role, decided: d.role, now, lastTick: this.lastTick, intervalMs: this.cfg.interval_ms })) {
      this.m.takeoversDeferred.inc();
      this.log.info({ rule: d.rule, tick_overdue_ms: Math.round(now - this.lastTick - this.cfg.interval_ms) }, 'takeover deferred: own tick overdue');
      return d;
    }
    this.lastDecision = d;
    if (d.refused) {
      this.log.warn({ rule: d.rule, reason: d.refused }, 'request refused');
      return d;
    }
    const from = this.role;
    this.epoch = d.epoch;
    this.m.epoch.set(d.epoch);
    if (d.yielding && !this.yielding) this.yieldingSince = now;
    this.yielding = d.yielding;
    if (d.role !== from) {
      this.role = d.role;
      this.m.role.set(d.role === 'active' ? 1 : 0);
      this.m.transitions.inc({ to: d.role, rule: d.rule });
      this.log.info({ from, to: d.role, epoch: d.epoch, rule: d.rule, reason: d.reason }, 'role change');
      this.sendBeat();
      this.schedule();
    }
    return d;
  }

  // ---- steps ----------------------------------------------------------------------

  private schedule(): void {
    this.chain = this.chain.then(() => this.converge());
  }

  /** Runs the steps until the applied role is the decided one (it may flip while steps run). */
  private async converge(): Promise<void> {
    while (this.applied !== this.role) {
      const target = this.role;
      await this.runSteps(target);
      this.applied = target;
    }
  }

  private async runSteps(target: Role): Promise<void> {
    const direction = target === 'active' ? 'activate' : 'deactivate';
    const ordered = target === 'active' ? this.steps : [...this.steps].reverse();
    const rec: TransitionRecord = { to: target, epoch: this.epoch, started: new Date().toISOString(), ms: null, steps: [] };
    this.lastTransition = rec;
    const t0 = performance.now();
    const ctx = this.stepContext(target, direction);
    this.log.info({ to: target, epoch: this.epoch, steps: ordered.map((s) => s.name) }, `becoming ${target}`);
    for (const step of ordered) {
      const s0 = performance.now();
      try {
        await step[direction](ctx);
        const ms = round(performance.now() - s0);
        rec.steps.push({ step: step.name, ms, ok: true });
        this.m.stepSeconds.set({ step: step.name, direction }, ms / 1000);
        this.log.info({ step: step.name, direction, ms }, 'step done');
      } catch (e) {
        const ms = round(performance.now() - s0);
        rec.steps.push({ step: step.name, ms, ok: false, error: (e as Error).message });
        this.m.stepSeconds.set({ step: step.name, direction }, ms / 1000);
        this.m.stepFailures.inc({ step: step.name, direction });
        this.log.error({ step: step.name, direction, ms, err: (e as Error).message }, 'step failed');
      }
    }
    rec.ms = round(performance.now() - t0);
    this.log.info({ to: target, epoch: this.epoch, ms: rec.ms }, `now ${target}`);
  }

  private stepContext(target: Role, direction: 'activate' | 'deactivate'): StepContext {
    return {
      role: target,
      epoch: this.epoch,
      node: this.cfg.node,
      peer: this.cfg.peer,
      onBackgroundFailure: (err) => {
        const step = err instanceof StepError ? err.step : 'unknown';
        this.m.stepFailures.inc({ step, direction });
        this.log.error({ step, direction, err: err.message }, 'step failed');
      },
      onBackgroundDone: (step, fields, msg) => this.log.info({ step, direction, ...fields }, msg),
    };
  }

  private async waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (!cond()) {
      if (performance.now() >= until) return false;
      await new Promise((r) => setTimeout(r, Math.min(20, this.cfg.interval_ms)));
    }
    return true;
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
