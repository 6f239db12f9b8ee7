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
import { pathToFileURL } from 'node:url';
import { freePort } from '@ngcp/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { raisePriority, raiseRealtime } from '../src/priority.js';

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

/** [policy, rt_priority] of each thread of `pid` (stat fields 41 and 40; SCHED_RR = 2). */
function threadPolicies(pid: number): Array<[number, number]> {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return [Number(f[38]), Number(f[37])];
  });
}

/** Starts dist/main.js with an hbd.yml of `extra` lines; resolves once it is ready. */
async function startHbd(name: string, extra: string[]) {
  const [control, port] = [await freePort({ host: '127.0.0.1' }), await freePort({ udp: true, host: '127.0.0.1' })];
  const config = join(dir, `${name}.yml`);
  writeFileSync(config, [
    'node: sp1', 'peer: sp2', `control: { address: 127.0.0.1, port: ${control} }`, 'key: "test-heartbeat-key-0123456789abcdef"',
    'paths:', `  - { name: crosslink, address: 127.0.0.1, peer_address: 127.0.0.1, port: ${port} }`,
    'disabled_steps: [shared_ip, arp, redis, mariadb, notify, jobs]', ...extra, '',
  ].join('\n'));
  const child = spawn(process.execPath, [MAIN, '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  const seen = { out: '' };
  child.stdout.on('data', (d: Buffer) => (seen.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (seen.out += d.toString()));
  const until = Date.now() + 20_000;
  while (!seen.out.includes('daemon ready') && Date.now() < until && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  return { child, seen };
}

describe('hbd scheduling priority', () => {
  it('every thread of the hbd process gets the configured nice', async () => {
    expect(existsSync(MAIN), 'apps/hbd is built').toBe(true);
    const { child, seen } = await startHbd('nice', ['nice: 7', 'realtime_priority: 0']);
    try {
      expect(seen.out, seen.out).toContain('daemon ready');
      const nices = threadNices(child.pid!);
      expect(nices.length, 'node has worker threads').toBeGreaterThan(3);
      expect(nices).toEqual(nices.map(() => 7));
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it.runIf(process.getuid?.() === 0)('as root every thread runs SCHED_RR at realtime_priority', async () => {
    const { child, seen } = await startHbd('rt', ['realtime_priority: 5']);
    try {
      expect(seen.out, seen.out).toContain('daemon ready');
      expect(seen.out).toContain('running SCHED_RR');
      const policies = threadPolicies(child.pid!);
      expect(policies.length, 'node has worker threads').toBeGreaterThan(3);
      expect(policies).toEqual(policies.map(() => [2, 5]));
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('raiseRealtime runs chrt for every thread (no reset-on-fork: forks stay real-time until they exec) and throws its message when refused', () => {
    const runs: Array<[string, string[]]> = [];
    raiseRealtime(10, 4242, (cmd, argv) => (runs.push([cmd, argv]), { status: 0, stderr: '' }));
    expect(runs).toEqual([['chrt', ['--rr', '--all-tasks', '--pid', '10', '4242']]]);
    expect(() => raiseRealtime(10, 4242, () => ({ status: 1, stderr: 'chrt: failed to set pid 4242\'s policy: Operation not permitted\n' }))).toThrow('Operation not permitted');
    expect(() => raiseRealtime(10, 4242, () => ({ status: null, stderr: '', error: new Error('spawnSync chrt ENOENT') }))).toThrow('ENOENT');
    expect(() => raiseRealtime(0, 4242, () => ({ status: 0, stderr: '' }))).toThrow('1..99');
  });

  it.runIf(process.getuid?.() === 0)('a real-time process: its forks are SCHED_RR until they exec, the commands run() starts are ordinary tasks (chrt --other)', async () => {
    // a process of its own made real-time as hbd makes itself, then a command through run()
    const dist = (f: string) => JSON.stringify(pathToFileURL(resolve(import.meta.dirname, '../dist', f)).href);
    const script = [
      `import { raiseRealtime } from ${dist('priority.js')};`,
      `import { run, runChildrenAsOrdinary } from ${dist('steps.js')};`,
      `import { execFile } from 'node:child_process';`,
      'raiseRealtime(5);',
      // the policy (stat field 41) of a shell forked by this process, straight and through run()
      `const policy = (out) => Number(out.slice(out.lastIndexOf(')') + 2).split(' ')[38]);`,
      `const straight = await new Promise((ok) => execFile('sh', ['-c', 'cat /proc/$$/stat'], (e, out) => ok(policy(out))));`,
      'runChildrenAsOrdinary(true);',
      `const viaRun = policy((await run(['sh', '-c', 'cat /proc/$$/stat'], 5000)).output);`,
      'console.log(JSON.stringify({ straight, viaRun }));',
    ].join('\n');
    const out = await new Promise<string>((ok, fail) => {
      const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      c.stdout.on('data', (d: Buffer) => (text += d.toString()));
      c.stderr.on('data', (d: Buffer) => (text += d.toString()));
      c.on('exit', (code) => (code === 0 ? ok(text) : fail(new Error(`exit ${code}: ${text}`))));
    });
    // SCHED_RR = 2, SCHED_OTHER = 0
    expect(JSON.parse(out.trim().split('\n').at(-1)!)).toEqual({ straight: 2, viaRun: 0 });
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
