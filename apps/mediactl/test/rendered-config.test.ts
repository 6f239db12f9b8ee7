/** The shipped template renders a mediactl.yml that mediactl's own config loader accepts, whatever the Redis password. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { initConfigDir, loadConfig, nodePaths, renderNode } from '@ngcp/config';
import { loadDaemonConfig } from '@ngcp/daemon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveTargets, type MediactlConfig } from '../src/config.js';
import { mediactlDaemon } from '../src/daemon.js';

const DEFAULTS = resolve(import.meta.dirname, '../../../ngcp-config');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mediactl-render-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function render(): Readonly<MediactlConfig> {
  const root = join(dir, 'root');
  const configDir = join(root, 'etc/ngcp-config');
  initConfigDir(DEFAULTS, configDir);
  return renderWith(root, configDir);
}

function renderWith(root: string, configDir: string): Readonly<MediactlConfig> {
  const { files } = renderNode({
    loaded: loadConfig({ configDir, node: 'self' }),
    paths: nodePaths(root),
    templateDirs: [join(DEFAULTS, 'templates')],
    apps: {},
    bins: {},
    nodeBin: '/usr/bin/node',
    cwd: '/checkout',
    isRoot: false,
  });
  const file = files.find((f) => f.path === 'etc/ngcp/mediactl.yml');
  if (!file) throw new Error('etc/ngcp/mediactl.yml was not rendered');
  // as runDaemon reads it: the daemon's own loader (YAML, defaults, schema, check)
  const path = join(dir, 'mediactl.yml');
  writeFileSync(path, file.content);
  return loadDaemonConfig(mediactlDaemon, path);
}

describe('rendered etc/ngcp/mediactl.yml', () => {
  it('carries the config.yml keys and the node rtpengine, and passes the schema', () => {
    const cfg = render();
    expect(cfg).toMatchObject({
      control: { address: '127.0.0.2', port: 9090 },
      rtpengines: [{ id: 'local', ng: '127.0.0.2:2223', weight: 1 }],
      probe_interval_ms: 1000,
      probe_failures: 3,
      ng_timeout_ms: 2000,
      ng_retransmit_ms: 250,
      max_call_s: 21_600,
      redis: { host: '127.0.0.2', port: 6379, db: 0 },
    });
    expect(resolveTargets(cfg.rtpengines)[0]).toMatchObject({ host: '127.0.0.2', port: 2223 });
  });

  it('renders ng_retransmit_ms 250 from a config.yml older than the key, and the proxy waits longer than mediactl', () => {
    const root = join(dir, 'root');
    const configDir = join(root, 'etc/ngcp-config');
    initConfigDir(DEFAULTS, configDir);
    const yml = join(configDir, 'config.yml');
    const before = readFileSync(yml, 'utf8');
    const without = before.replace(/^ {2}ng_retransmit_ms:.*\n/m, '').replace(/^( {2}ng_timeout_ms:) \d+/m, '$1 1500');
    expect(without).not.toContain('ng_retransmit_ms');
    writeFileSync(yml, without);
    expect(renderWith(root, configDir)).toMatchObject({ ng_timeout_ms: 1500, ng_retransmit_ms: 250 });
    const { files } = renderNode({
      loaded: loadConfig({ configDir, node: 'self' }),
      paths: nodePaths(root), templateDirs: [join(DEFAULTS, 'templates')], apps: {}, bins: {}, nodeBin: '/usr/bin/node', cwd: '/checkout', isRoot: false,
    });
    const proxy = files.find((f) => f.path === 'etc/ngcp/proxy.yml')?.content ?? '';
    expect(proxy).toMatch(/mediactl:\n  url: [^\n]+\n(?:  #[^\n]*\n)*  timeout_ms: 2500\n/);
  });

  it('keeps a Redis password with quotes, backslashes and a newline intact', () => {
    const root = join(dir, 'root');
    const configDir = join(root, 'etc/ngcp-config');
    initConfigDir(DEFAULTS, configDir);
    const nasty = 'a"b\\c\'d: #e\nf';
    const constants = join(configDir, 'constants.yml');
    const text = readFileSync(constants, 'utf8');
    expect(text).toMatch(/^  redis_password: .*$/m);
    writeFileSync(constants, text.replace(/^  redis_password: .*$/m, `  redis_password: ${JSON.stringify(nasty)}`));
    const cfg = renderWith(root, configDir);
    expect(cfg.redis.password).toBe(nasty);
  });
});
