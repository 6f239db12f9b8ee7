/**
 * `ngcpcfg` — the one way operators change the platform: edit the YAML of the config
 * dir, then `ngcpcfg apply "why"`. See docs/operations/config.md.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { addMissingSecrets, initConfigDir, planBuild, protectSecrets, readManifest } from '@ngcp/config';
import { applyConfig, cmdBuild, cmdPull, cmdPush, cmdRollback, describePlan, openRepo, renderChecked, short } from './ngcpcfg-apply.js';
import { cmdGet, cmdSet, cmdShow } from './ngcpcfg-keys.js';
import { ConfigRepo } from './lib/git.js';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { resolveNode, type NodeContext } from './lib/node.js';
import { peerTransport } from './lib/peer.js';
import { Supervisor } from './lib/supervisor.js';

export const USAGE = `usage: ngcpcfg [--root DIR] [--node NAME] COMMAND [args]

  init [--node NAME] [--peer-root DIR | --peer-ssh USER@HOST]
                      create the config dir from the shipped defaults (secrets generated)
                      or, with a peer that has one, from the peer's; record the node name
  check               validate the config (schema, addresses, port clashes) and the templates
  build               render the config files (no restart)
  apply "MESSAGE" [--no-rollback]
                      check, build, record in the history, restart what changed, wait healthy
  diff                config changes not yet applied, and the rendered files they change
  status              history, pending changes, services
  log [-n N]          the config history
  show [KEY]          values with the file:line they come from
  get KEY             one value
  set KEY VALUE [--file FILE]
                      change one key (kept comments), refused if invalid; then apply
  push [--force]      send the committed config to the peer node and apply it there
  pull [--force] [--no-apply]
                      take the peer's config (fast-forward only unless forced) and apply it
  rollback [REV] [--force]
                      restore the config of REV (default: the one before the last) and apply it

Exit codes: 0 ok, 1 failed, 2 usage, 3 invalid config (nothing changed),
4 a service is unhealthy, 5 the peer has diverged.`;

export async function initNode(ctx: NodeContext, io: Io, flags: Record<string, string | true>): Promise<number> {
  const { paths } = ctx;
  const peerRoot = typeof flags['peer-root'] === 'string' ? resolve(flags['peer-root']) : undefined;
  const peerSsh = typeof flags['peer-ssh'] === 'string' ? flags['peer-ssh'] : undefined;
  mkdirSync(dirname(paths.nodeFile), { recursive: true });
  if (!existsSync(paths.nodeFile) || flags.node) {
    writeFileSync(paths.nodeFile, `${ctx.node}\n`);
    io.out(`ngcpcfg: this node is ${ctx.node} (${paths.nodeFile})`);
  }
  const repo = new ConfigRepo(paths.configDir);
  const peerRepo = peerRoot ? join(peerRoot, 'etc/ngcp-config') : undefined;
  if (!existsSync(join(paths.configDir, 'config.yml'))) {
    if (peerRepo && existsSync(join(peerRepo, '.git'))) {
      // a pair shares one config (and its secrets): start from the peer's history
      mkdirSync(dirname(paths.configDir), { recursive: true });
      const r = spawnSync('git', ['clone', '-q', '--', peerRepo, paths.configDir], { encoding: 'utf8' });
      if (r.status !== 0) {
        io.err(`ngcpcfg: cannot clone the peer's config: ${r.stderr.trim()}`);
        return EXIT.FAIL;
      }
      await repo.git(['remote', 'remove', 'origin'], { allowFail: true });
      io.out(`ngcpcfg: config dir ${paths.configDir} cloned from the peer (${peerRepo})`);
    } else {
      initConfigDir(ctx.defaultsDir, paths.configDir);
      io.out(`ngcpcfg: config dir ${paths.configDir} created from ${ctx.defaultsDir} (secrets generated)`);
    }
  }
  const added = addMissingSecrets(ctx.defaultsDir, paths.configDir);
  if (added.length) {
    io.out(`ngcpcfg: generated the new secret(s) ${added.join(', ')} in ${paths.configDir}/constants.yml (record them: ngcpcfg apply "new secrets"; on a pair, then ngcpcfg push)`);
  }
  await repo.init();
  if ((await repo.head()) === null) {
    await repo.commitAll('initial config');
    io.out(`ngcpcfg: history started (${short(await repo.head())} "initial config")`);
  }
  if (peerRoot) await repo.setConfig('ngcpcfg.peerroot', peerRoot);
  if (peerSsh) await repo.setConfig('ngcpcfg.peerssh', peerSsh);
  return EXIT.OK;
}

function cmdCheck(ctx: NodeContext, io: Io): number {
  const r = renderChecked(ctx, io);
  if (typeof r === 'number') return r;
  io.out(`ngcpcfg: config OK (node ${ctx.node}: ${r.loaded.files.join(' < ')}; ${r.files.length} files render, ${r.specs.length} services)`);
  return EXIT.OK;
}

async function cmdDiff(ctx: NodeContext, io: Io): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  const d = await repo.diff();
  io.out(d.trim() ? `# config changes not yet recorded (${ctx.paths.configDir})\n${d.trimEnd()}` : '# no config change since the last apply');
  const r = renderChecked(ctx, io);
  if (typeof r === 'number') return r;
  const plan = planBuild(ctx.paths, r.files);
  const touched = [...plan.added, ...plan.changed, ...plan.removed];
  if (!touched.length) {
    io.out('# rendered files are up to date');
    return EXIT.OK;
  }
  const scratch = mkdtempSync(join(tmpdir(), 'ngcpcfg-diff-'));
  try {
    for (const p of touched) {
      const now = r.files.find((f) => f.path === p)?.content ?? '';
      const file = join(scratch, 'new');
      writeFileSync(file, now);
      const old = join(ctx.paths.root, p);
      const res = spawnSync('diff', ['-u', '--label', `a/${p}`, '--label', `b/${p}`, existsSync(old) ? old : '/dev/null', file], { encoding: 'utf8' });
      io.out(res.stdout.trimEnd());
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const svc = Object.entries(plan.services);
  if (svc.length) io.out(`# apply would ${svc.map(([n, a]) => `${a} ${n}`).join(', ')}`);
  return EXIT.OK;
}

async function cmdStatus(ctx: NodeContext, io: Io): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  const [last] = await repo.log(1);
  io.out(`node:     ${ctx.node} (root ${ctx.paths.root})`);
  io.out(`history:  ${last ? `${short(last.sha)} ${last.date} "${last.subject}"` : '(empty)'}`);
  const dirty = await repo.dirty();
  io.out(dirty.length ? `pending:  ${dirty.length} uncommitted change(s):\n${dirty.map((l) => `  ${l}`).join('\n')}` : 'pending:  none');
  const r = renderChecked(ctx, io);
  if (typeof r === 'number') return r;
  const plan = planBuild(ctx.paths, r.files);
  const lines = describePlan(plan);
  io.out(lines.length ? `rendered: out of date (ngcpcfg apply):\n${lines.join('\n')}` : `rendered: up to date (${Object.keys(readManifest(ctx.paths).files).length} files)`);
  const sup = new Supervisor(ctx.paths);
  if (!sup.running()) io.out('services: not running (./ngcp up)');
  else {
    const list = await sup.pm2.list();
    io.out(`services: ${list.map((p) => `${p.name} ${p.status}`).join(', ') || 'none'}`);
  }
  const t = await peerTransport(ctx, repo, r.loaded.config);
  io.out(`peer:     ${t ? t.describe : 'none (single node)'}`);
  return EXIT.OK;
}

async function cmdLog(ctx: NodeContext, io: Io, n: number): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  for (const e of await repo.log(n)) io.out(`${short(e.sha)}  ${e.date}  ${e.subject}`);
  return EXIT.OK;
}

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['root', 'node', 'peer-root', 'peer-ssh', 'file'], ['force', 'no-rollback', 'no-apply', 'incoming', 'help']);
  if (p.error) {
    io.err(`ngcpcfg: ${p.error}\n${USAGE}`);
    return EXIT.USAGE;
  }
  const { flags } = p;
  const rest = [...p.rest];
  // -n N of `log`
  let n = 20;
  const ni = rest.indexOf('-n');
  if (ni >= 0) {
    n = Number(rest[ni + 1]);
    rest.splice(ni, 2);
    if (!Number.isInteger(n) || n <= 0) {
      io.err('ngcpcfg: -n needs a positive number');
      return EXIT.USAGE;
    }
  }
  const [cmd, ...args] = rest;
  if (!cmd || flags.help || cmd === 'help' || cmd === '-h') {
    io.out(USAGE);
    return cmd || flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: flags.root as string | undefined, node: flags.node as string | undefined, env });
  try {
    switch (cmd) {
      case 'init':
        return await initNode(ctx, io, flags);
      case 'check':
        return cmdCheck(ctx, io);
      case 'build':
        return await cmdBuild(ctx, io);
      case 'apply': {
        const message = args.join(' ').trim();
        if (!message) {
          io.err('ngcpcfg: apply needs a message: ngcpcfg apply "why this change"');
          return EXIT.USAGE;
        }
        return await applyConfig(ctx, io, { message, commit: true, autoRollback: !flags['no-rollback'] });
      }
      case 'diff':
        return await cmdDiff(ctx, io);
      case 'status':
        return await cmdStatus(ctx, io);
      case 'log':
        return await cmdLog(ctx, io, n);
      case 'show':
        return cmdShow(ctx, io, args[0]);
      case 'get':
        return cmdGet(ctx, io, args[0]);
      case 'set':
        return cmdSet(ctx, io, args[0], args[1], flags.file as string | undefined);
      case 'push':
        return await cmdPush(ctx, io, { force: flags.force === true });
      case 'pull':
        return await cmdPull(ctx, io, { force: flags.force === true, incoming: flags.incoming === true, apply: !flags['no-apply'] });
      case 'rollback':
        return await cmdRollback(ctx, io, args[0], flags.force === true);
      default:
        io.err(`ngcpcfg: unknown command '${cmd}'\n${USAGE}`);
        return EXIT.USAGE;
    }
  } catch (e) {
    io.err(`ngcpcfg: ${(e as Error).message}`);
    return EXIT.FAIL;
  } finally {
    // whatever wrote constants.yml (init, a clone, set --file, a checkout by rollback/pull)
    if (protectSecrets(ctx.paths.configDir)) io.err(`ngcpcfg: ${ctx.paths.configDir}/constants.yml holds the secrets: made it readable by its owner only (0600)`);
  }
}

