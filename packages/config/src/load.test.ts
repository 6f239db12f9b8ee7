import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, type ConfigIssue } from './errors.js';
import { loadConfig } from './load.js';
import { listeners } from './ports.js';
import { tempConfig, type TempConfig } from './test-helpers.js';
import { proxyWorkerCount } from './workers.js';

let t: TempConfig;
beforeEach(() => {
  t = tempConfig();
});
afterEach(() => t.cleanup());

function issuesOf(node = 'self'): ConfigIssue[] {
  try {
    loadConfig({ configDir: t.configDir, node });
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return [...(e as ConfigError).issues];
  }
  throw new Error('expected the config to be refused');
}

describe('loadConfig: the shipped defaults', () => {
  it.each(['self', 'sp1', 'sp2'])('load for node %s without any issue', (node) => {
    const l = loadConfig({ configDir: t.configDir, node });
    expect(l.node).toBe(node);
    expect(l.config.lb.sip_port).toBe(5060);
    expect(l.files).toEqual(['config.yml', 'network.yml', 'constants.yml']);
    expect(Object.isFrozen(l.config.lb)).toBe(true);
  });

  it('single node: public 127.0.0.1, internal 127.0.0.2; the lab pair: shared IP and crosslink', () => {
    const self = loadConfig({ configDir: t.configDir, node: 'self' }).config;
    const ls = listeners(self, 'self');
    expect(ls.find((l) => l.key === 'lb.sip_port' && l.proto === 'udp')?.ip).toBe('127.0.0.1');
    expect(ls.find((l) => l.key === 'proxy.port')).toMatchObject({ ip: '127.0.0.2', port: 5062 });
    expect(ls.find((l) => l.key === 'heartbeat.port')).toBeUndefined();
    const sp1 = loadConfig({ configDir: t.configDir, node: 'sp1' }).config;
    const l1 = listeners(sp1, 'sp1');
    expect(l1.find((l) => l.key === 'lb.sip_port')?.ip).toBe('10.77.0.10');
    expect(l1.find((l) => l.key === 'heartbeat.port')).toMatchObject({ ip: '10.78.0.1', port: 694 });
    expect(sp1.heartbeat.pingnodes).toEqual(['10.77.0.1']);
  });

  it('ports of reference', () => {
    const c = loadConfig({ configDir: t.configDir, node: 'self' }).config;
    expect([c.lb.sip_port, c.lb.tls_port, c.proxy.port, c.sbc.port, c.appserver.port, c.api.port, c.database.port, c.redis.port]).toEqual([
      5060, 5061, 5062, 5080, 5070, 1443, 3306, 6379,
    ]);
    expect([c.rtpproxy.minport, c.rtpproxy.maxport, c.qos.tos_rtp]).toEqual([30000, 40000, 184]);
  });

  it('init generated the secrets', () => {
    const text = readFileSync(join(t.configDir, 'constants.yml'), 'utf8');
    expect(text).not.toContain('"@generate"');
    const c = loadConfig({ configDir: t.configDir, node: 'self' }).config;
    expect(c.credentials.db_password).toMatch(/^[\w-]{20,}$/);
    expect(c.credentials.db_password).not.toBe(c.credentials.api_password);
  });
});

describe('loadConfig: precedence constants > node > pair > config', () => {
  it('each layer overrides the one below, key by key, and origin() names the file and line', () => {
    t.write('config.pair.sp.yml', 'lb:\n  max_forwards: 50\n  domains:\n    retry_ms: 700\n');
    t.write('config.node.sp1.yml', '# sp1 only\nlb:\n  max_forwards: 40\n');
    t.write('constants.yml', `${readFileSync(join(t.configDir, 'constants.yml'), 'utf8')}lb:\n  tls_port: 5071\n`);
    t.write('config.node.sp2.yml', 'lb:\n  tls_port: 5099\n');
    const sp1 = loadConfig({ configDir: t.configDir, node: 'sp1' });
    expect(sp1.files).toEqual(['config.yml', 'network.yml', 'config.pair.sp.yml', 'config.node.sp1.yml', 'constants.yml']);
    expect(sp1.config.lb.max_forwards).toBe(40);
    expect(sp1.config.lb.domains.retry_ms).toBe(700);
    expect(sp1.config.lb.dispatch.timeout_ms).toBe(2000); // maps merge key by key
    expect(sp1.config.lb.tls_port).toBe(5071);
    expect(sp1.origin(['lb', 'max_forwards'])).toEqual({ file: 'config.node.sp1.yml', line: 3 });
    expect(sp1.origin(['lb', 'domains', 'retry_ms'])).toEqual({ file: 'config.pair.sp.yml', line: 4 });
    expect(sp1.origin(['lb', 'sip_port'])?.file).toBe('config.yml');
    expect(sp1.origin(['hosts', 'sp1', 'interfaces', 'eth0', 'ip'])?.file).toBe('network.yml');
    // sp2: pair overlay applies, sp1's does not; constants still win over its own overlay
    const sp2 = loadConfig({ configDir: t.configDir, node: 'sp2' });
    expect(sp2.config.lb.max_forwards).toBe(50);
    expect(sp2.config.lb.tls_port).toBe(5071);
    // the single node has no pair: neither applies
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.lb.max_forwards).toBe(70);
  });

  it('lists replace rather than merge', () => {
    t.write('config.node.sp1.yml', 'heartbeat:\n  pingnodes: [10.77.0.1, 10.77.0.2]\n');
    t.write('config.node.sp2.yml', 'heartbeat:\n  pingnodes: []\n');
    expect(loadConfig({ configDir: t.configDir, node: 'sp1' }).config.heartbeat.pingnodes).toEqual(['10.77.0.1', '10.77.0.2']);
    expect(loadConfig({ configDir: t.configDir, node: 'sp2' }).config.heartbeat.pingnodes).toEqual([]);
  });
});

/** config.yml without the `voicemail:` block of one section (the proxy and the app-server both have one). */
function withoutVoicemail(cfg: string, section: string): string {
  return cfg.replace(new RegExp(`(^${section}:\\n(?:(?:  .*)?\\n)*?)  voicemail:\\n(?:    .*\\n)+`, 'm'), '$1');
}

describe('loadConfig: invalid input names the file, the key and the line', () => {
  it('bad YAML', () => {
    t.write('config.node.self.yml', 'lb:\n  sip_port: 5060\n   bad: [\n');
    const [i] = issuesOf();
    expect(i!.file).toBe('config.node.self.yml');
    expect(i!.line).toBe(2);
    expect(i!.message).toMatch(/^YAML syntax/);
  });

  it('duplicate keys are YAML errors', () => {
    t.write('config.node.self.yml', 'lb:\n  sip_port: 5060\n  sip_port: 5061\n');
    expect(issuesOf()[0]).toMatchObject({ file: 'config.node.self.yml', line: 3 });
  });

  it('unknown key, wrong type, address that is not an IP, value out of range — all at once', () => {
    t.write('config.node.self.yml', 'lb:\n  sip_portt: 5060\nproxy:\n  port: "5062"\nheartbeat:\n  pingnodes: [10.77.0.300]\nsbc:\n  port: 70000\n');
    const issues = issuesOf();
    expect(issues).toHaveLength(4);
    expect(issues).toEqual(expect.arrayContaining([
      expect.objectContaining({ file: 'config.node.self.yml', line: 2, path: 'lb.sip_portt', message: 'unknown key' }),
      expect.objectContaining({ file: 'config.node.self.yml', line: 4, path: 'proxy.port', message: expect.stringMatching(/must be integer \(got "5062"\)/) }),
      expect.objectContaining({ file: 'config.node.self.yml', line: 6, path: 'heartbeat.pingnodes[0]', message: expect.stringMatching(/IP address/) }),
      expect.objectContaining({ file: 'config.node.self.yml', line: 8, path: 'sbc.port', message: expect.stringMatching(/<= 65535/) }),
    ]));
  });

  it('an unknown key in config.yml itself', () => {
    const text = readFileSync(join(t.configDir, 'config.yml'), 'utf8').replace('  max_forwards: 70\n', '  max_forwards: 70\n  max_forward: 70\n');
    t.write('config.yml', text);
    const line = text.split('\n').findIndex((l) => l.includes('max_forward:')) + 1;
    expect(issuesOf()).toEqual([expect.objectContaining({ file: 'config.yml', line, path: 'lb.max_forward', message: 'unknown key' })]);
  });

  it('a bad address in network.yml', () => {
    const text = readFileSync(join(t.configDir, 'network.yml'), 'utf8').replace('ip: 10.78.0.2', 'ip: 10.78.0.x');
    t.write('network.yml', text);
    const line = text.split('\n').findIndex((l) => l.includes('10.78.0.x')) + 1;
    expect(issuesOf('sp2')).toEqual([expect.objectContaining({ file: 'network.yml', line, path: 'hosts.sp2.interfaces.eth1.ip' })]);
  });

  it('hosts belong in network.yml, the rest in config.yml', () => {
    t.write('network.yml', `${readFileSync(join(t.configDir, 'network.yml'), 'utf8')}lb:\n  sip_port: 1\n`);
    expect(issuesOf()[0]).toMatchObject({ file: 'network.yml', path: 'lb', message: expect.stringContaining('only `hosts`') });
  });

  it('a port clash names both keys, at the line of the overlay that caused it', () => {
    t.write('config.node.self.yml', '# move the proxy\nproxy:\n  port: 5080\n');
    const [i, ...more] = issuesOf();
    expect(more).toEqual([]);
    expect(i).toMatchObject({ file: 'config.node.self.yml', line: 3, path: 'proxy.port' });
    // the proxy's ports: one per worker (proxy.workers, 0 = one per core)
    expect(i!.message).toMatch(/port clash: 5080(-\d+)?\/udp on 127\.0\.0\.2 .*sbc\.port .*config\.yml:\d+/);
  });

  it("the proxy's worker ports are checked too: worker 3 of 4 on sbc.port is a clash", () => {
    t.write('config.node.self.yml', 'proxy:\n  port: 5077\n  workers: 4\n');
    const [i, ...more] = issuesOf();
    expect(more).toEqual([]);
    expect(i!.message).toMatch(/port clash: 5077-5080\/udp on 127\.0\.0\.2 .*sbc\.port/);
    t.write('config.node.self.yml', 'proxy:\n  port: 5077\n  workers: 3\n');
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.proxy.workers).toBe(3);
  });

  it('a port inside the media range clashes; on another address it does not', () => {
    t.write('config.node.self.yml', 'rtpproxy:\n  ng_port: 15000\n');
    expect(issuesOf()[0]).toMatchObject({ path: 'rtpproxy.ng_port', message: expect.stringMatching(/appserver\.rtp_min \(10000-20000\/udp/) });
    t.write('config.node.self.yml', 'api:\n  port: 35000\n'); // tcp vs udp media: no clash
    expect(() => loadConfig({ configDir: t.configDir, node: 'self' })).not.toThrow();
  });

  it("the app-server's optional keys: absent is fine, a relative sounds_dir or a repeat of 0 is refused naming the key", () => {
    // a config dir older than the keys
    const cfg = readFileSync(join(t.configDir, 'config.yml'), 'utf8');
    t.write('config.yml', cfg.replace(/^  (announce_repeat|sounds_dir):.*\n/gm, ''));
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.appserver).not.toHaveProperty('sounds_dir');
    t.write('config.yml', cfg);
    t.write('config.node.self.yml', 'appserver:\n  sounds_dir: /srv/sounds\n  announce_repeat: 2\n');
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.appserver).toMatchObject({ sounds_dir: '/srv/sounds', announce_repeat: 2 });
    t.write('config.node.self.yml', 'appserver:\n  sounds_dir: sounds\n  announce_repeat: 0\n');
    expect(issuesOf().map((i) => [i.path, i.line, i.message]).sort()).toEqual([
      ['appserver.announce_repeat', 3, expect.stringContaining('>= 1')],
      ['appserver.sounds_dir', 2, 'has a bad format (got "sounds")'], // an absolute path
    ]);
  });

  it("the app-server's voicemail keys: optional (a config dir older than them loads), a relative dir or a limit out of range is refused naming the key", () => {
    const cfg = readFileSync(join(t.configDir, 'config.yml'), 'utf8');
    t.write('config.yml', withoutVoicemail(cfg, 'appserver'));
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.appserver).not.toHaveProperty('voicemail');
    t.write('config.yml', cfg);
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.appserver.voicemail).toEqual({ dir: null, max_message_s: 120, min_message_ms: 1000 });
    t.write('config.node.self.yml', 'appserver:\n  voicemail:\n    dir: /srv/vm\n');
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.appserver.voicemail).toMatchObject({ dir: '/srv/vm', max_message_s: 120 });
    t.write('config.node.self.yml', 'appserver:\n  voicemail:\n    dir: vm\n    max_message_s: 0\n');
    expect(issuesOf().map((i) => [i.path, i.message]).sort()).toEqual([
      ['appserver.voicemail.dir', 'has a bad format (got "vm")'],
      ['appserver.voicemail.max_message_s', expect.stringContaining('>= 1')],
    ]);
  });

  it("the proxy's voicemail keys: absent is fine, a number that is no dial string or a non-boolean enable is refused naming the key", () => {
    const cfg = readFileSync(join(t.configDir, 'config.yml'), 'utf8');
    t.write('config.yml', withoutVoicemail(cfg, 'proxy'));
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.proxy).not.toHaveProperty('voicemail');
    t.write('config.yml', cfg);
    expect(loadConfig({ configDir: t.configDir, node: 'self' }).config.proxy.voicemail).toEqual({ enable: true, number: '2000' });
    t.write('config.node.self.yml', 'proxy:\n  voicemail:\n    enable: "yes"\n    number: "voicebox"\n');
    expect(issuesOf().map((i) => i.path).sort()).toEqual(['proxy.voicemail.enable', 'proxy.voicemail.number']);
  });

  it('ranges, peers and interface types are checked', () => {
    t.write('config.node.self.yml', 'rtpproxy:\n  minport: 40000\n  maxport: 30000\n');
    expect(issuesOf()[0]).toMatchObject({ path: 'rtpproxy.maxport', message: expect.stringContaining('below rtpproxy.minport') });
    const net = readFileSync(join(t.configDir, 'network.yml'), 'utf8');
    t.write('config.node.self.yml', '');
    t.write('network.yml', net.replace('peer: sp1', 'peer: self'));
    expect(issuesOf('sp1').map((i) => i.path)).toContain('hosts.sp2.peer');
    t.write('network.yml', net.replace('type: [sip_int]', 'type: [sip_int, sip_ext]'));
    expect(issuesOf()[0]).toMatchObject({ path: 'hosts.self.interfaces.lo_int.type', message: 'type sip_ext is already on interface lo' });
  });

  it('an unknown node, a missing file, an ungenerated secret', () => {
    expect(() => loadConfig({ configDir: t.configDir, node: 'sp9' })).toThrow(/this node \('sp9'\) is not a host here \(hosts: self, sp1, sp2\)/);
    t.write('constants.yml', 'credentials:\n  db_root_password: "@generate"\n');
    const issues = issuesOf();
    expect(issues[0]).toMatchObject({ file: 'constants.yml', line: 2, path: 'credentials.db_root_password', message: expect.stringContaining('ngcpcfg init') });
  });

  it('the API\'s login protection and the lb\'s trusted peers: networks allowed, anything else refused naming the key', () => {
    t.write('config.node.self.yml', 'api:\n  bruteforce:\n    exempt: [10.0.0.0/8, "::1", 10.0.0.0/40]\nlb:\n  trusted_peers: [192.0.2.0/24, my-peer]\n');
    const issues = issuesOf();
    expect(issues).toHaveLength(2);
    expect(issues).toEqual(expect.arrayContaining([
      expect.objectContaining({ file: 'config.node.self.yml', line: 3, path: 'api.bruteforce.exempt[2]', message: 'must be an IP address or a network (10.0.0.0/8) (got "10.0.0.0/40")' }),
      expect.objectContaining({ file: 'config.node.self.yml', line: 5, path: 'lb.trusted_peers[1]', message: 'must be an IP address or a network (10.0.0.0/8) (got "my-peer")' }),
    ]));
  });

  it('keys a later release added (api.auth, api.bruteforce, proxy.flow_timer, heartbeat.audit_interval_ms) may be absent from an older config dir', () => {
    const text = readFileSync(join(t.configDir, 'config.yml'), 'utf8')
      .replace(/^  auth:\n(    .*\n)+/m, '')
      .replace(/^  bruteforce:.*\n(    .*\n)+/m, '')
      .replace(/^  flow_timer: .*\n/m, '')
      .replace(/^  audit_interval_ms: .*\n/m, '');
    expect(text).not.toMatch(/bruteforce|flow_timer|audit_interval_ms|cache_ttl_s/);
    t.write('config.yml', text);
    const l = loadConfig({ configDir: t.configDir, node: 'self' });
    expect(l.config.api.bruteforce).toBeUndefined();
    expect(l.config.proxy.flow_timer).toBeUndefined();
  });

  it('proxy.workers may be absent from an older config dir: one worker per core then', () => {
    const text = readFileSync(join(t.configDir, 'config.yml'), 'utf8').replace(/^  workers: .*\n/m, '');
    expect(text).not.toMatch(/^  workers:/m);
    t.write('config.yml', text);
    const l = loadConfig({ configDir: t.configDir, node: 'self' });
    expect(l.config.proxy.workers).toBeUndefined();
    expect(proxyWorkerCount(l.config, 3)).toBe(3);
    expect(proxyWorkerCount({ proxy: { ...l.config.proxy, workers: 2 } }, 3)).toBe(2);
  });

  it('a key missing from the merged tree', () => {
    const text = readFileSync(join(t.configDir, 'constants.yml'), 'utf8').replace(/^  heartbeat_key: .*\n/m, '');
    t.write('constants.yml', text);
    expect(issuesOf()).toEqual([expect.objectContaining({ file: 'constants.yml', path: 'credentials.heartbeat_key', message: 'missing (required)' })]);
  });
});
