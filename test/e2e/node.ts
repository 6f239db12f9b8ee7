/**
 * One complete single node for the e2e suite, brought up the way `./ngcp up` does it:
 * the real `ngcp up` executable (apps/cli/dist) on a node root in a temp dir, with a node
 * overlay that puts every port on a free one and keeps the addresses of network.yml's
 * `self` host (public 127.0.0.1, internal 127.0.0.2). It runs the real MariaDB, Redis,
 * rtpengine and API, plus whichever of lb/proxy/mediactl are built
 * (apps/<name>/dist/main.js — pm2 picks them up like `up` does).
 *
 * `stop()` stops only this node's processes (its own pm2 home, by PID) and removes the dir.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKOUT, makeNode, until, type Result, type TestNode } from '@ngcp/cli/testing';
import { ApiClient } from './api.js';
import { AccReader } from './acc.js';

/** The daemons issue #8 adds; the call tests need all three (the mediator, when built, turns their accounting into CDRs). */
export const SIP_DAEMONS = ['lb', 'proxy', 'mediactl'] as const;
export type SipDaemon = (typeof SIP_DAEMONS)[number];
export const builtDaemon = (name: string): boolean => existsSync(join(CHECKOUT, 'apps', name, 'dist/main.js'));
export const daemonsBuilt = SIP_DAEMONS.every(builtDaemon);

export const PUBLIC = '127.0.0.1';
export const INTERNAL = '127.0.0.2';

export interface SipAddresses {
  address: string;
  /** UDP and TCP */
  port: number;
  tlsPort: number;
}

export interface E2eNode {
  t: TestNode;
  /** What `ngcp up` printed and returned. */
  up: Result;
  sip: SipAddresses;
  api: ApiClient;
  acc: AccReader;
  /** PID of one process by its pm2 name (online only). */
  pid(name: string): Promise<number | undefined>;
  /** SIGKILL one process by the PID pm2 reports; resolves once pm2 runs it again (new PID). */
  killAndAwaitRestart(name: string, timeoutMs?: number): Promise<{ before: number; after: number }>;
  /** The tail of a process's log (var/log/<name>.log), for failure messages. */
  logTail(name: string, lines?: number): string;
  /** The tail of every log under var/log, each under its name (when `ngcp up` failed: which process and why). */
  logTails(lines?: number): string;
  /** The last warnings and errors (pino level ≥ 40) of the SIP daemons' logs, each under its name (after a failed test). */
  warnings(lines?: number): string;
  stop(): Promise<void>;
}

/**
 * Config keys of the SIP daemons the e2e node needs beyond free ports (merged into the
 * node overlay). TLS on the lb is on so the TLS client can connect.
 *
 * Bans (docs/security.md): the e2e tests send everything from 127.0.0.1, some of it in
 * bursts, and a few wrong passwords on purpose; the production defaults (250 packets per 5 s
 * per source, 5 wrong passwords) could ban the suite's own load, so the e2e node says what it
 * allows: 5000 packets per second per source, 50 wrong passwords per user, 200 failures per
 * source. test/e2e/bans.cases.ts (sbc-bans.test.ts) runs on a node with low thresholds.
 */
export const E2E_SECTIONS = {
  lb: { tls_enable: true },
  // CDRs within a second of a call's end (the default pass interval is 10 s)
  mediator: { interval_s: 1 },
  // daemons started cold on a loaded machine: generous readiness
  supervision: { health_timeout_ms: 60_000, restart_delay_ms: 0 },
  security: {
    ipban: { enable: true, window_ms: 1000, max_requests: 5000, ban_s: 60 },
    userban: { enable: true, max_failures: 50, source_max_failures: 200, window_s: 60, ban_s: 60 },
  },
} as const;

/** Sections merged over E2E_SECTIONS, key by key inside each section. */
export type NodeSections = Record<string, Record<string, unknown>>;

export async function startNode(sections: NodeSections = {}): Promise<E2eNode> {
  const merged: NodeSections = { ...E2E_SECTIONS };
  for (const [k, v] of Object.entries(sections)) merged[k] = { ...merged[k], ...v };
  const t = await makeNode({ realApps: true, infra: { mariadb: true, redis: true, rtpengine: true }, sections: merged });
  let up: Result;
  try {
    up = await t.exe('ngcp-up', ['--bin-dir', join(t.dir, 'bin')]);
  } catch (e) {
    await t.cleanup();
    throw e;
  }
  if (up.code !== 0) {
    // what `up` said and each process's log, before the node goes (its files with it)
    const logs = existsSync(join(t.root, 'var/log'))
      ? readdirSync(join(t.root, 'var/log')).filter((f) => f.endsWith('.log')).map((f) => `--- ${f}\n${readFileSync(join(t.root, 'var/log', f), 'utf8').split('\n').slice(-15).join('\n')}`).join('\n')
      : '(no var/log)';
    await t.cleanup();
    throw new Error(`ngcp up failed (${up.code}):\n${up.out}\n${up.err}\n${logs}`);
  }
  const node: E2eNode = {
    t,
    up,
    sip: { address: PUBLIC, port: t.ports.sip!, tlsPort: t.ports.tls! },
    api: ApiClient.fromNode(t.root),
    acc: new AccReader({ host: INTERNAL, port: t.ports.database!, user: 'ngcp', password: (await t.cmd('ngcpcfg', ['get', 'credentials.db_password'])).out.trim(), database: 'ngcp' }),
    async pid(name) {
      return (await t.pids())[name];
    },
    async killAndAwaitRestart(name, timeoutMs = 60_000) {
      const before = await node.pid(name);
      if (!before) throw new Error(`${name} is not online under this node's pm2`);
      process.kill(before, 'SIGKILL');
      const after = await until(async () => {
        const p = await node.pid(name).catch(() => undefined);
        return p && p !== before ? p : undefined;
      }, timeoutMs, 200);
      if (!after) throw new Error(`pm2 did not restart ${name} within ${timeoutMs} ms\n${node.logTail(name)}`);
      return { before, after };
    },
    logTail(name, lines = 40) {
      const f = join(t.root, 'var/log', `${name}.log`);
      return existsSync(f) ? readFileSync(f, 'utf8').split('\n').slice(-lines).join('\n') : `(no ${f})`;
    },
    logTails(lines = 15) {
      const dir = join(t.root, 'var/log');
      if (!existsSync(dir)) return `(no ${dir})`;
      return readdirSync(dir)
        .filter((f) => f.endsWith('.log'))
        .map((f) => `--- ${f}\n${node.logTail(f.slice(0, -'.log'.length), lines)}`)
        .join('\n');
    },
    warnings(lines = 20) {
      return ['lb', 'proxy', 'sbc', 'mediactl', 'appserver'].map((name) => {
        const f = join(t.root, 'var/log', `${name}.log`);
        const found = existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => /"level":[4-6]0\b/.test(l)).slice(-lines) : [];
        return `--- ${name}.log: ${found.length === 0 ? 'no warnings' : `the last ${found.length} warnings/errors\n${found.join('\n')}`}`;
      }).join('\n');
    },
    async stop() {
      await node.acc.close().catch(() => undefined);
      await t.cleanup();
    },
  };
  return node;
}
