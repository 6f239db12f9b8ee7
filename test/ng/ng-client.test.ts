/**
 * @ngcp/ng against a real rtpengine (started privately by the test kit): ping, a call's
 * offer → answer → query → delete with rewritten SDP, rtpengine's own refusal as
 * NgError 'error-result', a timeout against a port nothing answers on, and close().
 */
import { describe, expect, it } from 'vitest';
import { NgClient, NgError } from '@ngcp/ng';
import { freePort, releasePort } from '@ngcp/testkit';
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
});
