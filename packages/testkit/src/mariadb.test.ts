import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { pidAlive, readState, ServiceStartError, startMariaDb, stopInstanceInDir } from './index.js';

describe('startMariaDb', () => {
  it('starts a private MariaDB, runs real SQL over TCP, stops it by PID and removes its dir', async () => {
    const t0 = Date.now();
    const db = await startMariaDb();
    const startMs = Date.now() - t0;
    expect(startMs).toBeLessThan(30_000);
    try {
      expect(db.host).toBe('127.0.0.1');
      expect(pidAlive(db.pid)).toBe(true);
      expect(db.connectionConfig()).toEqual({
        host: '127.0.0.1',
        port: db.port,
        user: db.user,
        password: db.password,
        database: db.database,
      });
      const c = await createConnection(db.connectionConfig());
      await c.query('CREATE TABLE subscriber (id INT PRIMARY KEY AUTO_INCREMENT, username VARCHAR(64) NOT NULL)');
      await c.query('INSERT INTO subscriber (username) VALUES (?), (?)', ['alice', 'bob']);
      const [rows] = await c.query<RowDataPacket[]>('SELECT username FROM subscriber ORDER BY id');
      expect(rows.map((r) => r['username'])).toEqual(['alice', 'bob']);
      const [[vars]] = (await c.query('SELECT @@character_set_server AS cs, @@time_zone AS tz, @@port AS port')) as [
        RowDataPacket[],
        unknown,
      ];
      expect(vars).toMatchObject({ cs: 'utf8mb4', tz: '+00:00', port: db.port });
      await c.end();

      // root has a password; without it: denied
      const root = await createConnection(db.rootConnectionConfig());
      await root.query('CREATE DATABASE extra');
      await root.end();
      await expect(createConnection({ host: db.host, port: db.port, user: 'root', password: '' })).rejects.toThrow(
        /Access denied/,
      );
    } finally {
      await db.stop();
    }
    expect(pidAlive(db.pid)).toBe(false);
    expect(existsSync(db.dataDir)).toBe(false);
  });

  it('gives parallel instances their own ports, dirs and data', async () => {
    const [a, b] = await Promise.all([startMariaDb(), startMariaDb({ database: 'other', user: 'u2' })]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.dataDir).not.toBe(b.dataDir);
      const ca = await createConnection(a.connectionConfig());
      const cb = await createConnection(b.connectionConfig());
      await ca.query('CREATE TABLE t (v INT)');
      await ca.query('INSERT INTO t VALUES (1)');
      await expect(cb.query('SELECT * FROM ngcp_test.t')).rejects.toThrow();
      const [[row]] = (await cb.query('SELECT DATABASE() AS d, CURRENT_USER() AS u')) as [RowDataPacket[], unknown];
      expect(row).toMatchObject({ d: 'other', u: 'u2@%' });
      await ca.end();
      await cb.end();
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    for (const i of [a, b]) {
      expect(pidAlive(i.pid)).toBe(false);
      expect(existsSync(i.dataDir)).toBe(false);
    }
  });

  it('reuses a given dataDir: initialises once, keeps data and credentials across restarts', async () => {
    const base = mkdtempSync(join(tmpdir(), 'testkit-persist-'));
    const dir = join(base, 'var', 'mariadb');
    try {
      const first = await startMariaDb({ dataDir: dir });
      expect(first.dataDir).toBe(dir);
      const c1 = await createConnection(first.connectionConfig());
      await c1.query('CREATE TABLE kept (v VARCHAR(10))');
      await c1.query("INSERT INTO kept VALUES ('yes')");
      await c1.end();
      expect(readState(dir)?.pid).toBe(first.pid);
      await first.stop();
      expect(pidAlive(first.pid)).toBe(false);
      expect(existsSync(join(dir, 'data', 'mysql'))).toBe(true); // kept

      // second start: no re-init, same generated passwords remembered in the state file
      const second = await startMariaDb({ dataDir: dir });
      try {
        expect(second.password).toBe(first.password);
        expect(second.rootPassword).toBe(first.rootPassword);
        const c2 = await createConnection(second.connectionConfig());
        const [rows] = await c2.query<RowDataPacket[]>('SELECT v FROM kept');
        expect(rows).toEqual([{ v: 'yes' }]);
        await c2.end();
      } finally {
        await second.stop();
      }

      // third start with a new app password: it is applied
      const third = await startMariaDb({ dataDir: dir, password: 'changed-pw' });
      try {
        const c3 = await createConnection(third.connectionConfig());
        await c3.end();
        expect(third.password).toBe('changed-pw');
      } finally {
        await third.stop();
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('detached instance can be stopped from its dir (ngcp down)', async () => {
    const base = mkdtempSync(join(tmpdir(), 'testkit-detached-'));
    try {
      const db = await startMariaDb({ dataDir: base, detached: true });
      expect(readState(base)?.pid).toBe(db.pid);
      expect(await stopInstanceInDir(base)).toBe(true);
      expect(pidAlive(db.pid)).toBe(false);
      expect(await stopInstanceInDir(base)).toBe(false);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('fails with a clear error that includes the server log', async () => {
    const err = await startMariaDb({ extraArgs: ['--no-such-option-for-testkit'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    const e = err as ServiceStartError;
    expect(e.message).toMatch(/exited during startup/);
    expect(e.message).toMatch(/unknown (variable|option)/i);
    expect(existsSync(e.logFile ?? '')).toBe(false); // temp dir cleaned up
  });
});
