/**
 * Where things are for one node: the checkout (code, shipped defaults and templates),
 * the node root (config repo, rendered tree, var/), this node's name, the built daemons
 * and the binaries of MariaDB, Redis and rtpengine.
 *
 * Root: `--root DIR`, else $NGCP_ROOT, else — run inside a lab node's network namespace
 * (`ip netns exec sp1 ./ngcp …`) — that node's root from the lab's record, else the
 * checkout (so `./ngcp up` keeps everything in the checkout's etc/ and var/). Node name:
 * `<root>/etc/ngcp-node`, else the lab node, else $NGCP_NODE, else `self`.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMONS, nodePaths, type Binaries, type NodePaths } from '@ngcp/config';
import { nodeOfNetns } from './lab-state.js';

/** apps/cli/{src,dist}/commands/lib → the checkout. */
export const CHECKOUT = resolve(fileURLToPath(new URL('../../../../..', import.meta.url)));

export interface NodeContext {
  checkout: string;
  paths: NodePaths;
  node: string;
  defaultsDir: string;
  templateDirs: string[];
  appsDir: string;
  /** The environment the command runs with (passed on to commands it runs). */
  env: NodeJS.ProcessEnv;
  /** The ngcpcfg executable (dist), for running it on a peer root. */
  cliBin: (name: string) => string;
}

export function resolveNode(opts: { root?: string; node?: string; env?: NodeJS.ProcessEnv } = {}): NodeContext {
  const env = opts.env ?? process.env;
  const checkout = env.NGCP_CHECKOUT ? resolve(env.NGCP_CHECKOUT) : CHECKOUT;
  const lab = opts.root === undefined && !env.NGCP_ROOT ? nodeOfNetns(env) : undefined;
  const root = resolve(opts.root ?? env.NGCP_ROOT ?? lab?.root ?? checkout);
  const paths = nodePaths(root);
  let node = opts.node;
  if (!node && existsSync(paths.nodeFile)) node = readFileSync(paths.nodeFile, 'utf8').trim() || undefined;
  node ??= lab?.node ?? (env.NGCP_NODE || 'self');
  const defaultsDir = join(checkout, 'ngcp-config');
  return {
    checkout,
    paths,
    node,
    defaultsDir,
    templateDirs: [join(defaultsDir, 'templates'), join(paths.configDir, 'templates')],
    env,
    appsDir: env.NGCP_APPS_DIR ? resolve(env.NGCP_APPS_DIR) : join(checkout, 'apps'),
    cliBin: (name) => join(checkout, 'apps/cli/dist/bin', `${name}.js`),
  };
}

/** Daemons whose entry `apps/<name>/dist/main.js` exists. */
export function builtApps(appsDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of DAEMONS) {
    const entry = join(appsDir, d.name, 'dist/main.js');
    if (existsSync(entry)) out[d.name] = entry;
  }
  return out;
}

export function findBinary(names: string[], env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/sbin', '/usr/local/sbin', '/usr/local/bin'];
  for (const n of names) {
    for (const d of dirs) {
      if (!d) continue;
      const p = join(d, n);
      try {
        accessSync(p, constants.X_OK);
        return p;
      } catch {
        // next
      }
    }
  }
  return undefined;
}

export function findBinaries(env: NodeJS.ProcessEnv = process.env): Binaries {
  return {
    mariadbd: findBinary(['mariadbd', 'mysqld'], env),
    redisServer: findBinary(['redis-server'], env),
    rtpengine: findBinary(['rtpengine'], env),
  };
}
