/**
 * The real hbd process (dist/main.js) gives EVERY thread of itself the configured `nice`,
 * not only the main thread (setpriority() on Linux changes one thread; V8's workers, which
 * the main thread waits for during garbage collection, would stay at 0 and make the beats
 * late under CPU load). `nice: 7` works for any user (raising nice needs no privilege).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '@ngcp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { raisePriority } from '../src/priority.js';

const MAIN = resolve(import.meta.dirname, '../dist/main.js');
const dir = mkdtempSync(join(tmpdir(), 'hbd-prio-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** nice of each thread of `pid` (/proc/<pid>/task/<tid>/stat, field 19). */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe('hbd scheduling priority', () => {
  it('every thread of the hbd process gets the configured nice', async () => {
    expect(existsSync(MAIN), 'apps/hbd is built').toBe(true);
    const [control, port] = [await freePort({ host: '127.0.0.1' }), await freePort({ udp: true, host: '127.0.0.1' })];
    const config = join(dir, 'hbd.yml');
    writeFileSync(config, [
      'node: sp1', 'peer: sp2', `control: { address: 127.0.0.1, port: ${control} }`, 'key: "test-heartbeat-key-0123456789abcdef"',
      'paths:', `  - { name: crosslink, address: 127.0.0.1, peer_address: 127.0.0.1, port: ${port} }`,
      'disabled_steps: [shared_ip, arp, redis, mariadb, notify, jobs]', 'nice: 7', '',
    ].join('\n'));
    const child = spawn(process.execPath, [MAIN, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const until = Date.now() + 20_000;
      while (!out.includes('daemon ready') && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out, out).toContain('daemon ready');
      const nices = threadNices(child.pid!);
      expect(nices.length, 'node has worker threads').toBeGreaterThan(3);
      expect(nices).toEqual(nices.map(() => 7));
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('raisePriority sets each thread, reports the ones that refused, and throws when none took it', () => {
    const calls: Array<[number, number]> = [];
    expect(raisePriority(-10, (t, n) => void calls.push([t, n]), () => [10, 11, 12])).toEqual({ threads: 3, failed: 0 });
    expect(calls).toEqual([[10, -10], [11, -10], [12, -10]]);
    const gone = (t: number) => {
      if (t === 11) throw new Error('ESRCH');
    };
    expect(raisePriority(-10, gone, () => [10, 11])).toEqual({ threads: 1, failed: 1, firstError: 'ESRCH' });
    expect(() => raisePriority(-10, () => {
      throw new Error('EACCES');
    }, () => [10, 11])).toThrow('EACCES');
    // no /proc: the process, as os.setPriority(nice) does
    const proc: Array<[number, number]> = [];
    expect(raisePriority(5, (t, n) => void proc.push([t, n]), () => [])).toEqual({ threads: 1, failed: 0 });
    expect(proc).toEqual([[0, 5]]);
  });
});
