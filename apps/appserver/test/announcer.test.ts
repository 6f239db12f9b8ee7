/**
 * The Announcer in-process on a real SIP stack and real UDP, with a raw UDP caller: the
 * paths sipp cannot script well — our 200 retransmitted while no ACK comes and the BYE
 * after 64·T1 (T1 shortened), and a late offer whose ACK carries no answer.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createSipStack, type SipStack } from '@ngcp/sip';
import { allocatePortRange } from '@ngcp/testkit';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { Announcer, createAppserverMetrics, encode, type Sound } from '../src/index.js';
import { HOST, metric, rtpReceiver, sleep } from './helpers.js';

const T1 = 10;

function sound(ms: number): Sound {
  const samples = new Int16Array(8 * ms).fill(1000);
  return { name: 'test-tone', source: 'operator', file: '/dev/null', samples: samples.length, encoded: { PCMU: encode(samples, 'PCMU'), PCMA: encode(samples, 'PCMA') } };
}

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function setup(): Promise<{ sip: SipStack; port: number; registry: Registry; caller: Socket; callerPort: number; heard: string[] }> {
  const registry = new Registry();
  const range = await allocatePortRange(100, { udp: true, host: HOST });
  cleanup.push(() => range.release());
  const rtp = { min: range.min, max: range.max };
  let announcer: Announcer | null = null;
  const sip = createSipStack({
    listen: [{ transport: 'udp', address: HOST, port: 0 }],
    resolver: false,
    onRequest: (tx, req) => announcer!.onRequest(tx, req),
    onAck: (ack) => announcer!.onAck(ack),
  });
  const [bound] = await sip.start();
  const metrics = createAppserverMetrics(registry, () => announcer?.active ?? 0);
  announcer = new Announcer({
    self: () => ({ address: HOST, port: bound!.port }), rtp: { address: HOST, ...rtp }, repeat: 1,
    sounds: () => new Map([['test-tone', sound(2000)]]), sip: () => sip, logger: pino({ level: 'silent' }), metrics, t1: T1,
  });
  cleanup.push(async () => {
    announcer?.close();
    await sip.close();
  });
  const caller = createSocket('udp4');
  const heard: string[] = [];
  caller.on('message', (m) => heard.push(m.toString()));
  await new Promise<void>((r) => caller.bind(0, HOST, r));
  cleanup.push(() => new Promise<void>((r) => caller.close(() => r())));
  return { sip, port: bound!.port, registry, caller, callerPort: caller.address().port, heard };
}

function invite(callerPort: number, port: number, callId: string, sdp: string | null): string {
  const body = sdp ?? '';
  return [
    `INVITE sip:announce.test-tone@${HOST}:${port} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${callerPort};branch=z9hG4bK-${callId}`, 'Max-Forwards: 70',
    'From: <sip:caller@test.invalid>;tag=c1', `To: <sip:announce.test-tone@${HOST}>`, `Call-ID: ${callId}`, 'CSeq: 1 INVITE',
    `Contact: <sip:caller@${HOST}:${callerPort}>`, ...(sdp ? ['Content-Type: application/sdp'] : []), `Content-Length: ${Buffer.byteLength(body)}`, '', body,
  ].join('\r\n');
}

const offer = (rtpPort: number): string => ['v=0', `o=- 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0', `m=audio ${rtpPort} RTP/AVP 0`, ''].join('\r\n');
const until = async (cond: () => boolean, ms: number): Promise<void> => {
  for (const end = Date.now() + ms; !cond() && Date.now() < end; ) await sleep(10);
};

describe('Announcer on a real SIP stack', () => {
  it('no ACK for our 200: the 200 is retransmitted (T1 doubling), then BYE after 64·T1 and the RTP stops', async () => {
    const s = await setup();
    const rx = await rtpReceiver();
    cleanup.push(() => rx.close());
    s.caller.send(invite(s.callerPort, s.port, 'no-ack-1', offer(rx.port)), s.port, HOST);
    await until(() => s.heard.some((m) => m.startsWith('BYE ')), 3000);
    const oks = s.heard.filter((m) => m.startsWith('SIP/2.0 200'));
    expect(oks.length, 'the 200 and its retransmissions').toBeGreaterThanOrEqual(4);
    expect(new Set(oks).size, 'the same 200 each time').toBe(1);
    const bye = s.heard.find((m) => m.startsWith('BYE '))!;
    expect(bye).toContain(`BYE sip:caller@${HOST}:${s.callerPort} SIP/2.0`);
    expect(bye).toMatch(/^Reason: SIP;cause=200;text="no_ack"/m);
    const n = rx.packets.length;
    expect(n, 'RTP went out meanwhile').toBeGreaterThan(0);
    await sleep(100);
    expect(rx.packets.length).toBe(n);
    expect(metric(await s.registry.metrics(), 'appserver_calls_total', { result: 'no_ack' })).toBe(1);
  });

  it('late offer whose ACK has no answer: BYE at once, nothing sent', async () => {
    const s = await setup();
    s.caller.send(invite(s.callerPort, s.port, 'late-1', null), s.port, HOST);
    await until(() => s.heard.some((m) => m.startsWith('SIP/2.0 200')), 2000);
    const ok = s.heard.find((m) => m.startsWith('SIP/2.0 200'))!;
    expect(ok).toMatch(/^m=audio \d+ RTP\/AVP 0 8\r$/m);
    const toTag = /^To: .*;tag=([^;\r]+)/m.exec(ok)![1];
    const ack = [
      `ACK sip:${HOST}:${s.port} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${s.callerPort};branch=z9hG4bK-late-ack`, 'Max-Forwards: 70',
      'From: <sip:caller@test.invalid>;tag=c1', `To: <sip:announce.test-tone@${HOST}>;tag=${toTag}`, 'Call-ID: late-1', 'CSeq: 1 ACK', 'Content-Length: 0', '', '',
    ].join('\r\n');
    s.caller.send(ack, s.port, HOST);
    await until(() => s.heard.some((m) => m.startsWith('BYE ')), 2000);
    expect(s.heard.find((m) => m.startsWith('BYE '))).toMatch(/^Reason: SIP;cause=200;text="rejected"/m);
    expect(metric(await s.registry.metrics(), 'appserver_calls_total', { name: 'test-tone', result: 'rejected' })).toBe(1);
    expect(metric(await s.registry.metrics(), 'appserver_rtp_packets_sent_total')).toBe(0);
  });
});
