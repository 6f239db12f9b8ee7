/**
 * `ngcp up` / `ngcp down` as the real executables on a fresh node root: the real
 * MariaDB (data initialised on first run, migrations applied), Redis and rtpengine under
 * pm2 plus the daemons (dummies while apps/ has none), all healthy; var/api.env and
 * constants.yml owner-only, the API password shown once; the operator commands installed
 * as wrappers; a second `up` changes nothing; a failing migration fails `up`; `down`
 * stops it all and removes this node's wrappers (only those).
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKOUT, DIST_BIN, makeNode, pidAlive, type TestNode } from './node-helpers.js';

const execFileP = promisify(execFile);

describe('ngcp up / ngcp down (real MariaDB, Redis, rtpengine)', () => {
  let n: TestNode;
  let firstUp: { code: number; out: string; err: string };

  beforeAll(async () => {
    if (!existsSync(join(DIST_BIN, 'ngcp-up.js'))) throw new Error('build first (./ngcp test does)');
    n = await makeNode({ infra: { mariadb: true, redis: true, rtpengine: true } });
    // as a checkout of the older code left it: the secrets world-readable
    chmodSync(join(n.configDir, 'constants.yml'), 0o644);
    firstUp = await n.exe('ngcp-up', ['--bin-dir', join(n.dir, 'bin'), '--motd-dir', join(n.dir, 'motd')]);
  }, 180_000);

  afterAll(async () => {
    await n?.cleanup();
  }, 60_000);

  it('brings every process up healthy and prints status, SIP and API', async () => {
    expect(firstUp.code, firstUp.out + firstUp.err).toBe(0);
    expect(firstUp.out).toMatch(/MariaDB data ready/);
    expect(firstUp.out).toMatch(/migrations applied: 0001-core/);
    for (const name of ['mariadb', 'redis', 'rtpengine', 'proxy', 'lb']) expect(firstUp.out).toMatch(new RegExp(`^${name} +online +\\d+ .* ok( +\\S.*)?$`, 'm'));
    expect(firstUp.out).toMatch(/^SIP: {2}udp\+tcp 127\.0\.0\.1:5060 \(lb\)$/m);
    expect(firstUp.out).toMatch(new RegExp(`^API: {2}https://127\\.0\\.0\\.1:${n.ports.api} {2}user administrator {2}password \\S+`, 'm'));
    const env = readFileSync(join(n.root, 'var/api.env'), 'utf8');
    expect(env).toMatch(new RegExp(`^API_URL=https://127\\.0\\.0\\.1:${n.ports.api}\\nAPI_USER=administrator\\nAPI_PASS=[\\w-]{20,}\\n$`));
    expect(firstUp.out).toContain(`password ${/API_PASS=(\S+)/.exec(env)?.[1]}`);
    expect(firstUp.out).toContain('the password is shown this once');
  });

  it('keeps the secrets owner-only: constants.yml (fixed from 0644) and var/api.env are 0600', () => {
    expect(statSync(join(n.configDir, 'constants.yml')).mode & 0o777).toBe(0o600);
    expect(firstUp.out).toContain('constants.yml holds the secrets: made it readable by its owner only (0600)');
    expect(statSync(join(n.root, 'var/api.env')).mode & 0o777).toBe(0o600);
  });

  it('MariaDB accepts the application user with the generated password', async () => {
    const pw = (await n.cmd('ngcpcfg', ['get', 'credentials.db_password'])).out.trim();
    const r = await execFileP('mariadb', ['--protocol=tcp', '-h', '127.0.0.2', '-P', String(n.ports.database), '-u', 'ngcp', `-p${pw}`, 'ngcp', '-N', '-e', 'SELECT 40+2']);
    expect(r.stdout.trim()).toBe('42');
  });

  it('installs the operator commands as wrappers that reach this node, one line each', async () => {
    for (const c of ['ngcpcfg', 'ngcp-service', 'ngcp-status', 'ngcp-check-active', 'ngcp-make-active', 'ngcp-make-standby', 'ngcp-motd']) {
      expect(existsSync(join(n.dir, 'bin', c))).toBe(true);
      expect(firstUp.out).toContain(`ngcp up: installed ${join(n.dir, 'bin', c)} → ${join(CHECKOUT, 'ngcp')} ${c}\n`);
    }
    const active = await execFileP(join(n.dir, 'bin', 'ngcp-check-active'), ['-v'], { env: n.env });
    expect(active.stdout).toBe('active\n');
    const r = await execFileP(join(n.dir, 'bin', 'ngcp-status'), [], { env: { ...n.env } }).catch((e: { stdout: string; code: number }) => e);
    expect(r.stdout).toMatch(/^mariadb +online/m);
    const g = await execFileP(join(n.dir, 'bin', 'ngcpcfg'), ['get', 'database.port'], { env: n.env });
    expect(g.stdout.trim()).toBe(String(n.ports.database));
  });

  it('installs the login banner, which names the node and its role', async () => {
    const banner = join(n.dir, 'motd', '50-ngcp');
    expect(firstUp.out).toContain(`ngcp up: installed the login banner ${banner} (runs ngcp-motd)`);
    expect(statSync(banner).mode & 0o111).not.toBe(0);
    const r = await execFileP(banner, [], { env: n.env });
    expect(r.stdout).toMatch(/ngcp node \S+ on \S+ — ACTIVE, single node/);
  });

  it('a second up is a no-op', async () => {
    const before = await n.pids();
    const r = await n.exe('ngcp-up', ['--bin-dir', join(n.dir, 'bin')]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toContain('already up; nothing to do');
    expect(r.out).not.toMatch(/started|installed/);
    // the password was shown once; now only where it is
    const pass = /API_PASS=(\S+)/.exec(n.read('var/api.env'))?.[1] as string;
    expect(r.out).not.toContain(pass);
    expect(r.out).toContain(`user administrator  (password in ${join(n.root, 'var/api.env')}, mode 0600)`);
    expect(await n.pids()).toEqual(before);
  }, 60_000);

  it('a failing migration fails up: non-zero exit, the error printed', async () => {
    const pw = (await n.cmd('ngcpcfg', ['get', 'credentials.db_password'])).out.trim();
    const sql = (q: string) => execFileP('mariadb', ['--protocol=tcp', '-h', '127.0.0.2', '-P', String(n.ports.database), '-u', 'ngcp', `-p${pw}`, 'ngcp', '-N', '-e', q]);
    // the schema history names a migration this code does not have (a newer checkout's, or a lost one)
    await sql("INSERT INTO knex_migrations (name, batch, migration_time) VALUES ('9999-from-elsewhere', 99, NOW())");
    try {
      const r = await n.exe('ngcp-up', ['--bin-dir', join(n.dir, 'bin')]);
      expect(r.code, r.out + r.err).not.toBe(0);
      expect(r.err).toMatch(/ngcp up: migrations FAILED, the node is not up: .*9999-from-elsewhere/);
      expect(r.out).not.toContain('migrations done');
    } finally {
      await sql("DELETE FROM knex_migrations WHERE name = '9999-from-elsewhere'");
    }
  }, 60_000);

  it('down stops everything up started', async () => {
    const pids = Object.values(await n.pids());
    expect(pids).toHaveLength(5);
    const daemon = n.pm2.daemonPid()!;
    // a wrapper of another checkout is left alone
    const other = join(n.dir, 'bin', 'ngcp-status');
    writeFileSync(other, "#!/bin/sh\n# installed by `ngcp up` — the operator command of /elsewhere\nexec '/elsewhere/ngcp' ngcp-status \"$@\"\n");
    const r = await n.exe('ngcp-down', ['--bin-dir', join(n.dir, 'bin'), '--motd-dir', join(n.dir, 'motd')]);
    expect(r.code).toBe(0);
    for (const pid of [...pids, daemon]) expect(pidAlive(pid)).toBe(false);
    for (const c of ['ngcpcfg', 'ngcp-service', 'ngcp-check-active']) {
      expect(existsSync(join(n.dir, 'bin', c))).toBe(false);
      expect(r.out).toContain(`ngcp down: removed ${join(n.dir, 'bin', c)}\n`);
    }
    expect(existsSync(other)).toBe(true);
    expect(existsSync(join(n.dir, 'motd', '50-ngcp'))).toBe(false);
    expect(r.out).toContain(`ngcp down: left ${other}: it runs /elsewhere/ngcp, not this node`);
    // data kept for the next up
    expect(existsSync(join(n.root, 'var/data/mariadb/data/mysql'))).toBe(true);
  }, 90_000);
});
