/**
 * The roles of a pair's state stores: one node leads (Redis master, MariaDB writable),
 * the other follows it (Redis `REPLICAOF`, MariaDB GTID replication, read-only). Real
 * replication of the servers themselves, never a copy loop of ours.
 *
 *   redisLead / redisFollow / redisReplicationStatus
 *   mariadbLead / mariadbFollow / mariadbReplicationStatus
 *   replicationStatus (both)
 *
 * Each function is idempotent: calling it for the role a server already has changes
 * nothing and says so (`changed: false`). `ngcp lab role` and `ngcp up --role` call
 * them; the HA daemon calls the same ones on a role change.
 *
 * MariaDB needs pair settings (my.cnf of a node with a peer): distinct `server_id`,
 * `log_bin`, `log_slave_updates`, `gtid_strict_mode`, `read_only` at start. A follower
 * whose GTID history is not a prefix of the lead's (it wrote while it led alone, or the
 * lead's binlog no longer holds its position) is re-seeded: the lead's databases are
 * dumped with `mariadb-dump --gtid --master-data` (over the replication account) to a
 * file; only a complete dump resets the local binlog and is loaded, then the node
 * replicates from the dump's position. A failed dump changes nothing here.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { redisCommand, redisInfo, type RedisTarget } from './resp.js';
import { findBinary, sleep } from './util.js';

export type { RedisTarget } from './resp.js';

export interface RoleChange {
  /** false: the server already had this role; nothing was done. */
  changed: boolean;
  /** What was done, for logs (`REPLICAOF 10.78.0.1 6379`, `read_only=1`, …). */
  steps: string[];
}

export class ReplicationError extends Error {
  readonly code: 'REPLICATION_FAILED' | 'REPLICATION_RESEED_FAILED' | 'REPLICATION_TIMEOUT';
  constructor(code: ReplicationError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ReplicationError';
  }
}

// ---- Redis ---------------------------------------------------------------------------

export interface RedisReplicationStatus {
  role: 'master' | 'slave';
  /** On a replica: its master, whether the link is up, and the offset. */
  master?: { host: string; port: number; linkUp: boolean };
  connectedReplicas: number;
  offset: number;
}

export async function redisReplicationStatus(t: RedisTarget): Promise<RedisReplicationStatus> {
  const i = await redisInfo(t, 'replication');
  const role = i['role'] === 'slave' ? 'slave' : 'master';
  return {
    role,
    ...(role === 'slave'
      ? { master: { host: i['master_host'] ?? '', port: Number(i['master_port'] ?? 0), linkUp: i['master_link_status'] === 'up' } }
      : {}),
    connectedReplicas: Number(i['connected_slaves'] ?? 0),
    offset: Number(i['slave_repl_offset'] ?? i['master_repl_offset'] ?? 0),
  };
}

/** Makes `t` a master (`REPLICAOF NO ONE`); writable at once. */
export async function redisLead(t: RedisTarget): Promise<RoleChange> {
  const s = await redisReplicationStatus(t);
  if (s.role === 'master') return { changed: false, steps: [] };
  await redisCommand(t, ['REPLICAOF', 'NO', 'ONE']);
  return { changed: true, steps: ['REPLICAOF NO ONE'] };
}

/**
 * Makes `t` a replica of `peer` (`REPLICAOF host port`; the password for the master is
 * `masterauth` of its config) and waits until the link is up and the first sync done
 * (`waitMs`, default 10 s; 0 = do not wait).
 */
export async function redisFollow(t: RedisTarget, peer: { host: string; port: number }, opts: { waitMs?: number } = {}): Promise<RoleChange> {
  const s = await redisReplicationStatus(t);
  const steps: string[] = [];
  const same = s.role === 'slave' && s.master?.host === peer.host && s.master.port === peer.port;
  if (!same) {
    await redisCommand(t, ['REPLICAOF', peer.host, String(peer.port)]);
    steps.push(`REPLICAOF ${peer.host} ${peer.port}`);
  }
  const waitMs = opts.waitMs ?? 10_000;
  const until = Date.now() + waitMs;
  for (;;) {
    const i = await redisInfo(t, 'replication');
    if (i['master_link_status'] === 'up' && i['master_sync_in_progress'] !== '1') break;
    if (Date.now() >= until) {
      if (waitMs === 0) break;
      throw new ReplicationError('REPLICATION_TIMEOUT', `redis ${t.host}:${t.port}: no link to its master ${peer.host}:${peer.port} after ${waitMs} ms (master_link_status ${i['master_link_status'] ?? '?'})`);
    }
    await sleep(50);
  }
  return { changed: steps.length > 0, steps };
}

// ---- MariaDB -------------------------------------------------------------------------

/** How to reach the local server as an administrator (root): a socket, or host and port. */
export interface MariaDbAdmin {
  socket?: string;
  host?: string;
  port?: number;
  user: string;
  password: string;
}

/** The account the follower replicates (and re-seeds) with; created on both nodes. */
export interface ReplicationAccount {
  user: string;
  password: string;
}

export interface MariaDbReplicationStatus {
  /** lead: writable and following nobody; follow: replicating; none: read-only, following nobody. */
  role: 'lead' | 'follow' | 'none';
  readOnly: boolean;
  serverId: number;
  logBin: boolean;
  gtidCurrentPos: string;
  gtidBinlogPos: string;
  gtidSlavePos: string;
  following?: {
    host: string;
    port: number;
    io: string;
    sql: string;
    secondsBehind: number | null;
    lastError?: string;
  };
}

async function connectAdmin(t: MariaDbAdmin): Promise<Connection> {
  return createConnection({
    ...(t.socket ? { socketPath: t.socket } : { host: t.host ?? '127.0.0.1', port: t.port ?? 3306 }),
    user: t.user,
    password: t.password,
    connectTimeout: 5000,
  });
}

async function withAdmin<T>(t: MariaDbAdmin, fn: (c: Connection) => Promise<T>): Promise<T> {
  const c = await connectAdmin(t);
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

interface SlaveRow {
  Master_Host: string;
  Master_Port: number;
  Slave_IO_Running: string;
  Slave_SQL_Running: string;
  Last_IO_Errno: number;
  Last_IO_Error: string;
  Last_SQL_Errno: number;
  Last_SQL_Error: string;
  Seconds_Behind_Master: number | null;
  Using_Gtid: string;
  Gtid_IO_Pos: string;
}

async function slaveStatus(c: Connection): Promise<SlaveRow | undefined> {
  const [rows] = await c.query<RowDataPacket[]>('SHOW SLAVE STATUS');
  const r = rows[0] as unknown as SlaveRow | undefined;
  return r && r.Master_Host ? r : undefined;
}

async function variables(c: Connection): Promise<{ readOnly: boolean; serverId: number; logBin: boolean; current: string; binlog: string; slave: string }> {
  const [rows] = await c.query<RowDataPacket[]>(
    'SELECT @@global.read_only AS ro, @@server_id AS sid, @@log_bin AS lb, @@global.gtid_current_pos AS cur, @@global.gtid_binlog_pos AS bin, @@global.gtid_slave_pos AS slv',
  );
  const r = rows[0]!;
  return { readOnly: Number(r['ro']) === 1, serverId: Number(r['sid']), logBin: Number(r['lb']) === 1, current: String(r['cur'] ?? ''), binlog: String(r['bin'] ?? ''), slave: String(r['slv'] ?? '') };
}

export async function mariadbReplicationStatus(t: MariaDbAdmin): Promise<MariaDbReplicationStatus> {
  return withAdmin(t, async (c) => {
    const v = await variables(c);
    const s = await slaveStatus(c);
    const lastError = s ? [s.Last_IO_Errno ? `IO ${s.Last_IO_Errno}: ${s.Last_IO_Error}` : '', s.Last_SQL_Errno ? `SQL ${s.Last_SQL_Errno}: ${s.Last_SQL_Error}` : ''].filter(Boolean).join('; ') : '';
    return {
      role: s ? 'follow' : v.readOnly ? 'none' : 'lead',
      readOnly: v.readOnly,
      serverId: v.serverId,
      logBin: v.logBin,
      gtidCurrentPos: v.current,
      gtidBinlogPos: v.binlog,
      gtidSlavePos: v.slave,
      ...(s
        ? {
            following: {
              host: s.Master_Host,
              port: Number(s.Master_Port),
              io: s.Slave_IO_Running,
              sql: s.Slave_SQL_Running,
              secondsBehind: s.Seconds_Behind_Master === null ? null : Number(s.Seconds_Behind_Master),
              ...(lastError ? { lastError } : {}),
            },
          }
        : {}),
    };
  });
}

/** Creates or updates the replication account, without binlogging it (each node has its own). */
async function ensureReplicationAccount(c: Connection, a: ReplicationAccount): Promise<void> {
  await c.query('SET SESSION sql_log_bin = 0');
  try {
    await c.query("CREATE USER IF NOT EXISTS ?@'%' IDENTIFIED BY ?", [a.user, a.password]);
    await c.query("ALTER USER ?@'%' IDENTIFIED BY ?", [a.user, a.password]);
    // replication, plus what mariadb-dump --single-transaction --master-data needs to re-seed the peer
    await c.query("GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT, RELOAD, LOCK TABLES, SHOW VIEW, EVENT, TRIGGER ON *.* TO ?@'%'", [a.user]);
  } finally {
    await c.query('SET SESSION sql_log_bin = 1');
  }
}

type Gtid = { server: number; seq: number };
function parseGtidList(s: string): Map<number, Gtid> {
  const m = new Map<number, Gtid>();
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [d, srv, seq] = part.split('-').map(Number);
    if (d === undefined || srv === undefined || seq === undefined || [d, srv, seq].some((x) => !Number.isInteger(x))) throw new Error(`not a GTID position: ${JSON.stringify(s)}`);
    m.set(d, { server: srv, seq });
  }
  return m;
}

/**
 * Whether a follower at GTID position `local` cannot continue from a lead whose binlog
 * is at `lead`: it has a transaction the lead does not (a higher sequence number in a
 * domain, a domain the lead never wrote, or the same number from another server).
 */
export function gtidDiverged(local: string, lead: string): boolean {
  const l = parseGtidList(local);
  const p = parseGtidList(lead);
  for (const [d, g] of l) {
    const q = p.get(d);
    if (!q) return true;
    if (g.seq > q.seq) return true;
    if (g.seq === q.seq && g.server !== q.server) return true;
  }
  return false;
}

export interface MariaDbLeadOptions {
  /** How long to let the SQL thread apply what it has received before it stops following. Default 5000 ms. */
  catchUpMs?: number;
}

/**
 * Makes the local server the lead: stops following (after applying what it has
 * received), forgets its master, ensures the replication account, `read_only=0`.
 */
export async function mariadbLead(t: MariaDbAdmin, account: ReplicationAccount, opts: MariaDbLeadOptions = {}): Promise<RoleChange> {
  return withAdmin(t, async (c) => {
    const steps: string[] = [];
    const s = await slaveStatus(c);
    if (s) {
      if (s.Slave_SQL_Running === 'Yes') {
        await c.query('STOP SLAVE IO_THREAD');
        const st = await slaveStatus(c);
        const target = st?.Gtid_IO_Pos ?? '';
        const until = Date.now() + (opts.catchUpMs ?? 5000);
        while (Date.now() < until) {
          const v = await variables(c);
          if (!target || !gtidDiverged(target, v.slave)) break;
          await sleep(20);
        }
        steps.push('applied the relay log');
      }
      await c.query('STOP SLAVE');
      await c.query('RESET SLAVE ALL');
      steps.push(`stopped following ${s.Master_Host}:${s.Master_Port}`);
    }
    await ensureReplicationAccount(c, account);
    const v = await variables(c);
    if (v.readOnly) {
      await c.query('SET GLOBAL read_only = 0');
      steps.push('read_only=0');
    }
    return { changed: steps.length > 0, steps };
  });
}

export interface MariaDbFollowOptions {
  /** The databases a re-seed copies from the lead (the provisioning database). */
  databases: string[];
  /** auto (default): re-seed when the GTID history diverged or the lead cannot serve it; always; never (fail instead). */
  reseed?: 'auto' | 'always' | 'never';
  /** How long to wait for both replication threads to run. Default 15000 ms. */
  waitMs?: number;
  /** Path or name of mariadb-dump / mariadb (the client). */
  dumpBinary?: string;
  clientBinary?: string;
}

export interface MariaDbFollowResult extends RoleChange {
  reseeded: boolean;
}

/**
 * Makes the local server follow `lead` (GTID replication, `MASTER_USE_GTID=slave_pos`,
 * `read_only=1` first). Re-seeds from the lead when the histories diverged (see
 * `gtidDiverged`) or the lead answers that it cannot serve the follower's position.
 * Waits until both replication threads run.
 */
export async function mariadbFollow(t: MariaDbAdmin, lead: { host: string; port: number }, account: ReplicationAccount, opts: MariaDbFollowOptions): Promise<MariaDbFollowResult> {
  const c = await connectAdmin(t);
  try {
    const steps: string[] = [];
    let v = await variables(c);
    if (!v.readOnly) {
      await c.query('SET GLOBAL read_only = 1');
      steps.push('read_only=1');
    }
    await ensureReplicationAccount(c, account);
    const cur = await slaveStatus(c);
    if (cur && cur.Master_Host === lead.host && Number(cur.Master_Port) === lead.port && cur.Using_Gtid === 'Slave_Pos' && cur.Slave_IO_Running === 'Yes' && cur.Slave_SQL_Running === 'Yes') {
      return { changed: steps.length > 0, steps, reseeded: false };
    }
    const mode = opts.reseed ?? 'auto';
    let leadPos: string;
    try {
      leadPos = await withAdmin({ host: lead.host, port: lead.port, ...account }, async (p) => (await variables(p)).binlog);
    } catch (e) {
      throw new ReplicationError('REPLICATION_FAILED', `mariadb: cannot reach the lead ${lead.host}:${lead.port} as ${account.user}: ${(e as Error).message}`, { cause: e });
    }
    v = await variables(c);
    let reseed = mode === 'always' || (mode === 'auto' && gtidDiverged(v.current, leadPos));
    if (mode === 'never' && gtidDiverged(v.current, leadPos)) {
      throw new ReplicationError('REPLICATION_FAILED', `mariadb: this server's GTID position ${v.current} diverged from the lead's ${leadPos} (re-seed needed)`);
    }
    const reseeded = reseed;
    for (let attempt = 0; attempt < 2; attempt++) {
      await c.query('STOP SLAVE').catch(() => undefined);
      await c.query('RESET SLAVE ALL').catch(() => undefined);
      if (reseed) {
        await reseedFrom(c, t, lead, account, opts);
        steps.push(`re-seeded ${opts.databases.join(', ')} from ${lead.host}:${lead.port}`);
      } else {
        await c.query('SET GLOBAL gtid_slave_pos = @@global.gtid_current_pos');
      }
      await c.query('CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1', [
        lead.host,
        lead.port,
        account.user,
        account.password,
      ]);
      await c.query('START SLAVE');
      const r = await waitRunning(c, opts.waitMs ?? 15_000);
      if (r.ok) {
        steps.push(`following ${lead.host}:${lead.port} (GTID)`);
        return { changed: true, steps, reseeded: reseeded || reseed };
      }
      // 1236: the lead's binlog cannot serve our position; an SQL error: our data differs
      if (mode === 'auto' && !reseed && (r.ioErrno === 1236 || r.sqlErrno !== 0)) {
        reseed = true;
        continue;
      }
      throw new ReplicationError('REPLICATION_FAILED', `mariadb: replication from ${lead.host}:${lead.port} does not run: ${r.reason}`);
    }
    throw new ReplicationError('REPLICATION_FAILED', `mariadb: replication from ${lead.host}:${lead.port} does not run after a re-seed`);
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

async function waitRunning(c: Connection, waitMs: number): Promise<{ ok: boolean; ioErrno: number; sqlErrno: number; reason: string }> {
  const until = Date.now() + waitMs;
  for (;;) {
    const s = await slaveStatus(c);
    if (!s) return { ok: false, ioErrno: 0, sqlErrno: 0, reason: 'no replication configured' };
    const ioErrno = Number(s.Last_IO_Errno);
    const sqlErrno = Number(s.Last_SQL_Errno);
    if (s.Slave_IO_Running === 'Yes' && s.Slave_SQL_Running === 'Yes') return { ok: true, ioErrno, sqlErrno, reason: '' };
    const reason = `IO thread ${s.Slave_IO_Running}${ioErrno ? ` (${ioErrno}: ${s.Last_IO_Error})` : ''}, SQL thread ${s.Slave_SQL_Running}${sqlErrno ? ` (${sqlErrno}: ${s.Last_SQL_Error})` : ''}`;
    if (ioErrno === 1236 || sqlErrno !== 0 || Date.now() >= until) return { ok: false, ioErrno, sqlErrno, reason };
    await sleep(50);
  }
}

/** A client options file (0600) so no password shows on a command line. */
function optionsFile(dir: string, name: string, o: Record<string, string | number>): string {
  const file = join(dir, name);
  const esc = (v: string | number): string => `"${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  writeFileSync(file, `[client]\n${Object.entries(o).map(([k, v]) => `${k} = ${esc(v)}`).join('\n')}\n`, { mode: 0o600 });
  return file;
}

/**
 * Replaces the local copy of `databases` with the lead's, and sets `gtid_slave_pos` to
 * the dump's position: RESET MASTER (the local binlog of a diverged follower is
 * discarded), `mariadb-dump --single-transaction --gtid --master-data=1` from the lead
 * piped into the local server with `sql_log_bin=0`.
 */
async function reseedFrom(c: Connection, t: MariaDbAdmin, lead: { host: string; port: number }, account: ReplicationAccount, opts: MariaDbFollowOptions): Promise<void> {
  if (!opts.databases.length) throw new ReplicationError('REPLICATION_RESEED_FAILED', 'mariadb: re-seed needs the databases to copy');
  const dir = mkdtempSync(join(tmpdir(), 'ngcp-reseed-'));
  try {
    const dumpCnf = optionsFile(dir, 'dump.cnf', { host: lead.host, port: lead.port, user: account.user, password: account.password });
    const loadCnf = optionsFile(dir, 'load.cnf', {
      ...(t.socket ? { socket: t.socket } : { host: t.host ?? '127.0.0.1', port: t.port ?? 3306 }),
      user: t.user,
      password: t.password,
    });
    const dumpBin = findBinary(['mariadb-dump', 'mysqldump'], opts.dumpBinary);
    const clientBin = findBinary(['mariadb', 'mysql'], opts.clientBinary);
    let errs = '';
    const exit = (p: ReturnType<typeof spawn>, who: string): Promise<number> =>
      new Promise((res) => {
        p.stderr?.on('data', (d: Buffer) => (errs += `${who}: ${d.toString()}`));
        p.on('error', (e) => {
          errs += `${who}: ${e.message}\n`;
          res(127);
        });
        p.on('close', (code) => res(code ?? 1));
      });
    // 1. The whole dump to a file first (0600 in a 0700 dir: it holds the credentials'
    //    hashes). Piped straight into the local server, a lead that died mid-dump (a
    //    flapping pair) left this node with its databases dropped (`--add-drop-database`)
    //    and half loaded — and it may be the next active node.
    const file = join(dir, 'dump.sql');
    const out = createWriteStream(file, { mode: 0o600 });
    const dump = spawn(dumpBin, [`--defaults-extra-file=${dumpCnf}`, '--single-transaction', '--gtid', '--master-data=1', '--routines', '--events', '--triggers', '--add-drop-database', '--databases', ...opts.databases], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dump.stdout!.pipe(out);
    const [dc] = await Promise.all([exit(dump, 'dump'), new Promise<void>((res) => out.on('close', () => res()))]);
    if (dc !== 0 || !(await dumpComplete(file))) {
      throw new ReplicationError('REPLICATION_RESEED_FAILED', `mariadb: re-seed from ${lead.host}:${lead.port} failed (mariadb-dump exit ${dc}${dc === 0 ? ', the dump is incomplete' : ''}); nothing was changed here: ${errs.trim().slice(0, 2000)}`);
    }
    // 2. Only now forget the local history and load the complete dump.
    await c.query('RESET MASTER');
    await c.query("SET GLOBAL gtid_slave_pos = ''");
    const load = spawn(clientBin, [`--defaults-extra-file=${loadCnf}`, '--init-command=SET SESSION sql_log_bin=0'], { stdio: ['pipe', 'ignore', 'pipe'] });
    createReadStream(file).pipe(load.stdin!);
    const lc = await exit(load, 'load');
    if (lc !== 0) {
      throw new ReplicationError('REPLICATION_RESEED_FAILED', `mariadb: re-seed from ${lead.host}:${lead.port}: loading the dump failed (mariadb exit ${lc}): ${errs.trim().slice(0, 2000)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** mariadb-dump ends a dump it finished with a `-- Dump completed` comment line. */
async function dumpComplete(file: string): Promise<boolean> {
  const { size } = await stat(file);
  if (size === 0) return false;
  const fh = await open(file, 'r');
  try {
    const len = Math.min(size, 512);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    return buf.toString('utf8').includes('-- Dump completed');
  } finally {
    await fh.close();
  }
}

// ---- both ----------------------------------------------------------------------------

export interface ReplicationStatus {
  mariadb?: MariaDbReplicationStatus | { error: string };
  redis?: RedisReplicationStatus | { error: string };
}

/** The replication state of a node's MariaDB and Redis; an unreachable one gives `{ error }`. */
export async function replicationStatus(t: { mariadb?: MariaDbAdmin; redis?: RedisTarget }): Promise<ReplicationStatus> {
  const out: ReplicationStatus = {};
  const err = (e: unknown): { error: string } => ({ error: (e as Error).message });
  const [m, r] = await Promise.all([
    t.mariadb ? mariadbReplicationStatus(t.mariadb).catch(err) : undefined,
    t.redis ? redisReplicationStatus(t.redis).catch(err) : undefined,
  ]);
  if (m) out.mariadb = m;
  if (r) out.redis = r;
  return out;
}
