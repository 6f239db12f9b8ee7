import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { planBuild, readManifest, readServiceSpecs, renderNode, writeBuild, type RenderOptions } from './build.js';
import { loadConfig } from './load.js';
import { nodePaths } from './paths.js';
import { tempConfig, TEMPLATES_DIR, type TempConfig } from './test-helpers.js';

let t: TempConfig;
beforeEach(() => {
  t = tempConfig();
});
afterEach(() => t.cleanup());

function opts(node = 'self', extra: Partial<RenderOptions> = {}): RenderOptions {
  return {
    loaded: loadConfig({ configDir: t.configDir, node }),
    paths: nodePaths(t.root),
    templateDirs: [TEMPLATES_DIR, join(t.configDir, 'templates')],
    apps: { lb: '/apps/lb/dist/main.js', proxy: '/apps/proxy/dist/main.js', hbd: '/apps/hbd/dist/main.js', api: '/apps/api/dist/main.js' },
    bins: { mariadbd: '/usr/sbin/mariadbd', redisServer: '/usr/bin/redis-server', rtpengine: '/usr/bin/rtpengine' },
    nodeBin: '/usr/bin/node',
    cwd: '/checkout',
    isRoot: false,
    ...extra,
  };
}

function build(node = 'self', extra: Partial<RenderOptions> = {}) {
  const r = renderNode(opts(node, extra));
  const plan = planBuild(nodePaths(t.root), r.files);
  writeBuild(nodePaths(t.root), r.files, plan);
  return { r, plan };
}

describe('renderNode + planBuild + writeBuild', () => {
  it('renders every template into the target tree, each daemon config valid YAML', () => {
    const { plan } = build();
    expect(plan.added).toEqual(expect.arrayContaining(['etc/ngcp/lb.yml', 'etc/redis/redis.conf', 'etc/mysql/my.cnf', 'etc/rtpengine/rtpengine.conf', 'etc/ngcp/services/lb.json', 'etc/ngcp/ecosystem.json']));
    const lb = parse(readFileSync(join(t.root, 'etc/ngcp/lb.yml'), 'utf8'));
    expect(lb).toMatchObject({ node: 'self', public: { address: '127.0.0.1', udp_port: 5060 }, control: { address: '127.0.0.2', port: 9060 }, max_forwards: 70 });
    for (const n of ['proxy', 'sbc', 'appserver', 'mediactl', 'hbd', 'api', 'mediator']) {
      expect(() => parse(readFileSync(join(t.root, `etc/ngcp/${n}.yml`), 'utf8'))).not.toThrow();
    }
    const redis = readFileSync(join(t.root, 'etc/redis/redis.conf'), 'utf8');
    expect(redis).toMatch(/^bind 127\.0\.0\.2$/m);
    expect(redis).toMatch(/^port 6379$/m);
    expect(redis).toContain(`dir "${t.root}/var/data/redis"`);
    expect(readFileSync(join(t.root, 'etc/rtpengine/rtpengine.conf'), 'utf8')).toMatch(/^port-min = 30000$/m);
    // secrets are not world-readable
    expect(statSync(join(t.root, 'etc/ngcp/proxy.yml')).mode & 0o777).toBe(0o600);
    // pm2 starts the SIP daemons with the larger young generation, the others with Node's defaults
    const eco = JSON.parse(readFileSync(join(t.root, 'etc/ngcp/ecosystem.json'), 'utf8')) as { apps: Array<{ name: string; node_args?: string[] }> };
    const args = Object.fromEntries(eco.apps.map((a) => [a.name, a.node_args]));
    expect(args.lb).toEqual(['--max-semi-space-size=64']);
    expect(args.proxy).toEqual(['--max-semi-space-size=64']);
    expect(args.api).toBeUndefined();
  });

  it("proxy workers: proxy.yml gets the count, the lb's default proxy set names every worker port (0 = one per core)", () => {
    t.write('config.node.self.yml', 'proxy:\n  workers: 3\n');
    build();
    expect(parse(readFileSync(join(t.root, 'etc/ngcp/proxy.yml'), 'utf8'))).toMatchObject({ workers: 3, listen: { udp_port: 5062 } });
    const lb = parse(readFileSync(join(t.root, 'etc/ngcp/lb.yml'), 'utf8')) as { dispatch: { proxies: unknown[] } };
    expect(lb.dispatch.proxies).toEqual([5062, 5063, 5064].map((port) => ({ address: '127.0.0.2', port, weight: 1 })));
    t.write('config.node.self.yml', 'proxy:\n  workers: 0\n');
    const { r } = build();
    expect(r.context.proxyWorkers).toBe(availableParallelism());
    expect(parse(readFileSync(join(t.root, 'etc/ngcp/proxy.yml'), 'utf8'))).toMatchObject({ workers: availableParallelism() });
    // an explicit proxy set is rendered as given
    t.write('config.node.self.yml', 'proxy:\n  workers: 2\nlb:\n  dispatch:\n    proxies: [{ address: 127.0.0.2, port: 5062, weight: 1 }]\n');
    build();
    expect((parse(readFileSync(join(t.root, 'etc/ngcp/lb.yml'), 'utf8')) as { dispatch: { proxies: unknown[] } }).dispatch.proxies).toHaveLength(1);
  });

  it('is idempotent: a second build changes nothing and names no service', () => {
    build();
    const { plan } = build();
    expect(plan.added).toEqual([]);
    expect(plan.changed).toEqual([]);
    expect(plan.services).toEqual({});
  });

  it('a change touches only the files that depend on it, and names their services', () => {
    build();
    t.write('config.node.self.yml', 'lb:\n  max_forwards: 20\n');
    expect(build().plan).toMatchObject({ added: [], changed: ['etc/ngcp/lb.yml'], removed: [], services: { lb: 'restart' } });
    t.write('config.node.self.yml', 'lb:\n  max_forwards: 20\nredis:\n  port: 6380\n');
    const { plan } = build();
    // redis itself, and every config that points at redis
    expect(plan.services).toMatchObject({ redis: 'restart', lb: 'restart', proxy: 'restart', api: 'restart', rtpengine: 'restart' });
    expect(plan.changed).toContain('etc/ngcp/services/redis.json');
  });

  it('a hand-edited rendered file is rewritten and its service named', () => {
    build();
    writeFileSync(join(t.root, 'etc/ngcp/proxy.yml'), 'edited by hand\n');
    expect(build().plan).toMatchObject({ changed: ['etc/ngcp/proxy.yml'], services: { proxy: 'restart' } });
  });

  it('a node template overrides a shipped one; removing it restores the shipped one', () => {
    build();
    mkdirSync(join(t.configDir, 'templates/etc/ngcp'), { recursive: true });
    writeFileSync(join(t.configDir, 'templates/etc/ngcp/lb.yml.eta'), '---\nservices: { lb: reload }\n---\ncustom: <%= it.cfg.lb.max_forwards %>\n');
    writeFileSync(join(t.configDir, 'templates/etc/ngcp/extra.txt.eta'), '---\nservices: { proxy: reload }\n---\nextra\n');
    const { plan } = build();
    expect(readFileSync(join(t.root, 'etc/ngcp/lb.yml'), 'utf8')).toBe('custom: 70\n');
    expect(plan.services).toEqual({ lb: 'reload', proxy: 'reload' });
    rmSync(join(t.configDir, 'templates'), { recursive: true });
    const second = build().plan;
    expect(second.removed).toEqual(['etc/ngcp/extra.txt']);
    expect(existsSync(join(t.root, 'etc/ngcp/extra.txt'))).toBe(false);
    expect(second.services).toEqual({ lb: 'restart', proxy: 'reload' });
  });

  it('service definitions: infra + built daemons in start order, hbd only on a node with a peer', () => {
    build('self');
    const specs = readServiceSpecs(nodePaths(t.root));
    expect(specs.map((s) => s.name)).toEqual(['mariadb', 'redis', 'rtpengine', 'proxy', 'lb', 'api']);
    const lb = specs.find((s) => s.name === 'lb')!;
    expect(lb.health).toEqual({ kind: 'jsonrpc', url: 'http://127.0.0.2:9060/' });
    expect(lb.pm2).toMatchObject({ script: '/apps/lb/dist/main.js', interpreter: '/usr/bin/node', autorestart: true, env: { NGCP_LB_CONFIG: join(t.root, 'etc/ngcp/lb.yml'), NGCP_NODE: 'self' } });
    expect(specs.find((s) => s.name === 'mariadb')!.pm2.args).toEqual([`--defaults-file=${join(t.root, 'etc/mysql/my.cnf')}`]);
    expect(specs.find((s) => s.name === 'api')!.health).toEqual({ kind: 'http', url: 'https://127.0.0.1:1443/' });
    expect(readManifest(nodePaths(t.root)).files['etc/ngcp/services/lb.json']?.services).toEqual({ lb: 'restart' });
    const sp1 = renderNode(opts('sp1')).specs.map((s) => s.name);
    expect(sp1[0]).toBe('hbd');
  });

  it('disabling a service removes its definition (and names it, so it is stopped)', () => {
    build();
    t.write('config.node.self.yml', 'rtpproxy:\n  enable: false\n');
    const { plan } = build();
    expect(plan.removed).toEqual(['etc/ngcp/services/rtpengine.json']);
    expect(plan.services.rtpengine).toBe('restart');
  });
});
