import { afterEach, describe, expect, it } from 'vitest';
import { DnsClient } from './dns-client.js';
import { DnsError } from './dns-error.js';
import { seededRandom, TestDnsServer } from './test-dns-server.js';
import type { TestDnsServerOptions, ZoneRecord } from './test-dns-server.js';

const zone: ZoneRecord[] = [
  { name: 'a.test', type: 'A', ttl: 42, data: '192.0.2.1' },
  { name: 'a.test', type: 'A', ttl: 42, data: '192.0.2.2' },
  { name: 'a.test', type: 'AAAA', ttl: 43, data: '2001:DB8::1' },
  { name: '_sip._udp.a.test', type: 'SRV', ttl: 44, data: { priority: 10, weight: 5, port: 5070, target: 'a.test' } },
  {
    name: 'a.test',
    type: 'NAPTR',
    ttl: 45,
    data: { order: 10, preference: 20, flags: 'S', services: 'SIP+D2U', regexp: '', replacement: '_sip._udp.a.test' },
  },
  { name: 'alias.test', type: 'CNAME', ttl: 30, data: 'a.test' },
  { name: 'dangling.test', type: 'CNAME', ttl: 30, data: 'elsewhere.test' },
];

const servers: TestDnsServer[] = [];
const clients: DnsClient[] = [];
async function server(opts: TestDnsServerOptions = {}): Promise<TestDnsServer> {
  const s = await TestDnsServer.start({ zone, ...opts });
  servers.push(s);
  return s;
}
function client(...srv: TestDnsServer[]): DnsClient {
  const c = new DnsClient({ servers: srv.map((s) => s.address), timeoutMs: 1500, attempts: 1 });
  clients.push(c);
  return c;
}
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('DnsClient', () => {
  it('returns A, AAAA, SRV and NAPTR records with their TTLs', async () => {
    const c = client(await server());
    const a = await c.query('A.Test.', 'A');
    expect(a).toMatchObject({ status: 'ok', name: 'a.test', ttl: 42, tcp: false });
    expect(a.records.map((r) => r.address)).toEqual(['192.0.2.1', '192.0.2.2']);
    const aaaa = await c.query('a.test', 'AAAA');
    expect(aaaa.records).toEqual([{ type: 'AAAA', name: 'a.test', ttl: 43, address: '2001:db8::1' }]);
    const srv = await c.query('_sip._udp.a.test', 'SRV');
    expect(srv.records).toEqual([{ type: 'SRV', name: '_sip._udp.a.test', ttl: 44, priority: 10, weight: 5, port: 5070, target: 'a.test' }]);
    const naptr = await c.query('a.test', 'NAPTR');
    expect(naptr.records[0]).toMatchObject({ ttl: 45, order: 10, preference: 20, flags: 'S', services: 'SIP+D2U', replacement: '_sip._udp.a.test' });
  });

  it('distinguishes NXDOMAIN from NODATA and takes the negative TTL from the SOA (RFC 2308 §5)', async () => {
    const c = client(await server({ negativeTtl: 77 }));
    expect(await c.query('nope.test', 'A')).toMatchObject({ status: 'nxdomain', records: [], ttl: 77 });
    expect(await c.query('_sip._udp.a.test', 'A')).toMatchObject({ status: 'nodata', records: [], ttl: 77 });
  });

  it('reports an undefined negative TTL when the answer has no SOA', async () => {
    const c = client(await server({ negativeTtl: null }));
    expect(await c.query('nope.test', 'A')).toMatchObject({ status: 'nxdomain', ttl: undefined });
  });

  it('follows CNAMEs, inside one answer and by re-querying', async () => {
    const s = await server();
    const c = client(s);
    const r = await c.query('alias.test', 'A');
    expect(r).toMatchObject({ status: 'ok', canonicalName: 'a.test', ttl: 30 });
    expect(r.records).toHaveLength(2);
    expect(await c.query('dangling.test', 'A')).toMatchObject({ status: 'nxdomain', canonicalName: 'elsewhere.test' });
  });

  it('uses a random query ID per query', async () => {
    const s = await server();
    const c = client(s);
    for (let i = 0; i < 10; i++) await c.query('a.test', 'A');
    expect(new Set(s.queries.map((q) => q.id)).size).toBeGreaterThan(5);
  });

  it('retries over TCP when the UDP answer is truncated', async () => {
    const s = await server({ behaviour: { truncate: true } });
    const r = await client(s).query('a.test', 'A');
    expect(r).toMatchObject({ status: 'ok', tcp: true });
    expect(r.records).toHaveLength(2);
    expect(s.queries.map((q) => q.transport)).toEqual(['udp', 'tcp']);
  });

  it('truncates and retries over TCP when the answer exceeds the EDNS size', async () => {
    const big: ZoneRecord[] = Array.from({ length: 100 }, (_, i) => ({ name: 'big.test', type: 'AAAA', data: `2001:db8::${i + 1}` }));
    const s = await server({ zone: big });
    const r = await client(s).query('big.test', 'AAAA');
    expect(r.records).toHaveLength(100);
    expect(r.tcp).toBe(true);
  });

  it('times out on a silent server and asks the next one', async () => {
    const dead = await server({ behaviour: { drop: true } });
    const live = await server();
    const t0 = Date.now();
    const r = await client(dead, live).query('a.test', 'A');
    expect(r.server).toBe(live.address);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(100);
    expect([dead.count(), live.count()]).toEqual([1, 1]);
  });

  it('goes round the server list `attempts` times, then fails with TIMEOUT', async () => {
    const a = await server({ behaviour: { drop: true } });
    const b = await server({ behaviour: { drop: true } });
    const c = new DnsClient({ servers: [a.address, b.address], timeoutMs: 50, attempts: 2 });
    await expect(c.query('a.test', 'A')).rejects.toMatchObject({ name: 'DnsError', code: 'TIMEOUT' });
    expect([a.count(), b.count()]).toEqual([2, 2]);
  });

  it('retries the same server after a lost datagram', async () => {
    const s = await server({ behaviour: { drop: 1 } });
    const c = new DnsClient({ servers: [s.address], timeoutMs: 300, attempts: 2 });
    expect((await c.query('a.test', 'A')).status).toBe('ok');
    expect(s.count()).toBe(2);
  });

  it('moves on after SERVFAIL and reports SERVFAIL when every server fails', async () => {
    const bad = await server({ behaviour: { rcode: 'SERVFAIL' } });
    const good = await server();
    expect((await client(bad, good).query('a.test', 'A')).server).toBe(good.address);
    await expect(client(bad).query('a.test', 'A')).rejects.toMatchObject({ code: 'SERVFAIL', query: { name: 'a.test', type: 'A' } });
    const refused = await server({ behaviour: { rcode: 'REFUSED' } });
    await expect(client(refused).query('a.test', 'A')).rejects.toMatchObject({ code: 'REFUSED' });
  });

  it('retries without EDNS0 when a server answers FORMERR (RFC 6891 §7)', async () => {
    const s = await server({ onQuery: (q) => (q.edns ? { rcode: 'FORMERR' } : undefined) });
    expect((await client(s).query('a.test', 'A')).status).toBe('ok');
    expect(s.queries.map((q) => q.edns)).toEqual([true, false]);
  });

  it.each(['garbage', 'cut', 'bad-a-record'] as const)('turns a %s response into DnsError MALFORMED', async (kind) => {
    const s = await server({ behaviour: { malformed: kind } });
    const err = await client(s).query('a.test', 'A').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect(err).toMatchObject({ code: 'MALFORMED', server: s.address });
  });

  it.each(['wrong-id', 'wrong-question'] as const)('ignores a %s response (RFC 5452 §9.1) and times out', async (kind) => {
    const s = await server({ behaviour: { malformed: kind } });
    await expect(client(s).query('a.test', 'A')).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('never throws anything but DnsError on randomly corrupted responses', async () => {
    const rnd = seededRandom(2024);
    const s = await server({
      behaviour: {
        mutate: (buf) => {
          const out = Buffer.from(buf.subarray(0, 12 + Math.floor(rnd() * (buf.length - 11))));
          for (let i = 0; i < 1 + rnd() * 6; i++) {
            const at = 2 + Math.floor(rnd() * (out.length - 2)); // keep the ID so the answer is considered
            out[at] = Math.floor(rnd() * 256);
          }
          return out;
        },
      },
    });
    const c = new DnsClient({ servers: [s.address], timeoutMs: 20, attempts: 1 });
    const outcomes = new Set<string>();
    for (let i = 0; i < 150; i++) {
      const type = (['A', 'AAAA', 'SRV', 'NAPTR'] as const)[i % 4] ?? 'A';
      const name = type === 'SRV' ? '_sip._udp.a.test' : 'a.test';
      try {
        outcomes.add((await c.query(name, type)).status);
      } catch (e) {
        expect(e).toBeInstanceOf(DnsError);
        outcomes.add((e as DnsError).code);
      }
    }
    expect(outcomes.has('MALFORMED')).toBe(true);
  });

  it('rejects invalid names and bad server specs with typed errors', async () => {
    const c = client(await server());
    await expect(c.query(`${'x'.repeat(64)}.test`, 'A')).rejects.toMatchObject({ code: 'BADNAME' });
    await expect(c.query('a..test', 'A')).rejects.toMatchObject({ code: 'BADNAME' });
    expect(() => new DnsClient({ servers: ['dns.example.com'] })).toThrow(expect.objectContaining({ code: 'BADCONFIG' }));
    expect(() => new DnsClient({ servers: ['127.0.0.1:99999'] })).toThrow(DnsError);
    expect(() => new DnsClient({ servers: [] })).toThrow(DnsError);
    expect(() => new DnsClient({ timeoutMs: 0 })).toThrow(DnsError);
  });

  it('close() cancels in-flight queries with CANCELLED', async () => {
    const s = await server({ behaviour: { drop: true } });
    const c = new DnsClient({ servers: [s.address], timeoutMs: 5000, attempts: 3 });
    const p = c.query('a.test', 'A');
    await new Promise((r) => setTimeout(r, 20));
    c.close();
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' });
    await expect(c.query('a.test', 'A')).rejects.toMatchObject({ code: 'CANCELLED' });
  });
});
