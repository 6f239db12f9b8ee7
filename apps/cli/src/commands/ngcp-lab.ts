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
 *   role NODE lead|follow   set the roles of NODE's MariaDB and Redis (a lab without hbd;
 *                           with hbd it refuses: ngcp-make-active/-standby).
 *   replication [--json]    both nodes' replication state.
 *
 * Commands about one node run inside its namespace (its Redis and daemons answer on
 * 127.0.0.2 there): this same command is re-run with `ip netns exec`, and finds its node
 * by its namespace (lib/lab-state.ts).
 */
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { nodePaths, readServiceSpecs } from '@ngcp/config';
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

  // A new lab: sp1 leads, sp2 follows (`up --role`). A lab whose nodes run the HA daemon
  // (hbd): hbd sets the roles (its steps call the same replication functions); `up` gets
  // no role, and the node holding the shared IP comes up first.
  const hbd = runsHbd(state);
  const holdersBefore = hbd ? await sharedIpHolders() : [];
  const first: LabNode = holdersBefore.length === 1 ? holdersBefore[0]! : 'sp1';
  for (const node of first === 'sp1' ? LAB_NODES : ([...LAB_NODES].reverse() as LabNode[])) {
    const rec = state.nodes[node]!;
    const args = ['--root', rec.root, '--node', node, ...(hbd ? [] : ['--role', ROLES[node]]), '--no-bin'];
    if (node === 'sp2') args.push('--peer-root', state.nodes.sp1!.root);
    io.out(`ngcp lab: ${node}: ngcp up (${hbd ? 'role by hbd' : ROLES[node]}) in namespace ${rec.netns}, root ${rec.root}`);
    const r = await runCli(ctx, rec.netns, 'ngcp-up', args, { io, prefix: node });
    if (r.code !== 0) {
      io.err(`ngcp lab: ${node} did not come up (ngcp up exit ${r.code}); 'ngcp lab status' shows what runs, 'ngcp lab down' removes it`);
      return EXIT.FAIL;
    }
    if (!r.stdout.includes('is already up; nothing to do')) changed = true;
  }
  if (runsHbd(state)) {
    // the HA daemon decides who is active and moves the shared IP; the stores follow its choice
    if (!(await followHbd(ctx, io, state))) return EXIT.FAIL;
  } else {
    const ipChange = await ensureSharedIp('sp1');
    if (ipChange) {
      io.out(`ngcp lab: ${ipChange}`);
      changed = true;
    }
  }
  const holders = await sharedIpHolders();
  io.out('');
  io.out(changed ? 'ngcp lab: the pair is up' : 'ngcp lab: already up; nothing changed');
  io.out(`Shared IP: ${SHARED.ip} (on ${holders.join(', ') || 'no node'}); sp1 10.77.0.11, sp2 10.77.0.12, client 10.77.0.100, carrier 10.77.0.200, gw 10.77.0.1`);
  const sp1 = state.nodes.sp1!.root;
  io.out(`SIP:  udp+tcp ${SHARED.ip}:5060 (lb) — from the client: ip netns exec client sipp … ${SHARED.ip}`);
  io.out(`API:  https://${SHARED.ip}:1443  (user and password in ${join(sp1, 'var/api.env')}; CA ${join(sp1, 'var/api/tls/cert.pem')})`);
  io.out(`In a node: ip netns exec sp1 ./ngcp ngcp-status    Roles: ./ngcp lab replication`);
  return EXIT.OK;
}

/** The nodes run the HA daemon (apps/hbd built and enabled: it is among sp1's services). */
function runsHbd(state: LabState): boolean {
  try {
    return readServiceSpecs(nodePaths(state.nodes.sp1!.root)).some((s) => s.name === 'hbd');
  } catch {
    return false;
  }
}

/**
 * With hbd: wait until exactly one node holds the shared IP (hbd's active node), then
 * until that node's MariaDB and Redis lead and the other's follow it (hbd's steps; a
 * standby's MariaDB follows in the background). False (error printed) when that does not
 * happen within 20 s each.
 */
async function followHbd(ctx: NodeContext, io: Io, state: LabState): Promise<boolean> {
  let until = Date.now() + 20_000;
  let holders = await sharedIpHolders();
  while (holders.length !== 1 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    holders = await sharedIpHolders();
  }
  if (holders.length !== 1) {
    io.err(`ngcp lab: the HA daemons gave no single active node (shared IP on ${holders.join(' and ') || 'no node'}); see <root>/var/log/hbd.log of each node`);
    return false;
  }
  const active = holders[0]!;
  const standby: LabNode = active === 'sp1' ? 'sp2' : 'sp1';
  io.out(`ngcp lab: the HA daemon (hbd) made ${active} active`);
  until = Date.now() + 20_000;
  let last = '';
  for (;;) {
    const [a, b] = await Promise.all([nodeReplication(ctx, state, active), nodeReplication(ctx, state, standby)]);
    const ok =
      a.redis?.role === 'master' &&
      a.mariadb?.role === 'lead' &&
      b.redis?.role === 'slave' &&
      b.mariadb?.role === 'follow' &&
      b.mariadb.following?.io === 'Yes' &&
      b.mariadb.following.sql === 'Yes';
    if (ok) return true;
    last = JSON.stringify({ [active]: a, [standby]: b });
    if (Date.now() >= until) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  io.err(`ngcp lab: the stores did not take hbd's roles (${active} leads, ${standby} follows) within 20 s: ${last.slice(0, 1500)}`);
  return false;
}

interface NodeRepl {
  redis?: { role?: string };
  mariadb?: { role?: string; following?: { io?: string; sql?: string } };
}

async function nodeReplication(ctx: NodeContext, state: LabState, node: LabNode): Promise<NodeRepl> {
  const r = await runCli(ctx, state.nodes[node]!.netns, 'ngcp-lab', ['replication', '--json']);
  try {
    return r.code === 0 ? (JSON.parse(r.stdout) as NodeRepl) : {};
  } catch {
    return {};
  }
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
  if (runsHbd(state)) {
    // hbd owns the roles: its audit would put a store switched by hand back within seconds
    io.err(`ngcp lab: the nodes run the HA daemon, which sets the stores' roles (and re-asserts them): use \`sudo ip netns exec ${node} ./ngcp ${r === 'lead' ? 'ngcp-make-active' : 'ngcp-make-standby'}\` instead`);
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
