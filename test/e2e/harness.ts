/**
 * What every e2e file with a node of its own repeats: the node brought up by the real
 * `ngcp up` and provisioned (test/e2e/provision.ts) before its tests, stopped after them
 * (one node per test file, shared by the suites the file imports); sipp runs killed at the
 * end of the file; the lb's public address; a sipp result that must have succeeded.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { PUBLIC, startNode, type E2eNode, type NodeSections } from './node.js';
import { provision, type Sub, type SubName } from './provision.js';
import { sipp, type SippOptions, type SippResult, type SippRun } from './sipp.js';

export interface E2eFile {
  /** cleanups, run last-in first-out at the end of the file (before the node stops) */
  closers: Array<() => unknown>;
  /** sipp, killed at the end of the file if still running */
  run(o: SippOptions): SippRun;
  /** the lb's public SIP address (UDP/TCP) */
  lb(): { address: string; port: number };
}

export interface ProvisionedNodeOptions {
  /** config sections over test/e2e/node.ts's E2E_SECTIONS */
  sections?: NodeSections;
  /** false: no node (the daemons are not built); the file's tests say so themselves */
  when?: boolean;
}

/** The one node of a test file and everything its suites asked of it. */
interface FileNode {
  sections: NodeSections;
  /** some suite of the file wants the node */
  wanted: boolean;
  onUp: Array<(node: E2eNode, subs: Record<SubName, Sub>) => void>;
  closers: Array<() => unknown>;
  node?: E2eNode;
}
/** One per test file: vitest evaluates each file's modules afresh (isolate), so suites of one file share it, files never. */
let fileNode: FileNode | undefined;

/** `into` gets `more`'s keys, section by section; a key two suites set differently is an error (the node cannot honour both). */
function mergeSections(into: NodeSections, more: NodeSections): void {
  for (const [section, keys] of Object.entries(more)) {
    const have = (into[section] ??= {});
    for (const [k, v] of Object.entries(keys)) {
      if (k in have && JSON.stringify(have[k]) !== JSON.stringify(v)) {
        throw new Error(`e2e node: ${section}.${k} is ${JSON.stringify(have[k])} for one suite of this file and ${JSON.stringify(v)} for another`);
      }
      have[k] = v;
    }
  }
}

/**
 * The node of the calling test file: `onUp` receives it and its subscribers once it is up.
 * Suites imported into one test file (e.g. one-node.test.ts) share one node — brought up
 * once with the union of their `sections` (a key asked two ways is refused), stopped after
 * the file — which saves a whole `ngcp up` and teardown per suite.
 */
export function useProvisionedNode(onUp: (node: E2eNode, subs: Record<SubName, Sub>) => void, o: ProvisionedNodeOptions = {}): E2eFile {
  if (!fileNode) {
    const f: FileNode = { sections: {}, wanted: false, onUp: [], closers: [] };
    fileNode = f;
    beforeAll(async () => {
      if (!f.wanted) return;
      const node = await startNode(f.sections);
      f.node = node;
      if (node.up.code !== 0) throw new Error(`ngcp up failed (${node.up.code}):\n${node.up.out}\n${node.up.err}\n${node.logTails()}`);
      const subs = await provision(node.api);
      for (const cb of f.onUp) cb(node, subs);
    }, 240_000);
    // a failed case: what the daemons warned about (a 500 or 503 a sipp trace shows has its reason there)
    afterEach((ctx) => {
      if (ctx.task.result?.state === 'fail' && f.node) console.log(`the node's daemons after the failed test "${ctx.task.name}":\n${f.node.warnings()}`);
    });
    afterAll(async () => {
      for (const c of f.closers.splice(0).reverse()) await c();
      await f.node?.stop();
    }, 90_000);
  }
  const f = fileNode;
  mergeSections(f.sections, o.sections ?? {});
  if (o.when !== false) f.wanted = true;
  f.onUp.push(onUp);
  return {
    closers: f.closers,
    run(opts) {
      const r = sipp(opts);
      f.closers.push(() => r.kill());
      return r;
    },
    lb: () => ({ address: PUBLIC, port: f.node!.sip.port }),
  };
}

/** The sipp run ended with exit code 0 and `successful` calls. */
export function expectOk(r: SippResult, successful = 1): void {
  expect(r.code, r.report).toBe(0);
  expect(r.successful, r.report).toBe(successful);
}
