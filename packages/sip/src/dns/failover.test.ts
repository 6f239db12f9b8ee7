import { afterEach, describe, expect, it } from 'vitest';
import { Blacklist } from './blacklist.js';
import { SipResolver } from './resolver.js';
import type { SipResolverOptions, Target } from './types.js';
import { seededRandom, TestDnsServer } from './test-dns-server.js';
import type { ZoneRecord } from './test-dns-server.js';

// _sip._udp.pool.test → p1 (prio 10), p2 (prio 20, two addresses), p3 (prio 30)
const zone: ZoneRecord[] = [
  { name: '_sip._udp.pool.test', type: 'SRV', data: { priority: 10, weight: 1, port: 5060, target: 'p1.pool.test' } },
  { name: '_sip._udp.pool.test', type: 'SRV', data: { priority: 20, weight: 1, port: 5070, target: 'p2.pool.test' } },
  { name: '_sip._udp.pool.test', type: 'SRV', data: { priority: 30, weight: 1, port: 5080, target: 'p3.pool.test' } },
  { name: 'p1.pool.test', type: 'A', data: '192.0.2.1' },
  { name: 'p2.pool.test', type: 'A', data: '192.0.2.2' },
  { name: 'p2.pool.test', type: 'A', data: '192.0.2.22' },
  { name: 'p3.pool.test', type: 'A', data: '192.0.2.3' },
];
const input = { host: 'pool.test', transport: 'udp' as const };

const servers: TestDnsServer[] = [];
const resolvers: SipResolver[] = [];
async function setup(opts: Partial<SipResolverOptions> = {}) {
  let now = 1_000_000;
  const dns = await TestDnsServer.start({ zone });
  servers.push(dns);
  const resolver = new SipResolver({
    dns: { servers: [dns.address], timeoutMs: 1500, attempts: 1 },
    random: seededRandom(1),
    ipFamilies: [4],
    now: () => now,
    ...opts,
  });
  resolvers.push(resolver);
  return { dns, resolver, advance: (s: number) => (now += s * 1000) };
}
afterEach(async () => {
  resolvers.splice(0).forEach((r) => r.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function drain(it: { next(): Promise<Target | undefined> }): Promise<string[]> {
  const out: string[] = [];
  for (let t = await it.next(); t; t = await it.next()) out.push(`${t.address}:${t.port}`);
  return out;
}
const ALL = ['192.0.2.1:5060', '192.0.2.2:5070', '192.0.2.22:5070', '192.0.2.3:5080'];

describe('failover iteration (RFC 3263 §4.3)', () => {
  it('walks every target once, in resolve() order, then ends', async () => {
    const { resolver } = await setup();
    const it = resolver.iterate(input);
    expect(await drain(it)).toEqual(ALL);
    expect(await it.next()).toBeUndefined();
    expect(it.tried).toHaveLength(4);
  });

  it('skips destinations another transaction marked failed, but keeps them as last resort', async () => {
    const { resolver } = await setup();
    const first = resolver.iterate(input);
    const p1 = await first.next();
    expect(p1?.address).toBe('192.0.2.1');
    first.markFailed(p1 as Target, 'timeout');
    const p2 = await first.next();
    expect(p2?.address).toBe('192.0.2.2');
    first.markFailed(p2 as Target, '503');
    // a new transaction avoids both while they are down
    expect(await drain(resolver.iterate(input))).toEqual(['192.0.2.22:5070', '192.0.2.3:5080', '192.0.2.1:5060', '192.0.2.2:5070']);
  });

  it('returns blacklisted targets in order when everything is blacklisted', async () => {
    const { resolver } = await setup();
    for (const t of await resolver.resolve(input)) resolver.markFailed(t, 'transport');
    expect(await drain(resolver.iterate(input))).toEqual(ALL);
  });

  it('checks the blacklist at each next(), so concurrent failures are honoured', async () => {
    const { resolver } = await setup();
    const it = resolver.iterate(input);
    await it.next(); // p1
    const other = await resolver.resolve(input);
    resolver.markFailed(other[1] as Target, 'timeout'); // 192.0.2.2 fails elsewhere
    expect((await it.next())?.address).toBe('192.0.2.22');
  });

  it('lets a blacklist entry lapse after blacklistSeconds, or a Retry-After override', async () => {
    const { resolver, advance } = await setup({ blacklistSeconds: 10 });
    const [p1, p2] = await resolver.resolve(input);
    resolver.markFailed(p1 as Target, 'timeout');
    resolver.markFailed(p2 as Target, '503', 120); // e.g. Retry-After: 120
    expect(resolver.isBlacklisted(p1 as Target)).toBe(true);
    advance(11);
    expect(resolver.isBlacklisted(p1 as Target)).toBe(false);
    expect(resolver.isBlacklisted(p2 as Target)).toBe(true);
    expect((await resolver.iterate(input).next())?.address).toBe('192.0.2.1');
    resolver.markSucceeded(p2 as Target);
    expect(resolver.isBlacklisted(p2 as Target)).toBe(false);
  });

  it('blacklists per transport:address:port', async () => {
    const { resolver } = await setup();
    const udp = (await resolver.resolve({ host: '192.0.2.9' }))[0] as Target;
    const tcp = (await resolver.resolve({ host: '192.0.2.9', transport: 'tcp' }))[0] as Target;
    resolver.markFailed(udp, 'transport');
    expect(resolver.isBlacklisted(udp)).toBe(true);
    expect(resolver.isBlacklisted(tcp)).toBe(false);
  });

  it('next() rejects with DnsError when resolution fails', async () => {
    const { resolver, dns } = await setup();
    dns.behaviour.rcode = 'SERVFAIL';
    await expect(resolver.iterate(input).next()).rejects.toMatchObject({ name: 'DnsError', code: 'SERVFAIL' });
  });

  it('keeps resolving when the first DNS server times out', async () => {
    const { dns: live } = await setup();
    const dead = await TestDnsServer.start({ zone, behaviour: { drop: true } });
    servers.push(dead);
    const r = new SipResolver({ dns: { servers: [dead.address, live.address], timeoutMs: 400, attempts: 1 }, ipFamilies: [4] });
    resolvers.push(r);
    expect(await r.resolve(input)).toHaveLength(4);
    expect(dead.count()).toBeGreaterThan(0);
  });
});

describe('Blacklist', () => {
  it('is bounded and forgets the oldest entries first', () => {
    const b = new Blacklist({ maxEntries: 2, now: () => 0 });
    b.add('a', 'timeout');
    b.add('b', 'timeout');
    b.add('c', 'timeout');
    expect(b.entries().map((e) => e.key)).toEqual(['b', 'c']);
  });

  it('never shortens an existing entry', () => {
    const b = new Blacklist({ seconds: 30, now: () => 0 });
    b.add('a', '503', 300);
    b.add('a', 'timeout');
    expect(b.get('a')?.until).toBe(300_000);
  });
});
