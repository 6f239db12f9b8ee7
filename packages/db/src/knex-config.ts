/**
 * Connection settings and the knex instance built from them. Nothing connects until the
 * first query (the pool starts empty), so building a Db has no side effects.
 */
import knexFactory from 'knex';
import type { Knex } from 'knex';

export type Db = Knex;

/** What the daemons and the API put under `db:` in their rendered config. */
export interface DbConfig {
  host?: string;
  port?: number;
  /** Unix socket; wins over host/port when set. */
  socket?: string;
  user: string;
  password?: string;
  database: string;
  pool?: { min?: number; max?: number };
  /** Milliseconds to wait for a pooled connection before failing the query. */
  acquireTimeoutMs?: number;
}

/** The knex config for MariaDB/MySQL via mysql2: UTC dates, DECIMAL as numbers, utf8mb4. */
export function knexConfig(cfg: DbConfig): Knex.Config {
  const connection: Record<string, unknown> = {
    user: cfg.user,
    password: cfg.password ?? '',
    database: cfg.database,
    charset: 'utf8mb4',
    timezone: 'Z',
    decimalNumbers: true,
    supportBigNumbers: true,
    dateStrings: false,
  };
  if (cfg.socket) connection.socketPath = cfg.socket;
  else {
    connection.host = cfg.host ?? '127.0.0.1';
    connection.port = cfg.port ?? 3306;
  }
  return {
    client: 'mysql2',
    connection,
    pool: {
      min: cfg.pool?.min ?? 0,
      max: cfg.pool?.max ?? 10,
      // every new connection runs in UTC so DATETIME values mean the same everywhere
      afterCreate(conn: { query(sql: string, cb: (err: Error | null) => void): void }, done: (err: Error | null, conn: unknown) => void) {
        conn.query("SET time_zone = '+00:00'", (err) => done(err, conn));
      },
    },
    acquireConnectionTimeout: cfg.acquireTimeoutMs ?? 10_000,
  };
}

/** A knex instance (lazy: no connection until the first query). Close it with `db.destroy()`. */
export function createDb(cfg: DbConfig): Db {
  return knexFactory(knexConfig(cfg));
}
