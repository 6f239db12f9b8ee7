/** The codec filter (pure): what leaves an SDP body, what stays, and when an offer is unusable. */
import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest } from '@ngcp/sip';
import { offerUnusable } from './legs.js';
import { filterCodecs, isSdp } from './sdp.js';

const sdp = (...lines: string[]): Buffer =>
  Buffer.from(['v=0', 'o=- 1 1 IN IP4 192.0.2.10', 's=-', 'c=IN IP4 192.0.2.10', 't=0 0', ...lines, ''].join('\r\n'));

const OFFER = sdp(
  'm=audio 4000 RTP/AVP 8 0 18 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=fmtp:18 annexb=no',
  'a=rtcp-fb:8 nack',
  'a=rtcp-fb:* trr-int 100',
  'a=rtcp-fb:8 trr-int 50',
  'a=sendrecv',
);
const deny = (...names: string[]): Set<string> => new Set(names.map((n) => n.toUpperCase()));

describe('codec filter', () => {
  it('removes denied formats from the m= line with their rtpmap, fmtp and rtcp-fb lines; the rest stays', () => {
    const r = filterCodecs(OFFER, deny('PCMA', 'G729'))!;
    expect(r.usable).toBe(true);
    expect(r.removed).toEqual(['PCMA/8', 'G729/18']);
    const text = r.body.toString();
    expect(text).toMatch(/^m=audio 4000 RTP\/AVP 0 101\r$/m);
    expect(text).not.toMatch(/PCMA|rtpmap:8 |fmtp:18 |rtcp-fb:8 |trr-int 50/);
    expect(text).toContain('a=rtpmap:0 PCMU/8000');
    expect(text).toContain('a=fmtp:101 0-16');
    expect(text).toContain('a=rtcp-fb:* trr-int 100');
    expect(text).toContain('a=sendrecv');
    expect(text).toContain('c=IN IP4 192.0.2.10');
  });

  it('matches names case-insensitively, and static payload types without an rtpmap by their RFC 3551 name', () => {
    const r = filterCodecs(sdp('m=audio 4000 RTP/AVP 0 8 3'), deny('pcma', 'gsm'))!;
    expect(r.body.toString()).toMatch(/^m=audio 4000 RTP\/AVP 0\r$/m);
    expect(r.removed).toEqual(['PCMA/8', 'GSM/3']);
    // a dynamic type is only what its rtpmap says
    expect(filterCodecs(sdp('m=audio 4000 RTP/AVP 96', 'a=rtpmap:96 opus/48000/2'), deny('OPUS'))!.usable).toBe(false);
  });

  it('leaves the body as it is (same bytes) when nothing is denied in it, and returns null without a deny list or SDP', () => {
    const r = filterCodecs(OFFER, deny('OPUS'))!;
    expect(r.body).toBe(OFFER);
    expect(r.removed).toEqual([]);
    expect(filterCodecs(OFFER, new Set())).toBeNull();
    expect(filterCodecs(Buffer.alloc(0), deny('PCMA'))).toBeNull();
    expect(filterCodecs(Buffer.from('<xml>PCMA</xml>'), deny('PCMA'))).toBeNull();
  });

  it('rejects a section left without formats (port 0, no attributes of its formats); the offer is unusable when no RTP section has one', () => {
    const two = sdp('m=audio 4000 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000', 'm=video 4002 RTP/AVP 96', 'a=rtpmap:96 H264/90000');
    const r = filterCodecs(two, deny('PCMA'))!;
    expect(r.usable).toBe(true);
    const text = r.body.toString();
    expect(text).toMatch(/^m=audio 0 RTP\/AVP 8\r$/m);
    expect(text).not.toContain('PCMA');
    expect(text).toMatch(/^m=video 4002 RTP\/AVP 96\r$/m);
    expect(filterCodecs(two, deny('PCMA', 'H264'))!.usable).toBe(false);
  });

  it('does not touch non-RTP sections (T.38) or sections already rejected', () => {
    const t38 = sdp('m=image 4000 udptl t38', 'm=audio 0 RTP/AVP 8');
    const r = filterCodecs(t38, deny('PCMA', 'T38'))!;
    expect(r.usable).toBe(true);
    expect(r.body).toBe(t38);
  });

  it('knows SDP by its Content-Type', () => {
    expect(isSdp('application/sdp')).toBe(true);
    expect(isSdp('Application/SDP; charset=utf-8')).toBe(true);
    expect(isSdp('multipart/mixed;boundary=x')).toBe(false);
    expect(isSdp(undefined)).toBe(false);
  });
});

describe('offers left without a codec', () => {
  const request = (method: string, body: Buffer, type = 'application/sdp'): SipRequest =>
    parseMessage(Buffer.concat([Buffer.from([
      `${method} sip:bob@example.test SIP/2.0`, 'Via: SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKx', 'From: <sip:a@example.test>;tag=a',
      'To: <sip:bob@example.test>', 'Call-ID: c1', `CSeq: 1 ${method}`, 'Max-Forwards: 70', `Content-Type: ${type}`, `Content-Length: ${body.length}`, '', '',
    ].join('\r\n')), body])) as SipRequest;
  const pcmuOnly = sdp('m=audio 4000 RTP/AVP 0', 'a=rtpmap:0 PCMU/8000');

  it('INVITE and UPDATE offers are checked; an ACK (an answer) and a body that is no SDP are not', () => {
    expect(offerUnusable(request('INVITE', pcmuOnly), deny('PCMU'))).toBe(true);
    expect(offerUnusable(request('UPDATE', pcmuOnly), deny('PCMU'))).toBe(true);
    expect(offerUnusable(request('INVITE', pcmuOnly), deny('PCMA'))).toBe(false);
    expect(offerUnusable(request('ACK', pcmuOnly), deny('PCMU'))).toBe(false);
    expect(offerUnusable(request('INVITE', Buffer.from('v=0\r\nPCMU\r\n'), 'text/plain'), deny('PCMU'))).toBe(false);
  });
});
