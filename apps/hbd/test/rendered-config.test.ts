/** The shipped template renders, for each node of the lab pair, an hbd.yml that hbd's own config loader accepts. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initConfigDir, loadConfig, nodePaths, renderNode } from '@ngcp/config';
import { loadDaemonConfig } from '@ngcp/daemon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HbdConfig } from '../src/config.js';
import { hbdDaemon } from '../src/daemon.js';

const DEFAULTS = resolve(import.meta.dirname, '../../../ngcp-config');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hbd-render-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

let lastSpecs: Array<{ name: string; pm2: { kill_timeout: number; env: Record<string, string> }; health: unknown }> = [];

function renderFiles(node: string, overlay?: string): Array<{ path: string; content: string }> {
  const root = join(dir, node);
  const configDir = join(root, 'etc/ngcp-config');
  initConfigDir(DEFAULTS, configDir);
  if (overlay) writeFileSync(join(configDir, `config.node.${node}.yml`), overlay);
  const { files, specs } = renderNode({
    loaded: loadConfig({ configDir, node }),
    paths: nodePaths(root),
    templateDirs: [join(DEFAULTS, 'templates')],
    apps: { hbd: '/checkout/apps/hbd/dist/main.js', lb: '/checkout/apps/lb/dist/main.js', proxy: '/checkout/apps/proxy/dist/main.js' },
    bins: {},
    nodeBin: '/usr/bin/node',
    cwd: '/checkout',
    isRoot: false,
  });
  lastSpecs = specs;
  return files;
}

function render(node: string, overlay?: string): Readonly<HbdConfig> {
  const files = renderFiles(node, overlay);
  const file = files.find((f) => f.path === 'etc/ngcp/hbd.yml');
  if (!file) throw new Error('etc/ngcp/hbd.yml was not rendered');
  const path = join(dir, `${node}-hbd.yml`);
  writeFileSync(path, file.content);
  return loadDaemonConfig(hbdDaemon, path);
}

describe('rendered etc/ngcp/hbd.yml', () => {
  it('sp1: both paths, the shared IP with its prefix and device, Redis following the peer over the crosslink, the daemons to notify', () => {
    const cfg = render('sp1');
    expect(cfg).toMatchObject({
      node: 'sp1',
      peer: 'sp2',
      priority: 100,
      control: { address: '127.0.0.2', port: 9094 },
      interval_ms: 100,
      deadtime_ms: 300,
      paths: [
        { name: 'crosslink', address: '10.78.0.1', peer_address: '10.78.0.2', port: 694 },
        { name: 'bridge', address: '10.77.0.11', peer_address: '10.77.0.12', port: 694 },
      ],
      pingnodes: ['10.77.0.1'],
      ping: { method: 'tcp', port: 7, dev: 'eth0' },
      shared_ips: [{ ip: '10.77.0.10', prefix: 24, dev: 'eth0' }],
      redis: { host: '127.0.0.2', port: 6379, peer_host: '10.78.0.2', peer_port: 6379 },
      media: { cli_host: '127.0.0.2', cli_port: 9900, keyspace: 1 },
      mariadb: { host: '127.0.0.2', user: 'root' },
      jobs: [],
      disabled_steps: [],
    });
    expect(cfg.key.length).toBeGreaterThanOrEqual(16);
    expect(cfg.notify.map((n) => n.name).sort()).toEqual(['lb', 'proxy']);
    expect(cfg.notify.every((n) => n.url.startsWith('http://127.0.0.2:'))).toBe(true);
  });

  it('pm2 runs hbd first, health-checked over its control RPC, with time to hand over on stop', () => {
    render('sp1');
    const hbd = lastSpecs.find((s) => s.name === 'hbd');
    expect(lastSpecs[0]?.name).toBe('hbd');
    expect(hbd?.health).toEqual({ kind: 'jsonrpc', url: 'http://127.0.0.2:9094/' });
    expect(hbd?.pm2.kill_timeout).toBeGreaterThanOrEqual(15_000);
    expect(hbd?.pm2.env.NGCP_HBD_CONFIG).toMatch(/etc\/ngcp\/hbd\.yml$/);
  });

  it('sp2 mirrors sp1; per-node priority and disabled steps come through', () => {
    const cfg = render('sp2', 'heartbeat:\n  priority: 150\n  disabled_steps: [arp, jobs]\n  ping_method: arping\n');
    expect(cfg.paths).toEqual([
      { name: 'crosslink', address: '10.78.0.2', peer_address: '10.78.0.1', port: 694 },
      { name: 'bridge', address: '10.77.0.12', peer_address: '10.77.0.11', port: 694 },
    ]);
    expect(cfg).toMatchObject({ priority: 150, disabled_steps: ['arp', 'jobs'], ping: { method: 'arping', dev: 'eth0' } });
  });

  it("rtpengine.conf of a pair node learns the active's calls (keyspace 1 of its Redis) and opens the CLI hbd's media step talks to; a single node's has neither", () => {
    const conf = (node: string): string => renderFiles(node).find((f) => f.path === 'etc/rtpengine/rtpengine.conf')!.content;
    const sp2 = conf('sp2');
    expect(sp2).toMatch(/^interface = 10\.77\.0\.10$/m);
    expect(sp2).toMatch(/^redis = .*@127\.0\.0\.2:6379\/1$/m);
    expect(sp2).toMatch(/^redis-write = .*@127\.0\.0\.2:6379\/1$/m);
    expect(sp2).toMatch(/^subscribe-keyspace = 1$/m);
    expect(sp2).toMatch(/^listen-cli = 127\.0\.0\.2:9900$/m);
    expect(render('sp2').media).toEqual({ cli_host: '127.0.0.2', cli_port: 9900, keyspace: 1 });
    const self = conf('self');
    expect(self).not.toMatch(/subscribe-keyspace|listen-cli/);
  });
});
