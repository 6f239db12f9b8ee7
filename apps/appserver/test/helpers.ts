/**
 * What the app-server's integration tests drive: the daemon as a process (dist/main.js, a
 * config file of the test's), sipp as the proxy's side of a call (scenarios/, bounded in
 * calls and time, killed by PID), a UDP receiver on the port the scenario's SDP names,
 * and a raw SIP request over UDP. Everything on 127.0.0.1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RpcClient } from '@ngcp/daemon';
import { freePort, releasePort } from '@ngcp/testkit';
import { parseRtpHeader } from '../src/index.js';

export const HOST = '127.0.0.1';
const MAIN = resolve(import.meta.dirname, '../dist/main.js');
const SCENARIOS = join(import.meta.dirname, 'scenarios');

export interface Appserver {
  sipPort: number;
  rpc: RpcClient;
  metrics(): Promise<string>;
  output(): string;
  stop(): Promise<void>;
}

/** The daemon with a config of its own (`extra`: more top-level YAML lines), once `health` answers ok. */
export async function startAppserver(rtp: { min: number; max: number }, extra: string[] = []): Promise<Appserver> {
  const dir = mkdtempSync(join(tmpdir(), 'ngcp-appserver-'));
  const sipPort = await freePort({ udp: true, host: HOST });
  const controlPort = await freePort({ tcp: true, host: HOST });
  const config = join(dir, 'appserver.yml');
  writeFileSync(config, [
    'node: t1',
    `listen: { address: ${HOST}, udp_port: ${sipPort} }`,
    `control: { address: ${HOST}, port: ${controlPort} }`,
    'log: { level: info }',
    `rtp: { min: ${rtp.min}, max: ${rtp.max} }`,
    ...extra,
    '',
  ].join('\n'));
  const child: ChildProcess = spawn(process.execPath, [MAIN], { env: { ...process.env, NGCP_APPSERVER_CONFIG: config }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const rpc = new RpcClient(`http://${HOST}:${controlPort}/`, { timeoutMs: 5000 });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    releasePort(sipPort);
    releasePort(controlPort);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await rpc.call<{ ok: boolean }>('health').then((h) => h.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`appserver not healthy:\n${out}`);
    }
    await sleep(100);
  }
  return { sipPort, rpc, metrics: () => fetch(`http://${HOST}:${controlPort}/metrics`).then((r) => r.text()), output: () => out, stop };
}

/** The value of a metric line whose labels include `labels` (0 when there is none). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

export interface Received {
  at: number;
  header: ReturnType<typeof parseRtpHeader>;
}

/** A UDP socket standing for the media side (rtpengine): what arrives, and when. */
export async function rtpReceiver(): Promise<{ port: number; packets: Received[]; close(): Promise<void> }> {
  const port = await freePort({ udp: true, host: HOST });
  const socket = createSocket('udp4');
  const packets: Received[] = [];
  socket.on('message', (msg) => packets.push({ at: Date.now(), header: parseRtpHeader(msg) }));
  await new Promise<void>((r) => socket.bind(port, HOST, r));
  return {
    port,
    packets,
    close: () => new Promise<void>((r) => socket.close(() => {
      releasePort(port);
      r();
    })),
  };
}

/** `fn` with a receiver that is closed afterwards, whatever happens. */
export async function withRtp<T>(fn: (rx: Awaited<ReturnType<typeof rtpReceiver>>) => Promise<T>): Promise<T> {
  const rx = await rtpReceiver();
  try {
    return await fn(rx);
  } finally {
    await rx.close();
  }
}

export interface SippOptions {
  scenario: string;
  /** The Request-URI user (`announce.busy`). */
  service: string;
  /** The port the scenario's SDP offers / answers. */
  rtpPort: number;
  /** The scenario's <pause/> (-d). */
  pauseMs?: number;
  limitMs?: number;
}

/** One call of a scenario against the app-server; resolves with sipp's exit code (0: the call went as scripted) and its report. */
export async function sipp(appserver: Appserver, o: SippOptions): Promise<{ code: number | null; report: string }> {
  const cwd = mkdtempSync(join(tmpdir(), 'ngcp-appserver-sipp-'));
  const localPort = await freePort({ udp: true, host: HOST });
  const limitMs = o.limitMs ?? 30_000;
  const args = [
    '-sf', join(SCENARIOS, o.scenario), `${HOST}:${appserver.sipPort}`, '-i', HOST, '-p', String(localPort), '-t', 'u1',
    '-m', '1', '-l', '1', '-s', o.service, '-key', 'rtp_port', String(o.rtpPort), '-d', String(o.pauseMs ?? 0),
    '-nostdin', '-timeout', `${Math.ceil(limitMs / 1000)}s`, '-timeout_error', '-trace_err', '-trace_msg',
  ];
  const p = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'], cwd });
  let out = '';
  p.stdout.on('data', (b: Buffer) => (out += b.toString()));
  p.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const killer = setTimeout(() => p.kill('SIGKILL'), limitMs + 5000);
  const code = await new Promise<number | null>((r) => p.once('exit', (c) => r(c)));
  clearTimeout(killer);
  const traces = readdirSync(cwd).map((f) => `--- ${f}\n${readFileSync(join(cwd, f), 'utf8').slice(-4000)}`).join('\n');
  rmSync(cwd, { recursive: true, force: true });
  releasePort(localPort);
  return { code, report: `sipp ${args.join(' ')} → ${code}\n${out.split('\n').slice(-15).join('\n')}\n${traces}` };
}

/** One request over UDP (text with CRLF line ends, no Content-Length needed); resolves with the first final response's status line. */
export async function sipRequest(port: number, lines: string[]): Promise<string> {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, HOST, r));
  const local = socket.address().port;
  const text = `${lines.map((l) => l.replaceAll('{local}', `${HOST}:${local}`)).join('\r\n')}\r\nContent-Length: 0\r\n\r\n`;
  try {
    return await new Promise<string>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error('no final response in 5 s')), 5000);
      socket.on('message', (msg) => {
        const status = msg.toString().split('\r\n')[0]!;
        if (/^SIP\/2\.0 [2-6]/.test(status)) {
          clearTimeout(timer);
          resolvePromise(status);
        }
      });
      socket.send(text, port, HOST);
    });
  } finally {
    socket.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
