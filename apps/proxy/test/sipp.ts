/**
 * A sipp UAS standing where another element is (a peering server, the app-server): one call of a
 * scenario of ./scenarios on its own loopback address, bounded in time (then killed by its PID),
 * with its message trace parsed for the test's assertions (each message with the time sipp logged it at).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@ngcp/testkit';
import { until } from './harness.js';

const SCENARIOS = join(import.meta.dirname, 'scenarios');

export interface Traced { dir: 'received' | 'sent'; text: string; startLine: string; at: number; header(name: string): string | undefined }
export interface SippUas { address: string; port: number; done: Promise<{ code: number | null; report: string; messages: Traced[] }> }

/**
 * Start a sipp UAS on `address` (and `port`, else a free one) for one call of `scenario`; `stops`
 * gets the function that kills it (after the test).
 */
export async function sippUas(
  scenario: string, address: string, stops: Array<() => Promise<void> | void>, opts: { port?: number; limitMs?: number } = {},
): Promise<SippUas> {
  const limitMs = opts.limitMs ?? 20_000;
  const port = opts.port ?? await freePort({ udp: true, host: address });
  const cwd = mkdtempSync(join(tmpdir(), 'proxy-sipp-'));
  const msgFile = join(cwd, 'messages.log');
  const args = [
    '-sf', join(SCENARIOS, scenario), '-i', address, '-p', String(port), '-t', 'u1', '-m', '1', '-nostdin',
    '-timeout', `${Math.ceil(limitMs / 1000)}s`, '-timeout_error', '-trace_msg', '-message_file', msgFile, '-trace_err', '-error_file', join(cwd, 'errors.log'),
  ];
  const p = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const killer = setTimeout(() => p.kill('SIGKILL'), limitMs + 5000);
  const done = new Promise<{ code: number | null; report: string; messages: Traced[] }>((resolve) => p.on('close', (code) => { // 'close': after the last of stdout (the report's tail)
    clearTimeout(killer);
    const read = (f: string): string => (existsSync(join(cwd, f)) ? readFileSync(join(cwd, f), 'utf8') : '');
    const trace = read('messages.log');
    resolve({ code, report: `sipp ${args.join(' ')} → ${code}\n${out.slice(-1500)}\n--- errors\n${read('errors.log').slice(-2000)}\n--- messages\n${trace.slice(-5000)}`, messages: parseTrace(trace) });
    rmSync(cwd, { recursive: true, force: true });
  }));
  stops.push(async () => {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await done;
  });
  // ready once its UDP socket is bound (/proc/net/udp lists local address:port in hex)
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  await until(() => p.exitCode !== null || readFileSync('/proc/net/udp', 'utf8').split('\n').some((l) => l.trim().split(/\s+/)[1]?.endsWith(hexPort)), 'sipp bound');
  return { address, port, done };
}

/**
 * sipp's -trace_msg file: blocks "UDP message received|sent …" followed by the message, each after
 * a separator line with sipp's local time (`----- 2026-12-07 14:57:40.588232`): `at` in ms, NaN if none.
 */
export function parseTrace(trace: string): Traced[] {
  const out: Traced[] = [];
  const parts = trace.split(/^(-{10,}.*)$/m);
  for (let i = 0; i < parts.length; i++) {
    const m = /^\s*UDP message (received|sent)[^\n]*\n+([\s\S]*)$/.exec(parts[i]!);
    if (!m) continue;
    const t = /(\d{4}-\d\d-\d\d)[ \t](\d\d:\d\d:\d\d)\.(\d{6})\s*$/.exec(parts[i - 1] ?? '');
    const text = m[2]!.replace(/\r/g, '');
    const lines = text.split('\n');
    out.push({
      dir: m[1] as 'received' | 'sent', text, startLine: lines[0]!.trim(), at: t ? new Date(`${t[1]}T${t[2]}`).getTime() + Number(t[3]) / 1000 : NaN,
      header: (name) => lines.find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))?.slice(name.length + 1).trim(),
    });
  }
  return out;
}

/** The requests of a method sipp received, each once (a retransmission has the same branch and CSeq). */
export function received(msgs: Traced[], method: string): Traced[] {
  const seen = new Set<string>();
  return msgs.filter((x) => {
    if (x.dir !== 'received' || !x.startLine.startsWith(`${method} `)) return false;
    const key = `${x.header('Via')}\n${x.header('CSeq')}`;
    return !seen.has(key) && Boolean(seen.add(key));
  });
}
export const cseqOf = (t: Traced): number => Number(/^(\d+)/.exec(t.header('CSeq') ?? '')?.[1]);
export const branchOf = (t: Traced): string | undefined => /branch=([^;,\s]+)/.exec(t.header('Via') ?? '')?.[1];
export const tagOf = (v: string | undefined): string | undefined => /;tag=([^;\s]+)/.exec(v ?? '')?.[1];
