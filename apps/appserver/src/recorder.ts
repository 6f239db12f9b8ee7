/**
 * The caller's RTP → 16-bit PCM, for a voicemail deposit: G.711 packets of the negotiated
 * payload type are decoded (g711.ts) and put in order by their sequence number (extended
 * over the 16-bit wrap, RFC 3550 §A.1), so a packet that arrives late still lands in its
 * place; a duplicate (a sequence number already held) is dropped; a lost packet becomes
 * one packet of silence (20 ms, 160 samples). A new SSRC (the sender restarted its
 * stream), or a jump of more than MAX_JUMP packets, starts a new segment after the last.
 * Packets of other payload types (telephone-event, comfort noise) are not audio: they
 * count as lost, i.e. silence.
 */
import { alawToLinear, ulawToLinear, type G711Codec } from './g711.js';
import { parseRtpHeader, SAMPLES_PER_PACKET } from './rtp.js';

/** A sequence jump larger than this (packets, 20 s) is a new stream, not a loss. */
export const MAX_JUMP = 1000;

export type PushResult = 'stored' | 'duplicate' | 'other_payload' | 'malformed' | 'full';

interface Segment {
  ssrc: number;
  /** The highest extended sequence number seen. */
  max: number;
  min: number;
  packets: Map<number, Int16Array>;
}

export class RtpRecorder {
  private readonly segments: Segment[] = [];
  private stored = 0;
  private readonly decode: (b: number) => number;
  readonly counts = { stored: 0, duplicate: 0, other_payload: 0, malformed: 0, full: 0 };

  /** `maxSamples`: the longest recording (packets beyond it are refused: `full`). */
  constructor(private readonly o: { codec: G711Codec; payloadType: number; maxSamples: number }) {
    this.decode = o.codec === 'PCMU' ? ulawToLinear : alawToLinear;
  }

  push(buf: Buffer): PushResult {
    const r = this.take(buf);
    this.counts[r]++;
    return r;
  }

  private take(buf: Buffer): PushResult {
    let h: ReturnType<typeof parseRtpHeader>;
    try {
      h = parseRtpHeader(buf);
    } catch {
      return 'malformed';
    }
    if (h.version !== 2) return 'malformed';
    let payload = h.payload;
    // CSRCs, header extension and padding (RFC 3550 §5.1, §5.3.1) are skipped
    const cc = buf[0]! & 0x0f;
    let skip = 4 * cc;
    if (buf[0]! & 0x10) {
      if (payload.length < skip + 4) return 'malformed';
      skip += 4 + 4 * payload.readUInt16BE(skip + 2);
    }
    const pad = buf[0]! & 0x20 ? buf[buf.length - 1]! : 0;
    if (skip + pad > payload.length) return 'malformed';
    payload = payload.subarray(skip, payload.length - pad);
    let seg = this.segments.at(-1);
    let ext = h.sequence;
    if (seg && seg.ssrc === h.ssrc) {
      const delta = ((h.sequence - (seg.max & 0xffff) + 0x8000) & 0xffff) - 0x8000;
      ext = seg.max + delta;
      if (Math.abs(delta) > MAX_JUMP) seg = undefined;
    } else seg = undefined;
    if (!seg) {
      seg = { ssrc: h.ssrc, max: ext, min: ext, packets: new Map() };
      this.segments.push(seg);
    }
    if (seg.packets.has(ext)) return 'duplicate';
    // the slot counts even when it is not audio: a gap there would be filled with silence anyway
    seg.max = Math.max(seg.max, ext);
    seg.min = Math.min(seg.min, ext);
    if (h.payloadType !== this.o.payloadType) return 'other_payload';
    if (this.stored + payload.length > this.o.maxSamples) return 'full';
    const pcm = new Int16Array(payload.length);
    for (let i = 0; i < payload.length; i++) pcm[i] = this.decode(payload[i]!);
    seg.packets.set(ext, pcm);
    this.stored += pcm.length;
    return 'stored';
  }

  /** The recording so far: every segment in order, each packet in sequence order, missing ones as 160 samples of silence; at most `maxSamples`. */
  samples(): Int16Array {
    const parts: Int16Array[] = [];
    let total = 0;
    for (const seg of this.segments) {
      if (seg.packets.size === 0) continue;
      const seqs = [...seg.packets.keys()];
      const first = Math.min(...seqs);
      const last = Math.max(...seqs);
      for (let s = first; s <= last; s++) {
        const p = seg.packets.get(s) ?? new Int16Array(SAMPLES_PER_PACKET);
        parts.push(p);
        total += p.length;
      }
    }
    const out = new Int16Array(Math.min(total, this.o.maxSamples));
    let at = 0;
    for (const p of parts) {
      if (at >= out.length) break;
      out.set(p.subarray(0, out.length - at), at);
      at += p.length;
    }
    return out;
  }
}
