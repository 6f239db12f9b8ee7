/** The process pm2 runs (dist/main.js): a bad or missing config exits 78 naming the file, line and key. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = resolve(import.meta.dirname, '../dist/main.js');
const dir = mkdtempSync(join(tmpdir(), 'hbd-main-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [MAIN, ...args], { env: { ...process.env, NGCP_HBD_CONFIG: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const t = setTimeout(() => c.kill('SIGKILL'), 20_000);
    c.once('exit', (code) => {
      clearTimeout(t);
      res({ code, out });
    });
  });
}

describe('hbd process (dist/main.js)', () => {
  it('refuses a bad config with exit 78: each problem with file, line and key', async () => {
    const path = join(dir, 'bad.yml');
    writeFileSync(
      path,
      [
        'node: sp1',
        'peer: sp1',
        'control: { address: 127.0.0.1, port: 9094 }',
        'interval_ms: 200',
        'deadtime_ms: 300',
        'key: short',
        'paths: [{ name: crosslink, address: 10.78.0.1, peer_address: 10.78.0.300, port: 694 }]',
        'disabled_steps: [shared_ip, dns]',
        '',
      ].join('\n'),
    );
    const r = await run(['--config', path]);
    expect(r.code).toBe(78);
    expect(r.out).toContain(`${path}:6: key:`);
    expect(r.out).toMatch(new RegExp(`${path}:7: paths\\[0\\]\\.peer_address: .*IP`));
    expect(r.out).toContain(`${path}:8: disabled_steps[1]:`);
  });

  it('cross-key problems: deadtime below twice the interval, peer = node', async () => {
    const path = join(dir, 'cross.yml');
    writeFileSync(
      path,
      [
        'node: sp1',
        'peer: sp1',
        'control: { address: 127.0.0.1, port: 9094 }',
        'interval_ms: 200',
        'deadtime_ms: 300',
        'key: "0123456789abcdef0123"',
        'paths: [{ name: crosslink, address: 10.78.0.1, peer_address: 10.78.0.2, port: 694 }]',
        '',
      ].join('\n'),
    );
    const r = await run(['--config', path]);
    expect(r.code).toBe(78);
    expect(r.out).toContain('deadtime_ms: must be at least twice interval_ms (200)');
    expect(r.out).toContain('peer: must differ from node');
    expect(r.out).not.toContain('0123456789abcdef0123');
  });

  it('a heartbeat address this host does not have: start fails (exit 1) naming the path and address', async () => {
    const path = join(dir, 'nobind.yml');
    writeFileSync(
      path,
      [
        'node: sp1',
        'peer: sp2',
        'control: { address: 127.0.0.1, port: 0 }',
        'key: "0123456789abcdef0123"',
        'paths: [{ name: crosslink, address: 192.0.2.1, peer_address: 192.0.2.2, port: 40694 }]',
        'disabled_steps: [shared_ip, arp, mariadb, redis, notify, jobs]',
        '',
      ].join('\n'),
    );
    const r = await run(['--config', path]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('heartbeat path crosslink: cannot bind 192.0.2.1:40694: EADDRNOTAVAIL');
  });

  it('no config at all: exit 78', async () => {
    expect((await run([])).code).toBe(78);
  });
});
