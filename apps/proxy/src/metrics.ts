/** The proxy's Prometheus metrics, registered on the Registry the daemon skeleton passes in. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface ProxyMetrics {
  requests: Counter<'method'>;
  responses: Counter<'method' | 'status'>;
  transactionsLive: Gauge;
  registrationsActive: Gauge;
  callsLive: Gauge;
  drops: Counter<'reason'>;
  authFailures: Counter;
  /** bans written by security.userban, by kind (user / source) */
  authBans: Counter<'kind'>;
  /** requests of banned users refused with 403 */
  authBanRefused: Counter;
  mediaRpc: Histogram<'method'>;
  /** messages of an INVITE transaction this proxy does not have (sip/takeover.ts), by event */
  takeover: Counter<'event'>;
  /** accounting rows by server (`local`, `peer`) and result (`written`, `duplicate`, `refused`) */
  accRows: Counter<'target' | 'result'>;
  /** changes of the accounting writer's server, by new target and reason */
  accSwitches: Counter<'to' | 'reason'>;
  /** star codes dialled, by code (cfu, cfb, cft, cfna, clir) and result (set, cleared, call, error) */
  vsc: Counter<'code' | 'result'>;
  /** calls sent to an app-server announcement, by name (vsc-ok, busy, number-unknown, …) */
  announcements: Counter<'name'>;
  /** calls sent to the app-server's voicemail, by kind (deposit: a forward; retrieve: the voicemail number) */
  voicemail: Counter<'kind'>;
  /** MWI NOTIFYs from the app-server (features/voicemail.ts), by result */
  mwi: Counter<'result'>;
}

export interface MetricSources {
  transactionsLive(): number;
  registrationsActive(): Promise<number> | number;
  callsLive(): Promise<number> | number;
  /** accounting rows waiting for a server (this process) */
  accQueued?(): number;
  /** where this process writes accounting rows now */
  accTarget?(): 'local' | 'peer';
}

export function createProxyMetrics(registry: Registry, src: MetricSources): ProxyMetrics {
  const registers = [registry];
  // the accounting writer's state, read at scrape time (summed over workers: processes per target)
  new Gauge({ name: 'acc_rows_queued', help: 'Accounting rows waiting for a server (refused, retried)', registers, collect() { this.set(src.accQueued?.() ?? 0); } });
  new Gauge({
    name: 'acc_target', help: 'Processes writing accounting rows to each server now (local: this node\'s MariaDB, peer: the other node\'s)', labelNames: ['target'], registers,
    collect() {
      const t = src.accTarget?.() ?? 'local';
      this.set({ target: 'local' }, t === 'local' ? 1 : 0);
      this.set({ target: 'peer' }, t === 'peer' ? 1 : 0);
    },
  });
  return {
    requests: new Counter({ name: 'sip_requests_total', help: 'SIP requests received, by method', labelNames: ['method'], registers }),
    responses: new Counter({ name: 'sip_responses_total', help: 'Final SIP responses sent upstream, by request method and status', labelNames: ['method', 'status'], registers }),
    transactionsLive: new Gauge({ name: 'sip_transactions_live', help: 'SIP transactions alive now', registers, collect() { this.set(src.transactionsLive()); } }),
    registrationsActive: new Gauge({
      name: 'registrations_active', help: 'AoRs with at least one binding (Redis location:* keys)', registers, aggregator: 'max',
      async collect() { try { this.set(await src.registrationsActive()); } catch { /* Redis away: keep the last value */ } },
    }),
    callsLive: new Gauge({
      name: 'calls_live', help: 'Calls in progress (Redis call:* keys)', registers, aggregator: 'max',
      async collect() { try { this.set(await src.callsLive()); } catch { /* Redis away: keep the last value */ } },
    }),
    drops: new Counter({ name: 'sip_drops_total', help: 'SIP messages dropped, by reason', labelNames: ['reason'], registers }),
    authFailures: new Counter({ name: 'auth_failures_total', help: 'Digest authentications that failed (wrong password, unknown user, bad nonce)', registers }),
    authBans: new Counter({ name: 'auth_bans_total', help: 'Bans after failed digest authentications (security.userban), by kind: user (userban:) or source (ipban:, enforced by the lb)', labelNames: ['kind'], registers }),
    authBanRefused: new Counter({ name: 'auth_banned_refused_total', help: 'Requests of banned users refused with 403 (no challenge)', registers }),
    mediaRpc: new Histogram({
      name: 'media_rpc_seconds', help: 'Round trip of media.* calls to mediactl', labelNames: ['method'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    takeover: new Counter({
      name: 'sip_takeover_total', help: 'Messages of INVITE transactions another proxy (or process) forwarded, handled from Redis state, by event (ack-absorbed, response-relayed, cancel-forwarded, …)',
      labelNames: ['event'], registers,
    }),
    accRows: new Counter({
      name: 'acc_rows_total', help: 'Accounting rows by server (local: this node\'s MariaDB, peer: the other node\'s, while this one is standby) and result (written, duplicate, refused: queued for a retry)',
      labelNames: ['target', 'result'], registers,
    }),
    accSwitches: new Counter({ name: 'acc_target_switches_total', help: 'Changes of the server accounting rows go to, by new target and reason (ha.role, read-only, peer-unreachable)', labelNames: ['to', 'reason'], registers }),
    vsc: new Counter({ name: 'proxy_vsc_total', help: 'Star codes dialled, by code (cfu, cfb, cft, cfna, clir) and result (set, cleared, call: CLIR call placed, error)', labelNames: ['code', 'result'], registers }),
    announcements: new Counter({ name: 'proxy_announcements_total', help: 'Calls sent to an app-server announcement, by name (vsc-ok, vsc-cleared, vsc-error, number-unknown, busy, unavailable, no-credit, not-allowed)', labelNames: ['name'], registers }),
    voicemail: new Counter({ name: 'proxy_voicemail_calls_total', help: 'Calls sent to the app-server\'s voicemail, by kind (deposit: a call forward to voicemail; retrieve: a subscriber dialled the voicemail number)', labelNames: ['kind'], registers }),
    mwi: new Counter({
      name: 'proxy_mwi_notify_total',
      help: 'MWI NOTIFYs (Event: message-summary) relayed to the phones, by result (delivered: a device answered 2xx; failed: none did; no-binding: 404; forbidden: not from the app-server, 403; bad-target)',
      labelNames: ['result'], registers,
    }),
  };
}

