/**
 * Hot-path reads as server-side prepared statements on a connection of the knex pool.
 *
 * knex builds and escapes SQL text on every call and MariaDB parses it again; for the few
 * queries that run on every request (the API's GET by id, the proxy's credential lookup)
 * `execute` sends only the statement id and the values: mysql2 prepares each SQL text once
 * per connection and keeps it. Inside a transaction (a knex `trx`) it falls back to a
 * plain `trx.raw`, so a read in a write sees that write.
 */
import type { Knex } from 'knex';

interface Mysql2Connection {
  execute(opts: { sql: string; dateStrings?: boolean }, values: unknown[], cb: (err: Error | null, rows: unknown) => void): void;
}

export interface ExecuteOptions {
  /**
   * DATETIME columns as the server's text `YYYY-MM-DD HH:MM:SS.fff` (UTC: every connection
   * runs with time_zone +00:00) instead of Date objects; saves a Date per column when the
   * caller only formats them again.
   */
  dateStrings?: boolean;
}
interface PoolClient {
  acquireConnection(): Promise<Mysql2Connection>;
  releaseConnection(conn: Mysql2Connection): Promise<void>;
}

export async function execute<T = Record<string, unknown>>(db: Knex, sql: string, values: unknown[], opts: ExecuteOptions = {}): Promise<T[]> {
  if (db.isTransaction) {
    const [rows] = (await db.raw(sql, values as Knex.RawBinding[]).options({ dateStrings: opts.dateStrings ?? false })) as unknown as [T[]];
    return rows;
  }
  const client = db.client as unknown as PoolClient;
  const conn = await client.acquireConnection();
  try {
    return await new Promise<T[]>((resolve, reject) => conn.execute({ sql, dateStrings: opts.dateStrings ?? false }, values, (err, rows) => (err ? reject(err) : resolve(rows as T[]))));
  } finally {
    await client.releaseConnection(conn);
  }
}
