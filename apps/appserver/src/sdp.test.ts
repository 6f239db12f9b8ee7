import { describe, expect, it } from 'vitest';
import { answerSdp, offerSdp, readRemote, sends } from './sdp.js';

/** An offer as rtpengine writes it (the proxy relays the caller's media through it). */
const offer = (formats: string, extra: string[] = [], media = 'audio'): string =>
  ['v=0', 'o=- 1545997027 1 IN IP4 127.0.0.2', 's=tester', 'c=IN IP4 127.0.0.2', 't=0 0', `m=${media} 30000 RTP/AVP ${formats}`, ...extra, ''].join('\r\n');

describe('SDP answer choice', () => {
  it('takes the first of PCMU and PCMA the offer lists, by static payload type', () => {
    const a = readRemote(offer('18 8 0 101', ['a=rtpmap:18 G729/8000', 'a=rtpmap:101 telephone-event/8000']));
    expect(a).toMatchObject({ ok: true, media: { address: '127.0.0.2', port: 30000, codec: 'PCMA', payloadType: 8, direction: 'sendrecv', index: 0 } });
    expect(readRemote(offer('0 8'))).toMatchObject({ ok: true, media: { codec: 'PCMU', payloadType: 0 } });
  });

  it('honours a dynamic payload type mapped to PCMU, and ignores PCMU at another rate', () => {
    expect(readRemote(offer('96 97', ['a=rtpmap:96 PCMU/16000', 'a=rtpmap:97 pcmu/8000']))).toMatchObject({ ok: true, media: { codec: 'PCMU', payloadType: 97 } });
  });

  it('media-level c= wins over the session level; direction is read', () => {
    const sdp = offer('0', ['c=IN IP4 127.0.0.9', 'a=sendonly']);
    expect(readRemote(sdp)).toMatchObject({ ok: true, media: { address: '127.0.0.9', direction: 'sendonly' } });
  });

  it('no usable stream: a reason, not an exception', () => {
    expect(readRemote(offer('18', ['a=rtpmap:18 G729/8000']))).toEqual({ ok: false, reason: 'audio stream offers neither PCMU nor PCMA' });
    expect(readRemote(offer('0', [], 'video'))).toEqual({ ok: false, reason: 'SDP has no audio stream with a port' });
    expect(readRemote('v=0\r\n')).toMatchObject({ ok: false });
    expect(readRemote(offer('0'), new Set(['PCMA']))).toMatchObject({ ok: false });
  });

  it('the answer: our address and port, the chosen payload type, the other m-lines rejected with port 0 in their order', () => {
    const sdp = offer('0 8', ['a=sendrecv']).replace('t=0 0', 't=0 0\r\nm=video 30002 RTP/AVP 96\r\na=rtpmap:96 H264/90000');
    const r = readRemote(sdp);
    if (!r.ok) throw new Error(r.reason);
    expect(r.media.index).toBe(1);
    const a = answerSdp({ address: '127.0.0.5', port: 10002, sessionId: '7' }, r.media);
    expect(a.split('\r\n')).toEqual([
      'v=0', 'o=ngcp-appserver 7 1 IN IP4 127.0.0.5', 's=announcement', 'c=IN IP4 127.0.0.5', 't=0 0',
      'm=video 0 RTP/AVP 96',
      'm=audio 10002 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000', 'a=ptime:20', 'a=sendrecv', '',
    ]);
  });

  it('answers a sendonly offer recvonly and then sends nothing; a recvonly offer sendonly', () => {
    const r = readRemote(offer('8', ['a=sendonly']));
    if (!r.ok) throw new Error(r.reason);
    expect(answerSdp({ address: '127.0.0.5', port: 10002, sessionId: '7' }, r.media)).toContain('a=recvonly\r\n');
    expect(sends('recvonly', r.media)).toBe(false);
    const q = readRemote(offer('8', ['a=recvonly']));
    if (!q.ok) throw new Error(q.reason);
    expect(answerSdp({ address: '127.0.0.5', port: 10002, sessionId: '7' }, q.media)).toContain('a=sendonly\r\n');
    expect(sends('sendonly', q.media)).toBe(true);
    expect(sends('sendrecv', { address: '0.0.0.0' })).toBe(false);
  });

  it('our offer (late-offer INVITE) lists PCMU then PCMA; an IPv6 address gets IP6', () => {
    const o = offerSdp({ address: '::1', port: 10004, sessionId: '9' });
    expect(o).toContain('c=IN IP6 ::1\r\n');
    expect(o).toContain('m=audio 10004 RTP/AVP 0 8\r\n');
    expect(readRemote(o)).toMatchObject({ ok: true, media: { codec: 'PCMU', port: 10004 } });
  });

  it('voicemail: telephone-event/8000 is found and answered with its payload type (RFC 4733), and offered late as 101', () => {
    const r = readRemote(offer('8 0 96', ['a=rtpmap:96 telephone-event/8000', 'a=fmtp:96 0-16']));
    if (!r.ok) throw new Error(r.reason);
    expect(r.media).toMatchObject({ codec: 'PCMA', payloadType: 8, dtmfPayloadType: 96 });
    const a = answerSdp({ address: '127.0.0.5', port: 10002, sessionId: '7' }, r.media, { dtmf: true }).split('\r\n');
    expect(a.slice(5)).toEqual(['m=audio 10002 RTP/AVP 8 96', 'a=rtpmap:8 PCMA/8000', 'a=rtpmap:96 telephone-event/8000', 'a=fmtp:96 0-15', 'a=ptime:20', 'a=sendrecv', '']);
    // an announcement does not take it; telephone-event at another rate is not DTMF of ours
    expect(answerSdp({ address: '127.0.0.5', port: 10002, sessionId: '7' }, r.media)).toContain('m=audio 10002 RTP/AVP 8\r\n');
    expect(readRemote(offer('0 97', ['a=rtpmap:97 telephone-event/48000']))).toMatchObject({ ok: true, media: { dtmfPayloadType: null } });
    const without = readRemote(offer('0'));
    if (!without.ok) throw new Error(without.reason);
    expect(answerSdp({ address: '127.0.0.5', port: 10002, sessionId: '7' }, without.media, { dtmf: true })).toContain('m=audio 10002 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20');
    const late = offerSdp({ address: '127.0.0.5', port: 10004, sessionId: '9' }, { dtmf: true });
    expect(late).toContain('m=audio 10004 RTP/AVP 0 8 101\r\n');
    expect(late).toContain('a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n');
    expect(readRemote(late)).toMatchObject({ ok: true, media: { codec: 'PCMU', dtmfPayloadType: 101 } });
  });
});
