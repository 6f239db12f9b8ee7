/**
 * The proxy's peering (docs/routing.md): the peering table in memory, loaded from MariaDB
 * at start and again on every `ngcp:changes` message about peering groups, servers, rules or
 * peer preferences (and on every (re)connect of the subscription) — no restart; a bad row is
 * logged and skipped. It answers which groups a call goes to, which addresses a server has
 * (RFC 3263 through `SipResolver`: NAPTR → SRV → A/AAAA), which server a request's source
 * is, and which servers are down (peer-health.ts; the prober sends OPTIONS).
 */
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ChangeNotification, Db } from '@ngcp/db';
import type { SipResolver, Target } from '@ngcp/sip';
import { PeerHealth } from './peer-health.js';
import type { PeerStateStore } from './peer-state-store.js';
import { buildPeeringTable, EMPTY_TABLE, orderServers, selectGroups, type GroupChoice, type PeeringRows, type PeeringTable, type PeerServer } from './selection.js';

/** `ngcp:changes` entities that change the peering table. */
export const PEERING_ENTITIES = new Set(['peering_group', 'peering_server', 'peering_rule', 'peer_preferences', 'preference_def']);

export interface PeeringOptions {
  /** failures in a row that mark a server down */
  downAfter: number;
  /** an attempt without ringing nor final within this is given up (the next server is tried) */
  attemptTimeoutMs: number;
  /** the lb's internal address: requests to peers leave through it; null sends them directly (UDP only) */
  lb: { address: string; port: number } | null;
  /** states shared with the other proxies (Redis `peer:state`); none: this process alone */
  shared?: PeerStateStore;
  random?: () => number;
}

export interface PeeringMetrics {
  attempts: Counter<'server' | 'result'>;
  up: Gauge<'server'>;
  auth: Counter<'server' | 'result'>;
}

export function createPeeringMetrics(registry: Registry): PeeringMetrics {
  const registers = [registry];
  return {
    attempts: new Counter({
      name: 'proxy_peer_attempts_total', help: 'Call attempts to peering servers, by server name and result (answered, next = 408/5xx/timeout, stop = the callee\'s 3xx/4xx/6xx, cancelled)',
      labelNames: ['server', 'result'], registers,
    }),
    auth: new Counter({
      name: 'proxy_peer_auth_total', help: 'Digest challenges (401/407) of peering servers, by server and result (answered = INVITE re-sent with credentials; rejected = challenged again; no-credentials, no-usable-challenge = not answered)',
      labelNames: ['server', 'result'], registers,
    }),
    up: new Gauge({ name: 'proxy_peer_up', help: 'Peering server state: 1 up, 0 marked down (skipped by calls, probed with OPTIONS)', labelNames: ['server'], registers, aggregator: 'min' }),
  };
}

/** Read the peering rows (enabled and disabled; the table builder filters). */
export async function loadPeeringRows(db: Db): Promise<PeeringRows> {
  const [groups, servers, rules, prefs] = await Promise.all([
    db('peering_groups').select('id', 'name', 'priority'),
    db('peering_servers').select('id', 'group_id', 'name', 'host', 'port', 'transport', 'weight', 'probe', 'enabled', 'auth_username', 'auth_password', 'auth_realm',
      'register_enable', 'register_expires_s', 'register_user', 'register_domain', 'register_contact_user'),
    db('peering_rules').select('id', 'group_id', 'callee_prefix', 'caller_pattern', 'callee_pattern', 'enabled'),
    db('peer_preferences as p').join('preference_defs as d', 'd.id', 'p.attribute_id').select('p.peering_server_id', 'd.attribute', 'p.value'),
  ]);
  return { groups, servers, rules, prefs } as PeeringRows;
}

export class Peering {
  private table: PeeringTable = EMPTY_TABLE;
  /** source address → server (IP hosts, and the addresses host names resolved to at load) */
  private bySource = new Map<string, PeerServer>();
  private reloadTimer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  private again = false;
  private loadedOnce = false;
  private loadedListeners: Array<() => void> = [];
  readonly health: PeerHealth;
  readonly stats = { loads: 0, loadFailures: 0, badRows: 0, groups: 0, servers: 0, rules: 0 };
  private log: Logger;

  constructor(
    private readonly db: Db,
    logger: Logger,
    private readonly resolver: SipResolver | null,
    readonly metrics: PeeringMetrics,
    private readonly opts: PeeringOptions,
  ) {
    this.log = logger.child({ component: 'peering' });
    this.health = new PeerHealth(opts.downAfter, (e, local) => {
      const s = this.table.servers.get(e.id);
      this.log.warn({ server: s?.name ?? e.id, id: e.id, failures: e.failures, seen: local ? 'here' : 'by another proxy' }, e.down ? 'peering server marked down' : 'peering server up again');
      if (s) this.metrics.up.set({ server: s.name }, e.down ? 0 : 1);
      if (local) this.opts.shared?.write(e.id, e.down, e.at);
    });
  }

  /** Load (or reload) the table; concurrent calls share one load, a call during a load loads once more after it. */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          await this.loadOnce();
        } while (this.again);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  private async loadOnce(): Promise<void> {
    let rows: PeeringRows;
    try {
      rows = await loadPeeringRows(this.db);
    } catch (err) {
      this.stats.loadFailures++;
      this.log.warn({ err: (err as Error).message }, 'peering table not loaded; keeping the previous one');
      return;
    }
    let bad = 0;
    const table = buildPeeringTable(rows, (b) => {
      bad++;
      this.log.warn({ table: b.table, id: b.id, reason: b.reason }, 'peering row skipped');
    });
    const bySource = new Map<string, PeerServer>();
    for (const s of table.servers.values()) {
      if (isIP(s.host) !== 0) {
        if (!bySource.has(s.host)) bySource.set(s.host, s);
        continue;
      }
      // a host name: its addresses, for matching requests from the peer (best effort)
      for (const t of await this.targets(s).catch(() => [] as Target[])) if (!bySource.has(t.address)) bySource.set(t.address, s);
    }
    // the table and its metrics are replaced in one step
    this.metrics.up.reset();
    for (const s of table.servers.values()) this.metrics.up.set({ server: s.name }, this.health.isDown(s.id) ? 0 : 1);
    this.health.retain(new Set(table.servers.keys()));
    this.table = table;
    this.bySource = bySource;
    this.loadedOnce = true;
    Object.assign(this.stats, { loads: this.stats.loads + 1, badRows: bad, groups: table.groups.size, servers: table.servers.size, rules: table.rules.length });
    this.log.info({ groups: table.groups.size, servers: table.servers.size, rules: table.rules.length, skipped: bad }, 'peering table loaded');
    for (const fn of this.loadedListeners) fn();
  }

  /** Called after every table load (the registration agent follows the servers that want registering). */
  onLoaded(fn: () => void): void {
    this.loadedListeners.push(fn);
  }

  /** Take over the states other proxies saw (Redis `peer:state`); a Redis failure leaves ours as they are. */
  async sync(): Promise<void> {
    if (!this.opts.shared) return;
    let states;
    try {
      states = await this.opts.shared.read();
    } catch {
      return;
    }
    for (const st of states) if (this.table.servers.has(st.id)) this.health.apply(st.id, st.down, st.at);
    // states of servers gone from the table (deleted, disabled) are dropped once a table was loaded
    if (this.loadedOnce) this.opts.shared.prune(new Set(this.table.servers.keys()), states.map((x) => x.id));
  }

  /** An `ngcp:changes` message: reload when it is about peering (debounced: a burst of changes loads once). */
  onChange(n: ChangeNotification): void {
    if (!PEERING_ENTITIES.has(n.entity)) return;
    if (this.reloadTimer) return;
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      void this.reload();
    }, 50);
  }

  close(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
  }

  /** The groups for a call to `callee` (digits, no '+') from `caller`, in the order to try. */
  groups(callee: string, caller: string): GroupChoice[] {
    return selectGroups(this.table, callee, caller);
  }

  /** A group's servers that are not down, in weighted random order. */
  servers(choice: GroupChoice): PeerServer[] {
    return orderServers(choice.group.servers, this.opts.random, (s) => this.health.isDown(s.id));
  }

  allServers(): PeerServer[] {
    return [...this.table.servers.values()];
  }

  server(id: number): PeerServer | undefined {
    return this.table.servers.get(id);
  }

  /** The enabled server a request from `address` comes from, if any. */
  bySourceAddress(address: string): PeerServer | undefined {
    return this.bySource.get(address);
  }

  get attemptTimeoutMs(): number {
    return this.opts.attemptTimeoutMs;
  }

  get lb(): { address: string; port: number } | null {
    return this.opts.lb;
  }

  /** A resolved target failed: other calls try it last for a while (the resolver's blacklist, RFC 3263 §4.3). */
  markTargetFailed(t: Target): void {
    this.resolver?.markFailed(t, 'timeout');
  }

  /** Where a server is reached: its IP (no DNS), else RFC 3263 targets of its host (transport and port as provisioned). */
  async targets(s: PeerServer): Promise<Target[]> {
    const fam = isIP(s.host);
    if (fam !== 0) return [{ transport: s.transport, address: s.host, port: s.port, family: fam as 4 | 6, host: s.host, domain: s.host, via: 'numeric' }];
    if (!this.resolver) return [];
    return this.resolver.resolve(resolveInput(s));
  }
}

/**
 * What RFC 3263 is asked for a server named by host: the table has no "no port" and no "no
 * transport", so their defaults mean "not given" — `udp` on 5060 → NAPTR → SRV → A/AAAA
 * (§4.1); `tcp` on 5060 or `tls` on 5061 → SRV for that transport, then A/AAAA (§4.2); any
 * other port → A/AAAA on that port (§4.2).
 */
export function resolveInput(s: Pick<PeerServer, 'host' | 'port' | 'transport'>): { host: string; port?: number; transport?: 'udp' | 'tcp' | 'tls' } {
  const defaultPort = s.transport === 'tls' ? 5061 : 5060;
  if (s.port !== defaultPort) return { host: s.host, port: s.port, transport: s.transport };
  if (s.transport === 'udp') return { host: s.host };
  return { host: s.host, transport: s.transport };
}
