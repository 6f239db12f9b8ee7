/**
 * `ngcp-check-active [-v]`: is this node the active one of its pair? As on sip:provider,
 * scripts and cron jobs run `ngcp-check-active && do-something` so only the active node
 * acts.
 *
 *   exit 0  active — also a single node (its network.yml host has no peer)
 *   exit 1  standby
 *   exit 3  unknown: the HA daemon (hbd) cannot be asked or gives no role — neither
 *           "active" nor "standby" can be claimed; the reason goes to stderr
 *   exit 2  bad arguments
 *
 * With a peer, hbd decides: JSON-RPC 2.0 `ha.status` over HTTP POST to
 * `http://<internal address>:<heartbeat.control_port>/`, answering `{ role }`.
 * `-v` prints the role (`active`, `standby`) on stdout.
 */
import { request } from 'node:http';
import { loadConfig, nodeAddresses } from '@ngcp/config';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { resolveNode } from './lib/node.js';

export const USAGE = 'usage: ngcp-check-active [-v] [--root DIR]   (exit 0 active, 1 standby, 3 unknown)';
export const CHECK_EXIT = { ACTIVE: 0, STANDBY: 1, USAGE: EXIT.USAGE, UNKNOWN: 3 } as const;

type Role = 'active' | 'standby';

/** `ha.status` of hbd; a role, or why there is none. */
export function askHbd(url: string, timeoutMs = 2000): Promise<{ role: Role } | { reason: string }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ha.status' });
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (data.length < 65536) data += c;
      });
      res.on('error', (e) => resolve({ reason: e.message }));
      res.on('end', () => {
        try {
          const j = JSON.parse(data) as { result?: { role?: unknown }; error?: { message?: string } };
          if (j.error) return resolve({ reason: `ha.status failed: ${j.error.message ?? 'error'}` });
          const role = j.result?.role;
          if (role === 'active' || role === 'standby') return resolve({ role });
          resolve({ reason: `ha.status gave no role (${JSON.stringify(j.result ?? null)})` });
        } catch {
          resolve({ reason: `not a JSON-RPC answer (HTTP ${res.statusCode ?? 0})` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ reason: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const verbose = argv.includes('-v');
  const p = parseFlags(argv.filter((a) => a !== '-v'), ['root'], ['help', 'verbose']);
  if (p.error || p.flags.help || p.rest.length) {
    (p.flags.help ? io.out : io.err)(p.error ? `ngcp-check-active: ${p.error}\n${USAGE}` : USAGE);
    return p.flags.help ? EXIT.OK : CHECK_EXIT.USAGE;
  }
  const v = verbose || p.flags.verbose === true;
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const unknown = (why: string): number => {
    io.err(`ngcp-check-active: unknown: ${why}`);
    if (v) io.out('unknown');
    return CHECK_EXIT.UNKNOWN;
  };
  let cfg;
  try {
    cfg = loadConfig({ configDir: ctx.paths.configDir, node: ctx.node }).config;
  } catch (e) {
    return unknown(`cannot read the config of node ${ctx.node}: ${(e as Error).message.split('\n')[0]}`);
  }
  const host = cfg.hosts[ctx.node];
  if (!host) return unknown(`node ${ctx.node} is not a host of network.yml`);
  if (!host.peer) {
    if (v) io.out('active');
    return CHECK_EXIT.ACTIVE;
  }
  const url = `http://${nodeAddresses(cfg, ctx.node).internal}:${cfg.heartbeat.control_port}/`;
  const r = await askHbd(url);
  if ('reason' in r) return unknown(`node ${ctx.node} has a peer (${host.peer}) and its HA daemon (hbd, ${url}) cannot be asked: ${r.reason}`);
  if (v) io.out(r.role);
  return r.role === 'active' ? CHECK_EXIT.ACTIVE : CHECK_EXIT.STANDBY;
}
