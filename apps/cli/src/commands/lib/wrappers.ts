/**
 * The operator commands on the PATH, as on an appliance: `ngcp up` writes one small
 * shell wrapper per command into a bin dir (default /usr/local/bin when the node root is
 * the checkout), each calling this checkout's `./ngcp <command>`; `ngcp down` removes
 * the ones that are ours and point at this checkout and node root, and leaves others.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Io } from './io.js';
import type { NodeContext } from './node.js';

/** The operator commands installed on the PATH. */
export const OPERATOR_COMMANDS = ['ngcpcfg', 'ngcp-service', 'ngcp-status', 'ngcp-check-active', 'ngcp-make-active', 'ngcp-make-standby', 'ngcp-motd'] as const;
export const WRAPPER_MARK = '# installed by `ngcp up`';

/**
 * Where the login banner goes: `--motd-dir DIR`, else — for the checkout's own node with
 * the default bin dir — Debian's /etc/update-motd.d (pam_motd runs its scripts at login)
 * when it exists; undefined = none.
 */
export function motdDir(ctx: NodeContext, flags: Record<string, string | true>): string | undefined {
  if (flags['no-bin']) return undefined;
  const given = flags['motd-dir'];
  if (typeof given === 'string') return given;
  if (typeof flags['bin-dir'] === 'string' || ctx.paths.root !== ctx.checkout) return undefined;
  return existsSync('/etc/update-motd.d') ? '/etc/update-motd.d' : undefined;
}

export const MOTD_FILE = '50-ngcp';

function motdText(ctx: NodeContext, binDir: string): string {
  return `#!/bin/sh\n${WRAPPER_MARK} — the login banner of ${ctx.checkout}\n# which node this is and its role in the pair; never fails a login\n'${join(binDir, 'ngcp-motd')}' 2>/dev/null\nexit 0\n`;
}

/** Writes `<dir>/50-ngcp` (the banner, run at login) when missing or different. */
export function installMotd(ctx: NodeContext, io: Io, dir: string, binDir: string): void {
  const file = join(dir, MOTD_FILE);
  const text = motdText(ctx, binDir);
  if (existsSync(file)) {
    const cur = readFileSync(file, 'utf8');
    if (cur === text) return;
    if (!cur.includes(WRAPPER_MARK)) return void io.err(`ngcp up: ${file} exists and is not ours; left alone`);
  }
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, text);
    chmodSync(file, 0o755);
    io.out(`ngcp up: installed the login banner ${file} (runs ngcp-motd)`);
  } catch (e) {
    io.err(`ngcp up: cannot install ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Removes `<dir>/50-ngcp` when it is this node's. */
export function removeMotd(ctx: NodeContext, io: Io, dir: string, binDir: string): void {
  const file = join(dir, MOTD_FILE);
  if (!existsSync(file)) return;
  const cur = readFileSync(file, 'utf8');
  if (!cur.includes(WRAPPER_MARK)) return;
  if (cur !== motdText(ctx, binDir)) return void io.out(`ngcp down: left ${file}: it is another checkout's banner`);
  try {
    rmSync(file);
    io.out(`ngcp down: removed ${file}`);
  } catch (e) {
    io.err(`ngcp down: cannot remove ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The bin dir from `--bin-dir` / `--no-bin`; undefined = no wrappers. */
export function wrapperDir(ctx: NodeContext, flags: Record<string, string | true>): string | undefined {
  if (flags['no-bin']) return undefined;
  const given = flags['bin-dir'];
  if (typeof given === 'string') return given;
  return ctx.paths.root === ctx.checkout ? '/usr/local/bin' : undefined;
}

function rootEnv(ctx: NodeContext): string {
  return ctx.paths.root === ctx.checkout ? '' : `NGCP_ROOT='${ctx.paths.root}' `;
}

function wrapperText(ctx: NodeContext, cmd: string): string {
  return `#!/bin/sh\n${WRAPPER_MARK} — the operator command of ${ctx.checkout}\n${rootEnv(ctx)}exec '${join(ctx.checkout, 'ngcp')}' ${cmd} "$@"\n`;
}

/** What an existing wrapper of ours runs (`<checkout>/ngcp`, with its NGCP_ROOT if any). */
function target(text: string): string {
  const line = text.split('\n').find((l) => l.includes('exec ')) ?? '';
  return line.replace(/^.*?(NGCP_ROOT='[^']*' )?exec '([^']*)'.*$/, (_m, env: string | undefined, ngcp: string) => `${ngcp}${env ? ` (${env.trim()})` : ''}`);
}

/** Writes the wrappers that are missing or differ; one line per file written. */
export function installWrappers(ctx: NodeContext, io: Io, binDir: string): void {
  for (const cmd of OPERATOR_COMMANDS) {
    const file = join(binDir, cmd);
    const text = wrapperText(ctx, cmd);
    let replacing = '';
    if (existsSync(file)) {
      const cur = readFileSync(file, 'utf8');
      if (cur === text) continue;
      if (!cur.includes(WRAPPER_MARK)) {
        io.err(`ngcp up: ${file} exists and is not ours; left alone`);
        continue;
      }
      replacing = ` (it ran ${target(cur)})`;
    }
    try {
      mkdirSync(binDir, { recursive: true });
      writeFileSync(file, text);
      chmodSync(file, 0o755);
      io.out(`ngcp up: installed ${file} → ${join(ctx.checkout, 'ngcp')} ${cmd}${replacing}`);
    } catch (e) {
      io.err(`ngcp up: cannot install ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}

/** Removes the wrappers of this checkout and node root; says which it leaves and why. */
export function removeWrappers(ctx: NodeContext, io: Io, binDir: string): void {
  for (const cmd of OPERATOR_COMMANDS) {
    const file = join(binDir, cmd);
    if (!existsSync(file)) continue;
    let cur: string;
    try {
      cur = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    if (!cur.includes(WRAPPER_MARK)) continue; // not ours: not a word about it
    if (cur !== wrapperText(ctx, cmd)) {
      io.out(`ngcp down: left ${file}: it runs ${target(cur)}, not this node`);
      continue;
    }
    try {
      rmSync(file);
      io.out(`ngcp down: removed ${file}`);
    } catch (e) {
      io.err(`ngcp down: cannot remove ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}
