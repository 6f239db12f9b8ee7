/**
 * The lab's record (`ngcp lab up` writes it, `lab down` removes it): where the lab dir
 * is (a pointer in /run, gone with a reboot like the namespaces themselves), and in
 * `<dir>/lab.json` each node's namespace and node root. `nodeOfNetns()` tells a command
 * run with `ip netns exec sp1 …` that it is node sp1 (as `ip netns identify` does: the
 * process's network namespace is the one mounted at /run/netns/<name>).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const LAB_POINTER = '/run/ngcp-lab.json';
export const NETNS_DIR = '/run/netns';

export interface LabNodeRecord {
  netns: string;
  root: string;
}

export interface LabState {
  version: 1;
  dir: string;
  createdAt: string;
  nodes: Record<string, LabNodeRecord>;
  namespaces: string[];
}

export function labPointerPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.NGCP_LAB_POINTER || LAB_POINTER;
}

/** The lab's state, or undefined when no lab is recorded (or its files are unreadable). */
export function readLabState(env: NodeJS.ProcessEnv = process.env): LabState | undefined {
  try {
    const { dir } = JSON.parse(readFileSync(labPointerPath(env), 'utf8')) as { dir?: string };
    if (!dir) return undefined;
    const s = JSON.parse(readFileSync(join(dir, 'lab.json'), 'utf8')) as LabState;
    return s.version === 1 && s.nodes ? s : undefined;
  } catch {
    return undefined;
  }
}

/** The network namespace `name` is the one this process runs in. */
export function inNetns(name: string): boolean {
  try {
    const me = statSync('/proc/self/ns/net');
    const ns = statSync(join(NETNS_DIR, name));
    return me.ino === ns.ino && me.dev === ns.dev;
  } catch {
    return false;
  }
}

/** The lab node whose namespace this process runs in, if any. */
export function nodeOfNetns(env: NodeJS.ProcessEnv = process.env): { node: string; root: string } | undefined {
  const s = readLabState(env);
  if (!s) return undefined;
  for (const [node, r] of Object.entries(s.nodes)) if (inNetns(r.netns)) return { node, root: r.root };
  return undefined;
}
