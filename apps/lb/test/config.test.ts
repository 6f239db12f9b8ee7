/**
 * The shipped template renders an lb.yml that the lb's own schema accepts, with the
 * defaults of config.yml (dispatch to this node's proxy) and with an operator's proxy set.
 */
import { availableParallelism } from 'node:os';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initConfigDir, loadConfig, nodePaths, renderNode } from '@ngcp/config';
import { loadDaemonConfig } from '@ngcp/daemon';
import type { LbConfig } from '../src/config.js';
import { lbDaemon } from '../src/daemon.js';

const DEFAULTS = resolve(import.meta.dirname, '../../../ngcp-config');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function renderLb(overlay?: string): LbConfig {
  const dir = mkdtempSync(join(tmpdir(), 'lb-config-'));
  dirs.push(dir);
  const root = join(dir, 'root');
  const configDir = join(root, 'etc/ngcp-config');
  initConfigDir(DEFAULTS, configDir);
  if (overlay) writeFileSync(join(configDir, 'config.node.self.yml'), overlay);
  const r = renderNode({
    loaded: loadConfig({ configDir, node: 'self' }),
    paths: nodePaths(root),
    templateDirs: [join(DEFAULTS, 'templates')],
    apps: { lb: '/apps/lb/dist/main.js' },
    bins: { mariadbd: '/usr/sbin/mariadbd', redisServer: '/usr/bin/redis-server', rtpengine: '/usr/bin/rtpengine' },
    nodeBin: '/usr/bin/node',
    cwd: '/checkout',
    isRoot: false,
  });
  const file = r.files.find((f) => f.path === 'etc/ngcp/lb.yml');
  expect(file).toBeDefined();
  const path = join(dir, 'lb.yml');
  writeFileSync(path, file!.content);
  // the lb's own loader (schema, defaults, cross-key checks) — what the daemon does at start
  return loadDaemonConfig(lbDaemon, path) as LbConfig;
}

describe('etc/ngcp/lb.yml', () => {
  it('renders valid with the defaults: dispatch to this node\'s proxy', () => {
    const c = renderLb();
    // proxy.workers 0: one proxy worker per core, worker i on 5062 + i (docs/workers.md)
    const workers = Array.from({ length: availableParallelism() }, (_, i) => ({ address: '127.0.0.2', port: 5062 + i, weight: 1 }));
    expect(c.dispatch).toEqual({ algorithm: 'hash-callid', timeout_ms: 2000, proxies: workers, probe: { interval_ms: 5000, timeout_ms: 2000, failures: 3 } });
    expect(c.public).toMatchObject({ address: '127.0.0.1', udp_port: 5060, tcp_port: 5060, tls_port: 5061 });
    expect(c.internal).toEqual({ address: '127.0.0.2', udp_port: 5060 });
    expect(c.trusted_peers).toEqual([]);
    // the branch key both nodes share: rendered from the pair's generated SIP secret
    expect(c.branch_secret).toEqual(expect.any(String));
    expect(c.branch_secret!.length).toBeGreaterThanOrEqual(8);
  });

  it('renders an operator\'s proxy set, algorithm and trusted peers', () => {
    const c = renderLb('lb:\n  trusted_peers: [127.0.0.9, 10.20.0.0/16]\n  dispatch:\n    algorithm: weighted\n    proxies:\n      - { address: 127.0.0.2, port: 5062, weight: 3 }\n      - { address: 127.0.0.3, port: 5062, weight: 1 }\n');
    expect(c.dispatch.algorithm).toBe('weighted');
    expect(c.dispatch.proxies).toEqual([{ address: '127.0.0.2', port: 5062, weight: 3 }, { address: '127.0.0.3', port: 5062, weight: 1 }]);
    expect(c.trusted_peers).toEqual(['127.0.0.9', '10.20.0.0/16']);
  });

  it('is refused naming the key when a trusted peer is neither an address nor a network', () => {
    expect(() => renderLb('lb:\n  trusted_peers: [10.20.0.0/33]\n')).toThrow(/trusted_peers\[0\]: must be an IP address or a network \(10\.0\.0\.0\/8\)/);
  });

  it('is refused naming the key when a proxy is listed twice', () => {
    expect(() => renderLb('lb:\n  dispatch:\n    proxies:\n      - { address: 127.0.0.2, port: 5062, weight: 1 }\n      - { address: 127.0.0.2, port: 5062, weight: 1 }\n')).toThrow(/lb\.yml:\d+: dispatch\.proxies\[1\]: 127\.0\.0\.2:5062 is listed twice/);
  });
});
