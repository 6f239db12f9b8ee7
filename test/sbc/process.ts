/** The sbc (apps/sbc/dist/main.js) as a child process of the tests of this folder: started with a config file, waited for, stopped by its PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { until } from '@ngcp/cli/testing';
import type { RpcClient } from '@ngcp/rpc';

const MAIN = resolve(import.meta.dirname, '../../apps/sbc/dist/main.js');

export interface SbcProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  /** stdout and stderr so far (for failure messages) */
  output(): string;
}

/** Start the sbc with the config file at `configPath` (NGCP_SBC_CONFIG). */
export function startSbcProcess(configPath: string): SbcProcess {
  const child = spawn(process.execPath, [MAIN], { env: { ...process.env, NGCP_SBC_CONFIG: configPath }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, output: () => out };
}

/** Resolves once the control endpoint answers `health` ok (15 s at most; else throws with the process's output). */
export async function waitHealthy(rpc: RpcClient, sbc: SbcProcess | undefined): Promise<void> {
  const ok = await until(async () => (await rpc.call<{ ok: boolean }>('health').catch(() => undefined))?.ok || undefined, 15_000, 100);
  if (!ok) throw new Error(`sbc not healthy:\n${sbc?.output()}`);
}

/** SIGTERM to a running sbc (by its PID), then wait for it to exit. */
export async function stopSbcProcess(sbc: SbcProcess | undefined): Promise<void> {
  if (sbc && sbc.child.exitCode === null) {
    sbc.child.kill('SIGTERM');
    await sbc.exited;
  }
}
