import type { TimerScheduler } from '@ngcp/sip';
import { FakeClock } from '@ngcp/sip/testing';
import { describe, expect, it } from 'vitest';
import { Pacer, PACKET_MS, parseRtpHeader, rtpPacket, RtpStream, SAMPLES_PER_PACKET } from './rtp.js';

describe('RTP packets', () => {
  it('header fields: version 2, marker, payload type, sequence, timestamp, SSRC (RFC 3550 §5.1)', () => {
    const p = rtpPacket({ payloadType: 8, sequence: 0x1234, timestamp: 0xdeadbeef, ssrc: 0x01020304, marker: true }, Buffer.from([1, 2, 3]));
    expect([...p.subarray(0, 12)]).toEqual([0x80, 0x88, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04]);
    expect([...p.subarray(12)]).toEqual([1, 2, 3]);
    expect(rtpPacket({ payloadType: 0, sequence: 1, timestamp: 2, ssrc: 3, marker: false }, Buffer.alloc(0))[1]).toBe(0x00);
  });

  it('a stream: 160 samples per packet, the last padded with silence, sequence +1 and timestamp +160 with wrap-around, marker on the first only', () => {
    const encoded = Buffer.alloc(2 * SAMPLES_PER_PACKET + 10, 0x11);
    const s = new RtpStream({ encoded, payloadType: 0, silence: 0xff, repeat: 1, ssrc: 42, firstSequence: 0xfffe, firstTimestamp: 0xffffff00 });
    expect(s.count).toBe(3);
    expect(s.durationMs).toBe(60);
    const h = [0, 1, 2].map((i) => parseRtpHeader(s.packet(i)));
    expect(h.map((x) => [x.version, x.marker, x.payloadType, x.sequence, x.timestamp, x.ssrc])).toEqual([
      [2, true, 0, 0xfffe, 0xffffff00, 42],
      [2, false, 0, 0xffff, 0xffffffa0, 42],
      [2, false, 0, 0x0000, 0x00000040, 42],
    ]);
    expect(h.every((x) => x.payload.length === SAMPLES_PER_PACKET)).toBe(true);
    expect([...h[2]!.payload.subarray(0, 10)]).toEqual(Array(10).fill(0x11));
    expect([...h[2]!.payload.subarray(10)]).toEqual(Array(150).fill(0xff));
  });

  it('repeat plays the sound again with sequence and timestamp running on', () => {
    const encoded = Buffer.from(Array.from({ length: 320 }, (_, i) => i & 0xff));
    const s = new RtpStream({ encoded, payloadType: 8, silence: 0xd5, repeat: 3, ssrc: 1, firstSequence: 10, firstTimestamp: 1000 });
    expect(s.count).toBe(6);
    const h = parseRtpHeader(s.packet(4));
    expect([h.sequence, h.timestamp, h.marker]).toEqual([14, 1000 + 4 * 160, false]);
    expect(h.payload.equals(parseRtpHeader(s.packet(0)).payload)).toBe(true);
  });

  it('SSRC, first sequence number and timestamp are random by default', () => {
    const a = new RtpStream({ encoded: Buffer.alloc(160), payloadType: 0, silence: 0xff, repeat: 1 });
    const b = new RtpStream({ encoded: Buffer.alloc(160), payloadType: 0, silence: 0xff, repeat: 1 });
    expect([a.ssrc, a.firstSequence, a.firstTimestamp]).not.toEqual([b.ssrc, b.firstSequence, b.firstTimestamp]);
  });
});

describe('Pacer', () => {
  it('packet i goes out at 20·i ms; the end comes 20 ms after the last packet', () => {
    const clock = new FakeClock();
    clock.advance(1000);
    const sent: Array<[number, number]> = [];
    let endedAt = -1;
    const p = new Pacer(clock, 5, (i) => sent.push([i, clock.now() - 1000]), () => (endedAt = clock.now() - 1000));
    p.begin();
    expect(sent).toEqual([[0, 0]]);
    clock.advance(200);
    expect(sent).toEqual([0, 1, 2, 3, 4].map((i) => [i, i * PACKET_MS]));
    expect(endedAt).toBe(5 * PACKET_MS);
    expect(p.packetsSent).toBe(5);
    expect(clock.pending).toBe(0);
  });

  it('a late timer sends the packets it owes at once and keeps to the schedule after', () => {
    // a clock whose timers fire only when told, as late as the test likes (a stalled event loop)
    const timers: Array<{ at: number; fire: () => void }> = [];
    let now = 0;
    const clock: TimerScheduler = {
      now: () => now,
      setTimer: (ms, fn, arg) => timers.push({ at: now + ms, fire: () => fn(arg) }),
      clearTimer: () => undefined,
    };
    const fireAt = (t: number): void => {
      now = t;
      for (const x of timers.splice(0).filter((x) => x.at <= t)) x.fire();
    };
    const sent: number[] = [];
    const p = new Pacer(clock, 10, (i) => sent.push(i), () => undefined);
    p.begin();
    expect(timers.map((x) => x.at)).toEqual([20]);
    fireAt(75); // packet 1 was due at 20 ms; at 75 ms packets 1..3 are owed
    expect(sent).toEqual([0, 1, 2, 3]);
    expect(timers.map((x) => x.at)).toEqual([80]);
    fireAt(80);
    expect(sent).toEqual([0, 1, 2, 3, 4]);
  });

  it('stop() ends it at once: no more packets, no end callback', () => {
    const clock = new FakeClock();
    const sent: number[] = [];
    let ended = false;
    const p = new Pacer(clock, 100, (i) => sent.push(i), () => (ended = true));
    p.begin();
    clock.advance(50);
    p.stop();
    clock.advance(5000);
    expect(sent).toEqual([0, 1, 2]);
    expect(ended).toBe(false);
    expect(clock.pending).toBe(0);
  });
});
