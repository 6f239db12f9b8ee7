/**
 * Connection pool for TCP/TLS, keyed by the remote flow `transport:address:port`.
 * Outgoing connections are registered under their destination; accepted ones under
 * the peer's address:port, so a request or response back to that flow reuses the
 * connection (RFC 3261 §18.2.2, RFC 5923-style reuse). Concurrent connects to the
 * same destination share one attempt.
 */
import type { Connection } from './connection.js';

/** What the layer tells about a connection (diagnostics, onConnectionClose). */
export interface ConnectionInfo {
  id: string;
  transport: 'tcp' | 'tls';
  direction: 'inbound' | 'outbound';
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  /** Pool keys it is registered under. */
  keys: string[];
  createdAt: number;
}

/** Aliases (RFC 5923 Via alias) one connection may hold beyond its own flow. */
export const MAX_KEYS_PER_CONNECTION = 4;

export function connectionInfo(c: Connection): ConnectionInfo {
  return {
    id: c.id,
    transport: c.transport,
    direction: c.direction,
    remoteAddress: c.remoteAddress,
    remotePort: c.remotePort,
    localAddress: c.localAddress,
    localPort: c.localPort,
    keys: [...c.keys],
    createdAt: c.createdAt,
  };
}

export class ConnectionPool {
  private readonly byId = new Map<string, Connection>();
  private readonly byKey = new Map<string, Connection>();
  private readonly connecting = new Map<string, Promise<Connection>>();

  /** Open connections. */
  get size(): number {
    return this.byId.size;
  }

  /** Connects under way. */
  get pendingConnects(): number {
    return this.connecting.size;
  }

  add(conn: Connection, key: string): void {
    this.byId.set(conn.id, conn);
    this.alias(conn, key, true);
  }

  /** Register `conn` under one more key; an open connection already there keeps it unless `force`. */
  alias(conn: Connection, key: string, force = false): boolean {
    if (conn.keys.has(key)) return true;
    const other = this.byKey.get(key);
    if (other !== undefined && other !== conn && !other.closed && !force) return false;
    if (!force && conn.keys.size > MAX_KEYS_PER_CONNECTION) return false;
    if (other !== undefined && other !== conn) other.keys.delete(key);
    this.byKey.set(key, conn);
    conn.keys.add(key);
    return true;
  }

  get(key: string): Connection | undefined {
    const c = this.byKey.get(key);
    return c !== undefined && !c.closed && c.reading ? c : undefined;
  }

  getById(id: string): Connection | undefined {
    const c = this.byId.get(id);
    return c !== undefined && !c.closed && c.reading ? c : undefined;
  }

  remove(conn: Connection): void {
    this.byId.delete(conn.id);
    for (const k of conn.keys) if (this.byKey.get(k) === conn) this.byKey.delete(k);
  }

  /** The open connection for `key`, or the running connect attempt, or a new one from `open`. */
  acquire(key: string, open: () => Promise<Connection>): Promise<Connection> {
    const existing = this.get(key);
    if (existing) return Promise.resolve(existing);
    const running = this.connecting.get(key);
    if (running) return running;
    const p = open().finally(() => this.connecting.delete(key));
    this.connecting.set(key, p);
    return p;
  }

  all(): Connection[] {
    return [...this.byId.values()];
  }
}
