/** The shipped template renders a proxy.yml this daemon loads, even with hostile secrets. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initConfigDir, loadConfig, nodePaths, renderNode } from '@ngcp/config';
import { loadDaemonConfig } from '@ngcp/daemon';
import { proxyDaemon } from './daemon.js';

const loadProxyConfig = (path: string) => loadDaemonConfig(proxyDaemon, path);

const DEFAULTS = resolve(import.meta.dirname, '../../../ngcp-config');
let dir: string;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function render(secret: string, node = 'self'): string {
  dir = mkdtempSync(join(tmpdir(), 'proxy-config-'));
  dirs.push(dir);
  const root = join(dir, 'root');
  const configDir = join(root, 'etc/ngcp-config');
  initConfigDir(DEFAULTS, configDir);
  const constants = join(configDir, 'constants.yml');
  writeFileSync(constants, readFileSync(constants, 'utf8').replace(/^  db_password: .*$/m, `  db_password: ${JSON.stringify(secret)}`));
  const r = renderNode({
    loaded: loadConfig({ configDir, node }), paths: nodePaths(root), templateDirs: [join(DEFAULTS, 'templates')],
    apps: { proxy: '/apps/proxy/dist/main.js' }, bins: { mariadbd: '/x', redisServer: '/x', rtpengine: '/x' }, nodeBin: '/usr/bin/node', cwd: '/checkout', isRoot: false,
  } as Parameters<typeof renderNode>[0]);
  const file = r.files.find((f) => f.path === 'etc/ngcp/proxy.yml');
  if (!file) throw new Error('proxy.yml not rendered');
  const out = join(dir, 'proxy.yml');
  writeFileSync(out, file.content);
  return out;
}

describe('proxy.yml', () => {
  it('renders from ngcp-config and loads with the shipped defaults', () => {
    const c = loadProxyConfig(render('plain-secret-1'));
    expect(c).toMatchObject({
      listen: { address: '127.0.0.2', udp_port: 5062 }, control: { port: 9062 }, media: true,
      registrar: { min_expires: 60, max_expires: 43200, default_expires: 3600, max_contacts: 10, auth: true }, calls: { ttl_s: 7200, auth: true },
      mediactl: { url: 'http://127.0.0.2:9090/' },
    });
    expect(c.auth.nonce_secret.length).toBeGreaterThanOrEqual(8);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("names the peer's MariaDB for accounting on a node of a pair (its crosslink address), none on a single node", () => {
    expect(loadProxyConfig(render('plain-secret-3')).accounting).toEqual({ peer_db: null });
    expect(loadProxyConfig(render('plain-secret-3', 'sp1')).accounting).toEqual({ peer_db: { host: '10.78.0.2', port: 3306 } });
    expect(loadProxyConfig(render('plain-secret-3', 'sp2')).accounting).toEqual({ peer_db: { host: '10.78.0.1', port: 3306 } });
    // a proxy.yml without the key (rendered before it existed, or written by hand) still loads
    const f = render('plain-secret-3', 'sp1');
    writeFileSync(f, readFileSync(f, 'utf8').replace(/^accounting:\n.*\n/m, ''));
    expect(loadProxyConfig(f).accounting).toBeUndefined();
  });

  it('keeps a password with quotes, backslashes and # intact', () => {
    const nasty = 'p"a\\ss#w: \'rd';
    expect(loadProxyConfig(render(nasty)).db.password).toBe(nasty);
  });

  it('authenticates REGISTER unless registrar.auth is false (benchmark/lab only), and refuses a non-boolean', () => {
    const base = readFileSync(render('plain-secret-2'), 'utf8');
    const f = join(dir, 'proxy-noauth.yml');
    writeFileSync(f, base.replace(/^registrar:\n/m, 'registrar:\n  auth: false\n'));
    expect(loadProxyConfig(f).registrar.auth).toBe(false);
    writeFileSync(f, base.replace(/^registrar:\n/m, 'registrar:\n  auth: "no"\n'));
    expect(() => loadProxyConfig(f)).toThrow(/registrar\.auth/);
    writeFileSync(f, base.replace(/^calls:\n/m, 'calls:\n  auth: false\n'));
    expect(loadProxyConfig(f).calls.auth).toBe(false);
  });

  it('star codes on with sip:provider\'s codes, announcements off, the app-server at its internal address (none when appserver.enable is false); equal codes refused', () => {
    const f = render('plain-secret-4');
    const c = loadProxyConfig(f);
    expect(c.vsc).toEqual({ enable: true, cfu_code: '72', cfb_code: '90', cft_code: '92', cfna_code: '93', clir_code: '31' });
    expect(c.announcements).toEqual({ enable: false });
    expect(c.appserver).toEqual({ address: '127.0.0.2:5070' });
    const base = readFileSync(f, 'utf8');
    writeFileSync(f, base.replace(/^  cfb_code: .*$/m, '  cfb_code: "72"'));
    expect(() => loadProxyConfig(f)).toThrow(/vsc\.cfb_code.*vsc\.cfu_code/);
    writeFileSync(f, base.replace(/^  cfu_code: .*$/m, '  cfu_code: "7x"'));
    expect(() => loadProxyConfig(f)).toThrow(/vsc\.cfu_code/);
    // a proxy.yml from before the keys loads with the defaults
    writeFileSync(f, base.replace(/^(appserver|vsc|announcements):\n(  .*\n)*/gm, ''));
    expect(loadProxyConfig(f)).toMatchObject({ appserver: { address: '' }, vsc: { enable: true, cfu_code: '72' }, announcements: { enable: false } });
  });

  it('voicemail on with number 2000 (quoted: a string), absent key → the same defaults; a number that is no dial string is refused naming the key', () => {
    const f = render('plain-secret-5');
    expect(loadProxyConfig(f).voicemail).toEqual({ enable: true, number: '2000' });
    const base = readFileSync(f, 'utf8');
    writeFileSync(f, base.replace(/^  number: .*$/m, '  number: "*98"'));
    expect(loadProxyConfig(f).voicemail).toEqual({ enable: true, number: '*98' });
    writeFileSync(f, base.replace(/^  number: .*$/m, '  number: "vm"'));
    expect(() => loadProxyConfig(f)).toThrow(/voicemail\.number/);
    writeFileSync(f, base.replace(/^voicemail:\n(  .*\n)*/m, ''));
    expect(loadProxyConfig(f).voicemail).toEqual({ enable: true, number: '2000' });
  });

  it('refuses a bad file naming the key', () => {
    dir = mkdtempSync(join(tmpdir(), 'proxy-config-'));
    dirs.push(dir);
    const f = join(dir, 'proxy.yml');
    writeFileSync(f, 'listen: { address: 127.0.0.2, udp_port: 99999 }\n');
    expect(() => loadProxyConfig(f)).toThrow(/proxy\.yml.*listen\.udp_port/);
  });
});
