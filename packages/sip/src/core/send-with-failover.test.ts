/**
 * RFC 3263 §4.3 failover end to end: a real DNS server (test-dns-server) serves
 * SRV records for two UDP servers on 127.0.0.1; the first is down (no answer),
 * answers 503, or is blacklisted, and the request reaches the second.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { SipResolver } from '../dns/index.js';
import { TestDnsServer } from '../dns/test-dns-server.js';
import { createResponse } from '../message/builders.js';
import { newBranch } from '../message/ids.js';
import { SipRequest } from '../message/message.js';
import { parseMessage } from '../parser/parse.js';
import { TransactionLayer } from '../transaction/index.js';
import { TransportLayer } from '../transport/index.js';
import { NoTargetError, sendWithFailover } from './send-with-failover.js';

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

/** A UDP "server" that answers each request with `status` (or stays silent). */
async function server(status: number | null, extra: Array<[string, string]> = []): Promise<{ port: number; seen: number }> {
  const s: Socket = createSocket('udp4');
  const state = { port: 0, seen: 0 };
  s.on('message', (b, rinfo) => {
    state.seen++;
    const req = parseMessage(b);
    if (status !== null && req.kind === 'request') s.send(createResponse(req, status, { toTag: 'x', headers: extra }).toBuffer(), rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  state.port = s.address().port;
  cleanup.push(() => s.close());
  return state;
}

async function setup(a: { port: number }, b: { port: number }) {
  const dns = await TestDnsServer.start({
    zone: [
      { name: '_sip._udp.example.test', type: 'SRV', data: { priority: 10, weight: 0, port: a.port, target: 'a.example.test' } },
      { name: '_sip._udp.example.test', type: 'SRV', data: { priority: 20, weight: 0, port: b.port, target: 'b.example.test' } },
      { name: 'a.example.test', type: 'A', data: '127.0.0.1' },
      { name: 'b.example.test', type: 'A', data: '127.0.0.1' },
    ],
  });
  cleanup.push(() => dns.close());
  const resolver = new SipResolver({ dns: { servers: [`127.0.0.1:${dns.port}`], timeoutMs: 500 }, supportedTransports: ['udp'] });
  cleanup.push(() => resolver.close());
  const transport = new TransportLayer({});
  const [l] = await transport.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
  cleanup.push(() => transport.close());
  // short T1 so Timer F (64·T1) fires in 640 ms
  const layer = new TransactionLayer({ transport, user: { onRequest: () => undefined }, timers: { T1: 10, T2: 40, T4: 50 } });
  cleanup.push(() => layer.close());
  transport.onMessage = (m, src) => void layer.receive(m, src);
  const build = () =>
    new SipRequest('OPTIONS', 'sip:example.test', [
      ['Via', `SIP/2.0/UDP 127.0.0.1:${l!.port};branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', '<sip:probe@example.test>;tag=1'],
      ['To', '<sip:example.test>'],
      ['Call-ID', `${newBranch()}@test`],
      ['CSeq', '1 OPTIONS'],
    ]);
  return { resolver, layer, build };
}

describe('sendWithFailover (RFC 3263 §4.3)', () => {
  it('moves on from a silent server (timeout) to the next SRV target', async () => {
    const a = await server(null);
    const b = await server(200);
    const { resolver, layer, build } = await setup(a, b);
    const r = await sendWithFailover(layer, resolver, { host: 'example.test' }, { build });
    expect(r.response.status).toBe(200);
    expect(r.target?.port).toBe(b.port);
    expect(r.attempts.map((x) => x.outcome)).toEqual(['timeout', 'final']);
    expect(a.seen).toBeGreaterThan(1); // retransmitted before giving up
  });

  it('moves on after a 503, blacklists the target, and skips it next time', async () => {
    const a = await server(503, [['Retry-After', '30']]);
    const b = await server(200);
    const { resolver, layer, build } = await setup(a, b);
    const r1 = await sendWithFailover(layer, resolver, { host: 'example.test' }, { build });
    expect(r1.attempts.map((x) => [x.outcome, x.status])).toEqual([['503', 503], ['final', 200]]);
    const seen = a.seen;
    const r2 = await sendWithFailover(layer, resolver, { host: 'example.test' }, { build });
    expect(r2.attempts.map((x) => x.target.port)).toEqual([b.port]);
    expect(a.seen).toBe(seen);
  });

  it('returns a final non-503 error without failover, and the last failure when all fail', async () => {
    const a = await server(404);
    const b = await server(200);
    const s1 = await setup(a, b);
    const r = await sendWithFailover(s1.layer, s1.resolver, { host: 'example.test' }, { build: s1.build });
    expect(r.response.status).toBe(404);
    expect(r.attempts).toHaveLength(1);
    const c = await server(503);
    const d = await server(503);
    const s2 = await setup(c, d);
    const all = await sendWithFailover(s2.layer, s2.resolver, { host: 'example.test' }, { build: s2.build });
    expect(all.target).toBeNull();
    expect(all.response.status).toBe(503);
    expect(all.attempts).toHaveLength(2);
  });

  it('says clearly when a domain has no SIP target', async () => {
    const a = await server(200);
    const { resolver, layer, build } = await setup(a, a);
    await expect(sendWithFailover(layer, resolver, { host: 'nothing.example.test' }, { build })).rejects.toBeInstanceOf(NoTargetError);
  });
});
