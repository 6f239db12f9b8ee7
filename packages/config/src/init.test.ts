import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { addMissingSecrets, GENERATE, initConfigDir, protectSecrets } from './init.js';

const dirs: string[] = [];
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ngcp-config-init-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const mode = (f: string): number => statSync(f).mode & 0o777;

describe('constants.yml holds secrets: owner-only', () => {
  it('initConfigDir writes it 0600 with the secrets generated, though the shipped file is 0644', () => {
    const defaults = scratch();
    writeFileSync(join(defaults, 'config.yml'), 'a: 1\n');
    writeFileSync(join(defaults, 'constants.yml'), `credentials:\n  api_password: '${GENERATE}'\n`, { mode: 0o644 });
    chmodSync(join(defaults, 'constants.yml'), 0o644);
    const configDir = join(scratch(), 'etc/ngcp-config');
    expect(initConfigDir(defaults, configDir)).toBe(true);
    const file = join(configDir, 'constants.yml');
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toContain(GENERATE);
    expect(mode(join(configDir, 'config.yml'))).not.toBe(0o600);
  });

  it('protectSecrets fixes a readable one and reports it; leaves a private one', () => {
    const configDir = scratch();
    mkdirSync(configDir, { recursive: true });
    const file = join(configDir, 'constants.yml');
    writeFileSync(file, 'x: 1\n');
    chmodSync(file, 0o644);
    expect(protectSecrets(configDir)).toBe(true);
    expect(mode(file)).toBe(0o600);
    expect(protectSecrets(configDir)).toBe(false);
    expect(protectSecrets(join(configDir, 'missing'))).toBe(false);
  });
});

describe('addMissingSecrets', () => {
  it('generates the secrets a newer release ships that an existing config dir lacks, keeping the rest', () => {
    const defaults = scratch();
    writeFileSync(join(defaults, 'constants.yml'), `credentials:\n  api_password: '${GENERATE}'\n  replication_password: '${GENERATE}'\n`);
    const configDir = scratch();
    writeFileSync(join(configDir, 'constants.yml'), '# mine\ncredentials:\n  api_password: keep-me\n', { mode: 0o644 });
    expect(addMissingSecrets(defaults, configDir, () => 'new-secret')).toEqual(['credentials.replication_password']);
    const text = readFileSync(join(configDir, 'constants.yml'), 'utf8');
    expect(text).toContain('# mine');
    expect(text).toContain('api_password: keep-me');
    expect(text).toContain('replication_password: new-secret');
    expect(mode(join(configDir, 'constants.yml'))).toBe(0o600);
    expect(addMissingSecrets(defaults, configDir)).toEqual([]);
  });
});
