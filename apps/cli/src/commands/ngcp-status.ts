/**
 * `ngcp-status` — like `monit summary`: each supervised process of this node, its
 * state, PID, uptime, restarts, memory and health. Exit 0 when all are online and
 * healthy, 1 otherwise. `--json` prints the rows as JSON.
 */
import { probe } from './lib/health.js';
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
      const h = online ? await probe(s.health, 1500) : null;
      return {
        name: s.name,
        status: p ? p.status : 'not started',
        pid: online && p ? p.pid : null,
        uptimeS: online && p ? Math.max(0, Math.round((now - p.uptimeSince) / 1000)) : null,
        restarts: p?.restarts ?? 0,
        memoryBytes: online && p ? p.memory : 0,
        health: h === null ? '-' : h.ok ? 'ok' : `FAIL: ${h.reason}`,
      };
    }),
  );
}

export function formatRows(rows: StatusRow[]): string[] {
  const table = [
    ['Process', 'Status', 'PID', 'Uptime', 'Restarts', 'Memory', 'Health'],
    ...rows.map((r) => [
      r.name,
      r.status,
      r.pid === null ? '-' : String(r.pid),
      r.uptimeS === null ? '-' : formatDuration(r.uptimeS),
      String(r.restarts),
      r.memoryBytes ? `${(r.memoryBytes / 1048576).toFixed(1)} MB` : '-',
      r.health,
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
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
    for (const l of formatRows(rows)) io.out(l);
  }
  return rows.length > 0 && rows.every((r) => r.status === 'online' && r.health === 'ok') ? EXIT.OK : EXIT.FAIL;
}
