/**
 * The lb as a daemon (the shape @ngcp/daemon runs): built from its config, a pino logger
 * and a prom-client Registry, with no side effects until `start()`. One SIP stack holds
 * every listener — public UDP, TCP (and TLS) plus the internal UDP — so a request and
 * the request it becomes share one transaction layer, CANCEL finds its INVITE, and the
 * side a request came from is simply the listener it arrived on.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { RPC_ERRORS, RpcError } from '@ngcp/rpc';
import type { ListenSpec, SipStack } from '@ngcp/sip';
import { createSipStack } from '@ngcp/sip';
import { knexConfig } from '@ngcp/db';
import knex from 'knex';
import type { Knex } from '@ngcp/db';
import type { LbConfig } from './config.js';
import { DestinationSet } from './dispatch/destinations.js';
import { Prober } from './dispatch/prober.js';
import { DispatcherStateStore } from './dispatch/state-store.js';
import { DomainCache } from './domains/domain-cache.js';
import { LoadBalancer } from './lb.js';
import type { LbMetrics } from './metrics.js';
import { createLbMetrics } from './metrics.js';
import type { ClientTransport } from './routing/nat.js';
import type { Listener } from './routing/route-set.js';
import { ensureCertificate } from '@ngcp/daemon';
import { FloodGuard } from './ban/flood-guard.js';
import { IpBanStore } from './ban/ban-store.js';
import { trustedSet } from './domains/trusted.js';

export interface LbServiceContext {
  config: Readonly<LbConfig>;
  logger: Logger;
  metrics: Registry;
  /** On stop, how long live transactions may finish (new requests get 503). Default 5000 ms. */
  drainMs?: number;
}

export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

export interface LbService {
  start(): Promise<void>;
  stop(): Promise<void>;
  health(): HealthReport;
  stats(): Record<string, unknown>;
  reload(): Promise<void>;
  methods: Record<string, (params: unknown) => unknown>;
  /** Bound listeners (after start), e.g. for tests on port 0. */
  listening(): { public: Partial<Record<ClientTransport, Listener>>; internal: Listener };
}


export function createLbService(ctx: LbServiceContext): LbService {
  const { config, logger } = ctx;
  const log = logger.child({ component: 'lb-service' });
  let sip: SipStack | null = null;
  let metrics: LbMetrics | null = null;
  const dispatcherState = new DispatcherStateStore({ redis: config.redis, node: config.node, logger });
  let restoring = false;
  const dests = new DestinationSet(config.dispatch.proxies, config.dispatch.algorithm, config.dispatch.probe.failures, (d) => {
    metrics?.destinationUp.set({ destination: d.id }, d.up ? 1 : 0);
    log.warn({ destination: d.id, up: d.up, admin_down: d.adminDown }, 'dispatch destination changed state');
    if (!restoring) dispatcherState.save(d);
  });
  const loadDispatcherState = async (): Promise<number> => {
    restoring = true;
    try {
      return await dispatcherState.load(dests, config.dispatch.probe.interval_ms > 0);
    } finally {
      restoring = false;
    }
  };
  let db: Knex | null = null;
  let domains: DomainCache | null = null;
  let prober: Prober | null = null;
  let lb: LoadBalancer | null = null;
  let bound: ReturnType<LbService['listening']> | null = null;
  let expectedListeners = 0;
  // the flood guard (docs/security.md): decides from memory per packet, bans kept in Redis
  const ib = config.ipban;
  let banStore: IpBanStore | null = null;
  let sweeper: NodeJS.Timeout | null = null;
  const guard = ib.enable
    ? new FloodGuard({
      windowMs: ib.window_ms, maxRequests: ib.max_requests, banMs: ib.ban_s * 1000,
      exempt: trustedSet([...config.trusted_peers, ...ib.exempt]),
      onBan: (address, count) => {
        metrics?.ipBans.inc();
        log.warn({ address, count, window_ms: ib.window_ms, ban_s: ib.ban_s }, 'source banned: flood');
        banStore?.write(address, count);
      },
    })
    : null;
  if (guard) banStore = new IpBanStore({ redis: config.redis, guard, banS: ib.ban_s, logger });
  const loadBans = async (why: string): Promise<void> => {
    if (!banStore) return;
    try {
      const n = await banStore.load();
      if (n > 0) log.info({ bans: n, why }, 'bans loaded from redis');
    } catch (err) {
      log.warn({ err: (err as Error).message, why }, 'bans not read from redis; keeping the ones in memory');
    }
  };
  /** The internal listener (proxies' traffic) is never counted; set once bound. */
  let internalAddress = '';
  let internalPort = -1;

  const view = () => ({ destinations: dests.view() });
  const ipbanStats = () => (guard ? { enable: true, active: guard.activeBans().size, tracked: guard.tracked, ...guard.counters, store: { ...banStore!.counters } } : { enable: false });
  const banList = () => [...(guard?.activeBans() ?? new Map<string, number>())].map(([address, ms]) => ({ address, expires_in: Number.isFinite(ms) ? Math.ceil(ms / 1000) : null }));

  return {
    async start() {
      metrics = createLbMetrics(ctx.metrics, {
        liveTransactions: () => sip?.stats().liveTransactions ?? 0,
        transportCounters: () => sip?.transport.stats() ?? null,
        activeIpBans: () => guard?.activeBans().size ?? 0,
      });
      for (const d of dests.list) metrics.destinationUp.set({ destination: d.id }, d.up ? 1 : 0);
      const dbLog = logger.child({ component: 'db' });
      db = knex({
        ...knexConfig({
          host: config.db.host, port: config.db.port, user: config.db.user, password: config.db.password, database: config.db.database,
          ...(config.db.socket ? { socket: config.db.socket } : {}), pool: { min: 0, max: config.db.pool_max ?? 2 }, acquireTimeoutMs: 3000,
        }),
        // knex's own warnings (a refused connection on every retry) at debug: the domain cache logs the outage once
        log: { warn: (m: unknown) => dbLog.debug({ msg: String(m) }, 'knex'), error: (m: unknown) => dbLog.debug({ msg: String(m) }, 'knex'), debug: () => undefined, deprecate: () => undefined },
      });
      domains = new DomainCache({
        db, redis: config.redis, retryMs: config.domains.retry_ms, logger,
        ...(banStore ? { onChange: (n) => banStore!.onChange(n), onSubscribed: () => void loadBans('subscribed') } : {}),
      });
      // one branch key on both nodes (a hash of the configured secret, not the secret itself)
      if (config.branch_secret === undefined) log.warn('no branch_secret: Via branches are not recognised by the other node after a takeover');
      const secret = config.branch_secret !== undefined ? createHash('sha256').update(`ngcp-lb-branch\n${config.branch_secret}`).digest('hex') : randomBytes(16).toString('hex');
      lb = new LoadBalancer({ config, logger, metrics, dests, domains, secret });
      // the other lb's view of the proxies (after a takeover): down ones stay down until they
      // answer — the prober's first round, right after start, asks them at once
      await dispatcherState.connect();
      const restored = await loadDispatcherState().catch((err: Error) => {
        log.warn({ err: err.message }, 'dispatcher state not read from redis; starting with every destination up');
        return 0;
      });
      if (restored > 0) log.info({ destinations: dests.view().map((d) => `${d.destination}:${d.state}`) }, 'dispatcher state restored from redis');
      if (banStore) {
        await banStore.connect();
        await loadBans('start'); // bans outlive a restart: in force before the first packet
        sweeper = setInterval(() => guard!.sweep(), Math.max(1000, ib.window_ms));
        sweeper.unref();
      }
      const p = config.public;
      const listen: ListenSpec[] = [
        { transport: 'udp', address: p.address, port: p.udp_port },
        { transport: 'tcp', address: p.address, port: p.tcp_port },
        { transport: 'udp', address: config.internal.address, port: config.internal.udp_port },
      ];
      let tls;
      if (p.tls_enable) {
        const pair = await ensureCertificate(config.tls);
        if (pair.generated) log.info({ cert: config.tls.cert }, 'generated a self-signed TLS certificate');
        tls = { key: pair.key, cert: pair.cert };
        listen.push({ transport: 'tls', address: p.address, port: p.tls_port, tls });
      }
      expectedListeners = listen.length;
      const l = lb;
      sip = createSipStack({
        listen,
        transport: {
          role: 'lb', forceRport: true, logger, ...(tls ? { tls: { ...tls, rejectUnauthorized: false } } : {}),
          // before parsing: a banned source's packets get no answer (dropped 'refused'); the proxies' side is not counted
          ...(guard ? { admit: (address: string, transport: string, localAddress: string, localPort: number) => (localPort === internalPort && transport === 'udp' && localAddress === internalAddress) || guard.admit(address) } : {}),
        },
        resolver: false,
        onRequest: (tx, req, source) => l.onRequest(tx, req, source),
        onAck: (ack, source) => l.onAck(ack, source as Parameters<LoadBalancer['onAck']>[1]),
        onCancel: (cancel, cancelTx, inviteTx) => l.onCancel(cancel, cancelTx, inviteTx),
        onStrayResponse: (res, source) => l.onStrayResponse(res, source as Parameters<LoadBalancer['onStrayResponse']>[1]),
      });
      const addrs = await sip.start();
      const find = (t: ClientTransport, address: string) => addrs.find((a) => a.transport === t && a.address === address);
      const pub: Partial<Record<ClientTransport, Listener>> = {};
      for (const t of ['udp', 'tcp', 'tls'] as const) {
        const a = find(t, p.address);
        if (a) pub[t] = { transport: t, address: a.address, port: a.port };
      }
      // the internal UDP listener: the one on the internal address that is not the public UDP one
      const ia = addrs.find((a) => a.transport === 'udp' && a.address === config.internal.address && !(a.address === p.address && a.port === pub.udp?.port)) ?? addrs[2]!;
      const internal: Listener = { transport: 'udp', address: ia.address, port: ia.port };
      internalAddress = ia.address;
      internalPort = ia.port;
      lb.bind(sip, pub, internal);
      bound = { public: pub, internal };
      log.info({ public: Object.values(pub).map((x) => `${x.transport}:${x.address}:${x.port}`), internal: `udp:${internal.address}:${internal.port}` }, 'SIP listening');
      await domains.start();
      prober = new Prober(sip, dests, internal, { intervalMs: config.dispatch.probe.interval_ms, timeoutMs: config.dispatch.probe.timeout_ms });
      prober.start();
    },

    async stop() {
      prober?.stop();
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      await domains?.stop();
      if (sip) {
        // new requests get 503 from now on; INVITE server transactions (calls being set up) may finish
        await sip.drain(0);
        const until = Date.now() + (ctx.drainMs ?? 5000);
        while (sip.stats().transactions.live.ist > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
        await sip.close();
      }
      lb?.close();
      dispatcherState.close();
      banStore?.close();
      await db?.destroy();
      sip = null;
    },

    health() {
      const listening = sip?.listening().length ?? 0;
      const d = domains?.health() ?? null;
      const up = dests.list.filter((x) => x.up).length;
      const degraded = d === null || d.db !== 'ok' || d.redis !== 'ok' || up === 0;
      return { ok: sip !== null && listening === expectedListeners, listeners: listening, degraded, domains: d, dispatch: { up, total: dests.list.length } };
    },

    stats() {
      const s = sip?.stats();
      return {
        sip: s ? { transport: s.transport, transactions: s.transactions, live_transactions: s.liveTransactions, draining: s.draining } : null,
        forwarded: lb ? { ...lb.counters } : null,
        domains: domains ? { ...domains.health(), ...domains.counters } : null,
        dispatch: { probes: prober?.probes ?? 0, state_store: { ...dispatcherState.counters }, ...view() },
        ipban: ipbanStats(),
      };
    },

    async reload() {
      await domains?.reload();
    },

    methods: {
      'dispatcher.list': () => view().destinations,
      'dispatcher.set': (params: unknown) => {
        const q = (params ?? {}) as { destination?: unknown; state?: unknown };
        const d = typeof q.destination === 'string' ? dests.byId(q.destination) : undefined;
        if (!d) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, `unknown destination ${JSON.stringify(q.destination)}; one of: ${dests.list.map((x) => x.id).join(', ')}`);
        if (q.state !== 'up' && q.state !== 'down') throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'state must be "up" or "down"');
        dests.setByHand(d, q.state === 'up');
        dispatcherState.save(d);
        return dests.view().find((x) => x.destination === d.id);
      },
      // hbd tells every daemon its node's role (apps/hbd notify step); becoming active, the lb
      // takes over the other node's view of the proxy set from the replicated dispatcher:state,
      // and reloads the served domains: on the standby a domain's change notification (Redis
      // replication) can arrive before its row (MariaDB replication), and the reload it caused
      // then missed the domain — the new active node would answer 403 for it
      'ha.role': async (params: unknown) => {
        const role = (params as { role?: unknown } | undefined)?.role;
        if (role !== 'active' && role !== 'standby') throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'params.role must be "active" or "standby"');
        if (role === 'standby') return { role, applied: 0 };
        const [, applied] = await Promise.all([
          // the bans the other node made (replicated) are in force here before the first packet
          loadBans('active'),
          loadDispatcherState().catch((err: Error) => {
            log.warn({ err: err.message }, 'dispatcher state not read from redis on becoming active');
            return 0;
          }),
          domains?.reload(), // never throws: a failed load keeps the last list and is retried
        ]);
        prober?.round();
        return { role, applied };
      },
      'dispatcher.load': async () => {
        let applied;
        try {
          applied = await loadDispatcherState();
          prober?.round(); // a destination restored down is asked at once, not after a whole interval
        } catch (err) {
          throw new RpcError(RPC_ERRORS.UNAVAILABLE, `redis: ${(err as Error).message}`);
        }
        return { applied, destinations: dests.view() };
      },
      'ipban.list': () => banList(),
      'ipban.reload': async () => {
        if (!banStore) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'ipban is not enabled');
        try {
          return { bans: await banStore.load() };
        } catch (err) {
          throw new RpcError(RPC_ERRORS.UNAVAILABLE, `redis: ${(err as Error).message}`);
        }
      },
      'lb.stats': () => {
        const s = sip?.stats();
        return {
          forwarded: lb ? { ...lb.counters } : null,
          live_transactions: s?.liveTransactions ?? 0,
          transactions: s?.transactions ?? null,
          received: s?.transport.received ?? 0,
          rejected: s?.transport.rejected ?? {},
          dropped: s?.transport.dropped ?? {},
          connections: s?.transport.connections ?? null,
          domains: domains?.health() ?? null,
          dispatch: dests.view().map((x) => ({ destination: x.destination, state: x.state })),
          ipban: ipbanStats(),
        };
      },
    },

    listening() {
      if (!bound) throw new Error('lb: not started');
      return bound;
    },
  };
}
