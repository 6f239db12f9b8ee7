/**
 * The sbc as a daemon of the skeleton: its config file, the SIP stack on the internal
 * address, Redis, the B2BUA, the sweep of call length limits and session timers, and the control methods
 * (`calls.list`, `calls.teardown`).
 */
import { Redis } from 'ioredis';
import { createDb, type Db } from '@ngcp/db';
import type { DaemonDefinition } from '@ngcp/daemon';
import { RPC_ERRORS, RpcError } from '@ngcp/daemon';
import type { SipStack } from '@ngcp/sip';
import { createSipStack } from '@ngcp/sip';
import { B2bua } from './b2bua.js';
import { checkSbcConfig, parseHostPort, prepaidSettings, resolveProfiles, sbcDefaults, sbcSchema, type SbcConfig } from './config.js';
import { createSbcMetrics } from './metrics.js';
import { sweepEveryMs } from './prepaid.js';
import type { LegTimer } from './session-timer.js';
import { CallStore, type SbcCall } from './store.js';

const legTimer = (t: LegTimer) => ({ interval_s: t.interval, refresher: t.refresher, method: t.method, expires: new Date(t.expiresAt).toISOString() });

/** How often the call length limits and the session timers are checked. */
const EXPIRE_EVERY_MS = 250;

export const sbcDaemon: DaemonDefinition<SbcConfig> = {
  name: 'sbc',
  schema: sbcSchema,
  defaults: sbcDefaults,
  check: checkSbcConfig,
  control: (config) => config.control,
  build: ({ config, logger, metrics: registry }) => {
    const log = logger.child({ component: 'sbc' });
    const redis = new Redis({
      host: config.redis.host, port: config.redis.port, db: config.redis.db, lazyConnect: true,
      ...(config.redis.password ? { password: config.redis.password } : {}),
      // commands fail at once while Redis is away (the INVITE gets a 500), no queue building up
      enableOfflineQueue: false, maxRetriesPerRequest: 1,
      retryStrategy: (n: number) => Math.min(100 * n, 2000),
    });
    let redisDown = false;
    redis.on('error', (err: Error) => {
      if (!redisDown) log.warn({ err: err.message }, 'redis unavailable; retrying');
      redisDown = true;
    });
    redis.on('ready', () => {
      if (redisDown) log.info('redis available again');
      redisDown = false;
    });
    const store = new CallStore(redis, config.call_ttl_s);
    const profiles = resolveProfiles(config);
    // prepaid (docs/sbc.md): balances and fees in MariaDB; lazy pool, no connection until the first prepaid lookup
    const prepaid = prepaidSettings(config);
    const db: Db | null = prepaid.enabled && config.db
      ? createDb({ ...config.db, pool: { min: 0, max: config.db.pool_max ?? 4 }, acquireTimeoutMs: 3000 })
      : null;
    let sip: SipStack | null = null;
    let self = { address: config.listen.address, port: config.listen.udp_port };
    let b2bua: B2bua | null = null;
    const metrics = createSbcMetrics(registry, { callsLive: () => store.count(), earlyCalls: () => b2bua?.earlyCount() ?? 0, prepaidPending: () => b2bua?.prepaidPending() ?? 0 });
    let timer: NodeJS.Timeout | undefined;
    let expiring = false;
    let timing = false;
    let sweeping = false;
    let lastSweep = 0;
    const sweepEvery = sweepEveryMs(prepaid.staleAfterS);

    const summary = (c: SbcCall) => ({
      id: c.id, profile: c.profile, node: c.node,
      a: { call_id: c.a.dialog.id.callId, from: c.a.dialog.remoteUri, to: c.a.dialog.localUri },
      b: { call_id: c.b.dialog.id.callId, from: c.b.dialog.localUri, to: c.b.dialog.remoteUri },
      created: new Date(c.createdAt).toISOString(), answered: new Date(c.answeredAt).toISOString(),
      ends: c.deadline === null ? null : new Date(c.deadline).toISOString(),
      // session timers per leg: interval (s), who refreshes, when the leg is given up without a refresh
      timers: c.a.timer && c.b.timer ? { a: legTimer(c.a.timer), b: legTimer(c.b.timer) } : null,
      // a prepaid call's credit: whose balance, the fee's destination, talk time granted, units held, when the grant runs out
      prepaid: c.prepaid
        ? { customer: c.prepaid.customer, destination: c.prepaid.fee.destination, granted_s: c.prepaid.granted, held: c.prepaid.held, until: c.prepaid.until === null ? null : new Date(c.prepaid.until).toISOString() }
        : null,
    });

    return {
      async start() {
        sip = createSipStack({
          listen: [{ transport: 'udp', address: config.listen.address, port: config.listen.udp_port }],
          resolver: false,
          transport: { role: 'uas', logger: log },
          onRequest: (tx, req) => b2bua!.onRequest(tx, req),
          onAck: (ack) => b2bua!.onAck(ack),
          onCancel: (cancel, cancelTx, inviteTx) => b2bua!.onCancel(cancel, cancelTx, inviteTx),
          // B's answer to an INVITE another sbc process sent (takeover after it died)
          onStrayResponse: (res) => b2bua!.onStrayResponse(res),
        });
        b2bua = new B2bua({
          node: config.node, self, proxy: { transport: 'udp', ...parseHostPort(config.proxy) }, profiles, defaultProfile: config.default_profile,
          store, logger, metrics, sip: () => sip!,
          prepaid: db ? { db, quotaS: prepaid.quotaS, staleAfterS: prepaid.staleAfterS } : null,
        });
        const [bound] = await sip.start();
        self = { address: config.listen.address, port: bound!.port };
        b2bua.self = self;
        // not fatal: ioredis keeps retrying; INVITEs meanwhile get 500
        await redis.connect().catch(() => undefined);
        // a standby's Redis is a read-only replica: the active node's sbc ends and refreshes those calls
        const quiet = (what: string) => (err: Error) => {
          if (/READONLY/.test(err.message)) log.debug({ err: err.message }, `${what} sweep skipped (read-only redis)`);
          else log.warn({ err: err.message }, `${what} sweep failed`);
        };
        timer = setInterval(() => {
          if (redis.status !== 'ready') return;
          if (!expiring) {
            expiring = true;
            b2bua!.expire().catch(quiet('call length')).finally(() => (expiring = false));
          }
          if (!timing) {
            timing = true;
            b2bua!.sessionTimers().catch(quiet('session timer')).finally(() => (timing = false));
          }
          // stale prepaid reservations (docs/sbc.md "Reservations that cannot leak"): active node only (a write to Redis first)
          if (db && !sweeping && Date.now() - lastSweep >= sweepEvery) {
            sweeping = true;
            lastSweep = Date.now();
            b2bua!.prepaidSweep().catch(quiet('prepaid reservation')).finally(() => (sweeping = false));
          }
        }, EXPIRE_EVERY_MS);
        timer.unref();
        log.info({ sip: `udp:${self.address}:${self.port}`, proxy: config.proxy, profiles: [...profiles.keys()], prepaid: db ? { quota_s: prepaid.quotaS, stale_after_s: prepaid.staleAfterS } : false }, 'sbc started');
      },
      async stop() {
        if (timer) clearInterval(timer);
        b2bua?.close();
        if (sip) {
          await sip.drain(3000);
          await sip.close();
        }
        redis.disconnect();
        await db?.destroy();
      },
      health: () => ({ ok: sip !== null && redis.status === 'ready', sip: sip !== null, redis: redis.status === 'ready' }),
      stats: async () => ({
        calls: await store.count().catch(() => null),
        early: b2bua?.earlyCount() ?? 0,
        transactions_live: sip?.stats().liveTransactions ?? 0,
        sip: sip ? `udp:${self.address}:${self.port}` : null,
      }),
      methods: {
        /** The answered calls: `{ calls: [{ id, profile, a: {call_id, from, to}, b: {…}, created, answered, ends, timers }] }`. */
        'calls.list': async (params) => {
          const limit = Number((params as { limit?: unknown } | undefined)?.limit ?? 1000);
          return { calls: (await store.list(Number.isInteger(limit) && limit > 0 ? limit : 1000)).map(summary) };
        },
        /** BYE on both legs of call `id` (or CANCEL of its B leg while unanswered): `{ id, a, b }` (final status of each BYE, 0: none). */
        'calls.teardown': async (params) => {
          const id = (params as { id?: unknown } | undefined)?.id;
          if (typeof id !== 'string' || id.length === 0) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'params.id must be a call id (calls.list)');
          const r = await b2bua!.teardown(id, 'torn down by the operator');
          if (!r) throw new RpcError(RPC_ERRORS.NOT_FOUND, `no call ${id}`);
          return r;
        },
      },
    };
  },
};
