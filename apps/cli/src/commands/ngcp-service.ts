/**
 * `ngcp-service start|stop|restart|reload|status [NAME]` — control this node's
 * supervised processes (like `monit start lb`). Without NAME: all of them, in order
 * (stop in reverse order). start/restart/reload wait until the service is healthy.
 */
import { formatRows, statusRows } from './ngcp-status.js';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { resolveNode } from './lib/node.js';
import { Supervisor } from './lib/supervisor.js';

export const USAGE = 'usage: ngcp-service [--root DIR] start|stop|restart|reload|status [NAME]';

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['root'], ['help']);
  const [verb, name, extra] = p.rest;
  if (p.error || p.flags.help || !verb || extra !== undefined) {
    (p.flags.help ? io.out : io.err)(p.error ? `ngcp-service: ${p.error}\n${USAGE}` : USAGE);
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: p.flags.root as string | undefined, env });
  const sup = new Supervisor(ctx.paths);
  const specs = sup.specs();
  if (!specs.length) {
    io.err('ngcp-service: no services are defined on this node yet: run `ngcpcfg build` (./ngcp up does)');
    return EXIT.FAIL;
  }
  const targets = name ? specs.filter((s) => s.name === name) : specs;
  if (name && !targets.length) {
    io.err(`ngcp-service: no service ${name} on this node (services: ${specs.map((s) => s.name).join(', ')})`);
    return EXIT.USAGE;
  }
  switch (verb) {
    case 'status': {
      if (!sup.running()) {
        io.out(`ngcp-service: node ${ctx.node} is down`);
        return EXIT.FAIL;
      }
      const rows = await statusRows(sup, name);
      for (const l of formatRows(rows)) io.out(l);
      return rows.every((r) => r.status === 'online' && r.health === 'ok') ? EXIT.OK : EXIT.FAIL;
    }
    case 'stop': {
      if (!sup.running()) {
        io.out('ngcp-service: nothing runs');
        return EXIT.OK;
      }
      const known = new Set((await sup.pm2.list()).map((x) => x.name));
      for (const s of [...targets].reverse()) {
        if (!known.has(s.name)) continue;
        await sup.pm2.stop(s.name);
        io.out(`ngcp-service: ${s.name} stopped`);
      }
      return EXIT.OK;
    }
    case 'start':
    case 'restart':
    case 'reload': {
      const list = await sup.pm2.list();
      let ok = true;
      for (const s of targets) {
        const cur = list.find((x) => x.name === s.name);
        if (verb === 'start' && cur?.status === 'online') {
          io.out(`ngcp-service: ${s.name} already running`);
          continue;
        }
        const action = verb === 'reload' && cur?.status === 'online' ? 'reload' : cur || verb !== 'start' ? 'restart' : 'start';
        const r = await sup.startOne(s, action);
        if (r.ok) io.out(`ngcp-service: ${s.name} ${verb === 'start' ? 'started' : `${verb}ed`}, healthy (${(r.ms / 1000).toFixed(1)} s)`);
        else {
          io.err(`ngcp-service: ${s.name} is NOT healthy after ${verb}: ${r.reason ?? ''}`);
          ok = false;
          break;
        }
      }
      return ok ? EXIT.OK : EXIT.UNHEALTHY;
    }
    default:
      io.err(`ngcp-service: unknown action '${verb}'\n${USAGE}`);
      return EXIT.USAGE;
  }
}
