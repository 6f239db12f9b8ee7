/**
 * `ngcp down`: stop everything `ngcp up` started on this node — the pm2 daemon of
 * `<root>/var/pm2` and every process it supervises — and nothing else (by that pm2
 * home and recorded PIDs; never by process name). Then remove the operator command
 * wrappers `up` installed, if they still point at this checkout and node root.
 */
import { join } from 'node:path';
import { runningInstance, stopInstanceInDir } from '@ngcp/services';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { resolveNode } from './lib/node.js';
import { Supervisor } from './lib/supervisor.js';
import { motdDir, removeMotd, removeWrappers, wrapperDir } from './lib/wrappers.js';

export const USAGE = 'usage: ngcp down [--root DIR] [--bin-dir DIR [--motd-dir DIR] | --no-bin]';

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['root', 'bin-dir', 'motd-dir'], ['no-bin', 'help']);
  if (p.error || p.flags.help || p.rest.length) {
    (p.flags.help ? io.out : io.err)(p.error ? `ngcp down: ${p.error}\n${USAGE}` : USAGE);
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const sup = new Supervisor(ctx.paths);
  let stopped = 0;
  const pid = sup.pm2.daemonPid();
  if (pid !== null) {
    const names = (await sup.pm2.list()).map((x) => x.name);
    await sup.pm2.kill();
    io.out(`ngcp down: stopped ${names.length ? names.join(', ') : 'no process'} and the supervisor (pm2 pid ${pid})`);
    stopped++;
  }
  // a MariaDB left running by an interrupted first `ngcp up` (data initialisation)
  const dbDir = join(ctx.paths.data, 'mariadb');
  if (runningInstance(dbDir)) {
    await stopInstanceInDir(dbDir);
    io.out('ngcp down: stopped the MariaDB of an interrupted data initialisation');
    stopped++;
  }
  if (!stopped) io.out(`ngcp down: node ${ctx.node} is not running; nothing to stop`);
  const binDir = wrapperDir(ctx, p.flags);
  if (binDir) removeWrappers(ctx, io, binDir);
  const motd = motdDir(ctx, p.flags);
  if (binDir && motd) removeMotd(ctx, io, motd, binDir);
  return EXIT.OK;
}
