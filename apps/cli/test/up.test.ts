/**
 * `ngcp up` / `ngcp down` as the real executables on a fresh node root: the real
 * MariaDB (data initialised on first run), Redis and rtpengine under pm2 plus the
 * daemons (dummies while apps/ has none), all healthy; var/api.env; the operator
 * commands installed as wrappers; a second `up` changes nothing; `down` stops it all.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, makeNode, pidAlive, type TestNode } from './node-helpers.js';

const execFileP = promisify(execFile);

describe('ngcp up / ngcp down (real MariaDB, Redis, rtpengine)', () => {
  let n: TestNode;
  let firstUp: { code: number; out: string; err: string };

  beforeAll(async () => {
    if (!existsSync(join(DIST_BIN, 'ngcp-up.js'))) throw new Error('build first (./ngcp test does)');
    n = await makeNode({ infra: { mariadb: true, redis: true, rtpengine: true } });
    firstUp = await n.exe('ngcp-up', ['--bin-dir', join(n.dir, 'bin')]);
  }, 180_000);

  afterAll(async () => {
    await n?.cleanup();
  }, 60_000);

  it('brings every process up healthy and prints status, SIP and API', async () => {
    expect(firstUp.code, firstUp.out + firstUp.err).toBe(0);
    expect(firstUp.out).toMatch(/MariaDB data ready/);
    expect(firstUp.out).toMatch(/migrations (done|applied|skipped)/);
    for (const name of ['mariadb', 'redis', 'rtpengine', 'proxy', 'lb']) expect(firstUp.out).toMatch(new RegExp(`^${name} +online +\\d+ .* ok$`, 'm'));
    expect(firstUp.out).toMatch(/^SIP: {2}udp\+tcp 127\.0\.0\.1:5060 \(lb\)$/m);
    expect(firstUp.out).toMatch(new RegExp(`^API: {2}https://127\\.0\\.0\\.1:${n.ports.api} {2}user administrator {2}password \\S+`, 'm'));
    const env = readFileSync(join(n.root, 'var/api.env'), 'utf8');
    expect(env).toMatch(new RegExp(`^API_URL=https://127\\.0\\.0\\.1:${n.ports.api}\\nAPI_USER=administrator\\nAPI_PASS=[\\w-]{20,}\\n$`));
  });

  it('MariaDB accepts the application user with the generated password', async () => {
    const pw = (await n.cmd('ngcpcfg', ['get', 'credentials.db_password'])).out.trim();
    const r = await execFileP('mariadb', ['--protocol=tcp', '-h', '127.0.0.2', '-P', String(n.ports.database), '-u', 'ngcp', `-p${pw}`, 'ngcp', '-N', '-e', 'SELECT 40+2']);
    expect(r.stdout.trim()).toBe('42');
  });

  it('installs the operator commands as wrappers that reach this node', async () => {
    for (const c of ['ngcpcfg', 'ngcp-service', 'ngcp-status']) expect(existsSync(join(n.dir, 'bin', c))).toBe(true);
    const r = await execFileP(join(n.dir, 'bin', 'ngcp-status'), [], { env: { ...n.env } }).catch((e: { stdout: string; code: number }) => e);
    expect(r.stdout).toMatch(/^mariadb +online/m);
    const g = await execFileP(join(n.dir, 'bin', 'ngcpcfg'), ['get', 'database.port'], { env: n.env });
    expect(g.stdout.trim()).toBe(String(n.ports.database));
  });

  it('a second up is a no-op', async () => {
    const before = await n.pids();
    const r = await n.exe('ngcp-up', ['--bin-dir', join(n.dir, 'bin')]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('already up; nothing to do');
    expect(r.out).not.toMatch(/started|installed/);
    expect(await n.pids()).toEqual(before);
  }, 60_000);

  it('down stops everything up started', async () => {
    const pids = Object.values(await n.pids());
    expect(pids).toHaveLength(5);
    const daemon = n.pm2.daemonPid()!;
    const r = await n.exe('ngcp-down', []);
    expect(r.code).toBe(0);
    for (const pid of [...pids, daemon]) expect(pidAlive(pid)).toBe(false);
    // data kept for the next up
    expect(existsSync(join(n.root, 'var/data/mariadb/data/mysql'))).toBe(true);
  }, 90_000);
});
