import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { redactedCommandLine } from './proc.js';
import { clearStatePid, readState, runningInstance, STATE_FILE, writeState } from './state.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const scratch = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'ngcp-services-state-'));
  dirs.push(d);
  return d;
};

describe('instance state file', () => {
  it('is written owner-only, read back, and cleared on stop (credentials kept)', () => {
    const dir = scratch();
    writeState(dir, { service: 'redis', pid: 4242, cmdlineMarkers: ['redis-server'], startedAt: 'now', password: 'pw' });
    expect(statSync(join(dir, STATE_FILE)).mode & 0o777).toBe(0o600);
    clearStatePid(dir);
    expect(readState(dir)).toMatchObject({ service: 'redis', pid: 0, password: 'pw' });
    expect(runningInstance(dir)).toBeNull();
  });

  it('reads the name older nodes wrote (testkit-instance.json)', () => {
    const dir = scratch();
    writeFileSync(join(dir, 'testkit-instance.json'), JSON.stringify({ service: 'mariadb', pid: 0, cmdlineMarkers: [], startedAt: '', rootPassword: 'r' }));
    expect(readState(dir)).toMatchObject({ service: 'mariadb', rootPassword: 'r' });
  });

  it('does not take a live process with another command line for the recorded service', () => {
    const dir = scratch();
    writeState(dir, { service: 'redis', pid: process.pid, cmdlineMarkers: ['redis-server', ':6379'], startedAt: 'now' });
    expect(runningInstance(dir)).toBeNull();
  });
});

describe('redactedCommandLine', () => {
  it('masks passwords in every form the launchers pass them', () => {
    const line = redactedCommandLine('redis-server', ['--port', '1', '--requirepass', 'sekret', '--masterauth', 'sekret', '--redis=sekret@127.0.0.1:6379/0']);
    expect(line).not.toContain('sekret');
    expect(line).toBe("redis-server --port 1 --requirepass *** --masterauth *** --redis=***@127.0.0.1:6379/0");
  });
});
