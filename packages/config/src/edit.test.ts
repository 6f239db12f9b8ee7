import { describe, expect, it } from 'vitest';
import { fillSecrets } from './init.js';
import { parseKeyPath, formatKeyPath } from './keypath.js';
import { parseValue, setKeyInYaml } from './edit.js';

const TEXT = '# header\nlb:\n  sip_port: 5060          # public\n  ban:                    # bans\n    enable: true\n';

describe('setKeyInYaml', () => {
  it('replaces a scalar in place: every other byte (comments, alignment) stays', () => {
    expect(setKeyInYaml(TEXT, ['lb', 'sip_port'], 5070)).toBe(TEXT.replace('5060', '5070'));
    expect(setKeyInYaml(TEXT, ['lb', 'ban', 'enable'], false)).toBe(TEXT.replace('true', 'false'));
  });

  it('adds missing keys and maps, and sets lists', () => {
    const out = setKeyInYaml(TEXT, ['proxy', 'port'], 5063);
    expect(out).toContain('# header');
    expect(out).toMatch(/proxy:\n {2}port: 5063/);
    expect(setKeyInYaml('', ['heartbeat', 'pingnodes'], ['10.0.0.1'])).toBe('heartbeat:\n  pingnodes:\n    - 10.0.0.1\n');
  });

  it('command-line values are YAML', () => {
    expect(parseValue('5061')).toBe(5061);
    expect(parseValue('true')).toBe(true);
    expect(parseValue('[a, b]')).toEqual(['a', 'b']);
    expect(parseValue('"5061"')).toBe('5061');
    expect(parseValue('{')).toBe('{');
  });
});

describe('key paths and secrets', () => {
  it('parses and formats', () => {
    expect(parseKeyPath('hosts.sp1.interfaces.eth0.shared_ip[0]')).toEqual(['hosts', 'sp1', 'interfaces', 'eth0', 'shared_ip', 0]);
    expect(parseKeyPath('heartbeat.pingnodes.1')).toEqual(['heartbeat', 'pingnodes', 1]);
    expect(formatKeyPath(['a', 'b', 2, 'c'])).toBe('a.b[2].c');
    expect(() => parseKeyPath('a..b')).toThrow();
  });

  it('fills @generate placeholders and keeps the comments', () => {
    let n = 0;
    const r = fillSecrets('# keep\ncredentials:\n  a: "@generate"  # x\n  b: fixed\n', () => `s${++n}`);
    expect(r.count).toBe(1);
    expect(r.text).toContain('# keep');
    expect(r.text).toMatch(/a: "?s1"?/);
    expect(r.text).toContain('b: fixed');
  });
});
