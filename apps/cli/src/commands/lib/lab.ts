/**
 * What `ngcp lab` does besides the network: the lab's dir and record, running this
 * checkout's operator commands inside a node's namespace (`ip netns exec <node> node
 * <cli>/<command>.js …`, their output prefixed with the node), stopping what is left in
 * the namespaces, and formatting replication status.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { MariaDbReplicationStatus, RedisReplicationStatus, ReplicationStatus } from '@ngcp/services';
import { pidAlive, sleep } from '@ngcp/services';
import type { Io } from './io.js';
import { labPointerPath, type LabState } from './lab-state.js';
import { LAB_NAMESPACES, LAB_NODES, netnsPids } from './lab-net.js';
import type { NodeContext } from './node.js';

export const DEFAULT_LAB_DIR = '/var/lib/ngcp-lab';

export function labState(dir: string): LabState {
  const d = resolve(dir);
  return {
    version: 1,
    dir: d,
    createdAt: new Date().toISOString(),
    nodes: Object.fromEntries(LAB_NODES.map((n) => [n, { netns: n, root: join(d, n) }])),
    namespaces: [...LAB_NAMESPACES],
  };
}

export function writeLabState(s: LabState, env: NodeJS.ProcessEnv): void {
  mkdirSync(s.dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(s.dir, 'lab.json'), `${JSON.stringify(s, null, 2)}\n`);
  writeFileSync(labPointerPath(env), `${JSON.stringify({ dir: s.dir })}\n`);
}

export function removeLabState(s: LabState | undefined, env: NodeJS.ProcessEnv): void {
  if (s) rmSync(join(s.dir, 'lab.json'), { force: true });
  rmSync(labPointerPath(env), { force: true });
}

/** The environment for a command run for a lab node: no root or node of the caller's. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const e = { ...env };
  delete e.NGCP_ROOT;
  delete e.NGCP_NODE;
  return e;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs operator command `name` of this checkout in namespace `ns` (or here, ns null);
 * with `io`, each output line is passed on as it comes, prefixed `[prefix] `.
 */
export function runCli(ctx: NodeContext, ns: string | null, name: string, args: string[], opts: { io?: Io; prefix?: string } = {}): Promise<RunResult> {
  const argv = [process.execPath, ctx.cliBin(name), ...args];
  const [cmd, ...rest] = ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
  return new Promise((res) => {
    const child = spawn(cmd!, rest, { env: childEnv(ctx.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const pass = (out: boolean) => {
      let partial = '';
      return (d: Buffer): void => {
        const text = d.toString();
        if (out) stdout += text;
        else stderr += text;
        if (!opts.io) return;
        const lines = (partial + text).split('\n');
        partial = lines.pop() ?? '';
        for (const l of lines) (out ? opts.io.out : opts.io.err)(opts.prefix ? `[${opts.prefix}] ${l}` : l);
      };
    };
    child.stdout.on('data', pass(true));
    child.stderr.on('data', pass(false));
    child.on('error', (e) => res({ code: 127, stdout, stderr: `${stderr}${e.message}\n` }));
    child.on('close', (code) => res({ code: code ?? 1, stdout, stderr }));
  });
}

/**
 * Stops every process still running in the lab's namespaces (after each node's pm2 was
 * stopped, only strays are left: a process started in a node by hand). SIGTERM, up to
 * `graceMs`, then SIGKILL. Returns the PIDs it signalled.
 */
export async function stopNamespaceProcesses(graceMs = 5000): Promise<number[]> {
  const pids = (await Promise.all(LAB_NAMESPACES.map((ns) => netnsPids(ns)))).flat();
  for (const p of pids) {
    try {
      process.kill(p, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const until = Date.now() + graceMs;
  while (pids.some(pidAlive) && Date.now() < until) await sleep(50);
  for (const p of pids.filter(pidAlive)) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
  return pids;
}

function redisLine(r: RedisReplicationStatus | { error: string } | undefined): string {
  if (!r) return 'redis -';
  if ('error' in r) return `redis ERROR ${r.error}`;
  if (r.role === 'master') return `redis master (${r.connectedReplicas} replica${r.connectedReplicas === 1 ? '' : 's'}, offset ${r.offset})`;
  return `redis replica of ${r.master?.host}:${r.master?.port} link ${r.master?.linkUp ? 'up' : 'DOWN'} (offset ${r.offset})`;
}

function mariadbLine(m: MariaDbReplicationStatus | { error: string } | undefined): string {
  if (!m) return 'mariadb -';
  if ('error' in m) return `mariadb ERROR ${m.error}`;
  const gtid = `gtid ${m.gtidCurrentPos || '(empty)'}`;
  if (m.role === 'follow' && m.following) {
    const f = m.following;
    return `mariadb follows ${f.host}:${f.port} io ${f.io} sql ${f.sql} behind ${f.secondsBehind ?? '?'} s, read-only, ${gtid}${f.lastError ? ` — ${f.lastError}` : ''}`;
  }
  return `mariadb ${m.role === 'lead' ? 'leads (writable)' : 'follows nobody, read-only'}, server-id ${m.serverId}, ${gtid}`;
}

/** One line per store of a node. */
export function formatReplication(node: string, s: ReplicationStatus | { error: string }): string[] {
  if ('error' in s) return [`${node}: ${s.error}`];
  return [`${node}: ${redisLine(s.redis)}`, `${' '.repeat(node.length)}  ${mariadbLine(s.mariadb)}`];
}
