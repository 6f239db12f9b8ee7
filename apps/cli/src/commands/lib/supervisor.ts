/**
 * Brings the node's pm2 processes in line with the rendered service definitions:
 * starts what is missing, restarts or reloads what the build says changed, removes
 * what is no longer defined — in order (HA daemon first), waiting for each to be
 * healthy before the next. Stops at the first unhealthy service.
 */
import { join } from 'node:path';
import { readServiceSpecs, type NodePaths, type ServiceAction, type ServiceSpec } from '@ngcp/config';
import { waitHealthy } from './health.js';
import { Pm2, type Pm2Process } from './pm2.js';

export interface StepResult {
  name: string;
  action: 'start' | 'restart' | 'reload' | 'delete';
  ok: boolean;
  reason?: string;
  ms: number;
}

export interface ConvergeOptions {
  /** Services whose rendered files changed. */
  actions?: Record<string, ServiceAction>;
  /**
   * Which defined services to start besides `actions`: 'absent' (not known to pm2 —
   * new services; the default), 'not-online' (also stopped or errored ones: `ngcp up`),
   * or 'none'.
   */
  start?: 'absent' | 'not-online' | 'none';
  /** Only these services (default: all defined). */
  only?: (name: string) => boolean;
  onStep?: (s: StepResult) => void;
  onBegin?: (name: string, action: StepResult['action']) => void;
}

export class Supervisor {
  readonly pm2: Pm2;

  constructor(readonly paths: NodePaths) {
    this.pm2 = new Pm2(paths.pm2Home, join(paths.run, 'pm2'));
  }

  /** The pm2 daemon of this node is running. */
  running(): boolean {
    return this.pm2.daemonPid() !== null;
  }

  specs(): ServiceSpec[] {
    return readServiceSpecs(this.paths);
  }

  async isOnline(name: string): Promise<boolean> {
    return (await this.pm2.list()).some((p) => p.name === name && p.status === 'online');
  }

  async startOne(spec: ServiceSpec, action: 'start' | 'restart' | 'reload'): Promise<StepResult> {
    const t0 = Date.now();
    try {
      if (action === 'reload') await this.pm2.reload(spec.name);
      else await this.pm2.start(spec.pm2, action === 'start');
    } catch (e) {
      return { name: spec.name, action, ok: false, reason: (e as Error).message, ms: Date.now() - t0 };
    }
    const h = await waitHealthy(spec.health, spec.healthTimeoutMs, () => this.isOnline(spec.name));
    return { name: spec.name, action, ok: h.ok, reason: h.ok ? undefined : h.reason, ms: Date.now() - t0 };
  }

  async converge(opts: ConvergeOptions = {}): Promise<{ ok: boolean; steps: StepResult[]; skipped: string[] }> {
    const specs = this.specs();
    const defined = new Set(specs.map((s) => s.name));
    const only = opts.only ?? (() => true);
    const current = new Map<string, Pm2Process>((await this.pm2.list()).map((p) => [p.name, p]));
    const steps: StepResult[] = [];
    const record = (s: StepResult): void => {
      steps.push(s);
      opts.onStep?.(s);
    };
    for (const name of current.keys()) {
      if (defined.has(name) || !only(name)) continue;
      const t0 = Date.now();
      opts.onBegin?.(name, 'delete');
      try {
        await this.pm2.delete(name);
        record({ name, action: 'delete', ok: true, ms: Date.now() - t0 });
      } catch (e) {
        record({ name, action: 'delete', ok: false, reason: (e as Error).message, ms: Date.now() - t0 });
      }
    }
    const skipped = Object.keys(opts.actions ?? {}).filter((n) => !defined.has(n));
    for (const spec of specs) {
      if (!only(spec.name)) continue;
      const cur = current.get(spec.name);
      const wanted = opts.actions?.[spec.name];
      const start = opts.start ?? 'absent';
      let action: 'start' | 'restart' | 'reload' | undefined;
      if (!cur) action = start === 'none' && !wanted ? undefined : 'start';
      else if (wanted) action = cur.status === 'online' ? wanted : 'restart';
      else if (cur.status !== 'online' && start === 'not-online') action = 'restart';
      if (!action) continue;
      opts.onBegin?.(spec.name, action);
      const r = await this.startOne(spec, action);
      record(r);
      if (!r.ok) return { ok: false, steps, skipped };
    }
    return { ok: steps.every((s) => s.ok), steps, skipped };
  }
}
