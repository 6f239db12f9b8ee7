/**
 * `ngcp-check-active [-v|-q]`: is this node the active one of its pair? As on
 * sip:provider, scripts and cron jobs run `ngcp-check-active && do-something` so only the
 * active node acts.
 *
 *   exit 0  active — also a single node (its network.yml host has no peer)
 *   exit 1  standby
 *   exit 3  unknown: the HA daemon (hbd) cannot be asked or gives no role — neither
 *           "active" nor "standby" can be claimed; the reason goes to stderr
 *   exit 2  bad arguments
 *
 * With a peer, hbd decides: JSON-RPC 2.0 `ha.status` over HTTP POST to
 * `http://<internal address>:<heartbeat.control_port>/`, answering `{ role }`.
 * `-v` prints the role (`active`, `standby`, `unknown`) on stdout; `-q` prints nothing,
 * not even the reason of an unknown (only the exit code speaks).
 */
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { askHbd, haTarget } from './lib/ha.js';
import { resolveNode } from './lib/node.js';

export { askHbd } from './lib/ha.js';

export const USAGE = 'usage: ngcp-check-active [-v | -q] [--root DIR]   (exit 0 active, 1 standby, 3 unknown)';
export const CHECK_EXIT = { ACTIVE: 0, STANDBY: 1, USAGE: EXIT.USAGE, UNKNOWN: 3 } as const;

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const verbose = argv.includes('-v');
  const quiet = argv.includes('-q');
  const p = parseFlags(argv.filter((a) => a !== '-v' && a !== '-q'), ['root'], ['help', 'verbose', 'quiet']);
  if (p.error || p.flags.help || p.rest.length) {
    (p.flags.help ? io.out : io.err)(p.error ? `ngcp-check-active: ${p.error}\n${USAGE}` : USAGE);
    return p.flags.help ? EXIT.OK : CHECK_EXIT.USAGE;
  }
  const q = quiet || p.flags.quiet === true;
  const v = !q && (verbose || p.flags.verbose === true);
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const unknown = (why: string): number => {
    if (!q) io.err(`ngcp-check-active: unknown: ${why}`);
    if (v) io.out('unknown');
    return CHECK_EXIT.UNKNOWN;
  };
  const t = haTarget(ctx);
  if (t.kind === 'error') return unknown(t.reason);
  if (t.kind === 'single') {
    if (v) io.out('active');
    return CHECK_EXIT.ACTIVE;
  }
  const r = await askHbd(t.url);
  if ('reason' in r) return unknown(`node ${ctx.node} has a peer (${t.peer}) and its HA daemon (hbd, ${t.url}) cannot be asked: ${r.reason}`);
  if (v) io.out(r.role);
  return r.role === 'active' ? CHECK_EXIT.ACTIVE : CHECK_EXIT.STANDBY;
}
