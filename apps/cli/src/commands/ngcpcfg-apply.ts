/**
 * The parts of ngcpcfg that change a node: build, apply, rollback, pull, push.
 *
 * apply = check → build → record in the history (git commit with the message) →
 * restart/reload only the services whose rendered files changed, in order, each
 * waited for until healthy. A service that does not come back healthy makes apply
 * roll back by itself (a new commit restoring the previous config, applied the same
 * way) and say so; nothing is restarted for an invalid config.
 */
import { ConfigError, formatIssue, planBuild, writeBuild, type BuildPlan } from '@ngcp/config';
import { ConfigRepo } from './lib/git.js';
import { EXIT, type Io } from './lib/io.js';
import type { NodeContext } from './lib/node.js';
import { INCOMING_REF, peerTransport } from './lib/peer.js';
import { renderFor, type Rendered } from './lib/render.js';
import { Supervisor, type StepResult } from './lib/supervisor.js';

export const short = (sha: string | null): string => (sha ? sha.slice(0, 7) : '(none)');

/** Prints a ConfigError's issues; returns the exit code for it. */
export function reportError(io: Io, e: unknown): number {
  if (e instanceof ConfigError) {
    io.err(`ngcpcfg: ${e.message.split('\n')[0]} — nothing changed:`);
    for (const i of e.issues) io.err(`  ${formatIssue(i)}`);
    return EXIT.INVALID;
  }
  io.err(`ngcpcfg: ${(e as Error).message}`);
  return EXIT.FAIL;
}

export function renderChecked(ctx: NodeContext, io: Io): Rendered | number {
  try {
    return renderFor(ctx);
  } catch (e) {
    return reportError(io, e);
  }
}

export function describePlan(plan: BuildPlan): string[] {
  const out: string[] = [];
  for (const p of plan.added) out.push(`  + ${p}`);
  for (const p of plan.changed) out.push(`  ~ ${p}`);
  for (const p of plan.removed) out.push(`  - ${p}`);
  return out;
}

export async function openRepo(ctx: NodeContext, io: Io): Promise<ConfigRepo | null> {
  const repo = new ConfigRepo(ctx.paths.configDir);
  if (!repo.exists()) {
    io.err(`ngcpcfg: ${ctx.paths.configDir} is not initialised: run \`ngcpcfg init\` (./ngcp up does)`);
    return null;
  }
  return repo;
}

export async function cmdBuild(ctx: NodeContext, io: Io): Promise<number> {
  const r = renderChecked(ctx, io);
  if (typeof r === 'number') return r;
  const plan = planBuild(ctx.paths, r.files);
  writeBuild(ctx.paths, r.files, plan);
  const lines = describePlan(plan);
  io.out(lines.length ? `ngcpcfg: rendered ${lines.length} file(s):\n${lines.join('\n')}` : 'ngcpcfg: rendered files are up to date');
  const svc = Object.entries(plan.services);
  if (svc.length) io.out(`ngcpcfg: services to ${svc.map(([n, a]) => `${a} ${n}`).join(', ')} (ngcpcfg apply does it)`);
  return EXIT.OK;
}

export interface ApplyOptions {
  message: string;
  /** Record the config dir in the history first (false for pull/rollback which already did). */
  commit: boolean;
  /** Roll back by itself when a service is unhealthy. */
  autoRollback: boolean;
}

function stepLine(s: StepResult): string {
  const secs = (s.ms / 1000).toFixed(1);
  return s.ok ? `ngcpcfg: ${s.name}: ${s.action} ok, healthy (${secs} s)` : `ngcpcfg: FAILED: ${s.name} is not healthy ${secs} s after ${s.action}: ${s.reason ?? ''}`;
}

export async function applyConfig(ctx: NodeContext, io: Io, opts: ApplyOptions): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  const r = renderChecked(ctx, io);
  if (typeof r === 'number') return r;
  io.out(`ngcpcfg: config OK (node ${ctx.node}: ${r.loaded.files.join(' < ')})`);

  const before = await repo.head();
  const sha = opts.commit ? await repo.commitAll(opts.message) : null;
  if (sha) io.out(`ngcpcfg: recorded ${short(sha)} "${opts.message}"`);
  else if (opts.commit) io.out('ngcpcfg: no config change to record');

  const plan = planBuild(ctx.paths, r.files);
  writeBuild(ctx.paths, r.files, plan);
  const lines = describePlan(plan);
  if (lines.length) io.out(`ngcpcfg: rendered ${lines.length} changed file(s):\n${lines.join('\n')}`);

  const sup = new Supervisor(ctx.paths);
  if (!sup.running()) {
    io.out('ngcpcfg: services are not running on this node; `./ngcp up` starts them');
    return EXIT.OK;
  }
  const res = await sup.converge({ actions: plan.services, start: 'absent', onStep: (s) => s.ok && io.out(stepLine(s)) });
  for (const n of res.skipped) io.out(`ngcpcfg: ${n}: not supervised on this node (not built or disabled), nothing to restart`);
  if (res.ok) {
    io.out(res.steps.length ? 'ngcpcfg: done' : 'ngcpcfg: done, no service affected');
    return EXIT.OK;
  }
  const failed = res.steps.find((s) => !s.ok)!;
  io.err(stepLine(failed));
  if (opts.autoRollback && sha && before) {
    io.err(`ngcpcfg: rolling back to ${short(before)} by itself …`);
    const rc = await rollbackTo(ctx, io, repo, before, `automatic rollback of ${short(sha)} ('${opts.message}'): ${failed.name} was unhealthy`);
    if (rc === EXIT.OK) {
      io.err(`ngcpcfg: ROLLED BACK: the config of ${short(before)} is active again; the failed change stays in the history as ${short(sha)} (ngcpcfg log)`);
    } else {
      io.err('ngcpcfg: the automatic rollback failed too; see above, and `ngcp-status`');
    }
  } else {
    io.err('ngcpcfg: to go back to the previous config: ngcpcfg rollback');
  }
  return EXIT.UNHEALTHY;
}

async function rollbackTo(ctx: NodeContext, io: Io, repo: ConfigRepo, rev: string, message: string): Promise<number> {
  await repo.restoreTree(rev);
  return applyConfig(ctx, io, { message, commit: true, autoRollback: false });
}

export async function cmdRollback(ctx: NodeContext, io: Io, rev: string | undefined, force: boolean): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  const dirty = await repo.dirty();
  if (dirty.length && !force) {
    io.err(`ngcpcfg: uncommitted changes in ${ctx.paths.configDir} (apply them, or rollback --force discards them):\n${dirty.map((l) => `  ${l}`).join('\n')}`);
    return EXIT.FAIL;
  }
  const target = await repo.resolve(rev ?? 'HEAD~1');
  if (!target) {
    io.err(`ngcpcfg: no such revision ${rev ?? 'HEAD~1'} in the config history`);
    return EXIT.FAIL;
  }
  const subject = (await repo.git(['log', '-1', '--format=%s', target])).stdout.trim();
  io.out(`ngcpcfg: rolling back to ${short(target)} "${subject}"`);
  return rollbackTo(ctx, io, repo, target, `rollback to ${short(target)}: ${subject}`);
}

/** The way to the peer node (from the config, or as set by `ngcpcfg init`), or an exit code after saying why not. */
async function peerOf(ctx: NodeContext, io: Io, repo: NonNullable<Awaited<ReturnType<typeof openRepo>>>): Promise<NonNullable<Awaited<ReturnType<typeof peerTransport>>> | number> {
  let cfg;
  try {
    cfg = renderFor(ctx).loaded.config;
  } catch (e) {
    return reportError(io, e);
  }
  const t = await peerTransport(ctx, repo, cfg);
  if (!t) {
    io.err('ngcpcfg: this node has no peer (network.yml) and none is configured (ngcpcfg init --peer-root/--peer-ssh)');
    return EXIT.FAIL;
  }
  return t;
}

/** Takes the peer's config (fetched, or pushed to INCOMING_REF by the peer) if it fast-forwards; then applies it. */
export async function cmdPull(ctx: NodeContext, io: Io, opts: { force: boolean; incoming: boolean; apply: boolean }): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  if (!opts.incoming) {
    const t = await peerOf(ctx, io, repo);
    if (typeof t === 'number') return t;
    const f = await repo.git(['fetch', '-q', t.gitUrl, `+HEAD:${INCOMING_REF}`], { allowFail: true });
    if (f.code !== 0) {
      io.err(`ngcpcfg: cannot fetch from the peer (${t.describe}): ${f.stderr.trim()}`);
      return EXIT.FAIL;
    }
  }
  const inc = await repo.resolve(INCOMING_REF);
  if (!inc) {
    io.err('ngcpcfg: nothing incoming from the peer');
    return EXIT.FAIL;
  }
  const head = await repo.head();
  const dirty = await repo.dirty();
  if (dirty.length && !opts.force) {
    io.err(`ngcpcfg: refusing: uncommitted local changes here (pull/push --force discards them):\n${dirty.map((l) => `  ${l}`).join('\n')}`);
    return EXIT.DIVERGED;
  }
  if (head && head !== inc && !(await repo.isAncestor(head, inc))) {
    if (!opts.force) {
      io.err(`ngcpcfg: refusing: the config here (${short(head)}) has diverged from the incoming one (${short(inc)}); --force overwrites it`);
      return EXIT.DIVERGED;
    }
    io.out(`ngcpcfg: forced: replacing ${short(head)} with ${short(inc)}`);
  }
  if (head === inc && !dirty.length) io.out(`ngcpcfg: already at ${short(inc)}`);
  else {
    await repo.git(['reset', '-q', '--hard', inc]);
    await repo.git(['clean', '-q', '-f', '-d']);
    io.out(`ngcpcfg: config now at ${short(inc)}`);
  }
  if (!opts.apply) return EXIT.OK;
  return applyConfig(ctx, io, { message: `pull ${short(inc)}`, commit: false, autoRollback: false });
}

export async function cmdPush(ctx: NodeContext, io: Io, opts: { force: boolean }): Promise<number> {
  const repo = await openRepo(ctx, io);
  if (!repo) return EXIT.FAIL;
  const dirty = await repo.dirty();
  if (dirty.length) {
    io.err(`ngcpcfg: uncommitted changes here: apply them first (ngcpcfg apply "msg"), then push:\n${dirty.map((l) => `  ${l}`).join('\n')}`);
    return EXIT.FAIL;
  }
  const t = await peerOf(ctx, io, repo);
  if (typeof t === 'number') return t;
  const head = await repo.head();
  io.out(`ngcpcfg: pushing ${short(head)} to the peer (${t.describe})`);
  const p = await repo.git(['push', '-q', '--force', t.gitUrl, `HEAD:${INCOMING_REF}`], { allowFail: true });
  if (p.code !== 0) {
    io.err(`ngcpcfg: cannot push to the peer: ${p.stderr.trim()}`);
    return EXIT.FAIL;
  }
  const r = await t.ngcpcfg(['pull', '--incoming', ...(opts.force ? ['--force'] : [])]);
  for (const l of r.stdout.split('\n').filter(Boolean)) io.out(`peer: ${l}`);
  for (const l of r.stderr.split('\n').filter(Boolean)) io.err(`peer: ${l}`);
  if (r.code === EXIT.DIVERGED) io.err('ngcpcfg: the peer refused: its config has diverged; `ngcpcfg push --force` overwrites it');
  else if (r.code !== EXIT.OK) io.err(`ngcpcfg: applying on the peer failed (exit ${r.code})`);
  else io.out('ngcpcfg: peer is in sync');
  return r.code;
}
