/**
 * The RFC 4475 torture messages (and RFC 5118's) sent at the real lb over UDP: it
 * answers what deserves an answer, counts what it drops, and keeps answering — an
 * OPTIONS afterwards still gets its 200.
 */
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Peer, lbConfig, startLb, type RunningLb } from './helpers.js';

const FIXTURES = join(import.meta.dirname, '../../../packages/sip/test/fixtures');
interface Fixture { file: string; transports: string[]; lb: { action: string; status: number | null }; kind: string }
const fixtures = (JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Fixture[]).filter((f) => f.transports.includes('udp'));

let lb: RunningLb;
let proxy: Peer;
let client: Peer;

beforeAll(async () => {
  proxy = await Peer.start('127.0.0.2');
  client = await Peer.start('127.0.0.1');
  lb = await startLb(await lbConfig({ proxies: [{ address: proxy.address, port: proxy.port }], trusted_peers: ['127.0.0.1'] }));
});

afterAll(async () => {
  await lb?.stop();
  await client?.close();
  await proxy?.close();
});

describe('RFC 4475 / 5118 messages at the lb', () => {
  it(`all ${fixtures.length} UDP fixtures leave the lb answering`, async () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(50);
    const sock = createSocket('udp4');
    const replies: string[] = [];
    sock.on('message', (m) => replies.push(m.toString('latin1').split('\r\n')[0]!));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    for (const f of fixtures) {
      await new Promise<void>((r, j) => sock.send(readFileSync(join(FIXTURES, f.file)), lb.udp, '127.0.0.1', (e) => (e ? j(e) : r())));
    }
    // the ones the edge must reject get their answer (the Via is stamped with received/rport, so it comes back here)
    const rejects = fixtures.filter((f) => f.lb.action === 'reject');
    expect(rejects.length).toBeGreaterThan(0);
    const errorReplies = () => replies.filter((l) => /^SIP\/2\.0 [45]\d\d /.test(l)).length;
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && errorReplies() < 1) await new Promise((r) => setTimeout(r, 50));
    expect(replies.some((l) => l.startsWith('SIP/2.0 400 '))).toBe(true);
    sock.close();

    // still answering
    const r = await client.request(client.make('OPTIONS', `sip:127.0.0.1:${lb.udp}`), { transport: 'udp', address: '127.0.0.1', port: lb.udp });
    expect(r.final.status).toBe(200);
    expect(lb.svc.health()).toMatchObject({ ok: true });
    const metrics = await lb.registry.metrics();
    expect(metrics).toMatch(/sip_drops_total\{reason="[^"]+"\} [1-9]/);
    expect(metrics).toMatch(/sip_requests_total\{method="OPTIONS"\} [1-9]/);
  }, 60_000);
});
