/** The lb's Prometheus metrics, registered on the Registry the daemon skeleton passes in. */
import type { Registry } from 'prom-client';
import { Counter, Gauge } from 'prom-client';

export interface LbMetrics {
  requests: Counter<'method'>;
  responses: Counter<'method' | 'status'>;
  transactionsLive: Gauge;
  drops: Counter<'reason'>;
  destinationUp: Gauge<'destination'>;
  forwarded: Counter<'direction'>;
  ipBans: Counter;
  ipBansActive: Gauge;
}

/** `status` label of a final response: the code for the ones operators look for, else the class (`4xx`). */
export function statusLabel(status: number): string {
  if (status === 200 || status === 401 || status === 403 || status === 407 || status === 408 || status === 480 || status === 482 || status === 483 || status === 486 || status === 487 || status === 503) return String(status);
  return `${Math.floor(status / 100)}xx`;
}

export interface MetricSources {
  /** Transactions alive now. */
  liveTransactions(): number;
  /** The transport's own counters of dropped and rejected messages (cumulative), if running. */
  transportCounters(): { dropped: Record<string, number>; rejected: Record<string, number> } | null;
  /** Source addresses banned now (the flood guard's memory). */
  activeIpBans(): number;
}

export function createLbMetrics(registry: Registry, src: MetricSources): LbMetrics {
  const registers = [registry];
  // the transport's drops and edge rejects (unparseable, 400, 483 …) join sip_drops_total as
  // reasons `<drop reason>` and `reject-<status>`: on each scrape, the growth since the last one
  const seen = new Map<string, number>();
  return {
    requests: new Counter({ name: 'sip_requests_total', help: 'SIP requests received (after the edge check), by method', labelNames: ['method'], registers }),
    responses: new Counter({
      name: 'sip_responses_total',
      help: 'Final SIP responses sent upstream by the lb (relayed or its own), by request method and status (code or class)',
      labelNames: ['method', 'status'],
      registers,
    }),
    transactionsLive: new Gauge({
      name: 'sip_transactions_live',
      help: 'SIP transactions alive now (client and server)',
      registers,
      collect() {
        this.set(src.liveTransactions());
      },
    }),
    drops: new Counter({
      name: 'sip_drops_total',
      help: 'SIP messages dropped or refused at the edge (transport drops, edge rejects reject-<status>, lb refusals), by reason',
      labelNames: ['reason'],
      registers,
      collect() {
        const s = src.transportCounters();
        if (!s) return;
        const entries: Array<[string, number]> = [...Object.entries(s.dropped), ...Object.entries(s.rejected).map(([st, n]): [string, number] => [`reject-${st}`, n])];
        for (const [reason, n] of entries) {
          const delta = n - (seen.get(reason) ?? 0);
          if (delta > 0) this.inc({ reason }, delta);
          seen.set(reason, n);
        }
      },
    }),
    destinationUp: new Gauge({ name: 'lb_dispatch_destination_up', help: '1 when the proxy destination is up, 0 when down', labelNames: ['destination'], registers }),
    forwarded: new Counter({
      name: 'lb_forwarded_total',
      help: 'Requests forwarded, by direction (inbound: client → proxy, outbound: proxy → client)',
      labelNames: ['direction'],
      registers,
    }),
    ipBansActive: activeIpBansGauge(registers, src),
    ipBans: new Counter({ name: 'lb_ipbans_total', help: 'Source addresses the flood guard banned (security.ipban)', registers }),
  };
}

function activeIpBansGauge(registers: Registry[], src: MetricSources): Gauge {
  return new Gauge({
    name: 'lb_ipbans_active',
    help: 'Source addresses banned now (their packets are dropped unanswered: sip_drops_total{reason="refused"})',
    registers,
    collect() {
      this.set(src.activeIpBans());
    },
  });
}
