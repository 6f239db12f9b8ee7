/**
 * ngcpcfg without running services: refusing bad config with nothing changed, keys,
 * build/diff/status/log, rollback of files, push/pull between two node roots (the
 * peer's side runs as the real executable, as it would over ssh).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST_BIN, makeNode, type TestNode } from './node-helpers.js';

function snapshot(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, n.name);
      if (n.isDirectory()) walk(p);
      else h.update(p).update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

describe('ngcpcfg on one node (services down)', () => {
  let n: TestNode;
  beforeAll(async () => {
    n = await makeNode();
  });
  afterAll(() => n.cleanup());

  it('refuses a bad config naming file, key and line — no file rendered, no history entry', async () => {
    const etcBefore = snapshot(join(n.root, 'etc/ngcp'));
    const log = (await n.cmd('ngcpcfg', ['log'])).out;
    writeFileSync(join(n.configDir, 'config.yml'), readFileSync(join(n.configDir, 'config.yml'), 'utf8').replace('  max_forwards: 70\n', '  max_forwards: 70\n  max_forwardz: 3\n'));
    const r = await n.cmd('ngcpcfg', ['apply', 'typo']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/config\.yml:\d+: lb\.max_forwardz: unknown key/);
    expect(r.err).toContain('nothing changed');
    expect(snapshot(join(n.root, 'etc/ngcp'))).toBe(etcBefore);
    expect((await n.cmd('ngcpcfg', ['log'])).out).toBe(log);
    // an address that is not an IP, through check
    await n.cmd('ngcpcfg', ['set', 'lb.max_forwards', '70']); // harmless
    writeFileSync(join(n.configDir, 'config.yml'), readFileSync(join(n.configDir, 'config.yml'), 'utf8').replace('  max_forwardz: 3\n', ''));
    writeFileSync(join(n.configDir, 'config.pair.x.yml'), ''); // not used by this node
    const bad = readFileSync(join(n.configDir, 'network.yml'), 'utf8').replace('ip: 127.0.0.2', 'ip: localhost');
    const good = readFileSync(join(n.configDir, 'network.yml'), 'utf8');
    writeFileSync(join(n.configDir, 'network.yml'), bad);
    const c = await n.cmd('ngcpcfg', ['check']);
    expect(c.code).toBe(3);
    expect(c.err).toMatch(/network\.yml:\d+: hosts\.self\.interfaces\.lo_int\.ip: must be an IP address \(got "localhost"\)/);
    writeFileSync(join(n.configDir, 'network.yml'), good);
    rmSync(join(n.configDir, 'config.pair.x.yml'));
    expect((await n.cmd('ngcpcfg', ['check'])).code).toBe(0);
    expect((await n.cmd('ngcpcfg', ['status'])).out).toMatch(/pending: {2}none/);
  });

  it('get, show (with file:line), set (refused when invalid or in constants.yml)', async () => {
    expect((await n.cmd('ngcpcfg', ['get', 'lb.sip_port'])).out).toBe('5060\n');
    expect((await n.cmd('ngcpcfg', ['get', 'lb.control_port'])).out).toBe(`${n.ports.lb_control}\n`);
    const show = (await n.cmd('ngcpcfg', ['show', 'lb.control_port'])).out;
    expect(show).toMatch(new RegExp(`lb\\.control_port: ${n.ports.lb_control} +# config\\.node\\.self\\.yml:2`));
    expect((await n.cmd('ngcpcfg', ['get', 'lb.nope'])).code).toBe(1);

    const before = readFileSync(join(n.configDir, 'config.yml'), 'utf8');
    const bad = await n.cmd('ngcpcfg', ['set', 'lb.sip_port', 'abc']);
    expect(bad.code).toBe(3);
    expect(bad.err).toMatch(/config\.yml:\d+: lb\.sip_port: must be integer/);
    const clash = await n.cmd('ngcpcfg', ['set', 'proxy.port', '5080']);
    expect(clash.code).toBe(3);
    expect(clash.err).toMatch(/(proxy|sbc)\.port: port clash: 5080\/udp on 127\.0\.0\.2/);
    expect(readFileSync(join(n.configDir, 'config.yml'), 'utf8')).toBe(before);
    expect((await n.cmd('ngcpcfg', ['set', 'credentials.api_password', 'x'])).err).toMatch(/constants\.yml/);

    const ok = await n.cmd('ngcpcfg', ['set', 'lb.max_forwards', '33']);
    expect(ok.code).toBe(0);
    const after = readFileSync(join(n.configDir, 'config.yml'), 'utf8');
    expect(after).toBe(before.replace('max_forwards: 70', 'max_forwards: 33')); // comments kept byte for byte
    expect((await n.cmd('ngcpcfg', ['diff'])).out).toMatch(/-max_forwards: 70\n\+max_forwards: 33[\s\S]*# apply would restart lb/);
    expect((await n.cmd('ngcpcfg', ['status'])).out).toMatch(/1 uncommitted change[\s\S]*~ etc\/ngcp\/lb\.yml/);
    const a = await n.cmd('ngcpcfg', ['apply', 'fewer hops']);
    expect(a.code).toBe(0);
    expect(n.read('etc/ngcp/lb.yml')).toMatch(/^max_forwards: 33$/m);
    expect((await n.cmd('ngcpcfg', ['log', '-n', '1'])).out).toMatch(/fewer hops/);
  });

  it('applying twice changes nothing; build is idempotent', async () => {
    const log = (await n.cmd('ngcpcfg', ['log'])).out;
    const r = await n.cmd('ngcpcfg', ['apply', 'nothing']);
    expect(r.out).toContain('no config change to record');
    expect(r.out).not.toContain('rendered');
    expect((await n.cmd('ngcpcfg', ['log'])).out).toBe(log);
    expect((await n.cmd('ngcpcfg', ['build'])).out).toContain('up to date');
  });

  it('rollback restores the config and the rendered files, as a new history entry', async () => {
    await n.cmd('ngcpcfg', ['set', 'lb.max_forwards', '44']);
    await n.cmd('ngcpcfg', ['apply', 'forty-four']);
    expect(n.read('etc/ngcp/lb.yml')).toMatch(/^max_forwards: 44$/m);
    const r = await n.cmd('ngcpcfg', ['rollback']);
    expect(r.code).toBe(0);
    expect(n.read('etc/ngcp/lb.yml')).toMatch(/^max_forwards: 33$/m);
    expect((await n.cmd('ngcpcfg', ['get', 'lb.max_forwards'])).out).toBe('33\n');
    const log = (await n.cmd('ngcpcfg', ['log', '-n', '2'])).out.split('\n');
    expect(log[0]).toMatch(/rollback to \w{7}: fewer hops/);
    expect(log[1]).toMatch(/forty-four/);
    expect((await n.cmd('ngcpcfg', ['rollback', 'no-such-rev'])).code).toBe(1);
  });

  it('usage errors', async () => {
    expect((await n.cmd('ngcpcfg', ['apply'])).code).toBe(2);
    expect((await n.cmd('ngcpcfg', ['frobnicate'])).code).toBe(2);
    expect((await n.cmd('ngcpcfg', ['--bogus', 'check'])).code).toBe(2);
    expect((await n.cmd('ngcpcfg', ['push'])).err).toMatch(/no peer/);
  });
});

describe('ngcpcfg push / pull between two node roots (sp1, sp2)', () => {
  let dir: string;
  let sp1: TestNode;
  let sp2: TestNode;
  beforeAll(async () => {
    if (!existsSync(join(DIST_BIN, 'ngcpcfg.js'))) throw new Error('build first: the peer runs apps/cli/dist/bin/ngcpcfg.js');
    dir = mkdtempSync(join(tmpdir(), 'ngcp-pair-test-'));
    sp1 = await makeNode({ dir, node: 'sp1', init: false });
    sp2 = await makeNode({ dir, node: 'sp2', init: false });
    expect((await sp1.cmd('ngcpcfg', ['init', '--node', 'sp1', '--peer-root', sp2.root])).code).toBe(0);
    // sp2 starts from sp1's config (same secrets), as a real pair does
    const r = await sp2.cmd('ngcpcfg', ['init', '--node', 'sp2', '--peer-root', sp1.root]);
    expect(r.out).toContain('cloned from the peer');
    expect((await sp2.cmd('ngcpcfg', ['get', 'credentials.heartbeat_key'])).out).toBe((await sp1.cmd('ngcpcfg', ['get', 'credentials.heartbeat_key'])).out);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('push sends the committed config to the peer and applies it there', async () => {
    await sp1.cmd('ngcpcfg', ['set', 'lb.max_forwards', '21']);
    expect((await sp1.cmd('ngcpcfg', ['apply', 'pair: fewer hops'])).code).toBe(0);
    const p = await sp1.cmd('ngcpcfg', ['push']);
    expect(p.code, p.out + p.err).toBe(0);
    expect(p.out).toContain('peer is in sync');
    expect(sp2.read('etc/ngcp/lb.yml')).toMatch(/^max_forwards: 21$/m);
    expect(sp2.read('etc/ngcp/lb.yml')).toMatch(/^node: sp2$/m); // rendered for sp2
    expect((await sp2.cmd('ngcpcfg', ['log', '-n', '1'])).out).toContain('pair: fewer hops');
    // again: nothing to do
    expect((await sp1.cmd('ngcpcfg', ['push'])).out).toContain('already at');
  }, 60_000);

  it('push refuses when the peer has diverged, unless forced; uncommitted changes are refused', async () => {
    await sp2.cmd('ngcpcfg', ['set', 'security.ipban.max_requests', '7']);
    expect((await sp2.cmd('ngcpcfg', ['apply', 'local change on sp2'])).code).toBe(0);
    await sp1.cmd('ngcpcfg', ['set', 'security.ipban.max_requests', '9']);
    expect((await sp1.cmd('ngcpcfg', ['apply', 'change on sp1'])).code).toBe(0);
    const p = await sp1.cmd('ngcpcfg', ['push']);
    expect(p.code).toBe(5);
    expect(p.err).toMatch(/diverged/);
    expect(sp2.read('etc/ngcp/lb.yml')).toMatch(/^ {2}max_requests: 7$/m);
    const f = await sp1.cmd('ngcpcfg', ['push', '--force']);
    expect(f.code, f.out + f.err).toBe(0);
    expect(sp2.read('etc/ngcp/lb.yml')).toMatch(/^ {2}max_requests: 9$/m);
    await sp1.cmd('ngcpcfg', ['set', 'security.ipban.max_requests', '10']);
    expect((await sp1.cmd('ngcpcfg', ['push'])).err).toMatch(/uncommitted changes here/);
    await sp1.cmd('ngcpcfg', ['apply', 'ten']);
  }, 60_000);

  it('pull takes the peer config when it fast-forwards', async () => {
    await sp2.cmd('ngcpcfg', ['pull']);
    await sp2.cmd('ngcpcfg', ['set', 'security.ipban.ban_s', '600']);
    expect((await sp2.cmd('ngcpcfg', ['apply', 'longer bans'])).code).toBe(0);
    const r = await sp1.cmd('ngcpcfg', ['pull']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(sp1.read('etc/ngcp/lb.yml')).toMatch(/^ {2}ban_s: 600$/m);
    expect((await sp1.cmd('ngcpcfg', ['log', '-n', '1'])).out).toContain('longer bans');
  }, 60_000);
});
