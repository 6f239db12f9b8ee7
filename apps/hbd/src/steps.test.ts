/** The command-running steps with a fake runner: argv, benign answers, failures named by step. */
import { describe, expect, it } from 'vitest';
import { arpStep, buildSteps, jobsStep, mediaStep, sharedIpStep, StepError } from './steps.js';
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

describe('media step', () => {
  const media = { cli_host: '127.0.0.2', cli_port: 9900, keyspace: 1 };
  function fakeCli(answers: string[]): { said: string[]; cli: (h: string, p: number, c: string) => Promise<string> } {
    const said: string[] = [];
    return { said, cli: async (h, p, c) => (said.push(`${h}:${p} ${c}`), answers.shift() ?? '') };
  }
  it("active: rtpengine owns every call, then stops listening to the keyspace; standby: the reverse", async () => {
    const f = fakeCli([
      "Ok, all calls set to 'owned (active)'",
      'Successfully unsubscribed from keyspace 1.\nSuccessfully removed all foreign calls for keyspace 1.',
      "Ok, all calls set to 'foreign (standby)'",
      'Keyspace 1 is already among redis notifications.',
    ]);
    const s = mediaStep({ media, step_timeout_ms: 1000 }, f.cli);
    await s.activate(ctx);
    await s.deactivate({ ...ctx, role: 'standby' });
    expect(f.said).toEqual(['127.0.0.2:9900 active', '127.0.0.2:9900 ksrm 1', '127.0.0.2:9900 standby', '127.0.0.2:9900 ksadd 1']);
  });
  it('an unexpected answer or an unreachable rtpengine fails the step naming the command', async () => {
    await expect(mediaStep({ media, step_timeout_ms: 1000 }, fakeCli(['Unknown or incomplete command:active']).cli).activate(ctx)).rejects.toThrow(
      "media: rtpengine 127.0.0.2:9900 'active': Unknown or incomplete command:active",
    );
    const refused = async (): Promise<string> => {
      throw new Error('connect ECONNREFUSED 127.0.0.2:9900');
    };
    await expect(mediaStep({ media, step_timeout_ms: 1000 }, refused).deactivate(ctx)).rejects.toThrow("media: rtpengine 127.0.0.2:9900 'standby': connect ECONNREFUSED");
  });
  it('rtpengine not up yet (hbd starts first): the step fails saying so and retries in the background until it answers; a later role change cancels the retry', async () => {
    const said: string[] = [];
    let up = false;
    const cli = async (_h: string, _p: number, c: string): Promise<string> => {
      said.push(c);
      if (!up) throw new StepError('media', 'x', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.2:9900'), { code: 'ECONNREFUSED' }) });
      const answers: Record<string, string> = { active: "Ok, all calls set to 'owned (active)'", standby: "Ok, all calls set to 'foreign (standby)'", 'ksrm 1': 'Successfully unsubscribed from keyspace 1.', 'ksadd 1': 'Success adding keyspace 1 to redis notifications.' };
      return answers[c] ?? 'Unknown or incomplete command';
    };
    const wrapped = (h: string, p: number, c: string): Promise<string> =>
      cli(h, p, c).catch((e: StepError) => {
        throw e.cause;
      });
    const s = mediaStep({ media, step_timeout_ms: 1000 }, wrapped, { everyMs: 5, forMs: 1000 });
    await expect(s.activate(ctx)).rejects.toThrow(/'active': connect ECONNREFUSED.*retrying for 1 s in the background/);
    up = true;
    await new Promise((r) => setTimeout(r, 50));
    expect(said.slice(-2)).toEqual(['active', 'ksrm 1']);
    // cancelled: a standby change while rtpengine is down stops the pending retry of the previous one
    up = false;
    said.length = 0;
    await expect(s.activate(ctx)).rejects.toThrow(/retrying/);
    await expect(s.deactivate(ctx)).rejects.toThrow(/'standby'.*retrying/);
    up = true;
    await new Promise((r) => setTimeout(r, 50));
    expect(said.filter((c) => c === 'active')).toHaveLength(1);
    expect(said.slice(-2)).toEqual(['standby', 'ksadd 1']);
  });
  it("standby: once the replica is in sync, rtpengine gets a `set` event for each call it lacks and a `del` for each it holds that Redis no longer has", async () => {
    const published: string[] = [];
    let inSync = false;
    const store = {
      inSync: async () => inSync,
      callIds: async () => ['call-a', 'call-b'],
      publish: async (c: string, e: string) => void published.push(`${e} ${c}`),
    };
    const answers: Record<string, string> = {
      standby: "Ok, all calls set to 'foreign (standby)'",
      'ksadd 1': 'Keyspace 1 is already among redis notifications.',
      'list sessions foreign': 'callid:                                                       call-b | deletionmark:  no | created:  1796599161 | proxy:127.0.0.2:41000 | redis_keyspace:1 | foreign:yes\ncallid:  stale-c | deletionmark:  no | created:  1796599100 | proxy:127.0.0.2:41000 | redis_keyspace:1 | foreign:yes\n',
    };
    const done: unknown[] = [];
    const s = mediaStep({ media, step_timeout_ms: 1000 }, async (_h, _p, c) => answers[c] ?? '', { everyMs: 5, forMs: 1000 }, store);
    await s.deactivate({ ...ctx, role: 'standby', onBackgroundDone: (_s, f) => done.push(f) });
    await new Promise((r) => setTimeout(r, 30));
    expect(published).toEqual([]); // not before the replica is in sync
    inSync = true;
    await new Promise((r) => setTimeout(r, 50));
    expect(published).toEqual(['set call-a', 'del stale-c']);
    expect(done).toEqual([{ calls: 2, learned: 1, dropped: 1 }]);
  });
  it('without media configured (no rtpengine on this node) it does nothing', async () => {
    const f = fakeCli([]);
    await mediaStep({ media: null, step_timeout_ms: 1000 }, f.cli).activate(ctx);
    expect(f.said).toEqual([]);
  });
});

describe('buildSteps', () => {
  it('keeps the fixed order and leaves out the disabled steps', () => {
    const base = { ...hbdDefaults, node: 'a', peer: 'b', control: { address: '127.0.0.1', port: 1 }, key: 'x'.repeat(16), paths: [] } as unknown as HbdConfig;
    expect(buildSteps(base).map((s) => s.name)).toEqual(['shared_ip', 'arp', 'redis', 'media', 'mariadb', 'notify', 'jobs']);
    expect(buildSteps({ ...base, disabled_steps: ['arp', 'mariadb'] }).map((s) => s.name)).toEqual(['shared_ip', 'redis', 'media', 'notify', 'jobs']);
  });
});
