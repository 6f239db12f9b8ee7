/**
 * Hot-path reads: a small pool of MariaDB's own Node.js connector (`mariadb`) that runs
 * the few queries done on every request (the API's GET by id, later the proxy's lookups)
 * as server-side prepared statements.
 *
 * Why a second driver beside knex/mysql2: the MariaDB connector caches each prepared
 * statement's result metadata (MariaDB ≥ 10.6 then stops sending the column definitions
 * on every execution) and parses rows with less work; on the API's GET it needs about
 * half of mysql2's CPU per query (bench/README.md). Writes, transactions and everything
 * built with knex stay on knex; a read inside a knex transaction goes through that
 * transaction (`readerFor`), so it sees the transaction's own writes.
 *
 * Values come back as: integers (also BIGINT, DECIMAL) as numbers, DATETIME as the
 * server's UTC text `YYYY-MM-DD HH:MM:SS.fff` (every connection runs with time_zone
 * +00:00), strings as strings, NULL as null.
 */
import { createPool, type Pool } from 'mariadb';
import type { Knex } from 'knex';
import type { DbConfig } from './knex-config.js';

export interface Reader {
  /** Run one SELECT as a prepared statement; rows as plain objects. */
  execute<T = Record<string, unknown>>(sql: string, values: unknown[]): Promise<T[]>;
  /** Close the pool (idempotent). */
  close(): Promise<void>;
  stats(): { total: number; idle: number; active: number; waiting: number };
}

export interface ReaderConfig extends DbConfig {
  /** Connections of the read pool. Default 8. */
  readers?: number;
}

export function createReader(cfg: ReaderConfig): Reader {
  const pool: Pool = createPool({
    ...(cfg.socket ? { socketPath: cfg.socket } : { host: cfg.host ?? '127.0.0.1', port: cfg.port ?? 3306 }),
    user: cfg.user,
    password: cfg.password ?? '',
    database: cfg.database,
    charset: 'utf8mb4',
    connectionLimit: cfg.readers ?? 8,
    minimumIdle: 0,
    acquireTimeout: cfg.acquireTimeoutMs ?? 10_000,
    initSql: "SET time_zone = '+00:00'",
    dateStrings: true,
    bigIntAsNumber: true,
    decimalAsNumber: true,
    insertIdAsNumber: true,
    checkDuplicate: false,
  });
  let closed: Promise<void> | undefined;
  return {
    async execute<T>(sql: string, values: unknown[]): Promise<T[]> {
      const rows = (await pool.execute(sql, values)) as T[] & { meta?: unknown };
      return rows;
    },
    close: () => (closed ??= pool.end()),
    stats: () => ({ total: pool.totalConnections(), idle: pool.idleConnections(), active: pool.activeConnections(), waiting: pool.taskQueueSize() }),
  };
}

/**
 * The reader to use with `db`: inside a knex transaction, that transaction (knex's own
 * connection, a plain query with the same value shapes, so the read sees the transaction's
 * writes); otherwise `reader`.
 */
export function readerFor(db: Knex, reader: Reader): Pick<Reader, 'execute'> {
  if (!db.isTransaction) return reader;
  return {
    async execute<T>(sql: string, values: unknown[]): Promise<T[]> {
      const [rows] = (await db.raw(sql, values as Knex.RawBinding[]).options({ dateStrings: true })) as unknown as [T[]];
      return rows;
    },
  };
}
