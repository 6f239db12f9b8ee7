/**
 * Ping nodes: how many of them this node reaches, probed every `ping.interval_ms`.
 * There is no `ping` binary here (and raw ICMP needs privileges Node lacks), so:
 *  - `tcp`: connect to `ip:port`; a connection or a refusal (RST) means the host
 *    answered; a timeout or an unreachable error means it did not;
 *  - `arping`: one ARP request (`arping -c 1 -w <s> -I <dev> <ip>`), exit 0 = reached.
 */
import { connect } from 'node:net';
import type { PingConfig } from './config.js';
import { run } from './steps.js';

export function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ok);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
  });
}

export async function arpingProbe(host: string, dev: string, timeoutMs: number): Promise<boolean> {
  const r = await run(['arping', '-c', '1', '-w', String(Math.max(1, Math.ceil(timeoutMs / 1000))), '-I', dev, host], timeoutMs + 1000);
  return r.code === 0;
}

export class Pinger {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** Reached in the last completed round. */
  reachable = 0;
  /** Completed rounds (0: the node does not know its ping count yet). */
  rounds = 0;
  /** Per ping node, the result of the last round. */
  readonly last = new Map<string, boolean>();

  constructor(
    private readonly nodes: readonly string[],
    private readonly cfg: PingConfig,
    private readonly onRound: (reachable: number) => void = () => undefined,
  ) {}

  async round(): Promise<number> {
    const results = await Promise.all(
      this.nodes.map((ip) => (this.cfg.method === 'arping' && this.cfg.dev ? arpingProbe(ip, this.cfg.dev, this.cfg.timeout_ms) : tcpProbe(ip, this.cfg.port, this.cfg.timeout_ms))),
    );
    this.nodes.forEach((ip, i) => this.last.set(ip, results[i] === true));
    this.reachable = results.filter(Boolean).length;
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
