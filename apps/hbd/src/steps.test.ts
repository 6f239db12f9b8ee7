/** The command-running steps with a fake runner: argv, benign answers, failures named by step. */
import { describe, expect, it } from 'vitest';
import { arpStep, buildSteps, jobsStep, sharedIpStep, StepError } from './steps.js';
import { hbdDefaults, type HbdConfig } from './config.js';

const ctx = { role: 'active' as const, epoch: 1, node: 'sp1', peer: 'sp2' };

function fakeRun(answers: Array<{ code: number; output: string }>): { calls: string[][]; run: (argv: readonly string[]) => Promise<{ code: number; output: string }> } {
  const calls: string[][] = [];
  return {
    calls,
    run: async (argv) => {
      calls.push([...argv]);
      return answers.shift() ?? { code: 0, output: '' };
    },
  };
}

const cfg = { shared_ips: [{ ip: '10.77.0.10', prefix: 24, dev: 'eth0' }, { ip: '10.77.1.10', prefix: 24, dev: 'eth2' }], step_timeout_ms: 1000 };

describe('shared_ip step', () => {
  it('adds each IP with the <dev>:ha label, deletes it on standby', async () => {
    const f = fakeRun([]);
    const s = sharedIpStep(cfg, f.run);
    await s.activate(ctx);
    await s.deactivate(ctx);
    expect(f.calls).toEqual([
      ['ip', 'addr', 'add', '10.77.0.10/24', 'dev', 'eth0', 'label', 'eth0:ha'],
      ['ip', 'addr', 'add', '10.77.1.10/24', 'dev', 'eth2', 'label', 'eth2:ha'],
      ['ip', 'addr', 'del', '10.77.0.10/24', 'dev', 'eth0'],
      ['ip', 'addr', 'del', '10.77.1.10/24', 'dev', 'eth2'],
    ]);
  });
  it('already there / already gone is fine; anything else fails naming the command', async () => {
    await expect(sharedIpStep(cfg, fakeRun([{ code: 2, output: 'RTNETLINK answers: File exists' }]).run).activate(ctx)).resolves.toBeUndefined();
    await expect(sharedIpStep(cfg, fakeRun([{ code: 2, output: 'RTNETLINK answers: Cannot assign requested address' }]).run).deactivate(ctx)).resolves.toBeUndefined();
    const err = await sharedIpStep(cfg, fakeRun([{ code: 1, output: 'Cannot find device "eth0"' }]).run).activate(ctx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepError);
    expect((err as StepError).message).toBe('shared_ip: ip addr add 10.77.0.10/24 dev eth0 label eth0:ha: Cannot find device "eth0"');
  });
});

describe('shared_ip audit', () => {
  const one = { shared_ips: [{ ip: '10.77.0.10', prefix: 24, dev: 'eth0' }], step_timeout_ms: 1000 };
  const held = '2: eth0    inet 10.77.0.11/24 brd 10.77.0.255 scope global eth0\n2: eth0    inet 10.77.0.10/24 scope global secondary eth0:ha';
  const notHeld = '2: eth0    inet 10.77.0.11/24 brd 10.77.0.255 scope global eth0\n2: eth0    inet 10.77.0.100/24 scope global secondary eth0:x';
  it('active without the IP, or standby holding it, is drift; the other way round is not', async () => {
    const check = (out: string) => sharedIpStep(one, fakeRun([{ code: 0, output: out }]).run).check!;
    expect(await check(notHeld)('active')).toBe('shared IP 10.77.0.10 is missing on eth0');
    expect(await check(held)('standby')).toBe('shared IP 10.77.0.10 is held on eth0 by a standby node');
    expect(await check(held)('active')).toBeNull();
    expect(await check(notHeld)('standby')).toBeNull(); // 10.77.0.100 is not 10.77.0.10
  });
  it('cannot ask (ip fails): no verdict', async () => {
    expect(await sharedIpStep(one, fakeRun([{ code: 1, output: 'Device "eth0" does not exist.' }]).run).check!('active')).toBeNull();
  });
});

describe('arp step', () => {
  it('sends one gratuitous ARP per IP without waiting; a real failure is reported in the background', async () => {
    const f = fakeRun([{ code: 2, output: 'arping: Device eth0 not available.' }, { code: 1, output: '' }]);
    const failures: Error[] = [];
    await arpStep(cfg, f.run).activate({ ...ctx, onBackgroundFailure: (e) => failures.push(e) });
    await new Promise((r) => setTimeout(r, 10));
    expect(f.calls).toEqual([
      ['arping', '-U', '-c', '1', '-I', 'eth0', '10.77.0.10'],
      ['arping', '-U', '-c', '1', '-I', 'eth2', '10.77.1.10'],
    ]);
    expect(failures.map((e) => e.message)).toEqual(['arp: arping -U -c 1 -I eth0 10.77.0.10: arping: Device eth0 not available.']);
  });
});

describe('jobs step', () => {
  it('runs every start (or stop) command and names each that failed', async () => {
    const jobs = [{ name: 'mediator', start: ['ngcp-service', 'start', 'mediator'], stop: ['ngcp-service', 'stop', 'mediator'] }, { name: 'cleanup', start: ['true'], stop: ['true'] }];
    const f = fakeRun([{ code: 1, output: 'no such service' }, { code: 0, output: '' }]);
    await expect(jobsStep({ jobs, step_timeout_ms: 1000 }, f.run).activate(ctx)).rejects.toThrow('jobs: mediator start: no such service');
    expect(f.calls).toEqual([['ngcp-service', 'start', 'mediator'], ['true']]);
  });
});

describe('buildSteps', () => {
  it('keeps the fixed order and leaves out the disabled steps', () => {
    const base = { ...hbdDefaults, node: 'a', peer: 'b', control: { address: '127.0.0.1', port: 1 }, key: 'x'.repeat(16), paths: [] } as unknown as HbdConfig;
    expect(buildSteps(base).map((s) => s.name)).toEqual(['shared_ip', 'arp', 'redis', 'mariadb', 'notify', 'jobs']);
    expect(buildSteps({ ...base, disabled_steps: ['arp', 'mariadb'] }).map((s) => s.name)).toEqual(['shared_ip', 'redis', 'notify', 'jobs']);
  });
});
