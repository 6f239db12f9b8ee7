/**
 * `ngcp-motd`: the login banner of a node — which node this is and its role in the pair
 * (deploy/motd runs it from /etc/update-motd.d or /etc/profile.d). Always exit 0: a
 * banner never blocks a login.
 */
import { hostname } from 'node:os';
import { parseFlags, EXIT, type Io } from './lib/io.js';
import { haTarget, roleLine } from './lib/ha.js';
import { resolveNode } from './lib/node.js';

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['root'], ['help']);
  if (p.error || p.flags.help || p.rest.length) {
    (p.flags.help ? io.out : io.err)('usage: ngcp-motd [--root DIR]');
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const t = haTarget(ctx);
  const line = await roleLine(ctx);
  const role = /^role: (\w+)/.exec(line)?.[1] ?? 'unknown';
  const pair = t.kind === 'pair' ? `pair ${t.cfg.hosts[t.node]?.pair ?? '?'} (peer ${t.peer})` : t.kind === 'single' ? 'single node' : '';
  io.out('');
  io.out(`  ngcp node ${ctx.node} on ${hostname()} — ${role.toUpperCase()}${pair ? `, ${pair}` : ''}`);
  io.out(`  ${line}`);
  if (role === 'standby') io.out('  This is the STANDBY node: changes here are replicated over; make them on the active node.');
  io.out('  ngcp-status · ngcp-check-active -v · ngcp-make-active · ngcp-make-standby · ngcpcfg apply "msg"');
  io.out('');
  return EXIT.OK;
}
