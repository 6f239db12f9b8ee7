/**
 * sipp (Debian's sip-tester 3.6.1), run bounded: a scenario of ./scenarios, a call count
 * (`-m`, default 1), a global timeout after which sipp fails (`-timeout … -timeout_error`)
 * and a SIGKILL by PID a little later if it is still there. Each run works in its own
 * temp dir: the `<log>` actions (RTP ports the scenarios read from SDP), errors and the
 * message trace land there, and failures quote them.
 *
 * Every scenario may use these keywords (always passed, `-key` overrides):
 *   [user] this side's username, [domain] the SIP domain, [contact_host] the host put in Contact (a NATed client puts
 *   a private address there), [rtp_port] the port the SDP offers/answers, [expires].
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '@ngcp/cli/testing';

export const SCENARIOS = join(import.meta.dirname, 'scenarios');

export interface SippOptions {
  /** File name in scenarios/. */
  scenario: string;
  /** Where a UAC sends (the lb); omitted for a UAS. */
  remote?: { address: string; port: number };
  transport?: 'udp' | 'tcp';
  /** Local SIP port (-p); a UAS is reached there. */
  localPort: number;
  /** Request-URI user (-s). */
  service?: string;
  /** Digest credentials (-au/-ap) and the digest-uri (-auth_uri, without "sip:"). */
  auth?: { user: string; password: string; uri?: string };
  keys?: Record<string, string | number>;
  /** Calls to place (-m); default 1. */
  calls?: number;
  /** Calls started per second (-r, -rp 1000); default sipp's (10/s). */
  rate?: number;
  /** Calls open at once (-l); default = calls. */
  maxOpen?: number;
  /** The scenario's <pause/> (-d). */
  pauseMs?: number;
  /** sipp fails after this long; default 30 s. */
  limitMs?: number;
  /** The local address (-i); default 127.0.0.1. */
  localIp?: string;
  /** Run inside this network namespace (the lab's `client`). */
  ns?: string;
}

export interface SippResult {
  code: number | null;
  successful: number;
  failed: number;
  /** stdout/stderr tail, errors and message trace: for failure messages. */
  report: string;
  /** The whole message trace (-trace_msg): every message sipp sent and received, as on the wire. */
  messages: string;
}

export interface SippRun {
  pid: number;
  done: Promise<SippResult>;
  /** The lines the scenario's <log> actions wrote so far. */
  logLines(): string[];
  /** The value of a `<log message="NAME value"/>` line, once written. */
  logged(name: string, timeoutMs?: number): Promise<string>;
  kill(): void;
}

export const DEFAULT_KEYS = { user: 'e2e', domain: 'e2e.test', contact_host: '127.0.0.1', rtp_port: 9, expires: 300 };

export function sipp(o: SippOptions): SippRun {
  const cwd = mkdtempSync(join(tmpdir(), 'ngcp-e2e-sipp-'));
  const limitMs = o.limitMs ?? 30_000;
  const args = ['-sf', join(SCENARIOS, o.scenario)];
  if (o.remote) args.push(`${o.remote.address}:${o.remote.port}`);
  args.push('-i', o.localIp ?? '127.0.0.1', '-p', String(o.localPort), '-t', o.transport === 'tcp' ? 't1' : 'u1', '-m', String(o.calls ?? 1), '-l', String(o.maxOpen ?? o.calls ?? 1));
  if (o.rate !== undefined) args.push('-r', String(o.rate), '-rp', '1000');
  if (o.service) args.push('-s', o.service);
  if (o.auth) {
    args.push('-au', o.auth.user, '-ap', o.auth.password);
    if (o.auth.uri) args.push('-auth_uri', o.auth.uri);
  }
  if (o.pauseMs !== undefined) args.push('-d', String(o.pauseMs));
  for (const [k, v] of Object.entries({ ...DEFAULT_KEYS, ...o.keys })) args.push('-key', k, String(v));
  const logFile = join(cwd, 'actions.log');
  const errFile = join(cwd, 'errors.log');
  const msgFile = join(cwd, 'messages.log');
  args.push('-nostdin', '-timeout', `${Math.ceil(limitMs / 1000)}s`, '-timeout_error');
  args.push('-trace_logs', '-log_file', logFile, '-trace_err', '-error_file', errFile, '-trace_msg', '-message_file', msgFile);
  const p = o.ns
    ? spawn('ip', ['netns', 'exec', o.ns, 'sipp', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd })
    : spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const timer = setTimeout(() => p.kill('SIGKILL'), limitMs + 10_000);
  const read = (f: string): string => (existsSync(f) ? readFileSync(f, 'utf8') : '');
  // the <log> lines outlive the temp dir: kept when sipp exits, before the dir goes
  let finalLog: string | undefined;
  // 'close', not 'exit': 'exit' can come before the last of stdout is read, and the counts are
  // taken from sipp's final statistics screen (a CI run read 0 successful calls of a passed call)
  const done = new Promise<SippResult>((resolve) =>
    p.on('close', (code) => {
      clearTimeout(timer);
      const count = (label: string): number => Number([...out.matchAll(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`, 'g'))].at(-1)?.[1] ?? 0);
      const report = [
        `sipp ${args.join(' ')} → exit ${code}`,
        out.split('\n').slice(-25).join('\n'),
        `--- errors\n${read(errFile).slice(-3000)}`,
        `--- messages\n${read(msgFile).slice(-6000)}`,
      ].join('\n');
      finalLog = read(logFile);
      resolve({ code, successful: count('Successful call'), failed: count('Failed call'), report, messages: read(msgFile) });
      if (!process.env.E2E_KEEP_SIPP) rmSync(cwd, { recursive: true, force: true });
    }),
  );
  const logLines = (): string[] => (finalLog ?? read(logFile)).split('\n').map((l) => l.trim()).filter(Boolean);
  return {
    pid: p.pid!,
    done,
    logLines,
    async logged(name, timeoutMs = 20_000) {
      const v = await until(async () => {
        const line = logLines().find((l) => l.startsWith(`${name} `));
        return line?.slice(name.length + 1).trim();
      }, timeoutMs, 50);
      if (v === undefined) throw new Error(`sipp ${o.scenario} logged no ${name} within ${timeoutMs} ms`);
      return v;
    },
    kill() {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    },
  };
}

/** Resolves once something listens on 127.0.0.1:port (UDP or TCP), e.g. a sipp UAS. */
export async function bound(port: number, transport: 'udp' | 'tcp' = 'udp', timeoutMs = 10_000): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const ok = await until(async () => {
    const lines = readFileSync(`/proc/net/${transport}`, 'utf8').split('\n').slice(1);
    return lines.some((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(hex) && (transport === 'udp' || f[3] === '0A') ? true : undefined;
    }) || undefined;
  }, timeoutMs, 50);
  if (!ok) throw new Error(`nothing listens on ${transport} port ${port} after ${timeoutMs} ms`);
}
