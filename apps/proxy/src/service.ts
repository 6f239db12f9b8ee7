/**
 * The proxy/registrar as one object: SIP stack on the internal UDP address, the stores
 * (MariaDB, Redis), mediactl, metrics and the control methods. No side effects until
 * `start()`; tests build it with their own Redis/MariaDB/mediactl and a free port.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Db } from '@ngcp/db';
import { createDb } from '@ngcp/db';
import type { ServerTransaction, SipRequest, SipStack, TransportSource as Source } from '@ngcp/sip';
import { answerCancel, createSipStack, SipParseError, SipResolver } from '@ngcp/sip';
import { Authenticator } from './auth.js';
import { createFeatures, featureMethods } from './features/index.js';
import { StarCodes } from './features/vsc-apply.js';
import { proxyConfigDefaults, type ProxyConfig } from './config.js';
import { reply, type ProxyContext } from './context.js';
import { rpcMediaControl, type MediaControl } from './media/media-control.js';
import { RPC_ERRORS, RpcClient, RpcError } from '@ngcp/rpc';
import { createProxyMetrics } from './metrics.js';
import { createPeeringMetrics, Peering } from './peering/peering.js';
import { PeerProber } from './peering/prober.js';
import { PeerStateStore } from './peering/peer-state-store.js';
import { RedisPeerRegStore } from './peering/peer-reg-store.js';
import { createRegisterMetrics, PeerRegisterAgent, type RegistrationState } from './peering/register-agent.js';
import { handleRegister } from './registrar/registrar.js';
import { forwardAck, handleInDialog } from './sip/in-dialog.js';
import { InviteSession } from './sip/invite-session.js';
import { relayMwiNotify } from './sip/mwi-relay.js';
import { isMwiNotify } from './features/voicemail.js';
import { cancelWithoutInvite, onStrayResponse } from './sip/takeover.js';
import { AccountingWriter, type NodeRole } from './store/accounting.js';
import { CallStore } from './store/call-store.js';
import { ChangeListener } from './store/change-listener.js';
import { SubscriberDirectory } from './store/directory.js';
import { LocationStore } from './store/location-store.js';
import { RedisNonceCountStore } from './store/nonce-counts.js';
import { UserBans } from './store/user-bans.js';

export interface ProxyServiceOptions {
  config: ProxyConfig;
  logger: Logger;
  metrics: Registry;
  /** mediactl client; default: JSON-RPC to `config.mediactl.url`. Ignored when `config.media` is false. */
  media?: MediaControl;
  /** knex instance to use instead of one made from `config.db` (closed by the caller then) */
  db?: Db;
  /** knex instance of the peer node's MariaDB instead of one made from `config.accounting.peer_db` (closed by the caller then) */
  peerDb?: Db;
  /** this process's worker index (docs/workers.md); workers beyond 0 leave the Redis-wide gauges to worker 0 */
  worker?: number;
  /** every worker's UDP port: a Route naming any of them is ours */
  workerPorts?: readonly number[];
}

import type { RpcHandler } from '@ngcp/rpc';

export type ControlHandler = RpcHandler;

export interface ProxyService {
  start(): Promise<void>;
  /** Answers new requests 503 and waits up to `drainMs` (default 5000) for live transactions to end, then closes. */
  stop(o?: { drainMs?: number }): Promise<void>;
  health(): Promise<{ ok: boolean; [k: string]: unknown }>;
  stats(): Promise<Record<string, unknown>>;
  /** drop the provisioning caches (control `reload`) */
  reload(): Promise<void>;
  /** control methods: `location.lookup`, `location.list`, `calls.list`, `proxy.stats`, `ha.role`, … */
  methods: Record<string, ControlHandler>;
  /** the bound SIP address (after start) */
  address(): { address: string; port: number };
  /** the node's role as hbd tells it (`ha.role`; a forked worker hears it from worker 0) */
  setRole(role: NodeRole): void;
}

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, UPDATE, PRACK, INFO, REFER, NOTIFY';
const IN_DIALOG_ONLY = new Set(['BYE', 'PRACK', 'UPDATE', 'INFO', 'NOTIFY', 'REFER']);

function redisOptions(c: ProxyConfig['redis'], subscriber: boolean) {
  return {
    host: c.host, port: c.port, db: c.db, lazyConnect: true,
    ...(c.password ? { password: c.password } : {}),
    // commands fail at once while Redis is away (the caller gets a 503), no queue building up
    enableOfflineQueue: subscriber,
    maxRetriesPerRequest: subscriber ? null : 1,
    // the commands of concurrent transactions share one round trip (the subscriber only listens)
    enableAutoPipelining: !subscriber,
    retryStrategy: (n: number) => Math.min(100 * n, 2000),
  };
}

export function createProxyService(opts: ProxyServiceOptions): ProxyService {
  const { config, logger } = opts;
  const log = logger.child({ component: 'proxy' });
  const db = opts.db ?? createDb({ ...config.db, pool: { max: config.db.pool_max }, acquireTimeoutMs: 3000 });
  const redis = new Redis(redisOptions(config.redis, false));
  const sub = new Redis(redisOptions(config.redis, true));
  // logged once per outage, not per reconnect attempt
  let redisDown = false;
  const onRedisError = (err: Error): void => {
    if (!redisDown) log.warn({ err: err.message }, 'redis unavailable; retrying');
    redisDown = true;
  };
  redis.on('error', onRedisError);
  sub.on('error', onRedisError);
  redis.on('ready', () => {
    if (redisDown) log.info('redis available again');
    redisDown = false;
  });
  const dir = new SubscriberDirectory(db, logger);
  const location = new LocationStore(redis);
  const calls = new CallStore(redis, config.calls.ttl_s);
  // brute-force protection (security.userban): counted in Redis, bans decided from memory
  const ub = config.userban;
  let bans: UserBans | null = null;
  const loadBans = (): Promise<void> =>
    bans
      ? bans.load().then(
        (n) => void (n > 0 && log.info({ bans: n }, 'user bans loaded from redis')),
        (err: Error) => log.warn({ err: err.message }, 'user bans not read from redis; keeping the ones in memory'),
      )
      : Promise.resolve();
  const peeringConfig = { ...proxyConfigDefaults.peering, ...config.peering };
  const resolver = new SipResolver({ ...(peeringConfig.dns_servers.length > 0 ? { dns: { servers: peeringConfig.dns_servers } } : {}) });
  const peering = new Peering(db, logger, resolver, createPeeringMetrics(opts.metrics), {
    downAfter: peeringConfig.down_after, attemptTimeoutMs: peeringConfig.attempt_timeout_ms, lb: parseHostPort(config.lb),
    shared: new PeerStateStore(redis, config.node, logger.child({ component: 'peering' })),
  });
  const features = createFeatures({ db, redis, logger, callTtlSeconds: config.calls.ttl_s, registry: opts.metrics });
  // star codes (docs/routing.md "Star codes"): absent config = sip:provider's codes, enabled
  const vscConfig = { ...proxyConfigDefaults.vsc, ...config.vsc };
  const starCodes = vscConfig.enable
    ? new StarCodes({
      db, redis, store: features.store, logger,
      codes: { cfu: vscConfig.cfu_code, cfb: vscConfig.cfb_code, cft: vscConfig.cft_code, cfna: vscConfig.cfna_code, clir: vscConfig.clir_code },
      cftRingTimeoutS: config.calls.forward_ring_timeout_s ?? 15,
    })
    : null;
  const changes = new ChangeListener(sub, logger, {
    onChange: (n) => {
      dir.onChange(n);
      bans?.onChange(n);
      peering.onChange(n);
      features.store.onChange(n);
    },
    onReload: () => {
      dir.clear();
      void loadBans(); // a lift may have gone by unheard
      void peering.reload();
      features.store.clear();
    },
  });
  const mediactl = config.media && !opts.media ? new RpcClient(config.mediactl.url, { timeoutMs: config.mediactl.timeout_ms }) : null;
  const media = config.media ? (opts.media ?? rpcMediaControl(mediactl!)) : null;
  let self: ProxyContext['self'] = { address: config.listen.address, port: config.listen.udp_port };
  const worker = opts.worker ?? 0;
  let sip!: SipStack;
  let started = false;
  const metrics = createProxyMetrics(opts.metrics, {
    transactionsLive: () => (started ? sip.stats().liveTransactions : 0),
    // node-wide counts (SCAN of Redis): worker 0 answers them, the sum over workers takes the max
    registrationsActive: async () => (worker === 0 ? (await location.aors(1_000_000)).length : 0),
    callsLive: () => (worker === 0 ? calls.count() : 0),
    accQueued: () => acc.queued,
    accTarget: () => acc.target,
  });
  // a node of a pair writes accounting rows to the active node's MariaDB: its own, or the peer's while standby
  const peerAt = config.accounting?.peer_db;
  const peerDb = opts.peerDb ?? (peerAt
    ? createDb({ host: peerAt.host, port: peerAt.port, user: config.db.user, password: config.db.password, database: config.db.database, pool: { max: 2 }, acquireTimeoutMs: 3000 })
    : null);
  const acc = new AccountingWriter(db, logger, {
    ...(peerDb ? { peer: peerDb } : {}),
    events: {
      written: (target, written, duplicates) => {
        metrics.accRows.inc({ target, result: 'written' }, written);
        metrics.accRows.inc({ target, result: 'duplicate' }, duplicates);
      },
      failed: (target, rows) => metrics.accRows.inc({ target, result: 'refused' }, rows),
      switched: (to, reason) => metrics.accSwitches.inc({ to, reason }),
    },
  });
  if (ub.enable) {
    bans = new UserBans(redis, logger, {
      maxFailures: ub.max_failures, sourceMaxFailures: ub.source_max_failures, windowS: ub.window_s, banS: ub.ban_s, exempt: ub.exempt,
      onEvent: (e) => (e === 'refused' ? metrics.authBanRefused.inc() : metrics.authBans.inc({ kind: e })),
    });
  }
  const seenDrops = new Map<string, number>();
  const ctx = {} as ProxyContext;
  const prober = new PeerProber(peering, () => sip, () => self, logger, { intervalMs: peeringConfig.probe_interval_ms, timeoutMs: peeringConfig.probe_timeout_ms });
  // outbound registration to peers (docs/routing.md): a singleton of the pair — worker 0 of the
  // active node only. A node of a pair (accounting.peer_db set) waits for hbd's word; a single node is active.
  const regAgent: PeerRegisterAgent | null = worker === 0 ? new PeerRegisterAgent({
    send: (req, dest) => new Promise((resolve) => {
      sip.sendRequest(req, dest, { onFinal: (res, _tx, origin) => resolve({ res, origin }) });
    }),
    store: new RedisPeerRegStore(redis),
    targets: (s) => peering.targets(s),
    lb: peering.lb,
    self: () => self,
    contact: () => (config.peering?.public
      ? { address: config.peering.public.address, port: config.peering.public.port, tlsPort: config.peering.public.tls_port }
      : { address: self.address, port: self.port, tlsPort: self.port }),
    node: config.node,
    retryMinMs: (peeringConfig.register_retry_min_s ?? 30) * 1000,
    retryMaxMs: Math.max(peeringConfig.register_retry_max_s ?? 600, peeringConfig.register_retry_min_s ?? 30) * 1000,
    logger,
    requests: createRegisterMetrics(opts.metrics, (): RegistrationState[] => regAgent?.snapshot().map((x) => x.state) ?? []).requests,
  }) : null;
  if (regAgent) peering.onLoaded(() => regAgent.update(peering.allServers()));

  const onRequest = (tx: ServerTransaction, req: SipRequest, source: Source): void => {
    metrics.requests.inc({ method: req.method });
    handle(tx, req, source).catch((err: unknown) => {
      const status = err instanceof SipParseError ? (err.status ?? 400) : 503;
      if (status === 503) log.warn({ callId: safeCallId(req), method: req.method, err: (err as Error).message }, 'request failed; answered 503');
      if (tx.canRespond(status)) reply(ctx, tx, req, status, status === 503 ? { headers: [['Retry-After', '5']] } : {});
    });
  };

  const handle = async (tx: ServerTransaction, req: SipRequest, source: Source): Promise<void> => {
    const mf = req.maxForwards();
    if (mf === 0 && req.method !== 'REGISTER' && req.method !== 'OPTIONS') return void reply(ctx, tx, req, 483);
    if (req.to().tag !== undefined) return handleInDialog(ctx, tx, req, source);
    switch (req.method) {
      case 'REGISTER':
        return handleRegister(ctx, tx, req, source);
      case 'INVITE':
        return new InviteSession(ctx, tx, req, source).run();
      case 'OPTIONS':
        // keep-alive probes of the lb and requests for us: answer; for a user: not supported
        return void reply(ctx, tx, req, 200, { headers: [['Allow', ALLOW], ['Accept', 'application/sdp']] });
      case 'NOTIFY':
        // the app-server's MWI (sip/mwi-relay.ts: from anyone else 403); other packages out of a dialog: 481
        if (isMwiNotify(req)) return relayMwiNotify(ctx, tx, req, source);
        return void reply(ctx, tx, req, 481);
      default:
        if (IN_DIALOG_ONLY.has(req.method)) return void reply(ctx, tx, req, 481);
        return void reply(ctx, tx, req, 405, { headers: [['Allow', ALLOW]] });
    }
  };

  const countTransportDrops = (): void => {
    if (!started) return;
    for (const [reason, n] of Object.entries(sip.stats().transport.dropped)) {
      const before = seenDrops.get(reason) ?? 0;
      if ((n ?? 0) > before) metrics.drops.inc({ reason }, (n ?? 0) - before);
      seenDrops.set(reason, n ?? 0);
    }
  };
  let dropTimer: NodeJS.Timeout | null = null;
  let sweepTimer: NodeJS.Timeout | null = null;

  const service: ProxyService = {
    async start() {
      sip = createSipStack({
        listen: [{ transport: 'udp', address: config.listen.address, port: config.listen.udp_port }],
        transport: { role: 'lb', logger: log },
        resolver: false,
        onRequest,
        onAck: (ack) => {
          metrics.requests.inc({ method: 'ACK' });
          forwardAck(ctx, ack);
        },
        onCancel: (cancel, cancelTx, inviteTx) => {
          metrics.requests.inc({ method: 'CANCEL' });
          if (inviteTx !== undefined) return answerCancel(cancel, cancelTx, inviteTx);
          // the INVITE went through another proxy (the other node before a takeover): its branches are in Redis
          cancelWithoutInvite(ctx, cancel, cancelTx).catch((err: Error) => {
            log.warn({ callId: safeCallId(cancel), err: err.message }, 'CANCEL without INVITE transaction failed; answered 503');
            if (cancelTx.canRespond(503)) reply(ctx, cancelTx, cancel, 503, { headers: [['Retry-After', '5']] });
          });
        },
        onStrayResponse: (res, source) => onStrayResponse(ctx, res, source as Source),
      });
      const bound = await sip.start();
      self = { address: bound[0]!.address, port: bound[0]!.port, ...(opts.workerPorts?.length ? { ports: opts.workerPorts } : {}) };
      Object.assign(ctx, {
        config, logger, sip, self, dir, location, calls, acc, media, metrics, peering, features,
        sbc: sbcOf(config),
        appserver: appserverOf(config),
        voicemail: voicemailOf(config),
        vsc: starCodes,
        auth: new Authenticator(dir, {
          secret: config.auth.nonce_secret, nonceTtlSeconds: config.auth.nonce_ttl_s, algorithms: config.auth.algorithms,
          nonceCounts: new RedisNonceCountStore(redis, config.auth.nonce_ttl_s),
          ...(bans ? { bans } : {}),
        }),
      } satisfies ProxyContext);
      started = true;
      // not fatal: ioredis keeps retrying, requests meanwhile get 503
      await redis.connect().catch(() => undefined);
      await sub.connect().catch(() => undefined);
      await changes.start();
      // bans outlive a restart: in force before the first request is answered
      if (redis.status === 'ready') await loadBans();
      await peering.reload();
      await peering.sync();
      prober.start();
      regAgent?.setActive(!config.accounting?.peer_db);
      dropTimer = setInterval(countTransportDrops, 5000);
      dropTimer.unref();
      if (worker === 0) {
        // dead calls of subscribers who make no new call: pruned once a minute (features/call-limits.ts)
        sweepTimer = setInterval(() => {
          features.limits.sweep().catch((err: Error) => log.debug({ err: err.message }, 'conc:* sweep failed'));
        }, 60_000);
        sweepTimer.unref();
      }
      if (config.calls.auth === false) log.warn({ setting: 'calls.auth' }, 'INVITE is not authenticated (benchmark/lab setting)');
      if (config.registrar.auth === false) log.warn({ setting: 'registrar.auth' }, 'REGISTER is not authenticated (benchmark/lab setting)');
      log.info({ sip: `udp:${self.address}:${self.port}`, worker, media: config.media }, 'proxy started');
    },
    async stop(o = {}) {
      if (dropTimer) clearInterval(dropTimer);
      prober.stop();
      regAgent?.stop();
      peering.close();
      if (sweepTimer) clearInterval(sweepTimer);
      if (started) {
        await sip.drain(o.drainMs ?? 5000);
        await sip.close();
      }
      started = false;
      await acc.close();
      changes.stop();
      redis.disconnect();
      mediactl?.close();
      resolver.close();
      if (!opts.db) await db.destroy();
      if (peerDb && !opts.peerDb) await peerDb.destroy();
    },
    async health() {
      const redisOk = redis.status === 'ready';
      let dbOk = true;
      try {
        await db.raw('SELECT 1');
      } catch {
        dbOk = false;
      }
      return { ok: started && redisOk && dbOk, sip: started, redis: redisOk, db: dbOk, media: config.media };
    },
    async stats() {
      countTransportDrops();
      const s = started ? sip.stats() : undefined;
      return {
        transactions_live: s?.liveTransactions ?? 0,
        transactions: s?.transactions,
        transport: s?.transport,
        draining: s?.draining ?? false,
        cache: { ...dir.size(), ...dir.stats },
        accounting: { ...acc.stats, queued: acc.queued, target: acc.target },
        takeover: Object.fromEntries((await metrics.takeover.get()).values.map((v) => [String(v.labels.event), v.value])),
        changes: changes.stats,
        peering: { ...peering.stats, probes: prober.stats, down: peering.health.snapshot().filter((x) => x.down).map((x) => x.id), registrations: regAgent ? { active: regAgent.isActive, ...regAgent.stats } : null },
        features: { refused: features.stats, cache: { ...features.store.size(), ...features.store.stats } },
        forwards: features.forwardStats,
      };
    },
    async reload() {
      dir.clear();
      await peering.reload();
      features.store.clear();
    },
    methods: {
      'location.lookup': async (params) => {
        const aor = (params as { aor?: unknown } | undefined)?.aor;
        if (typeof aor !== 'string' || !aor.includes('@')) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'params.aor must be user@domain');
        return { aor, bindings: await location.lookup(aor) };
      },
      'location.list': async (params) => {
        const limit = Number((params as { limit?: unknown } | undefined)?.limit ?? 1000);
        const aors = await location.aors(Number.isFinite(limit) && limit > 0 ? limit : 1000);
        const out = [];
        for (const aor of aors) out.push({ aor, bindings: await location.lookup(aor) });
        return { registrations: out.filter((r) => r.bindings.length > 0) };
      },
      'calls.list': async (params) => {
        const limit = Number((params as { limit?: unknown } | undefined)?.limit ?? 1000);
        return { calls: await calls.list(Number.isFinite(limit) && limit > 0 ? limit : 1000) };
      },
      'proxy.stats': () => service.stats(),
      // hbd tells every daemon its node's role (apps/hbd notify step): accounting rows go to the
      // active node's MariaDB — ours when active, the peer's while standby (docs/takeover.md)
      'ha.role': (params) => {
        const role = (params as { role?: unknown } | undefined)?.role;
        if (role !== 'active' && role !== 'standby') throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'params.role must be "active" or "standby"');
        service.setRole(role);
        return { role, accounting: acc.target };
      },
      'peering.list': () => ({
        servers: peering.allServers().map((s) => ({
          id: s.id, name: s.name, group_id: s.groupId, host: s.host, port: s.port, transport: s.transport, weight: s.weight, probe: s.probe,
          up: !peering.health.isDown(s.id),
          // who the proxy answers this server's challenges as (never the password)
          auth: s.auth ? { username: s.auth.username, realm: s.auth.realm } : null,
        })),
      }),
      // the registration agent's view (worker 0; empty on a standby node — the API shows Redis `peerreg:`)
      'peering.registrations': () => ({ active: regAgent?.isActive ?? false, registrations: regAgent?.snapshot() ?? [] }),
      'peering.reload': async () => {
        await peering.reload();
        return { ...peering.stats };
      },
      ...featureMethods(features),
    },
    address: () => self,
    setRole: (role) => {
      acc.setRole(role);
      regAgent?.setActive(role === 'active');
    },
  };
  return service;
}

/** The sbc the proxy hands INVITEs to (`sbc.enable`), or null. */
function sbcOf(config: ProxyConfig): ProxyContext['sbc'] {
  if (!config.sbc?.enable) return null;
  const a = parseHostPort(config.sbc.address);
  return a ? { dest: { transport: 'udp', ...a }, profile: config.sbc.profile } : null;
}

/** The app-server announcements go to (`appserver.address`), or null. */
function appserverOf(config: ProxyConfig): ProxyContext['appserver'] {
  const a = parseHostPort(config.appserver?.address ?? '');
  return a ? { transport: 'udp', ...a } : null;
}

/** Voicemail routing (`voicemail`, absent = enabled with number 2000): only with an app-server. */
function voicemailOf(config: ProxyConfig): ProxyContext['voicemail'] {
  const vm = { ...proxyConfigDefaults.voicemail, ...config.voicemail };
  return vm.enable && appserverOf(config) ? { number: vm.number } : null;
}

/** `host:port` (the `lb` key) → address; '' or unusable → null. */
function parseHostPort(v: string): { address: string; port: number } | null {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(v.trim());
  if (!m) return null;
  const port = Number(m[2]);
  return port > 0 && port < 65536 ? { address: m[1]!, port } : null;
}

function safeCallId(req: SipRequest): string | undefined {
  try {
    return req.callId();
  } catch {
    return undefined;
  }
}

