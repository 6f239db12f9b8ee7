/**
 * Prompts of a call one after the other on one RTP stream (voicemail's greeting, menu,
 * messages): the SSRC is kept and the sequence number runs on from play to play (RFC 3550
 * §5.1); the timestamp follows the wall clock, so the silence between two plays (waiting for
 * a digit) is a timestamp gap, not a sequence gap. Each play is paced like an announcement.
 */
import { randomBytes } from 'node:crypto';
import type { TimerScheduler } from '@ngcp/sip';
import type { G711Codec } from './g711.js';
import { SILENCE } from './g711.js';
import { Pacer, RtpStream, type StreamOptions } from './rtp.js';

/** Where a player's packets go: the call's codec and payload type, its send, its clock. */
export interface PlayerTarget {
  remote: { codec: G711Codec; payloadType: number };
  send(packet: Buffer): void;
  clock: TimerScheduler;
}

/** Plays sounds one after the other on one RTP stream (SSRC kept, sequence running on, the timestamp following the wall clock between plays). */
export class Player {
  private pacer: Pacer | null = null;
  private readonly ssrc: number;
  private nextSequence: number;
  private readonly firstTimestamp: number;
  private readonly t0: number;

  constructor(private readonly ctx: PlayerTarget) {
    // random SSRC, first sequence number and timestamp (RFC 3550 §5.1)
    const r = randomBytes(10);
    this.ssrc = r.readUInt32BE(0);
    this.nextSequence = r.readUInt16BE(4);
    this.firstTimestamp = r.readUInt32BE(6);
    this.t0 = ctx.clock.now();
  }

  /** Play `encoded` (one byte per sample, the call's codec); `onEnd` when it has played out (not after stop()). */
  play(encoded: Buffer, onEnd: () => void): void {
    this.stop();
    if (encoded.length === 0) return void queueMicrotask(onEnd);
    const { codec, payloadType } = this.ctx.remote;
    const o: StreamOptions = {
      encoded, payloadType, silence: SILENCE[codec], repeat: 1, ssrc: this.ssrc, firstSequence: this.nextSequence,
      firstTimestamp: (this.firstTimestamp + Math.round((this.ctx.clock.now() - this.t0) * 8)) >>> 0,
    };
    const stream = new RtpStream(o);
    const pacer = new Pacer(this.ctx.clock, stream.count, (i) => {
      this.nextSequence = (stream.firstSequence + i + 1) & 0xffff;
      this.ctx.send(stream.packet(i));
    }, onEnd);
    this.pacer = pacer;
    pacer.begin();
  }

  stop(): void {
    this.pacer?.stop();
    this.pacer = null;
  }
}
