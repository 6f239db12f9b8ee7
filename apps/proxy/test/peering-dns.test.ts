/**
 * A peering server named by DNS (RFC 3263 through the proxy's SipResolver, against a private
 * authoritative DNS server on loopback): NAPTR → SRV → A, the next target when one fails;
 * requests from any of its addresses count as the peer's.
 */
import { afterAll, afterEach, expect, it } from 'vitest';
import { TestDnsServer } from '@ngcp/sip/testing';
import { provision, RPC_CTX, until, useHarness } from './harness.js';
import { Ua } from './ua.js';

let dns: TestDnsServer | undefined;
const h = useHarness(async () => {
  dns = await TestDnsServer.start({ zone: [] });
  return { peering: { attempt_timeout_ms: 1500, down_after: 3, probe_interval_ms: 60_000, probe_timeout_ms: 500, dns_servers: [`127.0.0.1:${dns.port}`] } };
});
afterAll(async () => {
  await dns?.close();
});
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

class PeerUa extends Ua {
  override readonly host: string;
  constructor(host: string) {
    super('peer', 'carrier.test', 'x', { address: '127.0.0.1', port: 0 });
    this.host = host;
  }
}

it('NAPTR → SRV → A: the first target answers 503, the second (next SRV record) 200; a request from either address is the peer\'s', async () => {
  const t1 = await new PeerUa('127.0.0.31').start();
  const t2 = await new PeerUa('127.0.0.32').start();
  started.push(t1, t2);
  dns!.zone = [
    { name: 'carrier.test', type: 'NAPTR', data: { order: 10, preference: 10, flags: 'S', services: 'SIP+D2U', regexp: '', replacement: '_sip._udp.carrier.test' } },
    { name: '_sip._udp.carrier.test', type: 'SRV', data: { priority: 10, weight: 0, port: t1.port, target: 'h1.carrier.test' } },
    { name: '_sip._udp.carrier.test', type: 'SRV', data: { priority: 20, weight: 0, port: t2.port, target: 'h2.carrier.test' } },
    { name: 'h1.carrier.test', type: 'A', data: '127.0.0.31' },
    { name: 'h2.carrier.test', type: 'A', data: '127.0.0.32' },
  ];
  const ok = async (method: string, url: string, body?: unknown): Promise<any> => {
    const r = await h().api(method, url, body);
    if (r.status >= 300) throw new Error(`${url}: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  };
  const g = await ok('POST', '/api/peeringgroups', { name: 'dns-carrier', priority: 1 });
  await ok('POST', '/api/peeringrules', { group_id: g.id, callee_prefix: '33' });
  // udp on 5060: both defaults, so "no port, no transport" → NAPTR first (docs/routing.md)
  const s = await ok('POST', '/api/peeringservers', { group_id: g.id, name: 'carrier-dns', host: 'carrier.test', port: 5060, transport: 'udp' });
  await until(async () => ((await h().proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number }> }).servers.some((x) => x.id === s.id), 'table loaded');

  const domain = await provision(h(), [{ username: 'a', password: 'a-password', number: '4312000001' }, { username: 'b', password: 'b-password', number: '4312000002' }]);
  const a = await new Ua('a', domain, 'a-password', h().proxy.address()).start();
  started.push(a);
  expect((await a.register()).final.status).toBe(200);
  const calling = a.invite(`sip:33123456@${domain}`);
  const i1 = await t1.next('INVITE');
  // the Request-URI names the server as provisioned; the request went to the SRV target
  expect(i1.req.uri).toBe('sip:33123456@carrier.test:5060');
  t1.answer(i1, 503);
  const i2 = await t2.next('INVITE');
  t2.answer(i2, 200);
  const r = await calling;
  expect(r.final.status).toBe(200);
  expect((await a.inDialog(r.dialog!)).status).toBe(200);
  expect(dns!.queries.map((q) => `${q.type} ${q.name}`)).toEqual(expect.arrayContaining(['NAPTR carrier.test', 'SRV _sip._udp.carrier.test', 'A h1.carrier.test', 'A h2.carrier.test']));

  // calls from the peer's second address: no challenge, to b by number
  const b = await new Ua('b', domain, 'b-password', h().proxy.address()).start();
  started.push(b);
  expect((await b.register()).final.status).toBe(200);
  t2.proxy = h().proxy.address();
  const inbound = t2.invite('sip:4312000002@127.0.0.1');
  const ib = await b.next('INVITE');
  b.answer(ib, 200);
  expect((await inbound).final.status).toBe(200);
});
