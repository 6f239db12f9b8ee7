import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaemonConfigError } from '@ngcp/daemon';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, loadConfigFile, resolveConfig } from './config.js';

function keysOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DaemonConfigError);
    return (e as DaemonConfigError).issues.map((i) => i.path);
  }
  throw new Error('expected a DaemonConfigError');
}

describe('resolveConfig', () => {
  it('fills defaults and freezes the result', () => {
    const c = resolveConfig({ listen: { port: 8443 } });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(c.tls).toEqual(DEFAULT_CONFIG.tls);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(() => {
      (c.listen as { port: number }).port = 1;
    }).toThrow();
    expect(resolveConfig({})).toEqual(DEFAULT_CONFIG);
  });
  it('names the key of every mistake', () => {
    const cases: [unknown, string][] = [
      [{ listen: { port: 70000 } }, 'listen.port'],
      [{ listne: {} }, 'listne'],
      [{ db: { pasword: 'x' } }, 'db.pasword'],
      [{ tls: { enabled: 'yes' } }, 'tls.enabled'],
      [{ tls: { hostnames: 'a' } }, 'tls.hostnames'],
      [{ log: { level: 'loud' } }, 'log.level'],
      [{ paging: { default_rows: 5000 } }, 'paging.default_rows'],
      [{ body_limit: -1 }, 'body_limit'],
      [{ db: { readers: 0 } }, 'db.readers'],
      [{ db: { user: '' } }, 'db.user'],
      [{ bruteforce: { exempt: ['10.0.0.0/33'] } }, 'bruteforce.exempt[0]'],
      [{ bruteforce: { exempt: ['::1', 'localhost'] } }, 'bruteforce.exempt[1]'],
      [{ bruteforce: { exempt: '127.0.0.1' } }, 'bruteforce.exempt'],
      [{ bruteforce: { ban_after: 0 } }, 'bruteforce.ban_after'],
      [{ db: { pool_max: 0 } }, 'db.pool_max'],
      [{ db: { acquire_timeout_ms: 'soon' } }, 'db.acquire_timeout_ms'],
      [{ voicemail: { dir: 'var/spool/voicemail' } }, 'voicemail.dir'],
      [{ voicemail: { appserver_control: 'https://127.0.0.2:9070/' } }, 'voicemail.appserver_control'],
      [{ voicemail: { appserver_control: 'http://127.0.0.2:9070/x' } }, 'voicemail.appserver_control'],
      [{ voicemail: { mwi_timeout_ms: 0 } }, 'voicemail.mwi_timeout_ms'],
      [[], ''],
    ];
    for (const [input, key] of cases) expect(keysOf(() => resolveConfig(input)), JSON.stringify(input)).toEqual([key]);
  });
  it('reports every mistake at once', () => {
    expect(keysOf(() => resolveConfig({ listen: { port: -1 }, log: { level: 'x' } }))).toEqual(['listen.port', 'log.level']);
  });
  it('accepts addresses and networks as bruteforce.exempt', () => {
    expect(resolveConfig({ bruteforce: { exempt: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1'] } }).bruteforce.exempt).toHaveLength(4);
    expect(resolveConfig({ bruteforce: { exempt: [] } }).bruteforce.exempt).toEqual([]);
    expect(resolveConfig({}).bruteforce.exempt).toEqual(['127.0.0.0/8', '::1']);
  });
  it('loads JSON and YAML files; errors name the file, the line and the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ngcp-cfg-'));
    try {
      writeFileSync(join(dir, 'a.json'), JSON.stringify({ listen: { port: 1444 } }));
      writeFileSync(join(dir, 'a.yml'), 'listen:\n  port: 1445\nredis:\n  password: "s3"\n');
      writeFileSync(join(dir, 'bad.yml'), 'listen:\n  port: [\n');
      writeFileSync(join(dir, 'wrong.yml'), 'listen:\n  host: 127.0.0.1\n  port: 99999\nadmin:\n  login: ""\n');
      expect(loadConfigFile(join(dir, 'a.json')).listen.port).toBe(1444);
      const y = loadConfigFile(join(dir, 'a.yml'));
      expect(y.listen.port).toBe(1445);
      expect(y.redis.password).toBe('s3');
      expect(() => loadConfigFile(join(dir, 'bad.yml'))).toThrow(new RegExp(`${join(dir, 'bad.yml')}:\\d+: YAML syntax`));
      expect(() => loadConfigFile(join(dir, 'wrong.yml'))).toThrow(
        `the configuration is invalid:\n  ${join(dir, 'wrong.yml')}:3: listen.port: must be <= 65535 (got 99999)\n  ${join(dir, 'wrong.yml')}:5: admin.login: must not be empty`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
