/**
 * Runs outbound-client.ts (an RFC 5626 UA over TCP) in the `client` namespace and collects
 * its JSON event lines, for the lab tests.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** proxy.flow_timer as shipped. */
export const FLOW_TIMER_S = 15;

export interface UaEvent {
  ev: string;
  t: number;
  status?: number;
  flow_timer?: number;
  require?: string | null;
  msg?: string;
}

export interface OutboundUa {
  events: UaEvent[];
  output(): string;
  waitFor(pred: (e: UaEvent) => boolean, ms: number, what: string): Promise<UaEvent>;
  stop(): void;
}

export function startOutboundUa(o: { user: string; password: string; domain: string; dest: string; contactHost: string; durationMs?: number }): OutboundUa {
  const script = resolve(import.meta.dirname, 'outbound-client.ts');
  const child = spawn('ip', ['netns', 'exec', 'client', process.execPath, '--import', 'tsx', script,
    '--dest', o.dest, '--user', o.user, '--password', o.password, '--domain', o.domain, '--contact-host', o.contactHost, '--duration-ms', String(o.durationMs ?? 150_000)],
  { stdio: ['ignore', 'pipe', 'pipe'], cwd: resolve(import.meta.dirname, '..') });
  const events: UaEvent[] = [];
  let out = '';
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line) as UaEvent);
  });
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return {
    events,
    output: () => out,
    async waitFor(pred, ms, what) {
      const until = Date.now() + ms;
      for (;;) {
        const e = events.find(pred);
        if (e) return e;
        if (Date.now() > until) throw new Error(`no ${what} within ${ms} ms; the UA said:\n${out.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}
