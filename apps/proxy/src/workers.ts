/**
 * Worker processes of the proxy (docs/workers.md). The process pm2 starts is worker 0: it
 * runs the control endpoint and forks workers 1…N-1 from the same entry script with
 * `NGCP_PROXY_WORKER=<i>` in their environment, restarts one that exits, and stops them
 * with itself. Worker i listens on `listen.udp_port + i`; the lb hashes each Call-ID onto
 * one of the N ports, so every message of a call reaches the same worker. A worker exits
 * at once when worker 0 goes away (its IPC channel closes), so a SIGKILLed worker 0 leaves
 * no orphans holding the ports and pm2 restarts the whole set.
 *
 * Metrics: worker 0 asks every worker for its registry as JSON over the IPC channel and
 * serves the sum (prom-client `AggregatorRegistry.aggregate`) on its `/metrics`.
 *
 * The node's role (hbd's `ha.role`, which reaches worker 0's control endpoint) goes to every
 * worker over the same channel; a worker forked later asks worker 0 for it when it starts.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { ProxyConfig } from './config.js';

export const WORKER_ENV = 'NGCP_PROXY_WORKER';

/** One registry as `getMetricsAsJSON()` gives it. */
type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** This process's worker index from `NGCP_PROXY_WORKER` (unset: 0). */
export function workerIndex(env: NodeJS.ProcessEnv = process.env): number {
  const v = env[WORKER_ENV];
  if (v === undefined || v === '') return 0;
  if (!/^\d{1,2}$/.test(v)) throw new Error(`${WORKER_ENV} must be a worker index (0-63), not '${v}'`);
  return Number(v);
}

/**
 * The config worker `index` runs with: its own UDP port (`listen.udp_port + index`; a port
 * of 0, tests only, stays 0) and, beyond worker 0, a control endpoint on an ephemeral port
 * (worker 0 answers for the set).
 */
export function workerConfig(c: ProxyConfig, index: number): ProxyConfig {
  if (index < 0 || index >= c.workers) throw new Error(`worker index ${index} outside 0..${c.workers - 1}`);
  if (index === 0) return c;
  return {
    ...c,
    listen: { ...c.listen, udp_port: c.listen.udp_port === 0 ? 0 : c.listen.udp_port + index },
    control: { ...c.control, port: 0 },
  };
}

/** Every worker's UDP port (for own-Route recognition); empty when ports are ephemeral. */
export function workerPorts(c: ProxyConfig): number[] {
  if (c.listen.udp_port === 0) return [];
  return Array.from({ length: c.workers }, (_, i) => c.listen.udp_port + i);
}

interface MetricsRequest { type: 'ngcp:metrics'; id: number }
interface MetricsReply { type: 'ngcp:metrics'; id: number; metrics: MetricsJson }
/** worker 0 → worker: the node's role; worker → worker 0 (`role` absent): which is it? */
interface RoleMessage { type: 'ngcp:ha-role'; role?: WorkerRole }
type WorkerRole = 'active' | 'standby';

/**
 * In a forked worker: answer worker 0's metrics requests, take the node's role from it
 * (`onRole`; asked for once at start); exit when worker 0 is gone.
 */
export function serveWorkerChannel(registry: Registry, logger: Logger, onRole?: (role: WorkerRole) => void): void {
  if (!process.send) return;
  process.on('message', (m: unknown) => {
    const role = (m as Partial<RoleMessage>)?.type === 'ngcp:ha-role' ? (m as RoleMessage).role : undefined;
    if (role === 'active' || role === 'standby') return onRole?.(role);
    const req = m as Partial<MetricsRequest>;
    const id = req?.id;
    if (req?.type !== 'ngcp:metrics' || typeof id !== 'number') return;
    registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: 'ngcp:metrics', id, metrics } satisfies MetricsReply),
      (err: Error) => logger.warn({ err: err.message }, 'metrics collection failed'),
    );
  });
  process.on('disconnect', () => {
    logger.warn('worker 0 is gone; exiting');
    process.exit(0);
  });
  if (onRole) process.send?.({ type: 'ngcp:ha-role' } satisfies RoleMessage);
}

export interface WorkerPoolOptions {
  /** all workers, worker 0 included (this process) */
  count: number;
  /** the entry script to fork (worker 0's own, `process.argv[1]`) */
  script: string;
  args?: string[];
  execArgv?: string[];
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** first restart delay; doubles while a worker keeps dying within `minUptimeMs`, up to 10 s */
  restartDelayMs?: number;
  minUptimeMs?: number;
  /** how long a metrics request waits for a worker */
  metricsTimeoutMs?: number;
}

interface Slot {
  index: number;
  child: ChildProcess | null;
  startedAt: number;
  restarts: number;
  delayMs: number;
  timer: NodeJS.Timeout | null;
}

/** Workers 1…count-1 of worker 0: forked, restarted when they exit, stopped with `stop()`. */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private stopping = false;
  private nextId = 1;
  private readonly pending = new Map<number, (m: MetricsJson | null) => void>();
  private role: WorkerRole | null = null;

  constructor(private readonly opts: WorkerPoolOptions) {
    for (let i = 1; i < opts.count; i++) this.slots.push({ index: i, child: null, startedAt: 0, restarts: 0, delayMs: opts.restartDelayMs ?? 500, timer: null });
  }

  start(): void {
    for (const s of this.slots) this.spawn(s);
  }

  private spawn(s: Slot): void {
    if (this.stopping) return;
    const child = fork(this.opts.script, this.opts.args ?? [], {
      env: { ...(this.opts.env ?? process.env), [WORKER_ENV]: String(s.index) },
      execArgv: this.opts.execArgv ?? process.execArgv,
      stdio: 'inherit',
    });
    s.child = child;
    s.startedAt = Date.now();
    child.on('message', (m: unknown) => {
      if ((m as Partial<RoleMessage>)?.type === 'ngcp:ha-role') return this.tellRole(child);
      const r = m as Partial<MetricsReply>;
      if (r?.type === 'ngcp:metrics' && typeof r.id === 'number') this.pending.get(r.id)?.(r.metrics ?? null);
    });
    child.on('error', (err) => this.opts.logger.warn({ worker: s.index, err: err.message }, 'worker process error'));
    child.on('exit', (code, signal) => {
      if (s.child === child) s.child = null;
      if (this.stopping) return;
      const quick = Date.now() - s.startedAt < (this.opts.minUptimeMs ?? 5000);
      s.delayMs = quick ? Math.min(s.delayMs * 2, 10_000) : (this.opts.restartDelayMs ?? 500);
      s.restarts++;
      this.opts.logger.warn({ worker: s.index, code, signal, restartInMs: s.delayMs }, 'worker exited; restarting');
      s.timer = setTimeout(() => {
        s.timer = null;
        this.spawn(s);
      }, s.delayMs);
    });
  }

  /** SIGTERM to every worker (each drains like a stopping daemon), SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 8000): Promise<void> {
    this.stopping = true;
    const waits: Promise<void>[] = [];
    for (const s of this.slots) {
      if (s.timer) clearTimeout(s.timer);
      const c = s.child;
      if (!c || c.exitCode !== null || c.signalCode !== null) continue;
      waits.push(new Promise<void>((resolve) => {
        const kill = setTimeout(() => c.kill('SIGKILL'), timeoutMs);
        c.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        c.kill('SIGTERM');
      }));
    }
    await Promise.all(waits);
  }

  /** The node's role (hbd's `ha.role`) to every running worker, and to each one forked later. */
  setRole(role: WorkerRole): void {
    this.role = role;
    for (const s of this.slots) if (s.child) this.tellRole(s.child);
  }

  private tellRole(child: ChildProcess): void {
    if (this.role === null || !child.connected) return;
    child.send({ type: 'ngcp:ha-role', role: this.role } satisfies RoleMessage, (err) => {
      if (err) this.opts.logger.warn({ pid: child.pid, err: err.message }, 'role not sent to worker');
    });
  }

  /** pid, uptime and restarts of each forked worker (index ≥ 1). */
  status(): Array<{ worker: number; pid: number | null; running: boolean; restarts: number }> {
    return this.slots.map((s) => ({ worker: s.index, pid: s.child?.pid ?? null, running: s.child !== null && s.child.exitCode === null, restarts: s.restarts }));
  }

  running(): number {
    return this.status().filter((s) => s.running).length;
  }

  /** Every running worker's metrics as JSON (a worker that does not answer in time is left out). */
  async collect(): Promise<MetricsJson[]> {
    const asks = this.slots.map((s) => {
      const c = s.child;
      if (!c?.connected) return Promise.resolve(null);
      const id = this.nextId++;
      return new Promise<MetricsJson | null>((resolve) => {
        const timer = setTimeout(() => done(null), this.opts.metricsTimeoutMs ?? 1000);
        const done = (m: MetricsJson | null): void => {
          clearTimeout(timer);
          this.pending.delete(id);
          resolve(m);
        };
        this.pending.set(id, done);
        c.send({ type: 'ngcp:metrics', id } satisfies MetricsRequest, (err) => err && done(null));
      });
    });
    return (await Promise.all(asks)).filter((m): m is MetricsJson => m !== null);
  }

  /** Prometheus text of worker 0's registry summed with every worker's (gauges per their aggregator). */
  async metricsText(own: Registry): Promise<{ contentType: string; text: string }> {
    const all = [await own.getMetricsAsJSON(), ...(await this.collect())];
    const agg = AggregatorRegistry.aggregate(all);
    return { contentType: agg.contentType, text: await agg.metrics() };
  }
}
