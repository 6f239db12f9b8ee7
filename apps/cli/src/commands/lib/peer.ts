/**
 * How `ngcpcfg push` reaches the other node: git for the data, a command run on the
 * peer for the rest. Two transports, the same protocol:
 *
 *   1. `git push --force <peer repo> HEAD:refs/ngcpcfg/incoming` (a staging ref, never
 *      the checked-out branch),
 *   2. run `ngcpcfg pull --incoming [--force]` on the peer: it fast-forwards to the
 *      incoming commit (refusing if it has diverged or has uncommitted edits, unless
 *      forced) and applies it.
 *
 * - local (the lab, tests): the peer's node root is a directory on this machine
 *   (`ngcpcfg init --peer-root DIR`); git pushes to DIR/etc/ngcp-config, the command is
 *   this checkout's ngcpcfg with `--root DIR`.
 * - ssh (a real pair): `ngcpcfg init --peer-ssh root@10.78.0.2` (default: root@ the
 *   peer's crosslink address from network.yml); git pushes to
 *   ssh://HOST/etc/ngcp-config, the command is `ssh HOST ngcpcfg …`.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { nodeAddresses, type NgcpConfig } from '@ngcp/config';
import type { ConfigRepo } from './git.js';
import type { NodeContext } from './node.js';

export const INCOMING_REF = 'refs/ngcpcfg/incoming';

export interface PeerTransport {
  describe: string;
  gitUrl: string;
  /** Runs `ngcpcfg ARGS` on the peer. */
  ngcpcfg(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ code: 127, stdout, stderr: `${stderr}${e.message}\n` }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export function localTransport(ctx: NodeContext, peerRoot: string): PeerTransport {
  const env = { ...ctx.env };
  delete env.NGCP_ROOT;
  delete env.NGCP_NODE;
  return {
    describe: `local node root ${peerRoot}`,
    gitUrl: join(peerRoot, 'etc/ngcp-config'),
    ngcpcfg: (args) => run(process.execPath, [ctx.cliBin('ngcpcfg'), '--root', peerRoot, ...args], env),
  };
}

export function sshTransport(host: string, configDir = '/etc/ngcp-config'): PeerTransport {
  return {
    describe: `ssh ${host}`,
    gitUrl: `ssh://${host}${configDir}`,
    ngcpcfg: (args) => run('ssh', ['-o', 'BatchMode=yes', host, 'ngcpcfg', ...args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`)], process.env),
  };
}

/** The configured transport: git config ngcpcfg.peerroot / ngcpcfg.peerssh, else ssh to the peer's crosslink address. */
export async function peerTransport(ctx: NodeContext, repo: ConfigRepo, cfg: NgcpConfig): Promise<PeerTransport | null> {
  const root = await repo.getConfig('ngcpcfg.peerroot');
  if (root) return localTransport(ctx, root);
  const ssh = await repo.getConfig('ngcpcfg.peerssh');
  if (ssh) return sshTransport(ssh, (await repo.getConfig('ngcpcfg.peerdir')) ?? '/etc/ngcp-config');
  const peer = cfg.hosts[ctx.node]?.peer;
  if (!peer) return null;
  const ha = nodeAddresses(cfg, peer).ha;
  return ha ? sshTransport(`root@${ha}`) : null;
}
