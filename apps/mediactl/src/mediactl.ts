/**
 * One mediactl: the rtpengine pool, the pins, the media service and the control methods,
 * built from the config without side effects; `start()` connects Redis, runs the first
 * probe round and starts the probe timer; `stop()` undoes all of it.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { resolveTargets, type MediactlConfig } from './config.js';
import { MediaError } from './media-error.js';
import { MediaService } from './media-service.js';
import { createMediaMetrics, type MediaMetrics } from './metrics.js';
import { ngClientFactory, type NgControlFactory } from './ng-control.js';
import { parseAnswer, parseDelete, parseList, parseOffer, parseQuery } from './params.js';
import { PinStore, type PinBackend } from './pin-store.js';
import { RedisPinBackend } from './redis-pin-backend.js';
import { RtpenginePool } from './rtpengine-pool.js';

/** Compatible with @ngcp/rpc's RpcHandler. */
export type ControlHandler = (params: unknown) => Promise<unknown>;

export interface MediactlOptions {
  config: Readonly<MediactlConfig>;
  logger: Logger;
  metrics: Registry;
  /** Makes the ng client of one rtpengine; default @ngcp/ng's NgClient. */
  ngFactory?: NgControlFactory;
  /** Turns a MediaError into what the control server answers (the daemon passes an RpcError maker). */
  toControlError?: (err: MediaError) => Error;
  /** Default: Redis from `config.redis`. Tests may pass a fake. */
  pinBackend?: PinBackend & { connect?(waitMs: number): Promise<void>; close?(): Promise<void>; readonly status?: string };
}

export interface MediactlHealth {
  [detail: string]: unknown;
  ok: boolean;
  rtpengines_up: number;
  rtpengines: number;
  redis: string;
  pins_pending: number;
}

export class Mediactl {
  readonly pool: RtpenginePool;
  readonly pins: PinStore;
  readonly media: MediaService;
  readonly methods: Record<string, ControlHandler>;
  readonly #config: Readonly<MediactlConfig>;
  readonly #logger: Logger;
  readonly #metrics: MediaMetrics;
  readonly #backend: NonNullable<MediactlOptions['pinBackend']>;
  readonly #toControlError: (err: MediaError) => Error;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;

  constructor(opts: MediactlOptions) {
    const { config } = opts;
    this.#config = config;
    this.#logger = opts.logger.child({ component: 'mediactl' });
    this.#toControlError = opts.toControlError ?? ((e) => e);
    let pins: PinStore | undefined;
    this.#backend =
      opts.pinBackend ?? new RedisPinBackend({ config: config.redis, logger: opts.logger, onReady: () => void pins?.flush() });
    this.pins = pins = new PinStore({ backend: this.#backend, ttlS: config.max_call_s, logger: opts.logger });
    this.#metrics = createMediaMetrics(opts.metrics, () => this.pins.liveCreated());
    this.pool = new RtpenginePool({
      targets: resolveTargets(config.rtpengines),
      factory: opts.ngFactory ?? ngClientFactory,
      timeoutMs: config.ng_timeout_ms,
      retransmitMs: config.ng_retransmit_ms,
      failures: config.probe_failures,
      logger: opts.logger,
      metrics: this.#metrics,
    });
    this.media = new MediaService({ pool: this.pool, pins: this.pins, logger: opts.logger, ngTimeoutMs: config.ng_timeout_ms });
    const m = this.media;
    this.methods = {
      'media.offer': this.#method('media.offer', (p) => m.offer(parseOffer(p))),
      'media.answer': this.#method('media.answer', (p) => m.answer(parseAnswer(p))),
      'media.delete': this.#method('media.delete', (p) => m.delete(parseDelete(p))),
      'media.query': this.#method('media.query', (p) => m.query(parseQuery(p))),
      'media.list': this.#method('media.list', (p) => m.list(parseList(p).limit)),
      'rtpengine.list': this.#method('rtpengine.list', async () => this.rtpengines()),
    };
  }

  async start(): Promise<void> {
    await this.#backend.connect?.(Math.min(2000, this.#config.ng_timeout_ms * 2));
    await this.pool.probeAll();
    this.#timer = setInterval(() => {
      this.#tick ??= this.#onTick().finally(() => (this.#tick = undefined));
    }, this.#config.probe_interval_ms);
    this.#logger.info(
      { node: this.#config.node, rtpengines: this.pool.snapshot().map((i) => `${i.id}:${i.healthy ? 'up' : 'down'}`), redis: this.#backend.status ?? (this.#backend.ready ? 'ready' : 'down') },
      'mediactl started',
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#tick;
    await this.pool.close();
    await this.#backend.close?.();
  }

  health(): MediactlHealth {
    const up = this.pool.healthy().length;
    return {
      ok: up > 0,
      rtpengines_up: up,
      rtpengines: this.pool.all().length,
      redis: this.#backend.status ?? (this.#backend.ready ? 'ready' : 'down'),
      pins_pending: this.pins.pending(),
    };
  }

  stats(): Record<string, unknown> {
    return { sessions_live: this.pins.liveCreated(), pins_known: this.pins.size(), pins_pending_redis: this.pins.pending(), rtpengines: this.rtpengines() };
  }

  /** `rtpengine.list`: each instance with its health and the calls pinned to it that this process knows. */
  rtpengines(): Array<{ id: string; ng: string; weight: number; healthy: boolean; last_rtt_ms: number | null; last_error: string | null; calls: number }> {
    const counts = this.pins.countByInstance();
    return this.pool.snapshot().map((i) => ({ ...i, calls: counts.get(i.id) ?? 0 }));
  }

  async #onTick(): Promise<void> {
    this.pins.sweep();
    if (this.pins.pending() > 0 && this.#backend.ready) await this.pins.flush();
    await this.pool.probeAll();
  }

  #method(name: string, fn: ControlHandler): ControlHandler {
    return async (params) => {
      try {
        const out = await fn(params);
        this.#metrics.requests.inc({ method: name, outcome: 'ok' });
        return out;
      } catch (err) {
        if (!(err instanceof MediaError)) throw err;
        this.#metrics.requests.inc({ method: name, outcome: err.code });
        this.#logger.debug({ method: name, code: err.code, ...err.data, err: err.message }, 'media request failed');
        throw this.#toControlError(err);
      }
    };
  }
}
