/**
 * `ngcp lab up|down|status|role|replication`: the pair on one machine
 * (docs/operations/lab.md). Root only (network namespaces).
 *
 *   up [--dir DIR]     the network (lib/lab-net.ts), then `ngcp up` inside each node's
 *                      namespace with that node's root (<dir>/sp1, <dir>/sp2; sp2's config
 *                      cloned from sp1's): sp1 leads, sp2 follows (Redis + MariaDB
 *                      replication over the crosslink); the shared IP on sp1. Idempotent.
 *   down [--purge]     each node's `ngcp down`, what is left in the namespaces stopped by
 *                      PID, the namespaces deleted; --purge also removes the lab dir.
 *   status             namespaces, shared IP, each node's processes, replication.
 *   role NODE lead|follow   set the roles of NODE's MariaDB and Redis.
 *   replication [--json]    both nodes' replication state.
 *
 * Commands about one node run inside its namespace (its Redis and daemons answer on
 * 127.0.0.2 there): this same command is re-run with `ip netns exec`, and finds its node
 * by its namespace (lib/lab-state.ts).
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { DEFAULT_LAB_DIR, formatReplication, labState, removeLabState, runCli, stopNamespaceProcesses, writeLabState } from './lib/lab.js';
import { deleteNamespaces, ensureNetwork, ensureSharedIp, labNamespacesPresent, LAB_NODES, sharedIpHolders, SHARED, type LabNode } from './lib/lab-net.js';
import { inNetns, readLabState, type LabState } from './lib/lab-state.js';
import { resolveNode, type NodeContext } from './lib/node.js';
import { applyRole, storesOf, storesStatus, type StoreRole } from './lib/roles.js';

export const USAGE = `usage: ngcp lab up [--dir DIR] | down [--purge] | status | role NODE lead|follow | replication [--json]
  the pair on one machine: namespaces sp1 sp2 client carrier gw on 10.77.0.0/24, shared IP ${SHARED.ip}`;

const ROLES: Record<LabNode, StoreRole> = { sp1: 'lead', sp2: 'follow' };

function isLabNode(n: string | undefined): n is LabNode {
  return (LAB_NODES as readonly string[]).includes(n ?? '');
}

async function up(ctx: NodeContext, io: Io, dirFlag: string | undefined): Promise<number> {
  const existing = readLabState(ctx.env);
  if (existing && dirFlag && resolve(dirFlag) !== existing.dir) {
    io.err(`ngcp lab: a lab is up with its dir ${existing.dir}; run 'ngcp lab down' first to use ${resolve(dirFlag)}`);
    return EXIT.FAIL;
  }
  const state: LabState = existing ?? labState(dirFlag ?? DEFAULT_LAB_DIR);
  let changes: string[];
  try {
    changes = await ensureNetwork();
  } catch (e) {
    io.err(`ngcp lab: the network could not be built: ${(e as Error).message}\n('ngcp lab down' removes what was made)`);
    return EXIT.FAIL;
  }
  for (const c of changes) io.out(`ngcp lab: ${c}`);
  if (!existing) writeLabState(state, ctx.env);
  let changed = changes.length > 0 || !existing;

  // With the HA daemon built (it runs under each node's pm2), hbd decides the roles and holds
  // the shared IP: the initial roles are given only to a new lab; a node brought back joins
  // as standby and its hbd makes its stores follow the active peer (docs/ha.md).
  const hbd = existsSync(join(ctx.appsDir, 'hbd/dist/main.js'));
  for (const node of LAB_NODES) {
    const rec = state.nodes[node]!;
    const initialRole = !(hbd && existing);
    const args = ['--root', rec.root, '--node', node, ...(initialRole ? ['--role', ROLES[node]] : []), '--no-bin'];
    if (node === 'sp2') args.push('--peer-root', state.nodes.sp1!.root);
    io.out(`ngcp lab: ${node}: ngcp up (${initialRole ? ROLES[node] : 'role by hbd'}) in namespace ${rec.netns}, root ${rec.root}`);
    const r = await runCli(ctx, rec.netns, 'ngcp-up', args, { io, prefix: node });
    if (r.code !== 0) {
      io.err(`ngcp lab: ${node} did not come up (ngcp up exit ${r.code}); 'ngcp lab status' shows what runs, 'ngcp lab down' removes it`);
      return EXIT.FAIL;
    }
    if (!r.stdout.includes('is already up; nothing to do')) changed = true;
  }
  let holders: string[];
  if (hbd) {
    // hbd takes the role (and the IP) on its own: wait for it, never add the IP beside it
    const until = Date.now() + 15_000;
    while ((holders = await sharedIpHolders()).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    if (holders.length !== 1) io.err(`ngcp lab: the shared IP is on ${holders.length ? holders.join(' and ') : 'no node'} (hbd: ip netns exec sp1 ./ngcp ngcp-status)`);
  } else {
    const ipChange = await ensureSharedIp('sp1');
    if (ipChange) {
      io.out(`ngcp lab: ${ipChange}`);
      changed = true;
    }
    holders = await sharedIpHolders();
  }
  io.out('');
  io.out(changed ? 'ngcp lab: the pair is up' : 'ngcp lab: already up; nothing changed');
  io.out(`Shared IP: ${SHARED.ip} (on ${holders.join(', ') || 'no node'}); sp1 10.77.0.11, sp2 10.77.0.12, client 10.77.0.100, carrier 10.77.0.200, gw 10.77.0.1`);
  const sp1 = state.nodes.sp1!.root;
  io.out(`SIP:  udp+tcp ${SHARED.ip}:5060 (lb) — from the client: ip netns exec client sipp … ${SHARED.ip}`);
  io.out(`API:  https://${SHARED.ip}:1443  (user and password in ${join(sp1, 'var/api.env')}; CA ${join(sp1, 'var/api/tls/cert.pem')})`);
  io.out(`In a node: ip netns exec sp1 ./ngcp ngcp-status    Roles: ./ngcp lab replication`);
  return EXIT.OK;
}

async function down(ctx: NodeContext, io: Io, purge: boolean): Promise<number> {
  const state = readLabState(ctx.env);
  let did = false;
  if (state) {
    for (const node of [...LAB_NODES].reverse()) {
      const rec = state.nodes[node];
      if (!rec) continue;
      const r = await runCli(ctx, null, 'ngcp-down', ['--root', rec.root, '--no-bin'], { io, prefix: node });
      if (r.code !== 0) io.err(`ngcp lab: ${node}: ngcp down exit ${r.code}`);
      did = true;
    }
  }
  const strays = await stopNamespaceProcesses();
  if (strays.length) io.out(`ngcp lab: stopped ${strays.length} process(es) left in the namespaces: ${strays.join(' ')}`);
  const deleted = await deleteNamespaces();
  if (deleted.length) io.out(`ngcp lab: deleted namespaces ${deleted.join(' ')} (with their links and addresses)`);
  removeLabState(state, ctx.env);
  if (purge && state) {
    rmSync(state.dir, { recursive: true, force: true });
    io.out(`ngcp lab: removed ${state.dir}`);
  }
  const left = labNamespacesPresent();
  if (left.length) {
    io.err(`ngcp lab: namespaces still present: ${left.join(' ')}`);
    return EXIT.FAIL;
  }
  io.out(did || deleted.length || strays.length ? 'ngcp lab: down; no namespace, process or address left' : 'ngcp lab: no lab is up; nothing to do');
  return EXIT.OK;
}

/** Replication state of every node, each asked inside its namespace. */
async function replication(ctx: NodeContext, io: Io, json: boolean): Promise<number> {
  const here = localNode(ctx);
  if (here) {
    // inside a node: this node's own state, as JSON (what the outer command collects)
    const s = await storesStatus(storesOf(here));
    io.out(JSON.stringify(s));
    return EXIT.OK;
  }
  const state = readLabState(ctx.env);
  if (!state) {
    io.err('ngcp lab: no lab is up');
    return EXIT.FAIL;
  }
  const all: Record<string, unknown> = {};
  for (const node of LAB_NODES) {
    const r = await runCli(ctx, state.nodes[node]!.netns, 'ngcp-lab', ['replication', '--json']);
    let s: unknown;
    try {
      s = r.code === 0 ? JSON.parse(r.stdout) : { error: r.stderr.trim() || `exit ${r.code}` };
    } catch {
      s = { error: `not JSON: ${r.stdout.slice(0, 200)}` };
    }
    all[node] = s;
  }
  if (json) io.out(JSON.stringify(all));
  else for (const [node, s] of Object.entries(all)) for (const l of formatReplication(node, s as Parameters<typeof formatReplication>[1])) io.out(l);
  return EXIT.OK;
}

/** The lab node this process runs in, as a node context. */
function localNode(ctx: NodeContext): NodeContext | undefined {
  const state = readLabState(ctx.env);
  if (!state) return undefined;
  for (const [node, rec] of Object.entries(state.nodes)) if (inNetns(rec.netns)) return resolveNode({ root: rec.root, node, env: ctx.env });
  return undefined;
}

async function role(ctx: NodeContext, io: Io, node: string | undefined, r: string | undefined): Promise<number> {
  if (!isLabNode(node) || (r !== 'lead' && r !== 'follow')) {
    io.err(`ngcp lab: role NODE lead|follow (NODE: ${LAB_NODES.join(' or ')})\n${USAGE}`);
    return EXIT.USAGE;
  }
  const state = readLabState(ctx.env);
  if (!state) {
    io.err('ngcp lab: no lab is up');
    return EXIT.FAIL;
  }
  const rec = state.nodes[node]!;
  if (!inNetns(rec.netns)) {
    const res = await runCli(ctx, rec.netns, 'ngcp-lab', ['role', node, r], { io });
    return res.code;
  }
  const here = resolveNode({ root: rec.root, node, env: ctx.env });
  try {
    const c = await applyRole(storesOf(here), r, (l) => io.out(`ngcp lab: ${node}: ${l}`));
    if (!c.changed) io.out(`ngcp lab: ${node} already ${r === 'lead' ? 'leads' : 'follows'}; nothing changed`);
    return EXIT.OK;
  } catch (e) {
    io.err(`ngcp lab: ${node}: ${(e as Error).message}`);
    return EXIT.FAIL;
  }
}

async function status(ctx: NodeContext, io: Io): Promise<number> {
  const state = readLabState(ctx.env);
  const present = labNamespacesPresent();
  if (!state && !present.length) {
    io.out('ngcp lab: no lab is up');
    return EXIT.FAIL;
  }
  io.out(`Lab dir: ${state?.dir ?? '(no record)'}    namespaces: ${present.join(' ') || 'none'}`);
  const holders = await sharedIpHolders();
  io.out(`Shared IP ${SHARED.ip}: ${holders.length ? `on ${holders.join(' and ')}${holders.length > 1 ? ' — SPLIT BRAIN' : ''}` : 'on no node'}`);
  if (!state) return EXIT.FAIL;
  let rc: number = EXIT.OK;
  for (const node of LAB_NODES) {
    const rec = state.nodes[node]!;
    io.out('');
    io.out(`${node} (root ${rec.root})`);
    const r = await runCli(ctx, rec.netns, 'ngcp-status', ['--root', rec.root], { io, prefix: node });
    if (r.code !== 0) rc = EXIT.UNHEALTHY;
  }
  io.out('');
  await replication(ctx, io, false);
  return rc;
}

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['dir'], ['purge', 'json', 'help']);
  const [sub, ...rest] = p.rest;
  if (p.error || p.flags.help || !sub) {
    (p.flags.help ? io.out : io.err)(p.error ? `ngcp lab: ${p.error}\n${USAGE}` : USAGE);
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    io.err('ngcp lab: needs root (it makes network namespaces)');
    return EXIT.FAIL;
  }
  const ctx = resolveNode({ env });
  switch (sub) {
    case 'up':
      return rest.length ? usage(io) : up(ctx, io, p.flags.dir as string | undefined);
    case 'down':
      return rest.length ? usage(io) : down(ctx, io, p.flags.purge === true);
    case 'status':
      return rest.length ? usage(io) : status(ctx, io);
    case 'replication':
      return rest.length ? usage(io) : replication(ctx, io, p.flags.json === true);
    case 'role':
      return role(ctx, io, rest[0], rest[1]);
    default:
      io.err(`ngcp lab: unknown subcommand '${sub}'\n${USAGE}`);
      return EXIT.USAGE;
  }
}

function usage(io: Io): number {
  io.err(USAGE);
  return EXIT.USAGE;
}
