/**
 * What every e2e file with a node of its own repeats: the node brought up by the real
 * `ngcp up` and provisioned (test/e2e/provision.ts) before its tests, stopped after them;
 * sipp runs killed at the end of the file; the lb's public address; a sipp result that
 * must have succeeded.
 */
import { afterAll, beforeAll, expect } from 'vitest';
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

/** A node for the calling file: `onUp` receives it and its subscribers once it is up. */
export function useProvisionedNode(onUp: (node: E2eNode, subs: Record<SubName, Sub>) => void, o: ProvisionedNodeOptions = {}): E2eFile {
  let node: E2eNode | undefined;
  const closers: Array<() => unknown> = [];
  beforeAll(async () => {
    if (o.when === false) return;
    node = await startNode(o.sections);
    if (node.up.code !== 0) throw new Error(`ngcp up failed (${node.up.code}):\n${node.up.out}\n${node.up.err}`);
    onUp(node, await provision(node.api));
  }, 240_000);
  afterAll(async () => {
    for (const c of closers.splice(0).reverse()) await c();
    await node?.stop();
  }, 90_000);
  return {
    closers,
    run(opts) {
      const r = sipp(opts);
      closers.push(() => r.kill());
      return r;
    },
    lb: () => ({ address: PUBLIC, port: node!.sip.port }),
  };
}

/** The sipp run ended with exit code 0 and `successful` calls. */
export function expectOk(r: SippResult, successful = 1): void {
  expect(r.code, r.report).toBe(0);
  expect(r.successful, r.report).toBe(successful);
}
