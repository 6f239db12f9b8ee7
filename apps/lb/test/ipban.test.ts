/**
 * The flood guard (security.ipban) on the real lb with a real Redis: a source sending more
 * than max_requests within window_ms is banned — its packets get no answer at all, counted
 * as drops `refused` — while another source is answered throughout; the ban is in Redis
 * `ipban:<ip>` with TTL = ban_s, survives an lb restart, is lifted at once by what the API
 * does on DELETE /api/bannedips/<ip> (DEL + `ngcp:changes` delete), and a ban another node
 * made reaches this lb through `ngcp:changes`. The internal side (the proxies) and trusted
 * peers are never counted.
 */
import { createSocket, type Socket } from 'node:dgram';
import { useRedis } from '@ngcp/testkit/vitest';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { CHANGES_CHANNEL, redisKeys, type BanEntry } from '@ngcp/db';
import type { LbConfig } from '../src/config.js';
import { lbConfig, startLb, type RunningLb } from './helpers.js';

const redisSrv = useRedis();
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  const r = new Redis({ host: redisSrv().host, port: redisSrv().port });
  await r.flushall();
  r.disconnect();
});

/** A raw UDP source on `address` that sends OPTIONS to the lb itself and counts the answers. */
async function source(address: string): Promise<{ send(n: number, port: number): Promise<void>; answers: () => number; ping(port: number, ms?: number): Promise<boolean> }> {
  const sock: Socket = createSocket('udp4');
  let answers = 0;
  const answered = new Set<string>();
  sock.on('message', (b) => {
    answers++;
    const id = /^Call-ID: *(\S+)/im.exec(b.toString('latin1'))?.[1];
    if (id) answered.add(id);
  });
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  cleanup.push(() => new Promise<void>((r) => sock.close(() => r())));
  const me = sock.address().port;
  let seq = 0;
  const options = (lbPort: number) => {
    seq++;
    return Buffer.from(
      `OPTIONS sip:127.0.0.1:${lbPort} SIP/2.0\r\nVia: SIP/2.0/UDP ${address}:${me};branch=z9hG4bK-f${seq}-${Date.now()};rport\r\nMax-Forwards: 70\r\n` +
        `From: <sip:f@${address}>;tag=t${seq}\r\nTo: <sip:127.0.0.1>\r\nCall-ID: flood-${seq}-${me}@${address}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
    );
  };
  const sendOne = (port: number) => new Promise<void>((res, rej) => sock.send(options(port), port, '127.0.0.1', (e) => (e ? rej(e) : res())));
  const callId = () => `flood-${seq}-${me}@${address}`;
  return {
    async send(n, port) {
      for (let i = 0; i < n; i++) await sendOne(port);
    },
    answers: () => answers,
    async ping(port, ms = 3000) {
      await sendOne(port);
      const id = callId();
      const end = Date.now() + ms;
      while (Date.now() < end) {
        if (answered.has(id)) return true;
        await new Promise((r) => setTimeout(r, 10));
      }
      return false;
    },
  };
}

async function lb(config: LbConfig): Promise<RunningLb> {
  const l = await startLb(config);
  let stopped = false;
  cleanup.push(async () => {
    if (!stopped) await l.stop();
  });
  return { ...l, stop: async () => { stopped = true; await l.stop(); } };
}

async function config(o: { trusted?: string[]; exempt?: string[]; max?: number } = {}): Promise<LbConfig> {
  const r = redisSrv();
  const c = await lbConfig({ proxies: [{ address: '127.0.0.2', port: 9 }], redis: { host: r.host, port: r.port }, trusted_peers: o.trusted ?? [] });
  return { ...c, ipban: { enable: true, window_ms: 2000, max_requests: o.max ?? 40, ban_s: 120, exempt: o.exempt ?? [] } };
}

function redis(): Redis {
  const r = new Redis({ host: redisSrv().host, port: redisSrv().port });
  cleanup.push(() => r.disconnect());
  return r;
}

async function until(fn: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const metric = async (l: RunningLb, line: RegExp): Promise<number> => Number(line.exec(await l.registry.metrics())?.[1] ?? NaN);

describe('lb flood guard (security.ipban)', () => {
  it('bans a flooding source (no answer, Redis ipban with TTL, metrics) while another source is answered; a restart keeps the ban; DEL + notification lifts it at once', async () => {
    const a = await lb(await config({ max: 40 }));
    const flooder = await source('127.0.0.3');
    const legit = await source('127.0.0.4');
    expect(await legit.ping(a.udp)).toBe(true);
    expect(await flooder.ping(a.udp)).toBe(true);
    // 10× the threshold in a burst
    await flooder.send(400, a.udp);
    await until(async () => (await redis().exists(redisKeys.ipBan('127.0.0.3'))) === 1, 'ipban:127.0.0.3 in redis');
    const answered = flooder.answers();
    expect(answered).toBeLessThanOrEqual(41);
    expect(await flooder.ping(a.udp, 500)).toBe(false);
    expect(flooder.answers()).toBe(answered);
    // the other source is untouched
    for (let i = 0; i < 5; i++) expect(await legit.ping(a.udp)).toBe(true);

    const r = redis();
    const entry = JSON.parse((await r.get(redisKeys.ipBan('127.0.0.3')))!) as BanEntry;
    expect(entry).toMatchObject({ reason: 'flood' });
    expect(entry.count).toBeGreaterThan(40);
    const ttl = await r.ttl(redisKeys.ipBan('127.0.0.3'));
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
    expect(a.svc.methods['ipban.list']!(undefined)).toEqual([{ address: '127.0.0.3', expires_in: 120 }]);
    expect(await metric(a, /^lb_ipbans_total (\d+)$/m)).toBe(1);
    expect(await metric(a, /^lb_ipbans_active (\d+)$/m)).toBe(1);
    expect(await metric(a, /^sip_drops_total\{reason="refused"\} (\d+)$/m)).toBeGreaterThanOrEqual(400 - 41);

    // a restarted lb knows the ban before the first packet
    await a.stop();
    const b = await lb(a.config);
    expect(await flooder.ping(b.udp, 500)).toBe(false);
    expect(await legit.ping(b.udp)).toBe(true);

    // what the API does on DELETE /api/bannedips/127.0.0.3: DEL, then the change notification
    await r.del(redisKeys.ipBan('127.0.0.3'));
    await r.publish(CHANGES_CHANNEL, JSON.stringify({ entity: 'ipban', id: '127.0.0.3', op: 'delete', ts: Date.now() }));
    await until(() => b.svc.methods['ipban.list']!(undefined) instanceof Array && (b.svc.methods['ipban.list']!(undefined) as unknown[]).length === 0, 'the lift');
    expect(await flooder.ping(b.udp)).toBe(true);
  });

  it('a ban another node made (Redis key + create notification) is in force here at once', async () => {
    const a = await lb(await config());
    const s = await source('127.0.0.5');
    expect(await s.ping(a.udp)).toBe(true);
    const r = redis();
    await r.set(redisKeys.ipBan('127.0.0.5'), JSON.stringify({ reason: 'flood', banned_at: Math.floor(Date.now() / 1000), count: 99 }), 'EX', 60);
    await r.publish(CHANGES_CHANNEL, JSON.stringify({ entity: 'ipban', id: '127.0.0.5', op: 'create', ts: Date.now() }));
    await until(() => (a.svc.methods['ipban.list']!(undefined) as unknown[]).length === 1, 'the ban learnt');
    expect(await s.ping(a.udp, 500)).toBe(false);
  });

  it('trusted peers and exempt networks are never banned; the internal side (proxies) is never counted', async () => {
    const a = await lb(await config({ max: 20, trusted: ['127.0.0.6'], exempt: ['127.0.0.64/26'] }));
    const trusted = await source('127.0.0.6');
    const exempt = await source('127.0.0.70');
    await trusted.send(200, a.udp);
    await exempt.send(200, a.udp);
    // the proxy's address talking to the internal listener
    const proxy = createSocket('udp4');
    await new Promise<void>((r) => proxy.bind(0, '127.0.0.2', () => r()));
    cleanup.push(() => new Promise<void>((r) => proxy.close(() => r())));
    for (let i = 0; i < 200; i++) await new Promise<void>((res) => proxy.send(Buffer.from('\r\n\r\n'), a.internal, '127.0.0.2', () => res()));
    expect(await trusted.ping(a.udp, 3000), JSON.stringify({ ...(a.svc.stats() as { ipban: unknown }).ipban as object, t: (a.svc.stats() as { sip: { transport: unknown } }).sip.transport })).toBe(true);
    expect(await exempt.ping(a.udp, 3000)).toBe(true);
    expect(a.svc.methods['ipban.list']!(undefined)).toEqual([]);
    expect(await redis().keys('ipban:*')).toEqual([]);
  });

  it('without Redis the guard still bans from memory (the write failure is counted)', async () => {
    const c = await config({ max: 20 });
    const a = await lb({ ...c, redis: { ...c.redis, port: (await lbConfig({ proxies: [{ address: '127.0.0.2', port: 9 }] })).redis.port } });
    const s = await source('127.0.0.7');
    await s.send(100, a.udp);
    expect(await s.ping(a.udp, 300)).toBe(false);
    await until(() => ((a.svc.stats() as { ipban: { store: { failed: number } } }).ipban.store.failed) === 1, 'the failed write counted');
  });
});
