/**
 * Ping nodes: how many of them this node reaches, probed every `ping.interval_ms`.
 * There is no `ping` binary here (and raw ICMP needs privileges Node lacks), so:
 *  - `tcp`: connect to `ip:port`; a connection or a refusal (RST) means the host
 *    answered; a timeout or an unreachable error means it did not;
 *  - `arping`: one ARP request (`arping -c 1 -w <s> -I <dev> <ip>`), exit 0 = reached.
 * A probe that got no answer in time (a timeout, arping's silence) counts only after `fall`
 * of them in a row (keepalived's `fall`): one probe lost to a loaded machine must not make
 * the peer take over by R5 — with a single ping node, "the active reaches none" is an
 * immediate takeover. A refusal by the kernel itself (no route: ENETUNREACH, EHOSTUNREACH,
 * ENETDOWN — the node's link is down) is no loss but a fact, and counts at once: a node cut
 * off from its network says so within one probe round.
 */
import { connect } from 'node:net';
import type { PingConfig } from './config.js';
import { run } from './steps.js';

/** reached: the host answered; lost: no answer in time; unreachable: the kernel has no way there (at once). */
export type ProbeResult = 'reached' | 'lost' | 'unreachable';

const NO_ROUTE = new Set(['ENETUNREACH', 'EHOSTUNREACH', 'ENETDOWN']);

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    let settled = false;
    const done = (ok: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    // A timer that fires after an event-loop stall runs before the poll phase that would
    // deliver a connect/RST already waiting: look at I/O once more (setImmediate runs after
    // the poll phase) before calling the host unreached.
    const t = setTimeout(() => setImmediate(() => done('lost')), timeoutMs);
    s.once('connect', () => done('reached'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED' ? 'reached' : NO_ROUTE.has(e.code ?? '') ? 'unreachable' : 'lost'));
  });
}

export async function arpingProbe(host: string, dev: string, timeoutMs: number): Promise<ProbeResult> {
  const r = await run(['arping', '-c', '1', '-w', String(Math.max(1, Math.ceil(timeoutMs / 1000))), '-I', dev, host], timeoutMs + 1000);
  // arping says "Network is down" for a device that is down: no answer can come
  return r.code === 0 ? 'reached' : /network is down|no such device/i.test(r.output) ? 'unreachable' : 'lost';
}

export class Pinger {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Reached in the last completed round. */
  reachable = 0;
  /** Completed rounds (0: the node does not know its ping count yet). */
  rounds = 0;
  /** Per ping node, whether it counts as reached (after the `fall` hysteresis). */
  readonly last = new Map<string, boolean>();
  /** Per ping node, failed probes in a row. */
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly nodes: readonly string[],
    private readonly cfg: PingConfig,
    private readonly onRound: (reachable: number) => void = () => undefined,
    /** One probe of one ping node (tests replace it). */
    private readonly probe: (ip: string) => Promise<ProbeResult> = (ip) =>
      this.cfg.method === 'arping' && this.cfg.dev ? arpingProbe(ip, this.cfg.dev, this.cfg.timeout_ms) : tcpProbe(ip, this.cfg.port, this.cfg.timeout_ms),
  ) {}

  async round(): Promise<number> {
    const results = await Promise.all(this.nodes.map((ip) => this.probe(ip)));
    const fall = Math.max(1, this.cfg.fall ?? 2);
    this.nodes.forEach((ip, i) => {
      const r = results[i];
      const failed = r === 'reached' ? 0 : (this.failures.get(ip) ?? 0) + 1;
      this.failures.set(ip, failed);
      // before the first success, a node that never answered is unreached from its first failure
      this.last.set(ip, r === 'reached' || (r === 'lost' && failed < fall && this.last.get(ip) === true));
    });
    this.reachable = [...this.last.values()].filter(Boolean).length;
    this.rounds++;
    this.onRound(this.reachable);
    return this.reachable;
  }

  start(): void {
    if (this.nodes.length === 0 || this.running) return;
    this.running = true;
    const loop = async (): Promise<void> => {
      if (!this.running) return;
      await this.round().catch(() => undefined);
      if (this.running) this.timer = setTimeout(() => void loop(), this.cfg.interval_ms);
    };
    void loop();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }
}
