/**
 * `ngcp-make-active` / `ngcp-make-standby`: a planned switchover of the pair, through
 * this node's hbd (`ha.make_active` / `ha.make_standby`). Either way the pair ends with
 * exactly one active node: make_standby hands the role to the live peer and waits until
 * it has taken it (hbd refuses when the peer is not alive); make_active takes the role
 * and the peer steps down (higher epoch, docs/ha.md R6/R8).
 *
 *   exit 0  this node now has the asked role (a single node is always active)
 *   exit 1  refused or not done (the reason on stderr)
 *   exit 2  bad arguments
 *   exit 3  hbd cannot be asked
 */
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { callHbd, haTarget, type HaStatus } from './lib/ha.js';
import { resolveNode } from './lib/node.js';

export async function main(want: 'active' | 'standby', argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const name = `ngcp-make-${want}`;
  const usage = `usage: ${name} [--root DIR]`;
  const p = parseFlags(argv, ['root'], ['help']);
  if (p.error || p.flags.help || p.rest.length) {
    (p.flags.help ? io.out : io.err)(p.error ? `${name}: ${p.error}\n${usage}` : usage);
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const t = haTarget(ctx);
  if (t.kind === 'error') {
    io.err(`${name}: ${t.reason}`);
    return 3;
  }
  if (t.kind === 'single') {
    if (want === 'active') {
      io.out(`node ${t.node} is a single node: always active`);
      return EXIT.OK;
    }
    io.err(`${name}: node ${t.node} is a single node (no peer in network.yml): it cannot be standby`);
    return EXIT.FAIL;
  }
  const timeoutMs = t.cfg.heartbeat.switchover_timeout_ms + 5000;
  const r = await callHbd(t.url, want === 'active' ? 'ha.make_active' : 'ha.make_standby', timeoutMs);
  if ('reason' in r) {
    const refused = /failed:/.test(r.reason);
    io.err(`${name}: ${refused ? r.reason : `hbd (${t.url}) cannot be asked: ${r.reason}`}`);
    return refused ? EXIT.FAIL : 3;
  }
  const s = r.result as HaStatus & { switched?: boolean };
  if (s.role !== want || (want === 'standby' && s.switched === false)) {
    io.err(`${name}: node ${t.node} is ${s.role}${s.switched === false ? ` and the peer ${t.peer} did not take over within ${t.cfg.heartbeat.switchover_timeout_ms} ms` : ''}`);
    return EXIT.FAIL;
  }
  io.out(`node ${t.node} is ${s.role} (epoch ${s.epoch ?? '?'}); peer ${t.peer} is ${want === 'active' ? 'standby' : 'active'}`);
  return EXIT.OK;
}
