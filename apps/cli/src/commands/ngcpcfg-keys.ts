/** `ngcpcfg show KEY`, `get KEY`, `set KEY VALUE`: read and change single keys. */
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatKeyPath, getIn, loadConfig, parseKeyPath, parseValue, setKeyInYaml, toYaml, type KeyPath, type LoadedConfig } from '@ngcp/config';
import { reportError } from './ngcpcfg-apply.js';
import { EXIT, type Io } from './lib/io.js';
import type { NodeContext } from './lib/node.js';

function load(ctx: NodeContext, io: Io): LoadedConfig | number {
  try {
    return loadConfig({ configDir: ctx.paths.configDir, node: ctx.node });
  } catch (e) {
    return reportError(io, e);
  }
}

function keyPath(io: Io, key: string | undefined): KeyPath | null {
  if (!key) {
    io.err('ngcpcfg: missing KEY (e.g. lb.sip_port)');
    return null;
  }
  try {
    return parseKeyPath(key);
  } catch (e) {
    io.err(`ngcpcfg: ${(e as Error).message}`);
    return null;
  }
}

function scalar(v: unknown): string {
  return v === null ? 'null' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Loads the config and finds KEY (the whole config when `wholeIfNoKey` and no key), or an exit code after saying why not. */
function lookup(ctx: NodeContext, io: Io, key: string | undefined, wholeIfNoKey: boolean) {
  const path = key || !wholeIfNoKey ? keyPath(io, key) : [];
  if (!path) return EXIT.USAGE;
  const l = load(ctx, io);
  if (typeof l === 'number') return l;
  const v = getIn(l.config, path);
  if (!v.found) {
    io.err(`ngcpcfg: no key ${key}`);
    return EXIT.FAIL;
  }
  return { v, path, l };
}

/** Prints the value only: a scalar as is, a map or list as YAML. */
export function cmdGet(ctx: NodeContext, io: Io, key: string | undefined): number {
  const found = lookup(ctx, io, key, false);
  if (typeof found === 'number') return found;
  const { v } = found;
  io.out(v.value !== null && typeof v.value === 'object' ? toYaml(v.value).trimEnd() : scalar(v.value));
  return EXIT.OK;
}

/** Prints each value under KEY with the file and line it comes from (after the overlays). */
export function cmdShow(ctx: NodeContext, io: Io, key: string | undefined): number {
  const found = lookup(ctx, io, key, true);
  if (typeof found === 'number') return found;
  const { v, path, l } = found;
  const leaves: [KeyPath, unknown][] = [];
  const walk = (p: KeyPath, x: unknown): void => {
    if (x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length) {
      for (const [k, y] of Object.entries(x)) walk([...p, k], y);
    } else leaves.push([p, x]);
  };
  walk(path, v.value);
  const rows = leaves.map(([p, x]) => {
    const o = l.origin(p);
    return [`${formatKeyPath(p)}: ${scalar(x)}`, o ? `# ${o.file}${o.line !== undefined ? `:${o.line}` : ''}` : ''] as const;
  });
  const w = Math.min(60, Math.max(...rows.map((r) => r[0].length)));
  for (const [a, b] of rows) io.out(`${a.padEnd(w)}  ${b}`);
  return EXIT.OK;
}

/**
 * Sets KEY to VALUE (parsed as YAML: 5061, true, [a, b], "text") in the file that
 * defines it now (or --file), keeping comments; refuses if the result is invalid.
 * It does not apply: `ngcpcfg apply "msg"` does.
 */
export function cmdSet(ctx: NodeContext, io: Io, key: string | undefined, raw: string | undefined, file: string | undefined): number {
  const path = keyPath(io, key);
  if (!path) return EXIT.USAGE;
  if (raw === undefined) {
    io.err('ngcpcfg: missing VALUE');
    return EXIT.USAGE;
  }
  const value = parseValue(raw);
  let target = file;
  if (!target) {
    try {
      const l = loadConfig({ configDir: ctx.paths.configDir, node: ctx.node });
      if (getIn(l.config, path).found) target = l.origin(path)?.file;
    } catch {
      // invalid right now: fall back to the default file
    }
    target ??= path[0] === 'hosts' ? 'network.yml' : 'config.yml';
    if (target === 'constants.yml') {
      io.err(`ngcpcfg: ${key} is set in constants.yml, which operators should not touch; use --file constants.yml to change it anyway`);
      return EXIT.FAIL;
    }
  }
  if (!/^[\w.-]+\.yml$/.test(target)) {
    io.err(`ngcpcfg: --file must be a .yml file of the config dir (got ${target})`);
    return EXIT.USAGE;
  }
  const abs = join(ctx.paths.configDir, target);
  let text = '';
  try {
    text = readFileSync(abs, 'utf8');
  } catch {
    // a new overlay file
  }
  let next: string;
  try {
    next = setKeyInYaml(text, path, value);
  } catch (e) {
    return reportError(io, new Error(`${target} ${(e as Error).message}`));
  }

  // check the whole config with the change, in a scratch copy; write only if valid
  const scratch = mkdtempSync(join(tmpdir(), 'ngcpcfg-set-'));
  try {
    for (const f of readdirSync(ctx.paths.configDir)) {
      const p = join(ctx.paths.configDir, f);
      if (f.endsWith('.yml') && statSync(p).isFile()) copyFileSync(p, join(scratch, f));
    }
    writeFileSync(join(scratch, target), next);
    try {
      loadConfig({ configDir: scratch, node: ctx.node });
    } catch (e) {
      return reportError(io, e);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  writeFileSync(abs, next);
  io.out(`ngcpcfg: ${formatKeyPath(path)} = ${scalar(value)} in ${target} (not applied yet: ngcpcfg apply "why")`);
  return EXIT.OK;
}
