import { afterEach, describe, expect, it } from 'vitest';
import { DnsError } from './dns-error.js';
import { SipResolver } from './resolver.js';
import type { SipResolverOptions, Target } from './types.js';
import { seededRandom, TestDnsServer } from './test-dns-server.js';
import type { TestDnsServerOptions, ZoneRecord } from './test-dns-server.js';

// The operator walk-through: NAPTR → SRV → A for example.test (seed 001).
const naptr = (order: number, services: string, replacement: string, preference = 100): ZoneRecord => ({
  name: 'example.test',
  type: 'NAPTR',
  data: { order, preference, flags: 'S', services, regexp: '', replacement },
});
const srv = (name: string, priority: number, port: number, target: string, weight = 100): ZoneRecord => ({
  name,
  type: 'SRV',
  ttl: 120,
  data: { priority, weight, port, target },
});
const a = (name: string, data: string, ttl = 300): ZoneRecord => ({ name, type: 'A', ttl, data });
const aaaa = (name: string, data: string): ZoneRecord => ({ name, type: 'AAAA', data });

const hosts: ZoneRecord[] = [a('osips01.example.test', '192.0.2.13'), a('osips11.example.test', '192.0.2.23'), aaaa('osips11.example.test', '2001:db8::23')];
const seedZone: ZoneRecord[] = [
  naptr(10, 'SIP+D2U', '_sip._udp.example.test'),
  naptr(20, 'SIP+D2T', '_sip._tcp.example.test'),
  naptr(30, 'SIPS+D2T', '_sips._tcp.example.test'),
  srv('_sip._udp.example.test', 10, 5060, 'osips01.example.test'),
  srv('_sip._udp.example.test', 20, 5060, 'osips11.example.test'),
  srv('_sip._tcp.example.test', 10, 5060, 'osips01.example.test'),
  srv('_sips._tcp.example.test', 10, 5061, 'osips01.example.test'),
  ...hosts,
];

const servers: TestDnsServer[] = [];
const resolvers: SipResolver[] = [];
async function setup(zone: ZoneRecord[], opts: Partial<SipResolverOptions> = {}, srvOpts: TestDnsServerOptions = {}) {
  const dns = await TestDnsServer.start({ zone, ...srvOpts });
  servers.push(dns);
  const resolver = new SipResolver({ dns: { servers: [dns.address], timeoutMs: 1500, attempts: 1 }, random: seededRandom(1), ...opts });
  resolvers.push(resolver);
  return { dns, resolver };
}
afterEach(async () => {
  resolvers.splice(0).forEach((r) => r.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
const brief = (ts: Target[]) => ts.map((t) => `${t.transport}:${t.address}:${t.port}`);

describe('SipResolver: RFC 3263 §4.1/§4.2 lookup chain', () => {
  it('walks NAPTR → SRV → A/AAAA in NAPTR order, then SRV priority', async () => {
    const { resolver } = await setup(seedZone);
    const ts = await resolver.resolve({ host: 'Example.Test.' });
    expect(brief(ts)).toEqual([
      'udp:192.0.2.13:5060',
      'udp:192.0.2.23:5060',
      'udp:2001:db8::23:5060',
      'tcp:192.0.2.13:5060',
      'tls:192.0.2.13:5061',
    ]);
    expect(ts[0]).toMatchObject({ via: 'naptr', host: 'osips01.example.test', domain: 'example.test', priority: 10, weight: 100, family: 4 });
    expect(ts[2]).toMatchObject({ family: 6, priority: 20 });
  });

  it('honours NAPTR preference within one order and drops unsupported transports', async () => {
    const zone = [
      naptr(10, 'SIP+D2U', '_sip._udp.example.test', 50),
      naptr(10, 'SIP+D2T', '_sip._tcp.example.test', 10),
      naptr(20, 'SIPS+D2T', '_sips._tcp.example.test'),
      ...seedZone.slice(3),
    ];
    const { resolver } = await setup(zone);
    expect((await resolver.resolve({ host: 'example.test' })).map((t) => t.transport)).toEqual(['tcp', 'udp', 'udp', 'udp', 'tls']);
    const { resolver: udpOnly, dns } = await setup(zone, { supportedTransports: ['udp'] });
    expect(new Set((await udpOnly.resolve({ host: 'example.test' })).map((t) => t.transport))).toEqual(new Set(['udp']));
    expect(dns.count('_sip._tcp.example.test')).toBe(0);
  });

  it('uses only SIPS+D2T for a sips URI', async () => {
    const { resolver, dns } = await setup(seedZone);
    expect(brief(await resolver.resolve({ host: 'example.test', secure: true }))).toEqual(['tls:192.0.2.13:5061']);
    expect(dns.count('_sip._udp.example.test')).toBe(0);
  });

  it('falls back to SRV queries when there is no NAPTR (_sips._tcp, _sip._tcp, _sip._udp)', async () => {
    const { resolver, dns } = await setup(seedZone.slice(3));
    const ts = await resolver.resolve({ host: 'example.test' });
    expect(ts.map((t) => `${t.via}:${t.transport}`)).toEqual(['srv:tls', 'srv:tcp', 'srv:udp', 'srv:udp', 'srv:udp']);
    expect(dns.count('example.test', 'NAPTR')).toBe(1);
    const { resolver: r2 } = await setup(seedZone.slice(3), { srvFallbackOrder: ['udp', 'tcp'] });
    expect((await r2.resolve({ host: 'example.test' })).map((t) => t.transport)).toEqual(['udp', 'udp', 'udp', 'tcp']);
  });

  it('falls back to A/AAAA on port 5060 over UDP (TLS 5061 for sips) when there is no SRV', async () => {
    const zone = [a('plain.test', '192.0.2.50'), aaaa('plain.test', '2001:db8::50')];
    const { resolver } = await setup(zone);
    expect(await resolver.resolve({ host: 'plain.test' })).toEqual([
      { transport: 'udp', address: '192.0.2.50', port: 5060, family: 4, host: 'plain.test', domain: 'plain.test', via: 'a' },
      { transport: 'udp', address: '2001:db8::50', port: 5060, family: 6, host: 'plain.test', domain: 'plain.test', via: 'a' },
    ]);
    expect(brief(await resolver.resolve({ host: 'plain.test', secure: true }))).toEqual(['tls:192.0.2.50:5061', 'tls:2001:db8::50:5061']);
    const { resolver: v6 } = await setup(zone, { ipFamilies: [6, 4] });
    expect((await v6.resolve({ host: 'plain.test' })).map((t) => t.family)).toEqual([6, 4]);
    const { resolver: v4 } = await setup(zone, { ipFamilies: [4] });
    expect((await v4.resolve({ host: 'plain.test' })).map((t) => t.family)).toEqual([4]);
  });

  it('with an explicit port does A/AAAA only (no NAPTR, no SRV)', async () => {
    const { resolver, dns } = await setup(seedZone);
    expect(brief(await resolver.resolve({ host: 'osips11.example.test', port: 5080 }))).toEqual(['udp:192.0.2.23:5080', 'udp:2001:db8::23:5080']);
    expect(brief(await resolver.resolve({ host: 'osips01.example.test', port: 5081, transport: 'tcp', secure: true }))).toEqual(['tls:192.0.2.13:5081']);
    expect(dns.queries.every((q) => q.type === 'A' || q.type === 'AAAA')).toBe(true);
  });

  it('with a transport parameter queries SRV for that transport only', async () => {
    const { resolver, dns } = await setup(seedZone);
    expect(brief(await resolver.resolve({ host: 'example.test', transport: 'tcp' }))).toEqual(['tcp:192.0.2.13:5060']);
    expect(brief(await resolver.resolve({ host: 'example.test', transport: 'tls' }))).toEqual(['tls:192.0.2.13:5061']);
    expect(dns.count('example.test', 'NAPTR')).toBe(0);
    expect(dns.count('_sip._udp.example.test')).toBe(0);
    const { resolver: r2 } = await setup(hosts);
    expect(brief(await r2.resolve({ host: 'osips01.example.test', transport: 'tcp' }))).toEqual(['tcp:192.0.2.13:5060']);
  });

  it('resolves numeric hosts without DNS', async () => {
    const { resolver, dns } = await setup([]);
    expect(await resolver.resolve({ host: '192.0.2.1' })).toEqual([
      { transport: 'udp', address: '192.0.2.1', port: 5060, family: 4, host: '192.0.2.1', domain: '192.0.2.1', via: 'numeric' },
    ]);
    expect(brief(await resolver.resolve({ host: '[2001:DB8::1]', secure: true }))).toEqual(['tls:2001:db8::1:5061']);
    expect(brief(await resolver.resolve({ host: '2001:db8::1', port: 5070, transport: 'tcp' }))).toEqual(['tcp:2001:db8::1:5070']);
    expect(dns.queries).toHaveLength(0);
  });

  it('treats a "." SRV target as "not available here": no A fallback', async () => {
    const zone = [srv('_sip._udp.closed.test', 0, 0, '.'), a('closed.test', '192.0.2.99')];
    const { resolver, dns } = await setup(zone, { srvFallbackOrder: ['udp'] });
    expect(await resolver.resolve({ host: 'closed.test' })).toEqual([]);
    expect(dns.count('closed.test', 'A')).toBe(0);
  });

  it('orders equal-priority SRV records by the injected random source', async () => {
    const zone = [srv('_sip._udp.lb.test', 10, 5060, 'h1.lb.test', 50), srv('_sip._udp.lb.test', 10, 5060, 'h2.lb.test', 50), a('h1.lb.test', '192.0.2.1'), a('h2.lb.test', '192.0.2.2')];
    const firsts = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) {
      const { resolver } = await setup(zone, { random: seededRandom(seed), cache: false });
      const ts = await resolver.resolve({ host: 'lb.test', transport: 'udp' });
      expect(ts).toHaveLength(2);
      firsts.add(ts[0]?.host ?? '');
    }
    expect(firsts).toEqual(new Set(['h1.lb.test', 'h2.lb.test']));
  });

  it('uses A records from the additional section instead of querying for them', async () => {
    const { resolver, dns } = await setup(seedZone, { ipFamilies: [4] }, { behaviour: { additionals: true } });
    expect(await resolver.resolve({ host: 'example.test' })).toHaveLength(4);
    expect(dns.queries.map((q) => `${q.type} ${q.name}`)).toEqual(['NAPTR example.test']);
  });

  it('returns [] for a name that does not exist, and rejects with DnsError when DNS fails', async () => {
    const { resolver } = await setup(seedZone);
    expect(await resolver.resolve({ host: 'nowhere.test' })).toEqual([]);
    const { resolver: broken } = await setup(seedZone, {}, { behaviour: { rcode: 'SERVFAIL' } });
    await expect(broken.resolve({ host: 'example.test' })).rejects.toMatchObject({ name: 'DnsError', code: 'SERVFAIL' });
    const { resolver: garbled } = await setup(seedZone, {}, { behaviour: { malformed: 'garbage' } });
    const err = await garbled.resolve({ host: 'example.test' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect(err).toMatchObject({ code: 'MALFORMED' });
  });

  it('carries on with SRV when the NAPTR query fails', async () => {
    const { resolver } = await setup(seedZone, {}, { onQuery: (q) => (q.type === 'NAPTR' ? { rcode: 'SERVFAIL' } : undefined) });
    expect((await resolver.resolve({ host: 'example.test' })).map((t) => t.via)).toEqual(['srv', 'srv', 'srv', 'srv', 'srv']);
  });

  it('rejects impossible inputs with BADTARGET and bad options with BADCONFIG', async () => {
    const { resolver } = await setup([]);
    await expect(resolver.resolve({ host: 'x.test', secure: true, transport: 'udp' })).rejects.toMatchObject({ code: 'BADTARGET' });
    await expect(resolver.resolve({ host: 'x.test', port: 70000 })).rejects.toMatchObject({ code: 'BADTARGET' });
    await expect(resolver.resolve({ host: ' ' })).rejects.toMatchObject({ code: 'BADTARGET' });
    const badConfig = expect.objectContaining({ name: 'DnsError', code: 'BADCONFIG' });
    expect(() => new SipResolver({ supportedTransports: [] })).toThrow(badConfig);
    expect(() => new SipResolver({ ipFamilies: [] })).toThrow(badConfig);
    expect(() => new SipResolver({ srvFallbackOrder: ['sctp' as never] })).toThrow(badConfig);
    expect(() => new SipResolver({ blacklistSeconds: -1 })).toThrow(badConfig);
  });
});

describe('SipResolver: caching', () => {
  it('answers from cache within the TTL and asks again after it (fake clock)', async () => {
    let now = 0;
    const { resolver, dns } = await setup(seedZone, { now: () => now }, { negativeTtl: 300 });
    const first = await resolver.resolve({ host: 'example.test' });
    const seen = dns.queries.length;
    expect(await resolver.resolve({ host: 'example.test' })).toEqual(first);
    expect(dns.queries.length).toBe(seen); // nothing new on the wire
    now += 119_000; // SRV TTL is 120 s, NAPTR 300 s
    await resolver.resolve({ host: 'example.test' });
    expect(dns.queries.length).toBe(seen);
    now += 2_000;
    await resolver.resolve({ host: 'example.test' });
    expect(dns.count('_sip._udp.example.test', 'SRV')).toBe(2);
    expect(dns.count('example.test', 'NAPTR')).toBe(1);
  });

  it('caches negative answers (RFC 2308)', async () => {
    let now = 0;
    const { resolver, dns } = await setup([a('plain.test', '192.0.2.50')], { now: () => now }, { negativeTtl: 30 });
    await resolver.resolve({ host: 'plain.test' });
    const seen = dns.queries.length;
    expect(dns.count('_sip._udp.plain.test', 'SRV')).toBe(1);
    await resolver.resolve({ host: 'plain.test' });
    expect(dns.queries.length).toBe(seen);
    now += 31_000;
    await resolver.resolve({ host: 'plain.test' });
    expect(dns.count('_sip._udp.plain.test', 'SRV')).toBe(2);
  });

  it('sends one query for concurrent identical lookups', async () => {
    const { resolver, dns } = await setup(seedZone, { cache: false });
    await Promise.all([resolver.resolve({ host: 'example.test' }), resolver.resolve({ host: 'example.test' })]);
    expect(dns.count('example.test', 'NAPTR')).toBe(1);
  });
});
