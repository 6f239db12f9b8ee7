/**
 * RTP across a failover, for the lab tests: an `RtpAgent` is one end of a stream running in
 * a namespace (test/ha/rtp-agent.mjs: a packet every 20 ms to where the SDP said, the
 * arrival time of every packet received); `rtpGap` says, for one direction, whether RTP
 * resumed after a fault and how long the gap was; `twoWayCall` pairs two agents with the
 * ports a call's SDP gave them.
 *
 *   const a = await RtpAgent.start('client', '10.77.0.100');   // its port goes in alice's SDP
 *   …call up, a.sendTo(addr, port) with the port rtpengine put in the SDP alice received…
 *   const faultAt = Date.now(); …kill the active node…
 *   const { arrivals } = await a.stop();
 *   rtpGap(arrivals, faultAt, stoppedAt)  // { before: 34, after: 170, resumed: true, gapMs: 420, resumeMs: 431 }
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const AGENT = join(import.meta.dirname, 'rtp-agent.mjs');

export interface RtpReport {
  /** Packets sent. */
  sent: number;
  /** Wall-clock arrival time (ms since the epoch) of every RTP packet received. */
  arrivals: number[];
  /** `address:port` of every sender seen. */
  sources: string[];
}

export class RtpAgent {
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  private report?: Promise<RtpReport>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly port: number,
    readonly address: string,
  ) {}

  /** Starts an agent bound to `address` (port chosen by the kernel) in namespace `ns` (none: this one); bounded by `maxMs`. */
  static async start(ns: string | undefined, address: string, o: { intervalMs?: number; maxMs?: number } = {}): Promise<RtpAgent> {
    const args = [AGENT, '--bind', address, '--interval', String(o.intervalMs ?? 20), '--max-ms', String(o.maxMs ?? 120_000)];
    const child = ns ? spawn('ip', ['netns', 'exec', ns, process.execPath, ...args]) : spawn(process.execPath, args);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const rl = createInterface({ input: child.stdout });
    const first = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`rtp-agent did not start within 10 s: ${err}`)), 10_000);
      rl.once('line', (l) => {
        clearTimeout(t);
        resolve(l);
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`rtp-agent exited ${code}: ${err}`));
      });
    });
    const agent = new RtpAgent(child, (JSON.parse(first) as { port: number }).port, address);
    rl.on('line', (l) => {
      agent.lines.push(l);
      for (const w of agent.waiters.splice(0)) w();
    });
    return agent;
  }

  /** Start sending (every interval) to `address:port`. */
  sendTo(address: string, port: number): void {
    this.child.stdin.write(`${JSON.stringify({ to: address, port })}\n`);
  }

  /** The next line the agent prints (bounded). */
  private next(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`rtp-agent said nothing within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        const l = this.lines.shift();
        if (l === undefined) return void this.waiters.push(check);
        clearTimeout(t);
        resolve(l);
      };
      check();
    });
  }

  /** Packets received so far and the arrival time of the last one. */
  async count(): Promise<{ received: number; last: number | null }> {
    this.child.stdin.write('count\n');
    return JSON.parse(await this.next(5000)) as { received: number; last: number | null };
  }

  /** The arrival time of every packet received so far (the agent goes on). */
  async arrivals(): Promise<number[]> {
    this.child.stdin.write('arrivals\n');
    return (JSON.parse(await this.next(5000)) as { arrivals: number[] }).arrivals;
  }

  /** Stops sending and receiving; the arrivals. Idempotent. */
  stop(timeoutMs = 10_000): Promise<RtpReport> {
    if (!this.report) {
      this.child.stdin.end('stop\n');
      this.report = this.next(timeoutMs).then(
        (l) => JSON.parse(l) as RtpReport,
        (e: unknown) => {
          this.kill();
          throw e;
        },
      );
    }
    return this.report;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid) process.kill(this.child.pid, 'SIGKILL');
  }
}

export interface RtpGap {
  /** Packets that arrived before / after the fault. */
  before: number;
  after: number;
  /** Packets arrived after the gap (RTP flows again). */
  resumed: boolean;
  /**
   * The longest silence between two packets around the fault (from `faultAt - 1 s` on), in
   * ms: the gap the listener hears. Packets already on their way through the old node still
   * arrive just after the fault; the silence comes after them.
   */
  gapMs: number;
  /** Fault → the first packet after that silence (relayed by the new node), ms (0: the silence was before the fault); null when RTP did not resume. */
  resumeMs: number | null;
}

/** What one direction of a stream did around `faultAt` (ms since the epoch, taken just before the fault). */
export function rtpGap(arrivals: readonly number[], faultAt: number, now = Date.now()): RtpGap {
  const sorted = [...arrivals].sort((a, b) => a - b);
  const before = sorted.filter((t) => t < faultAt).length;
  const around = sorted.filter((t) => t >= faultAt - 1000);
  let gapMs = 0;
  let resumeAt: number | null = null;
  for (let i = 1; i < around.length; i++) {
    const g = around[i]! - around[i - 1]!;
    if (g > gapMs) {
      gapMs = g;
      resumeAt = around[i]!;
    }
  }
  // silent to the end: the gap is still open
  const last = around.at(-1) ?? faultAt;
  if (now - last > gapMs) {
    gapMs = now - last;
    resumeAt = null;
  }
  return {
    before,
    after: sorted.length - before,
    resumed: resumeAt !== null && sorted.length > before,
    gapMs: Math.round(gapMs),
    resumeMs: resumeAt === null ? null : Math.max(0, Math.round(resumeAt - faultAt)),
  };
}

/** Waits until every agent has received at least `packets` packets; throws after `timeoutMs` naming the silent ones. */
export async function rtpFlowing(agents: Record<string, RtpAgent>, packets: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(Object.entries(agents).map(async ([name, a]) => [name, (await a.count()).received] as const));
    const silent = counts.filter(([, n]) => n < packets);
    if (!silent.length) return;
    if (Date.now() > until) throw new Error(`RTP not flowing within ${timeoutMs} ms: ${silent.map(([name, n]) => `${n} packets towards ${name}`).join(', ')} (want ${packets})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until RTP has resumed after `faultAt` for every agent (each direction): a silence, then
 * at least `packets` packets after it; the gap of each. Polled while the call is still up (a
 * silence after its BYE would read as RTP not resuming). Throws after `timeoutMs` with the gaps so far.
 */
export async function rtpResumed(agents: Record<string, RtpAgent>, faultAt: number, packets: number, timeoutMs: number): Promise<Record<string, RtpGap>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const now = Date.now();
    const gaps: Record<string, RtpGap> = {};
    let ok = true;
    for (const [name, a] of Object.entries(agents)) {
      const arrivals = await a.arrivals();
      const g = rtpGap(arrivals, faultAt, now);
      gaps[name] = g;
      const since = g.resumeMs === null ? Number.POSITIVE_INFINITY : faultAt + g.resumeMs;
      if (!g.resumed || arrivals.filter((t) => t >= since).length < packets) ok = false;
    }
    if (ok) return gaps;
    if (Date.now() > until) throw new Error(`RTP did not resume within ${timeoutMs} ms of the fault (want ${packets} packets after the gap): ${JSON.stringify(gaps)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Waits until every agent has received at least `packets` packets that arrived at or after `since` (ms since the epoch); throws after `timeoutMs` naming the short ones. */
export async function rtpFlowingSince(agents: Record<string, RtpAgent>, since: number, packets: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const counts: Array<[string, number]> = [];
    for (const [name, a] of Object.entries(agents)) counts.push([name, (await a.arrivals()).filter((t) => t >= since).length]);
    const short = counts.filter(([, n]) => n < packets);
    if (!short.length) return;
    if (Date.now() > until) throw new Error(`RTP not flowing within ${timeoutMs} ms: ${short.map(([name, n]) => `${n} packets ${name}`).join(', ')} (want ${packets})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
