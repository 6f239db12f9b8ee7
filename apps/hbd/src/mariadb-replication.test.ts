import { describe, expect, it } from 'vitest';
import { mariadbReplicationStep, replicates, type MariadbReplicationDeps } from './mariadb-replication.js';
import type { StepContext } from './steps.js';

const cfg = {
  step_timeout_ms: 1000,
  mariadb: { host: '10.0.0.1', port: 3306, socket: '/run/m.sock', user: 'root', password: 'r', peer_host: '10.78.0.2', peer_port: 3306, replication_user: 'replicator', replication_password: 'p', databases: ['ngcp'] },
};
const ctx = (failures: Error[]): StepContext => ({ role: 'standby', epoch: 1, node: 'sp1', peer: 'sp2', onBackgroundFailure: (e) => failures.push(e) });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fakes(followFailures: number) {
  const calls: string[] = [];
  let left = followFailures;
  const deps: MariadbReplicationDeps = {
    lead: (async () => { calls.push('lead'); return { changed: true, steps: [] }; }) as MariadbReplicationDeps['lead'],
    follow: (async (_a: unknown, peer: { host: string }) => {
      calls.push(`follow ${peer.host}`);
      if (left-- > 0) throw new Error('peer not reachable');
      return { changed: true, steps: [], reseeded: false };
    }) as unknown as MariadbReplicationDeps['follow'],
    setReadOnly: async () => void calls.push('read_only'),
  };
  return { deps, calls };
}

describe('the MariaDB replication step', () => {
  it('is used only when the peer and the replication account are named', () => {
    expect(replicates(cfg)).toBe(true);
    expect(replicates({ mariadb: { ...cfg.mariadb, peer_host: null } })).toBe(false);
    expect(replicates({ mariadb: null })).toBe(false);
  });

  it('standby: read-only at once, then follows the peer in the background, retrying until it holds', async () => {
    const { deps, calls } = fakes(2);
    const failures: Error[] = [];
    const step = mariadbReplicationStep(cfg, deps, 20);
    await step.deactivate(ctx(failures));
    expect(calls[0]).toBe('read_only');
    await sleep(200);
    expect(calls.filter((c) => c === 'follow 10.78.0.2')).toHaveLength(3);
    expect(failures).toHaveLength(2);
    expect(failures[0]!.message).toMatch(/follow 10\.78\.0\.2:3306: peer not reachable/);
    expect(step.following()).toBe(true);
  });

  it('activate stops a follow loop that has not succeeded, then leads', async () => {
    const { deps, calls } = fakes(1000);
    const step = mariadbReplicationStep(cfg, deps, 20);
    await step.deactivate(ctx([]));
    await sleep(60);
    await step.activate(ctx([]));
    const n = calls.length;
    expect(calls.at(-1)).toBe('lead');
    await sleep(100);
    expect(calls.length).toBe(n); // no follow attempt after the lead
    expect(step.following()).toBe(false);
  });
});
