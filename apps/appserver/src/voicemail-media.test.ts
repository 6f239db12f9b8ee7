/** Voicemail's pure parts: RTP → PCM assembly (loss, duplicates, reordering), RFC 4733 events, RFC 3842 bodies. */
import { parseMessage, type SipRequest } from '@ngcp/sip';
import { describe, expect, it } from 'vitest';
import { callerOf } from './announcer.js';
import { DtmfDetector, parseTelephoneEvent, telephoneEventPackets, telephoneEventPayload } from './dtmf.js';
import { parseRtpHeader } from './rtp.js';
import { linearToAlaw, linearToUlaw } from './g711.js';
import { messageSummary } from './mwi.js';
import { RtpRecorder } from './recorder.js';
import { rtpPacket } from './rtp.js';
import { spokenNumber } from './voicemail.js';

const SSRC = 0x1234abcd;
/** Packet n of a stream whose 160 samples all have the value `level` (μ-law). */
const pcmu = (seq: number, level: number, o: { pt?: number; ssrc?: number } = {}): Buffer =>
  rtpPacket({ payloadType: o.pt ?? 0, sequence: seq & 0xffff, timestamp: (seq * 160) >>> 0, ssrc: o.ssrc ?? SSRC, marker: false }, Buffer.alloc(160, linearToUlaw(level)));
/** The level of each 160-sample block of a recording (0 for silence), in levels sent: μ-law's step there is below 5 %. */
const blocks = (s: Int16Array): number[] => Array.from({ length: s.length / 160 }, (_, i) => {
  const block = s.subarray(i * 160, (i + 1) * 160);
  expect(block.every((x) => x === block[0]), `block ${i} is one level`).toBe(true);
  return Math.round(block[0]! / 1000) * 1000;
});

describe('RtpRecorder', () => {
  it('decodes PCMU in sequence order: a reordered packet lands in its place, a duplicate is dropped', () => {
    const r = new RtpRecorder({ codec: 'PCMU', payloadType: 0, maxSamples: 8000 * 10 });
    for (const [seq, level] of [[10, 1000], [12, 3000], [11, 2000], [12, 3000], [13, 4000]] as const) r.push(pcmu(seq, level));
    expect(r.counts).toMatchObject({ stored: 4, duplicate: 1 });
    expect(blocks(r.samples())).toEqual([1000, 2000, 3000, 4000]);
  });

  it('a lost packet is 20 ms of silence; other payload types (telephone-event) are no audio', () => {
    const r = new RtpRecorder({ codec: 'PCMU', payloadType: 0, maxSamples: 8000 * 10 });
    r.push(pcmu(100, 1000));
    r.push(pcmu(103, 2000)); // 101 and 102 lost
    r.push(pcmu(104, 9000, { pt: 101 }));
    r.push(pcmu(105, 3000));
    const s = r.samples();
    expect(s.length).toBe(6 * 160);
    expect(blocks(s)).toEqual([1000, 0, 0, 2000, 0, 3000]);
    expect(r.counts.other_payload).toBe(1);
  });

  it('follows the 16-bit sequence wrap, and a new SSRC starts a segment after the last', () => {
    const r = new RtpRecorder({ codec: 'PCMU', payloadType: 0, maxSamples: 8000 * 10 });
    r.push(pcmu(65534, 1000));
    r.push(pcmu(0, 3000)); // 65535 lost, 0 after the wrap
    r.push(pcmu(65535, 2000)); // late
    r.push(pcmu(7, 5000, { ssrc: 99 })); // the sender restarted: appended
    expect(blocks(r.samples())).toEqual([1000, 2000, 3000, 5000]);
  });

  it('A-law, and never more than maxSamples', () => {
    const r = new RtpRecorder({ codec: 'PCMA', payloadType: 8, maxSamples: 400 });
    for (let i = 0; i < 5; i++) {
      r.push(rtpPacket({ payloadType: 8, sequence: i, timestamp: i * 160, ssrc: 1, marker: false }, Buffer.alloc(160, linearToAlaw(-2000))));
    }
    expect(r.counts).toMatchObject({ stored: 2, full: 3 });
    const s = r.samples();
    expect(s.length).toBe(320);
    expect(Math.abs(s[0]! + 2000)).toBeLessThan(70);
    expect(r.push(Buffer.alloc(8))).toBe('malformed');
  });
});

describe('RFC 4733 telephone-events', () => {
  it('parses the payload (event, E bit, volume, duration) and round-trips it', () => {
    expect(parseTelephoneEvent(Buffer.from([0x0b, 0x8a, 0x03, 0x20]))).toEqual({ event: 11, end: true, volume: 10, duration: 800 });
    expect(parseTelephoneEvent(Buffer.from([1, 2, 3]))).toBeNull();
    const e = { event: 9, end: false, volume: 7, duration: 160 };
    expect(parseTelephoneEvent(telephoneEventPayload(e))).toEqual(e);
  });

  it('one digit per event: on the first end packet of a timestamp, the retransmitted ends dropped', () => {
    const digits: string[] = [];
    const d = new DtmfDetector((x) => digits.push(x));
    const send = (ts: number, event: number, end: boolean, duration: number): void => void d.push(ts, telephoneEventPayload({ event, end, volume: 10, duration }));
    // "1": three start/continuation packets, three end packets of one timestamp
    for (const dur of [160, 320, 480]) send(1000, 1, false, dur);
    for (let i = 0; i < 3; i++) send(1000, 1, true, 640);
    // "#" then "1" again (a new event: a new timestamp)
    send(5000, 11, true, 640);
    send(5000, 11, true, 640);
    send(9000, 1, true, 640);
    send(13000, 15, true, 640); // D
    send(17000, 16, true, 640); // not a DTMF event (flash): ignored
    expect(digits).toEqual(['1', '#', '1', 'D']);
  });

  it('the packets a phone sends for a digit: one timestamp, marker first, durations growing, the end three times; the detector reports it once', () => {
    const packets = telephoneEventPackets('7', { payloadType: 101, ssrc: 0x5eed, sequence: 0xfffe, timestamp: 8000 });
    const heads = packets.map((p) => parseRtpHeader(p));
    expect(heads.map((h) => h.sequence)).toEqual([0xfffe, 0xffff, 0, 1, 2, 3]);
    expect(heads.map((h) => [h.payloadType, h.timestamp, h.ssrc])).toEqual(Array(6).fill([101, 8000, 0x5eed]));
    expect(heads.map((h) => h.marker)).toEqual([true, false, false, false, false, false]);
    expect(heads.map((h) => parseTelephoneEvent(h.payload))).toEqual([160, 320, 480, 640, 640, 640].map((duration, i) => ({ event: 7, end: i >= 3, volume: 10, duration })));
    const digits: string[] = [];
    const d = new DtmfDetector((x) => digits.push(x));
    for (const h of heads) d.push(h.timestamp, h.payload);
    for (const h of telephoneEventPackets('#', { payloadType: 101, ssrc: 1, sequence: 4, timestamp: 9000 }).map((p) => parseRtpHeader(p))) d.push(h.timestamp, h.payload);
    expect(digits).toEqual(['7', '#']);
    expect(() => telephoneEventPackets('x', { payloadType: 101, ssrc: 1, sequence: 0, timestamp: 0 })).toThrow(/not a DTMF digit/);
  });
});

describe('RFC 3842 message summary', () => {
  it('says whether messages wait, the account and new/old counts', () => {
    expect(messageSummary({ new: 2, old: 1 }, 'example.org')).toBe('Messages-Waiting: yes\r\nMessage-Account: sip:voicebox@example.org\r\nVoice-Message: 2/1\r\n');
    expect(messageSummary({ new: 0, old: 3 }, 'example.org')).toBe('Messages-Waiting: no\r\nMessage-Account: sip:voicebox@example.org\r\nVoice-Message: 0/3\r\n');
  });

  it('counts are spoken digit by digit', () => {
    expect(spokenNumber(0)).toEqual(['digit-0']);
    expect(spokenNumber(12)).toEqual(['digit-1', 'digit-2']);
  });
});

describe('the caller of a message', () => {
  const req = (headers: string[]): SipRequest => parseMessage(Buffer.from([
    'INVITE sip:vm-deposit.1@127.0.0.1 SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1', 'To: <sip:vm-deposit.1@127.0.0.1>',
    'Call-ID: c1', 'CSeq: 1 INVITE', ...headers, 'Content-Length: 0', '', '',
  ].join('\r\n'))) as SipRequest;

  it('P-Asserted-Identity wins over From; the user part, unescaped; a tel: URI; a URI without user as it is', () => {
    expect(callerOf(req(['From: "Bob" <sip:4930111@example.org>;tag=1', 'P-Asserted-Identity: <sip:%2B4930999@example.org;user=phone>']))).toBe('+4930999');
    expect(callerOf(req(['From: "Bob" <sip:bob@example.org>;tag=1']))).toBe('bob');
    expect(callerOf(req(['From: <tel:+4930123;phone-context=x>;tag=1']))).toBe('+4930123');
    expect(callerOf(req(['From: <sip:example.org>;tag=1']))).toBe('sip:example.org');
  });
});
