/**
 * RTP (RFC 3550) for one announcement: the 12-byte header, the packets of an encoded
 * G.711 sound (160 samples = 20 ms each, RFC 3551 §4.5), and the pacer that sends them
 * on the wall clock — packet i is due at start + 20·i ms, so a late timer sends the
 * packets it owes at once instead of drifting.
 */
import { randomBytes } from 'node:crypto';
import type { TimerHandle, TimerScheduler } from '@ngcp/sip';

export const SAMPLES_PER_PACKET = 160;
export const PACKET_MS = 20;
const VERSION_2 = 0x80;

export interface RtpHeader {
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
}

/** Header (V=2, no padding, extension or CSRC) + payload. */
export function rtpPacket(h: RtpHeader, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + payload.length);
  out[0] = VERSION_2;
  out[1] = (h.marker ? 0x80 : 0) | (h.payloadType & 0x7f);
  out.writeUInt16BE(h.sequence & 0xffff, 2);
  out.writeUInt32BE(h.timestamp >>> 0, 4);
  out.writeUInt32BE(h.ssrc >>> 0, 8);
  payload.copy(out, 12);
  return out;
}

/** What a received packet says (tests, and anyone looking at the wire). */
export function parseRtpHeader(buf: Buffer): RtpHeader & { version: number; payload: Buffer } {
  if (buf.length < 12) throw new Error('shorter than an RTP header');
  return {
    version: buf[0]! >> 6,
    marker: (buf[1]! & 0x80) !== 0,
    payloadType: buf[1]! & 0x7f,
    sequence: buf.readUInt16BE(2),
    timestamp: buf.readUInt32BE(4),
    ssrc: buf.readUInt32BE(8),
    payload: buf.subarray(12),
  };
}

export interface StreamOptions {
  /** The sound, encoded: one byte per sample. */
  encoded: Buffer;
  payloadType: number;
  /** The byte of silence that pads the last packet of each play. */
  silence: number;
  /** Plays of the sound, back to back (≥ 1). */
  repeat: number;
  /** Random by default (RFC 3550 §5.1: SSRC, first sequence number and timestamp are random). */
  ssrc?: number;
  firstSequence?: number;
  firstTimestamp?: number;
}

/** The packets of one announcement: `count` of them, packet(i) built on demand. */
export class RtpStream {
  readonly ssrc: number;
  readonly firstSequence: number;
  readonly firstTimestamp: number;
  readonly packetsPerPlay: number;
  readonly count: number;

  constructor(private readonly o: StreamOptions) {
    const r = randomBytes(10);
    this.ssrc = o.ssrc ?? r.readUInt32BE(0);
    this.firstSequence = o.firstSequence ?? r.readUInt16BE(4);
    this.firstTimestamp = o.firstTimestamp ?? r.readUInt32BE(6);
    this.packetsPerPlay = Math.ceil(o.encoded.length / SAMPLES_PER_PACKET);
    this.count = this.packetsPerPlay * Math.max(1, o.repeat);
  }

  /** Packet i (0 ≤ i < count): sequence and timestamp advance by 1 and 160 from random starts, marker on the first (RFC 3551 §4.1). */
  packet(i: number): Buffer {
    const at = (i % this.packetsPerPlay) * SAMPLES_PER_PACKET;
    let payload = this.o.encoded.subarray(at, at + SAMPLES_PER_PACKET);
    if (payload.length < SAMPLES_PER_PACKET) {
      const padded = Buffer.alloc(SAMPLES_PER_PACKET, this.o.silence);
      payload.copy(padded);
      payload = padded;
    }
    return rtpPacket({
      payloadType: this.o.payloadType,
      sequence: (this.firstSequence + i) & 0xffff,
      timestamp: (this.firstTimestamp + i * SAMPLES_PER_PACKET) >>> 0,
      ssrc: this.ssrc,
      marker: i === 0,
    }, payload);
  }

  /** How long the announcement lasts (ms). */
  get durationMs(): number {
    return this.count * PACKET_MS;
  }
}

/**
 * Sends `count` packets paced on `clock`: packet i at start + 20·i ms (all the packets due
 * at a tick, then a timer to the next one), `onEnd` when the last one has played out
 * (start + 20·count ms).
 * `stop()` ends it at once, without `onEnd`.
 */
export class Pacer {
  private sent = 0;
  private start = 0;
  private timer: TimerHandle | null = null;
  private stopped = false;

  constructor(
    private readonly clock: TimerScheduler,
    private readonly count: number,
    private readonly send: (i: number) => void,
    private readonly onEnd: () => void,
  ) {}

  get packetsSent(): number {
    return this.sent;
  }

  begin(): void {
    this.start = this.clock.now();
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
  }

  private tick(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.clock.now();
    const due = Math.min(this.count, Math.floor((now - this.start) / PACKET_MS) + 1);
    while (this.sent < due && !this.stopped) this.send(this.sent++);
    if (this.stopped) return;
    // the next packet, or the end of the last one's 20 ms
    const next = this.start + (this.sent < this.count ? this.sent : this.count) * PACKET_MS;
    if (this.sent >= this.count && now >= next) {
      this.stopped = true;
      this.onEnd();
      return;
    }
    this.timer = this.clock.setTimer(next - now, (p: Pacer) => p.tick(), this);
  }
}
