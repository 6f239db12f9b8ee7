import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfigFile, resolveConfig } from './config.js';

describe('resolveConfig', () => {
  it('fills defaults and freezes the result', () => {
    const c = resolveConfig({ listen: { port: 8443 } });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8443 });
    expect(c.tls).toEqual(DEFAULT_CONFIG.tls);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(() => {
      (c.listen as { port: number }).port = 1;
    }).toThrow();
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
      [{ bruteforce: { exempt: ['10.0.0.0/33'] } }, 'bruteforce.exempt'],
      [{ bruteforce: { exempt: ['localhost'] } }, 'bruteforce.exempt'],
      [{ bruteforce: { exempt: '127.0.0.1' } }, 'bruteforce.exempt'],
      [{ db: { pool_max: 0 } }, 'db.pool_max'],
      [{ db: { acquire_timeout_ms: 'soon' } }, 'db.acquire_timeout_ms'],
      [[], '(root)'],
    ];
    for (const [input, key] of cases) {
      let err: unknown;
      try {
        resolveConfig(input);
      } catch (e) {
        err = e;
      }
      expect(err, key).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).key).toBe(key);
    }
  });
  it('accepts addresses and networks as bruteforce.exempt', () => {
    expect(resolveConfig({ bruteforce: { exempt: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::1'] } }).bruteforce.exempt).toHaveLength(4);
    expect(resolveConfig({ bruteforce: { exempt: [] } }).bruteforce.exempt).toEqual([]);
    expect(resolveConfig({}).bruteforce.exempt).toEqual(['127.0.0.0/8', '::1']);
  });
  it('loads JSON and YAML files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ngcp-cfg-'));
    try {
      writeFileSync(join(dir, 'a.json'), JSON.stringify({ listen: { port: 1444 } }));
      writeFileSync(join(dir, 'a.yml'), 'listen:\n  port: 1445\nredis:\n  password: "s3"\n');
      writeFileSync(join(dir, 'bad.yml'), 'listen:\n  port: [\n');
      expect(loadConfigFile(join(dir, 'a.json')).listen.port).toBe(1444);
      const y = loadConfigFile(join(dir, 'a.yml'));
      expect(y.listen.port).toBe(1445);
      expect(y.redis.password).toBe('s3');
      expect(() => loadConfigFile(join(dir, 'bad.yml'))).toThrow(/cannot parse/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
