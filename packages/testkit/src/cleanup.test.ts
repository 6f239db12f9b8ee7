import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pidAlive, runningInstance, stopInstanceInDir, sweepStaleDirs } from './index.js';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = join(pkgDir, 'test', 'fixtures', 'orphan.ts');

interface Report {
  pids: number[];
  dirs: string[];
}

/** Run the fixture; resolve with its report once printed, plus a handle to kill it / await its exit. */
function runOrphan(args: string[]): Promise<{ report: Report; kill: (s: NodeJS.Signals) => void; exited: Promise<unknown> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
      cwd: pkgDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        resolve({ report: JSON.parse(out.slice(0, nl)) as Report, kill: (s) => child.kill(s), exited });
      }
    });
    void exited.then((e) => {
      if (!out.includes('\n')) reject(new Error(`fixture exited early ${JSON.stringify(e)}: ${err}`));
    });
  });
}

async function waitDead(pids: number[], timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (pids.some(pidAlive)) {
    if (Date.now() > end) throw new Error(`still alive: ${pids.filter(pidAlive).join(', ')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('cleanup when the owner goes away without stop()', () => {
  it.each(['exit', 'throw'])('process %s: exit hook kills the children and removes temp dirs', async (mode) => {
    const { report, exited } = await runOrphan([mode]);
    await exited;
    await waitDead(report.pids);
    for (const d of report.dirs) expect(existsSync(d)).toBe(false);
  });

  it('SIGTERM: signal hook kills the children and removes temp dirs', async () => {
    const { report, kill, exited } = await runOrphan(['wait']);
    expect(report.pids.every(pidAlive)).toBe(true);
    kill('SIGTERM');
    expect(await exited).toEqual({ code: null, signal: 'SIGTERM' });
    await waitDead(report.pids);
    for (const d of report.dirs) expect(existsSync(d)).toBe(false);
  });

  it('SIGKILL: the kernel (pdeathsig) stops the children; the next sweep removes the dirs', async () => {
    const { report, kill, exited } = await runOrphan(['wait']);
    expect(report.pids.every(pidAlive)).toBe(true);
    kill('SIGKILL');
    await exited;
    await waitDead(report.pids);
    // the dirs stay behind (nobody could clean up) until the next sweep — ours, or one of a
    // parallel test process starting a service
    sweepStaleDirs();
    for (const d of report.dirs) expect(existsSync(d)).toBe(false);
  });

  it('detached: survives its starter and is stopped later via its dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'testkit-detached-redis-'));
    try {
      const { report, exited } = await runOrphan(['detached', dir]);
      await exited;
      const pid = report.pids[0] as number;
      expect(pidAlive(pid)).toBe(true);
      expect(runningInstance(dir)?.pid).toBe(pid);
      expect(await stopInstanceInDir(dir)).toBe(true);
      await waitDead([pid]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
