/**
 * `ngcp-status` — like `monit summary`: each supervised process of this node, its
 * state, PID, uptime, restarts, memory, health and, for the SIP daemons, a few live
 * counters read from their Prometheus endpoint (transactions, registrations, calls,
 * media sessions, proxies up), after a line with the node's HA role (hbd's `ha.status`;
 * a single node is active). Exit 0 when all are online and healthy, 1 otherwise.
 * `--json` prints the rows as JSON.
 */
import type { HealthCheck } from '@ngcp/config';
import { request } from 'node:http';
import { probe } from './lib/health.js';
import { roleLine } from './lib/ha.js';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { resolveNode } from './lib/node.js';
import { Supervisor } from './lib/supervisor.js';

export interface StatusRow {
  name: string;
  status: string;
  pid: number | null;
  uptimeS: number | null;
  restarts: number;
  memoryBytes: number;
  health: string;
  /** Live counters of a daemon with a control endpoint (short name → value), else null. */
  live: Record<string, number> | null;
}

/** The gauges a daemon's /metrics may carry, and the short names ngcp-status shows them by. */
export const LIVE_GAUGES: ReadonlyArray<readonly [metric: string, label: string]> = [
  ['sip_transactions_live', 'transactions'],
  ['registrations_active', 'registrations'],
  ['calls_live', 'calls'],
  ['media_sessions_live', 'media'],
  ['lb_dispatch_destination_up', 'proxies_up'],
  ['rtpengine_up', 'rtpengines_up'],
  ['appserver_active_calls', 'announcements'],
];

/** Sums each gauge of LIVE_GAUGES over its label sets in a Prometheus text exposition. */
export function liveCounters(metricsText: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of metricsText.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const g = LIVE_GAUGES.find(([metric]) => metric === m[1]);
    const v = Number(m[2]);
    if (g && Number.isFinite(v)) out[g[1]] = (out[g[1]] ?? 0) + v;
  }
  return out;
}

function fetchMetrics(health: HealthCheck, timeoutMs: number): Promise<string | null> {
  if (health.kind !== 'jsonrpc') return Promise.resolve(null);
  return new Promise((resolve) => {
    const req = request(new URL('/metrics', health.url), { method: 'GET', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(res.statusCode === 200 ? body : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

export function formatDuration(s: number): string {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export async function statusRows(sup: Supervisor, only?: string): Promise<StatusRow[]> {
  const specs = sup.specs().filter((s) => !only || s.name === only);
  const list = await sup.pm2.list();
  const now = Date.now();
  return Promise.all(
    specs.map(async (s) => {
      const p = list.find((x) => x.name === s.name);
      const online = p?.status === 'online';
      const [h, metrics] = online ? await Promise.all([probe(s.health, 1500), fetchMetrics(s.health, 1500)]) : [null, null];
      return {
        name: s.name,
        status: p ? p.status : 'not started',
        pid: online && p ? p.pid : null,
        uptimeS: online && p ? Math.max(0, Math.round((now - p.uptimeSince) / 1000)) : null,
        restarts: p?.restarts ?? 0,
        memoryBytes: online && p ? p.memory : 0,
        health: h === null ? '-' : h.ok ? 'ok' : `FAIL: ${h.reason}`,
        live: metrics === null ? null : liveCounters(metrics),
      };
    }),
  );
}

export function formatRows(rows: StatusRow[]): string[] {
  const table = [
    ['Process', 'Status', 'PID', 'Uptime', 'Restarts', 'Memory', 'Health', 'Live'],
    ...rows.map((r) => [
      r.name,
      r.status,
      r.pid === null ? '-' : String(r.pid),
      r.uptimeS === null ? '-' : formatDuration(r.uptimeS),
      String(r.restarts),
      r.memoryBytes ? `${(r.memoryBytes / 1048576).toFixed(1)} MB` : '-',
      r.health,
      r.live === null ? '' : Object.entries(r.live).map(([k, v]) => `${k}=${v}`).join(' '),
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['root'], ['json', 'help']);
  if (p.error || p.flags.help || p.rest.length > 1) {
    (p.flags.help ? io.out : io.err)('usage: ngcp-status [--root DIR] [--json] [NAME]');
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const sup = new Supervisor(ctx.paths);
  if (!sup.running()) {
    if (p.flags.json) io.out('[]');
    else io.out(`ngcp-status: node ${ctx.node} is down (no supervisor in ${ctx.paths.pm2Home}); ./ngcp up starts it`);
    return EXIT.FAIL;
  }
  const rows = await statusRows(sup, p.rest[0]);
  if (p.flags.json) io.out(JSON.stringify(rows));
  else {
    io.out(`node ${ctx.node} — ${rows.length} process(es)`);
    io.out(await roleLine(ctx));
    for (const l of formatRows(rows)) io.out(l);
  }
  return rows.length > 0 && rows.every((r) => r.status === 'online' && r.health === 'ok') ? EXIT.OK : EXIT.FAIL;
}
