/**
 * @ngcp/ng against a real rtpengine (started privately by the test kit): ping, a call's
 * offer → answer → query → delete with rewritten SDP, rtpengine's own refusal as
 * NgError 'error-result', a timeout against a port nothing answers on, close(), and
 * retransmission through a lossy relay (a lost request; a lost reply, answered again from
 * rtpengine's cookie cache without a second offer).
 */
import { describe, expect, it } from 'vitest';
import { NgClient, NgError } from '@ngcp/ng';
import { freePort, lossyRelay, releasePort } from '@ngcp/testkit';
import { useRtpengine } from '@ngcp/testkit/vitest';

const sdp = (ip: string, port: number): string =>
  ['v=0', `o=- 1 1 IN IP4 ${ip}`, 's=ngcp', 't=0 0', `m=audio ${port} RTP/AVP 0 8`, `c=IN IP4 ${ip}`, 'a=sendrecv', ''].join('\r\n');

describe('NgClient with a real rtpengine', () => {
  const rtp = useRtpengine();

  it('ping, then offer → answer → query → delete of one call, SDP rewritten onto rtpengine', async () => {
    const trips: { command: string; ok: boolean }[] = [];
    const ng = new NgClient({ host: rtp().ngHost, port: rtp().ngPort, onRoundTrip: (command, ms, ok) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      trips.push({ command, ok });
    } });
    try {
      await ng.ping();
      const callId = `ng-test-${process.pid}`;
      const offer = await ng.offer({ 'call-id': callId, 'from-tag': 'caller', sdp: sdp('198.51.100.1', 4000) });
      expect(offer.result).toBe('ok');
      const offered = String(offer['sdp']);
      expect(offered).toMatch(/c=IN IP4 127\.0\.0\.1/);
      const calleeSide = Number(/m=audio (\d+) /.exec(offered)?.[1]);
      expect(calleeSide).toBeGreaterThanOrEqual(rtp().portMin);
      expect(calleeSide).toBeLessThanOrEqual(rtp().portMax);

      const answer = await ng.answer({ 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp('198.51.100.2', 5000) });
      expect(answer.result).toBe('ok');
      const callerSide = Number(/m=audio (\d+) /.exec(String(answer['sdp']))?.[1]);
      expect(callerSide).not.toBe(calleeSide);
      expect(String(answer['sdp'])).toMatch(/c=IN IP4 127\.0\.0\.1/);

      const query = await ng.query({ 'call-id': callId });
      expect(query.result).toBe('ok');
      expect(Object.keys(query['tags'] as object).sort()).toEqual(['callee', 'caller']);

      expect((await ng.list())['calls']).toContain(callId);
      // rtpengine keeps a deleted call for `delete-delay` (30 s by default)
      expect((await ng.delete({ 'call-id': callId, 'from-tag': 'caller', 'delete-delay': 0 })).result).toBe('ok');

      // gone: rtpengine refuses, with its reason
      const gone = await ng.query({ 'call-id': callId }).catch((e: unknown) => e);
      expect(gone).toBeInstanceOf(NgError);
      expect((gone as NgError).code).toBe('error-result');
      expect((gone as NgError).errorReason).toMatch(/unknown call/i);
      expect(trips.map((t) => `${t.command}:${t.ok}`)).toEqual(['ping:true', 'offer:true', 'answer:true', 'query:true', 'list:true', 'delete:true', 'query:false']);
    } finally {
      await ng.close();
    }
  });

  it('request() sends any command rtpengine-client knows, by its ng name', async () => {
    const ng = new NgClient({ host: rtp().ngHost, port: rtp().ngPort });
    try {
      expect((await ng.request('ping')).result).toBe('pong');
      const stats = await ng.request('statistics');
      expect(stats.result).toBe('ok');
      await expect(ng.request('no such command')).rejects.toThrow(/cannot send the ng command 'no such command'/);
    } finally {
      await ng.close();
    }
  });

  it('times out with NgError timeout against a port nothing answers on', async () => {
    const silent = await freePort({ udp: true });
    const ng = new NgClient({ host: '127.0.0.1', port: silent, timeoutMs: 300 });
    try {
      const err = await ng.ping().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NgError);
      expect((err as NgError).code).toBe('timeout');
      expect((err as NgError).message).toContain(`127.0.0.1:${silent}`);
    } finally {
      await ng.close();
      releasePort(silent);
    }
  });

  it('close() settles a pending request with NgError socket, and later requests too', async () => {
    const silent = await freePort({ udp: true });
    const ng = new NgClient({ host: '127.0.0.1', port: silent, timeoutMs: 30_000 });
    const pending = ng.ping().catch((e: unknown) => e);
    await ng.close();
    const err = await pending;
    expect((err as NgError).code).toBe('socket');
    expect((err as NgError).command).toBe('ping');
    expect(((await ng.ping().catch((e: unknown) => e)) as NgError).code).toBe('socket');
    releasePort(silent);
  });

  describe('retransmission (retransmitMs): the same datagram again, rtpengine answers it once', () => {
    /** rtpengine's count of offers it processed (ng `statistics`, controlstatistics). */
    async function offersDone(ng: NgClient): Promise<number> {
      const st = (await ng.request('statistics'))['statistics'] as { controlstatistics: { totaloffercount: number } };
      return Number(st.controlstatistics.totaloffercount);
    }

    it('a lost request: the retransmission reaches rtpengine and the offer succeeds, within the timeout', async () => {
      const relay = await lossyRelay(rtp().ngHost, rtp().ngPort, 'request');
      const retransmitted: string[] = [];
      const ng = new NgClient({ host: '127.0.0.1', port: relay.port, timeoutMs: 2000, retransmitMs: 100, onRetransmit: (c) => retransmitted.push(c) });
      const callId = `ng-retx-req-${process.pid}`;
      try {
        const t0 = performance.now();
        const offer = await ng.offer({ 'call-id': callId, 'from-tag': 'caller', sdp: sdp('198.51.100.1', 4000) });
        expect(performance.now() - t0).toBeLessThan(1000);
        expect(offer.result).toBe('ok');
        expect(String(offer['sdp'])).toMatch(/c=IN IP4 127\.0\.0\.1/);
        expect(retransmitted).toEqual(['offer']);
        expect([...relay.requests.values()]).toEqual([2]); // one cookie, sent twice
      } finally {
        await ng.delete({ 'call-id': callId, 'delete-delay': 0 }).catch(() => undefined);
        await ng.close();
        await relay.close();
      }
    });

    it("a lost reply: rtpengine gets the offer twice, does it once and answers both with the same SDP", async () => {
      const relay = await lossyRelay(rtp().ngHost, rtp().ngPort, 'reply');
      const ng = new NgClient({ host: '127.0.0.1', port: relay.port, timeoutMs: 2000, retransmitMs: 100 });
      const direct = new NgClient({ host: rtp().ngHost, port: rtp().ngPort });
      const callId = `ng-retx-rep-${process.pid}`;
      try {
        const before = await offersDone(direct);
        const offer = await ng.offer({ 'call-id': callId, 'from-tag': 'caller', sdp: sdp('198.51.100.1', 4000) });
        expect(offer.result).toBe('ok');
        const [offerCookie] = [...relay.replies.entries()].find(([, r]) => r.length >= 2) ?? [];
        expect(offerCookie).toBeDefined();
        const both = relay.replies.get(offerCookie as string) as string[];
        expect(both[1]).toBe(both[0]); // the cached reply: the same ports, not a second allocation
        const port = /m=audio (\d+) /.exec(String(offer['sdp']))?.[1];
        expect(both[0]).toContain(`m=audio ${port} `);
        // one call with one media stream for the caller's tag: the offer was not done twice
        // rtpengine's own count: one offer done, though it received two (the cookie cache answered the second)
        expect((await offersDone(direct)) - before).toBe(1);
      } finally {
        await direct.delete({ 'call-id': callId, 'delete-delay': 0 }).catch(() => undefined);
        await direct.close();
        await ng.close();
        await relay.close();
      }
    });

    it('stops retransmitting when the timeout would leave no room for a reply, and times out', async () => {
      const silent = await freePort({ udp: true });
      const sent: number[] = [];
      const ng = new NgClient({ host: '127.0.0.1', port: silent, timeoutMs: 600, retransmitMs: 100, onRetransmit: () => sent.push(1) });
      try {
        expect(((await ng.ping().catch((e: unknown) => e)) as NgError).code).toBe('timeout');
        // at 100 and 300 ms (doubling); the next (700 ms) is past the 600 ms budget
        expect(sent.length).toBe(2);
      } finally {
        await ng.close();
        releasePort(silent);
      }
    });
  });
});
