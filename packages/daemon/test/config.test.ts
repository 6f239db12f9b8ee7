/** A daemon's config file: defaults under the file, ajv, errors naming file:line: key: problem, frozen. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonConfigError, daemonConfigPath, loadDaemonConfig, parseDaemonConfig, resolveDaemonConfig, type DaemonDefinition } from '../src/index.js';
import { fakeDaemon, type FakeConfig } from './fixtures/fake-daemon.js';

const dir = mkdtempSync(join(tmpdir(), 'ngcp-daemon-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: string[]): string {
  const p = join(dir, name);
  writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

function issuesOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DaemonConfigError);
    return (e as DaemonConfigError).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected a DaemonConfigError');
}

describe('loadDaemonConfig', () => {
  it('merges the defaults under the file and freezes the result', () => {
    const p = file('ok.yml', ['control:', '  port: 4711', 'redis:', '  password: "s3cret \\" #x"', 'fake:', '  label: hello']);
    const c = loadDaemonConfig(fakeDaemon, p);
    expect(c).toEqual({
      control: { address: '127.0.0.1', port: 4711 },
      log: { level: 'info' },
      redis: { host: '127.0.0.1', port: 6379, db: 0, password: 's3cret " #x' },
      fake: { drain_ms: 200, label: 'hello' },
    });
    expect(Object.isFrozen(c) && Object.isFrozen(c.control) && Object.isFrozen(c.redis)).toBe(true);
    expect(fakeDaemon.defaults!.control!.port).toBe(0); // defaults untouched
  });

  it('names file:line: key: problem for every problem at once', () => {
    const p = file('bad.yml', [
      'control:', //                 1
      '  address: 10.0.0.300', //    2
      '  port: 70000', //            3
      'log:', //                     4
      '  level: loud', //            5
      'redis:', //                   6
      '  db: "zero"', //             7
      '  pasword: x', //             8
      'fake:', //                    9
      '  drain_ms: -1', //           10
    ]);
    expect(issuesOf(() => loadDaemonConfig(fakeDaemon, p))).toEqual([
      `${p}:2: control.address: must be an IP address (got "10.0.0.300")`,
      `${p}:3: control.port: must be <= 65535 (got 70000)`,
      `${p}:5: log.level: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")`,
      `${p}:8: redis.pasword: unknown key`,
      `${p}:7: redis.db: must be integer (got "zero")`,
      `${p}:10: fake.drain_ms: must be >= 0 (got -1)`,
    ]);
  });

  it('names the nearest line for a missing key, and YAML syntax errors with their line', () => {
    const noDefaults: DaemonDefinition<FakeConfig> = { ...fakeDaemon, defaults: {} };
    const p = file('missing.yml', ['control:', '  address: 127.0.0.1', 'log: { level: info }', 'redis: { host: h, port: 1, db: 0 }', 'fake: { label: l, drain_ms: 0 }']);
    expect(issuesOf(() => loadDaemonConfig(noDefaults, p))).toEqual([`${p}:1: control.port: missing (required)`]);
    const s = file('syntax.yml', ['control:', '  port: 1', ' bad indent: [', '']);
    expect(issuesOf(() => loadDaemonConfig(fakeDaemon, s))[0]).toMatch(new RegExp(`^${s}:\\d+: YAML syntax: `));
    const list = file('list.yml', ['- a', '- b']);
    expect(issuesOf(() => loadDaemonConfig(fakeDaemon, list))).toEqual([`${list}:1: the top level must be a mapping of keys`]);
    expect(issuesOf(() => loadDaemonConfig(fakeDaemon, join(dir, 'absent.yml')))).toEqual([`${join(dir, 'absent.yml')}: cannot read: ENOENT`]);
  });

  it('reports the definition’s own cross-key checks at the key’s line', () => {
    const def: DaemonDefinition<FakeConfig> = {
      ...fakeDaemon,
      check: (c) => (c.fake.drain_ms > 1000 && c.fake.label === 'quick' ? [{ path: 'fake.drain_ms', message: 'a quick fake drains within 1000 ms' }] : []),
    };
    const p = file('check.yml', ['fake:', '  label: quick', '  drain_ms: 5000']);
    expect(issuesOf(() => loadDaemonConfig(def, p))).toEqual([`${p}:3: fake.drain_ms: a quick fake drains within 1000 ms`]);
  });

  it('checks YAML text and in-memory objects the same way', () => {
    expect(parseDaemonConfig(fakeDaemon, 'fake: { label: t }\n').fake.label).toBe('t');
    expect(issuesOf(() => parseDaemonConfig(fakeDaemon, 'control:\n  port: x\n', 'lb.yml'))).toEqual(['lb.yml:2: control.port: must be integer (got "x")']);
    expect(resolveDaemonConfig(fakeDaemon, { fake: { label: 'mem' } }).fake.label).toBe('mem');
    expect(issuesOf(() => resolveDaemonConfig(fakeDaemon, { nope: 1 }))).toEqual(['(inline): nope: unknown key']);
  });
});

describe('daemonConfigPath', () => {
  it('takes --config FILE over NGCP_<NAME>_CONFIG', () => {
    expect(daemonConfigPath('lb', { NGCP_LB_CONFIG: '/e/lb.yml' }, [])).toBe('/e/lb.yml');
    expect(daemonConfigPath('lb', { NGCP_LB_CONFIG: '/e/lb.yml' }, ['--config', '/a/lb.yml'])).toBe('/a/lb.yml');
    expect(daemonConfigPath('lb', {}, ['--config=/b/lb.yml'])).toBe('/b/lb.yml');
    expect(daemonConfigPath('lb', { NGCP_PROXY_CONFIG: 'x' }, [])).toBeUndefined();
  });
});
