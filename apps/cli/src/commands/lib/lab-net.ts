/**
 * The lab's network: five namespaces on one machine, joined by a bridge, plus the
 * crosslink between the two nodes (docs/operations/lab.md):
 *
 *   gw       br0 10.77.0.1/24 (the bridge, and the ping node); v-<member> the bridge ports
 *   sp1      eth0 10.77.0.11/24 (+ shared 10.77.0.10 as eth0:ha), eth1 10.78.0.1/30
 *   sp2      eth0 10.77.0.12/24,                                  eth1 10.78.0.2/30
 *   client   eth0 10.77.0.100/24
 *   carrier  eth0 10.77.0.200/24
 *
 * Every step checks first, so `ensureNetwork` on a built lab changes nothing. Only
 * `ip` (iproute2) is used; nothing outside these namespaces is touched.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NETNS_DIR } from './lab-state.js';

const execFileP = promisify(execFile);

export const LAB_NODES = ['sp1', 'sp2'] as const;
export type LabNode = (typeof LAB_NODES)[number];
export const LAB_NAMESPACES = ['gw', 'sp1', 'sp2', 'client', 'carrier'] as const;
export const BRIDGE = { netns: 'gw', dev: 'br0', addr: '10.77.0.1/24' } as const;
export const MEMBERS = [
  { netns: 'sp1', addr: '10.77.0.11/24' },
  { netns: 'sp2', addr: '10.77.0.12/24' },
  { netns: 'client', addr: '10.77.0.100/24' },
  { netns: 'carrier', addr: '10.77.0.200/24' },
] as const;
export const CROSSLINK = [
  { netns: 'sp1', addr: '10.78.0.1/30' },
  { netns: 'sp2', addr: '10.78.0.2/30' },
] as const;
export const SHARED = { ip: '10.77.0.10', prefix: 24, dev: 'eth0', label: 'eth0:ha' } as const;

export async function ip(args: string[]): Promise<string> {
  try {
    return (await execFileP('ip', args, { maxBuffer: 4 * 1024 * 1024 })).stdout;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

async function ok(args: string[]): Promise<boolean> {
  return ip(args).then(
    () => true,
    () => false,
  );
}

export function netnsExists(name: string): boolean {
  return existsSync(join(NETNS_DIR, name));
}

export function labNamespacesPresent(): string[] {
  return LAB_NAMESPACES.filter(netnsExists);
}

/** Runs `cmd` in namespace `ns` (`ip netns exec`). */
export async function inNs(ns: string, cmd: string[]): Promise<string> {
  return ip(['netns', 'exec', ns, ...cmd]);
}

/** Builds what is missing; returns one line per change (none: the network was complete). */
export async function ensureNetwork(): Promise<string[]> {
  const done: string[] = [];
  for (const ns of LAB_NAMESPACES) {
    if (!netnsExists(ns)) {
      await ip(['netns', 'add', ns]);
      done.push(`namespace ${ns}`);
    }
    if (!(await ip(['-n', ns, '-o', 'link', 'show', 'lo'])).includes('UP')) await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  if (!(await ok(['-n', BRIDGE.netns, 'link', 'show', BRIDGE.dev]))) {
    await ip(['-n', BRIDGE.netns, 'link', 'add', BRIDGE.dev, 'type', 'bridge']);
    await ip(['-n', BRIDGE.netns, 'addr', 'add', BRIDGE.addr, 'dev', BRIDGE.dev]);
    await ip(['-n', BRIDGE.netns, 'link', 'set', BRIDGE.dev, 'up']);
    done.push(`bridge ${BRIDGE.dev} ${BRIDGE.addr} in ${BRIDGE.netns}`);
  }
  for (const m of MEMBERS) {
    if (await ok(['-n', m.netns, 'link', 'show', 'eth0'])) continue;
    // the gw end is named after the member
    await ip(['-n', BRIDGE.netns, 'link', 'add', 'name', `v-${m.netns}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', m.netns]);
    await ip(['-n', BRIDGE.netns, 'link', 'set', 'dev', `v-${m.netns}`, 'master', BRIDGE.dev, 'up']);
    await ip(['-n', m.netns, 'addr', 'add', m.addr, 'dev', 'eth0']);
    await ip(['-n', m.netns, 'link', 'set', 'eth0', 'up']);
    done.push(`${m.netns} eth0 ${m.addr} on ${BRIDGE.dev}`);
  }
  const [a, b] = CROSSLINK;
  if (!(await ok(['-n', a.netns, 'link', 'show', 'eth1']))) {
    await ip(['-n', a.netns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1', 'netns', b.netns]);
    for (const x of CROSSLINK) {
      await ip(['-n', x.netns, 'addr', 'add', x.addr, 'dev', 'eth1']);
      await ip(['-n', x.netns, 'link', 'set', 'eth1', 'up']);
    }
    done.push(`crosslink ${a.netns} eth1 ${a.addr} — ${b.netns} eth1 ${b.addr}`);
  }
  for (const n of LAB_NODES) {
    if ((await inNs(n, ['cat', '/proc/sys/net/ipv4/ip_nonlocal_bind'])).trim() !== '1') {
      await inNs(n, ['sysctl', '-q', '-w', 'net.ipv4.ip_nonlocal_bind=1']);
      done.push(`${n} net.ipv4.ip_nonlocal_bind=1`);
    }
  }
  return done;
}

/** Which lab node holds the shared IP now (several: split brain; none: nobody). */
export async function sharedIpHolders(): Promise<LabNode[]> {
  const out: LabNode[] = [];
  for (const n of LAB_NODES) {
    if (!netnsExists(n)) continue;
    const a = await ip(['-n', n, '-o', '-4', 'addr', 'show', 'dev', SHARED.dev]).catch(() => '');
    if (a.includes(` ${SHARED.ip}/`)) out.push(n);
  }
  return out;
}

/** Puts the shared IP on `node` unless a node holds it already; the change, or undefined. */
export async function ensureSharedIp(node: LabNode): Promise<string | undefined> {
  if ((await sharedIpHolders()).length) return undefined;
  await ip(['-n', node, 'addr', 'add', `${SHARED.ip}/${SHARED.prefix}`, 'dev', SHARED.dev, 'label', SHARED.label]);
  return `shared IP ${SHARED.ip} on ${node} (${SHARED.label})`;
}

/** PIDs of the processes running in namespace `ns`. */
export async function netnsPids(ns: string): Promise<number[]> {
  if (!netnsExists(ns)) return [];
  const out = await ip(['netns', 'pids', ns]).catch(() => '');
  return out
    .split('\n')
    .map((x) => Number(x.trim()))
    .filter((x) => Number.isInteger(x) && x > 0);
}

export async function deleteNamespaces(): Promise<string[]> {
  const done: string[] = [];
  for (const ns of [...LAB_NAMESPACES].reverse()) {
    if (!netnsExists(ns)) continue;
    await ip(['netns', 'del', ns]);
    done.push(ns);
  }
  return done;
}
