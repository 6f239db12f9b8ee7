/**
 * Supervision with real processes: pm2 (its own home in the node root), two dummy
 * daemons (lb, proxy) and the real Redis. A good change restarts exactly the affected
 * service; applying twice restarts nothing; a change that leaves a service unhealthy
 * is rolled back by itself; rollback restores files and services; SIGKILL of a daemon
 * gets it restarted within 2 s; ngcp-service and ngcp-status; ngcp down stops all of
 * it and nothing else.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dummyPid, makeNode, pidAlive, until, type TestNode } from './node-helpers.js';

describe('supervision under pm2 (dummy lb + proxy, real Redis)', () => {
  let n: TestNode;
  let started: Record<string, number>;

  beforeAll(async () => {
    n = await makeNode();
    const r = await n.cmd('ngcp-up', ['--no-bin']);
    expect(r.code, r.out + r.err).toBe(0);
    started = await n.pids();
    expect(Object.keys(started).sort()).toEqual(['lb', 'proxy', 'redis']);
  }, 120_000);

  afterAll(async () => {
    await n?.cleanup();
  }, 60_000);

  it('ngcp-status: every process online and healthy', async () => {
    const r = await n.cmd('ngcp-status', []);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^Process +Status +PID +Uptime +Restarts +Memory +Health +Live$/m);
    expect(r.out).toMatch(/^role: active \(single node\)$/m);
    for (const name of ['redis', 'proxy', 'lb']) expect(r.out).toMatch(new RegExp(`^${name} +online +${started[name]} .* ok( +\\S.*)?$`, 'm'));
    const json = JSON.parse((await n.cmd('ngcp-status', ['--json'])).out) as { name: string; health: string }[];
    expect(json.map((x) => x.health)).toEqual(['ok', 'ok', 'ok']);
  });

  it('a good change restarts exactly the affected service, records the message, and applying again restarts nothing', async () => {
    const before = await n.pids();
    await n.cmd('ngcpcfg', ['set', 'lb.max_forwards', '42']);
    const r = await n.cmd('ngcpcfg', ['apply', 'lb: max_forwards 42']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/lb: restart ok, healthy/);
    expect(r.out).not.toMatch(/proxy:|redis:/);
    const after = await n.pids();
    expect(after.lb).not.toBe(before.lb);
    expect(after.proxy).toBe(before.proxy);
    expect(after.redis).toBe(before.redis);
    expect(await dummyPid(n.ports.lb_control!)).toBe(after.lb);
    expect((await n.cmd('ngcpcfg', ['log', '-n', '1'])).out).toContain('lb: max_forwards 42');

    const again = await n.cmd('ngcpcfg', ['apply', 'same again']);
    expect(again.code).toBe(0);
    expect(again.out).toContain('no service affected');
    expect(await n.pids()).toEqual(after);
  }, 60_000);

  it('a change of a shared setting restarts every service that uses it, Redis before the daemons', async () => {
    const before = await n.pids();
    const redisPort = n.ports.redis!;
    // the same port, written differently: nothing changes
    await n.cmd('ngcpcfg', ['set', 'redis.port', String(redisPort)]);
    expect((await n.cmd('ngcpcfg', ['apply', 'noop'])).out).toContain('no service affected');
    await n.cmd('ngcpcfg', ['set', 'redis.databases', '8']);
    const r = await n.cmd('ngcpcfg', ['apply', 'fewer redis databases']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/redis: restart ok/);
    const after = await n.pids();
    expect(after.redis).not.toBe(before.redis);
    expect(after.lb).toBe(before.lb); // lb.yml does not depend on redis.databases
  }, 60_000);

  it('rollback restores the files and restarts the services they belong to', async () => {
    const before = await n.pids();
    const r = await n.cmd('ngcpcfg', ['rollback']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(n.read('etc/redis/redis.conf')).toMatch(/^databases 16$/m);
    const after = await n.pids();
    expect(after.redis).not.toBe(before.redis);
    expect(after.lb).toBe(before.lb);
    expect((await n.cmd('ngcp-status', [])).code).toBe(0);
  }, 60_000);

  it('a change that leaves a service unhealthy is rolled back by itself, and says so', async () => {
    await n.cmd('ngcpcfg', ['set', 'lb.max_forwards', '1']); // the dummy refuses to start with it
    const r = await n.cmd('ngcpcfg', ['apply', 'break the lb']);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/FAILED: lb is not healthy/);
    expect(r.err).toMatch(/ROLLED BACK/);
    expect(n.read('etc/ngcp/lb.yml')).toMatch(/^max_forwards: 42$/m);
    expect((await n.cmd('ngcpcfg', ['get', 'lb.max_forwards'])).out).toBe('42\n');
    const log = (await n.cmd('ngcpcfg', ['log', '-n', '2'])).out;
    expect(log).toMatch(/automatic rollback of \w{7} \('break the lb'\): lb was unhealthy[\s\S]*break the lb/);
    expect(await until(() => dummyPid(n.ports.lb_control!), 5000)).toBeDefined();
    expect((await n.cmd('ngcp-status', [])).code).toBe(0);
  }, 90_000);

  it('SIGKILL of a daemon: restarted by the supervisor within 2 s, visible in ngcp-status', async () => {
    const pid = (await n.pids()).proxy!;
    const restartsBefore = (await n.pm2.list()).find((p) => p.name === 'proxy')!.restarts;
    const startsFile = join(n.root, 'var/run/proxy.starts');
    const starts = (): string[] => readFileSync(startsFile, 'utf8').split('\n').filter(Boolean);
    const before = starts().length;
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    // the new process records its start as soon as it runs
    const restarted = await until(async () => (starts().length > before ? Date.now() - t0 : undefined), 5000, 20);
    expect(restarted).toBeDefined();
    expect(restarted!).toBeLessThan(2000);
    const newPid = await until(async () => {
      const p = await dummyPid(n.ports.proxy_control!);
      return p !== undefined && p !== pid ? p : undefined;
    }, 5000, 25);
    expect(newPid).toBe(Number(starts().at(-1)!.split(' ')[0]));
    const st = await n.cmd('ngcp-status', []);
    expect(st.out).toMatch(new RegExp(`^proxy +online +${newPid} +\\S+ +${restartsBefore + 1} `, 'm'));
  }, 30_000);

  it('SIGKILL of Redis: restarted too', async () => {
    const pid = (await n.pids()).redis!;
    process.kill(pid, 'SIGKILL');
    const back = await until(async () => {
      const p = (await n.pids()).redis;
      return p !== undefined && p !== pid ? p : undefined;
    }, 5000, 100);
    expect(back).toBeDefined();
    expect((await until(async () => ((await n.cmd('ngcp-status', ['redis'])).code === 0 ? true : undefined), 5000, 200))).toBe(true);
  }, 30_000);

  it('ngcp-service stop / start / restart / status', async () => {
    const stop = await n.cmd('ngcp-service', ['stop', 'lb']);
    expect(stop.out).toContain('lb stopped');
    expect(await dummyPid(n.ports.lb_control!)).toBeUndefined();
    const st = await n.cmd('ngcp-status', []);
    expect(st.code).toBe(1);
    expect(st.out).toMatch(/^lb +stopped /m);
    // apply does not start a service the operator stopped
    expect((await n.cmd('ngcpcfg', ['apply', 'nothing'])).out).toContain('no service affected');
    expect(await dummyPid(n.ports.lb_control!)).toBeUndefined();
    const start = await n.cmd('ngcp-service', ['start', 'lb']);
    expect(start.code, start.err).toBe(0);
    expect(start.out).toMatch(/lb started, healthy/);
    const before = (await n.pids()).proxy;
    const restart = await n.cmd('ngcp-service', ['restart', 'proxy']);
    expect(restart.code).toBe(0);
    expect((await n.pids()).proxy).not.toBe(before);
    expect((await n.cmd('ngcp-service', ['status'])).code).toBe(0);
    expect((await n.cmd('ngcp-service', ['restart', 'nosuch'])).code).toBe(2);
  }, 60_000);

  it('ngcp down stops every process it started (by its pm2 home) and nothing else', async () => {
    const pids = await n.pids();
    const daemon = n.pm2.daemonPid()!;
    const r = await n.exe('ngcp-down', []);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/stopped .*redis.*and the supervisor/);
    for (const pid of [...Object.values(pids), daemon]) expect(pidAlive(pid)).toBe(false);
    expect(process.pid).toBeGreaterThan(0); // we are still here
    expect((await n.exe('ngcp-down', [])).out).toContain('nothing to stop');
    expect(readFileSync(join(n.root, 'var/run/lb.starts'), 'utf8').split('\n').filter(Boolean).length).toBeGreaterThanOrEqual(3);
  }, 60_000);
});
