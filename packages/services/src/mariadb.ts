import type { ProcessOptions } from './lifecycle.js';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { prepareDataDir, removeDirSync } from './data-dir.js';
import { spawnInstance, waitReady } from './proc.js';
import { clearStatePid, readState, runningInstance, writeState } from './state.js';
import { debug, findBinary, randomSecret, ServiceStartError, tailFile } from './util.js';

const execFileP = promisify(execFile);

export interface MariaDbOptions extends ProcessOptions {
  /** Bind and connect address. Default 127.0.0.1. */
  host?: string;
  /** TCP port. */
  port: number;
  /** Database created (if missing) and granted to `user`. Default 'ngcp_test'. */
  database?: string;
  /** More databases to create and grant to `user`. */
  extraDatabases?: string[];
  /** Application user (host '%' and 'localhost'). Default 'ngcp'. */
  user?: string;
  /** Its password. Default: remembered one from dataDir, else random. */
  password?: string;
  /** Also GRANT ALL ON *.* WITH GRANT OPTION to `user`. Default false. */
  grantAll?: boolean;
  /** MariaDB root password (all root@… accounts). Default: remembered one from dataDir, else random. */
  rootPassword?: string;
  /**
   * Instance dir (created 0700 if missing). Layout: `data/` (the MariaDB datadir),
   * `mysqld.sock`, `mysqld.pid`, `mariadb.log`, `instance.json`. Initialised only if
   * `data/` has no system tables.
   */
  dataDir: string;
  /** false: delete the dir on stop (and when this process exits). Default true. */
  keepData?: boolean;
  /** false: test settings — no fsync, no doublewrite, small redo log (NOT crash-safe). Default true. */
  durable?: boolean;
  /**
   * Initialise a fresh datadir by copying this already initialised one (e.g. the test
   * kit's cached template) instead of running mariadb-install-db.
   */
  initFrom?: string;
  /** innodb_buffer_pool_size. Default '64M'. */
  bufferPoolSize?: string;
  /** default-time-zone. Default '+00:00' (deterministic tests). null: server default (SYSTEM). */
  timeZone?: string | null;
  /** Extra mariadbd arguments, appended last (e.g. '--server-id=1', '--log-bin=mysql-bin'). */
  extraArgs?: string[];
  /** Unix socket path. Default `<dir>/mysqld.sock` (or a short path in $TMPDIR if that is too long). */
  socket?: string;
  /** Path or name of mariadbd / mariadb-install-db. */
  mariadbdBinary?: string;
  installDbBinary?: string;
  /** Default 60000 ms. */
  startTimeoutMs?: number;
}

export interface MariaDbConnectionConfig {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

export interface MariaDbInstance {
  host: string;
  port: number;
  socket: string;
  user: string;
  password: string;
  database: string;
  rootPassword: string;
  /** The instance dir (MariaDB's own datadir is `<dataDir>/data`). */
  dataDir: string;
  logFile: string;
  pid: number;
  /** App user over TCP — pass to mysql2 `createConnection` / knex `connection`. */
  connectionConfig(): MariaDbConnectionConfig;
  /** root over TCP (no database selected). */
  rootConnectionConfig(): Omit<MariaDbConnectionConfig, 'database'>;
  stop(): Promise<void>;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;
const MAX_SOCKET_PATH = 100; // sun_path is 108 bytes on Linux

function fastArgs(): string[] {
  return [
    '--innodb-flush-log-at-trx-commit=0',
    '--innodb-doublewrite=0',
    '--innodb-flush-method=nosync',
    '--innodb-log-file-size=16M',
    '--innodb-temp-data-file-path=ibtmp1:1M:autoextend',
    '--innodb-buffer-pool-load-at-startup=0',
    '--innodb-buffer-pool-dump-at-shutdown=0',
    '--sync-binlog=0',
  ];
}

function installArgs(datadir: string, durable: boolean): string[] {
  return [
    '--no-defaults',
    `--datadir=${datadir}`,
    '--auth-root-authentication-method=normal',
    '--skip-test-db',
    '--skip-name-resolve',
    ...(isRoot() ? ['--user=root'] : []),
    // passed through to the bootstrap mariadbd
    ...(durable ? [] : ['--innodb-log-file-size=16M', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0']),
  ];
}

/**
 * Initialises an empty MariaDB datadir (`mariadb-install-db --no-defaults
 * --auth-root-authentication-method=normal --skip-test-db`); root has no password yet.
 * Throws ServiceStartError with the tool's last output lines.
 */
export async function installMariaDbData(datadir: string, opts: { durable?: boolean; installDbBinary?: string; logFile?: string } = {}): Promise<void> {
  const installDb = findBinary(['mariadb-install-db', 'mysql_install_db'], opts.installDbBinary);
  try {
    await execFileP(installDb, installArgs(datadir, opts.durable ?? true), { maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
    throw new ServiceStartError('mariadb', `mariadb-install-db failed: ${e.message.split('\n')[0]}`, opts.logFile, out);
  }
}

function isTransient(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'PROTOCOL_CONNECTION_LOST';
}

/**
 * Starts MariaDB in `opts.dataDir` (initialised first if it has no system tables) and
 * returns once the application user can `SELECT 1` over TCP. See README.md.
 */
export async function startMariaDb(opts: MariaDbOptions): Promise<MariaDbInstance> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port;
  const mariadbd = findBinary(['mariadbd', 'mysqld'], opts.mariadbdBinary);
  const inst = prepareDataDir(opts.dataDir, opts.keepData);
  const running = runningInstance(inst.dir);
  if (running) throw new Error(`mariadb already running in ${inst.dir} (pid ${running.pid})`);
  const fail = (err: unknown): never => {
    if (inst.removeOnStop) removeDirSync(inst.dir);
    throw err;
  };

  const durable = opts.durable ?? true;
  const datadir = join(inst.dir, 'data');
  const logFile = join(inst.dir, 'mariadb.log');
  const pidFile = join(inst.dir, 'mysqld.pid');
  let socket = opts.socket ?? join(inst.dir, 'mysqld.sock');
  if (!opts.socket && Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    const h = createHash('sha256').update(inst.dir).digest('hex').slice(0, 12);
    socket = join(tmpdir(), `ngcp-mariadb-${h}.sock`);
  }

  // credentials: explicit option > remembered in the dir's state file > random
  const saved = readState(inst.dir) as { rootPassword?: string; user?: string; password?: string } | null;
  const database = opts.database ?? 'ngcp_test';
  const rootPassword = opts.rootPassword ?? saved?.rootPassword ?? randomSecret();
  const user = opts.user ?? 'ngcp';
  const password =
    user === 'root' ? rootPassword : (opts.password ?? (saved?.user === user ? saved.password : undefined) ?? randomSecret());
  const creds = { rootPassword, user, password, database };

  // 1. initialise the datadir if it has no system tables yet
  const fresh = !existsSync(join(datadir, 'mysql'));
  if (fresh) {
    if (existsSync(datadir) && readdirSync(datadir).length > 0) {
      fail(new Error(`${datadir} exists, is not empty and has no mysql/ system tables — refusing to touch it`));
    }
    try {
      const staging = `${datadir}.init-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      if (opts.initFrom) {
        // coreutils cp is several times faster than fs.cp for the ~100 files of a datadir
        await execFileP('cp', ['-R', '--', opts.initFrom, staging]);
      } else {
        await installMariaDbData(staging, { durable, logFile, ...(opts.installDbBinary ? { installDbBinary: opts.installDbBinary } : {}) });
      }
      await rm(datadir, { recursive: true, force: true });
      renameSync(staging, datadir);
      debug('mariadb', `initialised ${datadir} (${opts.initFrom ? 'copy' : 'mariadb-install-db'})`);
    } catch (err) {
      fail(err);
    }
  }
  // remember the credentials before anything can change them on the server
  writeState(inst.dir, {
    service: 'mariadb',
    pid: 0,
    cmdlineMarkers: [],
    startedAt: '',
    ...creds,
  });

  {
    const args = [
      '--no-defaults', // must be first: ignore /etc/mysql
      `--datadir=${datadir}`,
      `--socket=${socket}`,
      `--port=${port}`,
      `--bind-address=${host}`,
      `--pid-file=${pidFile}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      `--innodb-buffer-pool-size=${opts.bufferPoolSize ?? '64M'}`,
      '--max-connections=500',
      ...(opts.timeZone === null ? [] : [`--default-time-zone=${opts.timeZone ?? '+00:00'}`]),
      ...(isRoot() ? ['--user=root'] : []),
      ...(durable ? [] : fastArgs()),
      ...(opts.extraArgs ?? []),
    ];
    const proc = spawnInstance(inst, 'mariadb', mariadbd, args, logFile, opts);
    debug('mariadb', `spawned pid ${proc.pid} port ${port}`);

    try {
      // 2. wait until root can run SELECT 1 over the socket
      const candidates = [...new Set(fresh ? ['', rootPassword] : [rootPassword, saved?.rootPassword ?? rootPassword, ''])];
      let rootConn: Connection | undefined;
      let denied: unknown;
      await waitReady({
        service: 'mariadb',
        proc,
        timeoutMs: opts.startTimeoutMs ?? 60_000,
        intervalMs: 25,
        probe: async () => {
          for (const pw of candidates) {
            try {
              const c = await createConnection({ socketPath: socket, user: 'root', password: pw, connectTimeout: 2000 });
              try {
                await c.query('SELECT 1');
              } catch (err) {
                c.destroy();
                throw err;
              }
              rootConn = c;
              return true;
            } catch (err) {
              if (isTransient(err)) throw err;
              if ((err as { code?: string }).code !== 'ER_ACCESS_DENIED_ERROR') throw err;
              denied = err;
            }
          }
          return true; // server is up but refuses every password we know
        },
      });
      if (!rootConn) {
        throw new ServiceStartError(
          'mariadb',
          `server is up but root login over ${socket} was denied for every known password ` +
            `(pass the right rootPassword): ${(denied as Error | undefined)?.message ?? ''}`,
          logFile,
        );
      }

      debug('mariadb', 'root SELECT 1 ok');
      // 3. root password, database, application user
      try {
        await provision(rootConn, { ...creds, extraDatabases: opts.extraDatabases ?? [], grantAll: opts.grantAll === true });
      } finally {
        await rootConn.end().catch(() => undefined);
      }

      debug('mariadb', 'provisioned');
      // 4. the app user can connect over TCP
      const app = await createConnection({ host, port, user, password, database, connectTimeout: 5000 });
      try {
        await app.query('SELECT 1');
      } finally {
        await app.end().catch(() => undefined);
      }
    } catch (err) {
      await proc.stop(2000);
      if (err instanceof ServiceStartError) fail(err);
      fail(new ServiceStartError('mariadb', (err as Error).message, logFile, tailFile(logFile)));
    }

    debug('mariadb', 'app user SELECT 1 over TCP ok');
    writeState(inst.dir, {
      service: 'mariadb',
      pid: proc.pid,
      cmdlineMarkers: [`--datadir=${datadir}`],
      startedAt: new Date().toISOString(),
      host,
      port,
      socket,
      ...creds,
    });

    let stopped: Promise<void> | undefined;
    return {
      host,
      port,
      socket,
      user,
      password,
      database,
      rootPassword,
      dataDir: inst.dir,
      logFile,
      pid: proc.pid,
      connectionConfig: () => ({ host, port, user, password, database }),
      rootConnectionConfig: () => ({ host, port, user: 'root', password: rootPassword }),
      stop: () =>
        (stopped ??= (async () => {
          await proc.stop(opts.stopGraceMs ?? 30_000);
          if (inst.removeOnStop) removeDirSync(inst.dir);
          else clearStatePid(inst.dir);
        })()),
    };
  }
}

async function provision(
  c: Connection,
  o: { rootPassword: string; user: string; password: string; database: string; extraDatabases: string[]; grantAll: boolean },
): Promise<void> {
  // every root@… account gets the root password; anonymous accounts go
  const [accounts] = await c.query<RowDataPacket[]>("SELECT User, Host FROM mysql.user WHERE User IN ('root', '')");
  for (const a of accounts) {
    const u = String(a['User']);
    const h = String(a['Host']);
    // hostname-based entries (root@<hostname>) are unusable with --skip-name-resolve and
    // cannot even be ALTERed: drop them together with anonymous users
    const usable = h === 'localhost' || h === '%' || isIP(h) !== 0;
    if (u === '' || !usable) await c.query('DROP USER ?@?', [u, h]);
    else await c.query('ALTER USER ?@? IDENTIFIED BY ?', [u, h, o.rootPassword]);
  }
  const dbs = [o.database, ...o.extraDatabases];
  for (const db of dbs) {
    await c.query('CREATE DATABASE IF NOT EXISTS ?? CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci', [db]);
  }
  if (o.user !== 'root') {
    for (const h of ['%', 'localhost']) {
      await c.query('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [o.user, h, o.password]);
      await c.query('ALTER USER ?@? IDENTIFIED BY ?', [o.user, h, o.password]);
      for (const db of dbs) await c.query('GRANT ALL PRIVILEGES ON ??.* TO ?@?', [db, o.user, h]);
      if (o.grantAll) await c.query('GRANT ALL PRIVILEGES ON *.* TO ?@? WITH GRANT OPTION', [o.user, h]);
    }
  }
  await c.query('FLUSH PRIVILEGES');
}
