/**
 * The rtpengine instances of one mediactl: an ng client each, health by ng `ping` every
 * probe interval (down after `failures` misses in a row — a timed-out or failed request
 * counts as a miss too — and up again on the next pong), and the choice of an instance for
 * a new call: smooth weighted round robin over the healthy instances with a weight above 0
 * (nginx's algorithm: deterministic, and each instance's share equals its weight's share).
 */
import type { Logger } from 'pino';
import type { ResolvedTarget } from './config.js';
import type { MediaMetrics } from './metrics.js';
import { ngFailure, type NgControl, type NgControlFactory, type NgParams, type NgResult } from './ng-control.js';

export interface RtpengineInstance {
  readonly id: string;
  readonly ng: string;
  readonly weight: number;
  readonly client: NgControl;
  healthy: boolean;
  /** Misses in a row since the last pong. */
  misses: number;
  lastRttMs: number | null;
  lastError: string | null;
  /** Weighted round robin state. */
  current: number;
  probing: boolean;
}

export interface RtpengineSnapshot {
  id: string;
  ng: string;
  weight: number;
  healthy: boolean;
  last_rtt_ms: number | null;
  last_error: string | null;
}

export interface RtpenginePoolOptions {
  targets: readonly ResolvedTarget[];
  factory: NgControlFactory;
  timeoutMs: number;
  /** first retransmission of an unanswered ng request (ms), doubling within timeoutMs; absent or 0: none */
  retransmitMs?: number;
  failures: number;
  logger: Logger;
  metrics?: (Pick<MediaMetrics, 'ngRoundtrip' | 'ngErrors' | 'rtpengineUp'> & Partial<Pick<MediaMetrics, 'ngRetransmissions'>>) | undefined;
}

export class RtpenginePool {
  readonly #instances: RtpengineInstance[];
  readonly #byId = new Map<string, RtpengineInstance>();
  readonly #failures: number;
  readonly #logger: Logger;
  readonly #metrics: RtpenginePoolOptions['metrics'];

  constructor(opts: RtpenginePoolOptions) {
    if (opts.targets.length === 0) throw new Error('rtpengines: at least one instance is needed');
    this.#failures = opts.failures;
    this.#logger = opts.logger.child({ component: 'rtpengine-pool' });
    this.#metrics = opts.metrics;
    this.#instances = opts.targets.map((t) => {
      const inst: RtpengineInstance = {
        id: t.id,
        ng: t.ng,
        weight: t.weight,
        client: opts.factory({
          id: t.id,
          host: t.host,
          port: t.port,
          timeoutMs: opts.timeoutMs,
          retransmitMs: opts.retransmitMs ?? 0,
          onRetransmit: (command) => this.#metrics?.ngRetransmissions?.inc({ command, instance: t.id }),
          onRoundTrip: (command, ms) => this.#metrics?.ngRoundtrip.observe({ command, instance: t.id }, ms / 1000),
        }),
        healthy: false,
        misses: 0,
        lastRttMs: null,
        lastError: null,
        current: 0,
        probing: false,
      };
      this.#byId.set(t.id, inst);
      this.#metrics?.rtpengineUp.set({ instance: t.id }, 0);
      return inst;
    });
  }

  get(id: string): RtpengineInstance | undefined {
    return this.#byId.get(id);
  }

  all(): readonly RtpengineInstance[] {
    return this.#instances;
  }

  healthy(): RtpengineInstance[] {
    return this.#instances.filter((i) => i.healthy);
  }

  /** The instance for a new call, or undefined when none is healthy with a weight above 0. */
  pick(): RtpengineInstance | undefined {
    let total = 0;
    let best: RtpengineInstance | undefined;
    for (const i of this.#instances) {
      if (!i.healthy || i.weight <= 0) continue;
      i.current += i.weight;
      total += i.weight;
      if (!best || i.current > best.current) best = i;
    }
    if (best) best.current -= total;
    return best;
  }

  /** One ng ping to every instance not already being probed; resolves when all settled. */
  async probeAll(): Promise<void> {
    await Promise.all(
      this.#instances.map(async (i) => {
        if (i.probing) return;
        i.probing = true;
        const t0 = performance.now();
        try {
          await i.client.ping();
          this.#up(i, performance.now() - t0);
        } catch (err) {
          this.#countError(i, 'ping', err);
        } finally {
          i.probing = false;
        }
      }),
    );
  }

  /**
   * Sends one ng command to an instance. A failure is counted in `ng_errors_total`; a
   * timeout or socket failure also counts as a missed ping. Rejects with the client's error.
   */
  async request(i: RtpengineInstance, command: string, params: NgParams): Promise<NgResult> {
    try {
      return await i.client.request(command, params);
    } catch (err) {
      this.#countError(i, command, err);
      throw err;
    }
  }

  snapshot(): RtpengineSnapshot[] {
    return this.#instances.map((i) => ({
      id: i.id,
      ng: i.ng,
      weight: i.weight,
      healthy: i.healthy,
      last_rtt_ms: i.lastRttMs === null ? null : Math.round(i.lastRttMs * 1000) / 1000,
      last_error: i.lastError,
    }));
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.#instances.map((i) => i.client.close()));
  }

  #up(i: RtpengineInstance, rttMs: number): void {
    i.lastRttMs = rttMs;
    i.misses = 0;
    i.lastError = null;
    if (!i.healthy) {
      i.healthy = true;
      // a returning instance starts level with the others in the round robin
      i.current = 0;
      this.#metrics?.rtpengineUp.set({ instance: i.id }, 1);
      this.#logger.info({ instance: i.id, ng: i.ng, rttMs: Math.round(rttMs * 100) / 100 }, 'rtpengine up');
    }
  }

  #countError(i: RtpengineInstance, command: string, err: unknown): void {
    const f = ngFailure(err);
    this.#metrics?.ngErrors.inc({ command, instance: i.id, code: f.code });
    // rtpengine answered (with an error): it is alive
    if (f.code === 'error-result') return;
    i.lastError = f.reason;
    i.misses += 1;
    if (i.misses === this.#failures) {
      const wasHealthy = i.healthy;
      i.healthy = false;
      this.#metrics?.rtpengineUp.set({ instance: i.id }, 0);
      this.#logger.warn({ instance: i.id, ng: i.ng, misses: i.misses, err: f.reason, wasHealthy }, 'rtpengine down');
    }
  }
}
