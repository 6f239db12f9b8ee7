/**
 * G.711 (ITU-T G.711, 1988): 16-bit linear PCM ↔ μ-law (PCMU, RTP payload type 0) and
 * A-law (PCMA, 8), one byte per sample. The segment (exponent) is the position of the
 * highest set bit of the magnitude; the four bits below it are the mantissa.
 */

/** μ-law: the bias added before the segment search, and the largest magnitude coded. */
const ULAW_BIAS = 0x84;
const ULAW_CLIP = 32635;

/** One 16-bit sample to μ-law (bits inverted on the wire, G.711 Table 2a). */
export function linearToUlaw(sample: number): number {
  let s = sample | 0;
  const sign = s < 0 ? 0x80 : 0;
  if (sign) s = -s;
  if (s > ULAW_CLIP) s = ULAW_CLIP;
  s += ULAW_BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (s >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One 16-bit sample to A-law (even bits inverted on the wire: XOR 0x55, G.711 Table 1a). */
export function linearToAlaw(sample: number): number {
  // A-law codes 13 bits
  let s = (sample | 0) >> 3;
  let mask: number;
  if (s >= 0) mask = 0xd5;
  else {
    mask = 0x55;
    s = -s - 1;
  }
  let segment = 0;
  while (segment < 8 && s >= 0x20 << segment) segment++; // segment ends 0x1f, 0x3f, … 0xfff
  if (segment >= 8) return 0x7f ^ mask;
  const mantissa = segment < 2 ? (s >> 1) & 0x0f : (s >> segment) & 0x0f;
  return ((segment << 4) | mantissa) ^ mask;
}

/** μ-law byte back to a 16-bit sample (the middle of its quantisation interval). */
export function ulawToLinear(byte: number): number {
  const u = ~byte & 0xff;
  const exponent = (u >> 4) & 0x07;
  const magnitude = ((((u & 0x0f) << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
  return u & 0x80 ? -magnitude : magnitude;
}

/** A-law byte back to a 16-bit sample (the middle of its quantisation interval). */
export function alawToLinear(byte: number): number {
  const a = (byte ^ 0x55) & 0xff;
  const segment = (a >> 4) & 0x07;
  let magnitude = ((a & 0x0f) << 4) + 8;
  if (segment > 0) magnitude = (magnitude + 0x100) << (segment - 1);
  return a & 0x80 ? magnitude : -magnitude;
}

export type G711Codec = 'PCMU' | 'PCMA';

/** The static RTP payload types of RFC 3551 §6. */
export const PAYLOAD_TYPE: Readonly<Record<G711Codec, number>> = { PCMU: 0, PCMA: 8 };

/** The byte of digital silence (sample 0) of each codec: what pads the last packet. */
export const SILENCE: Readonly<Record<G711Codec, number>> = { PCMU: 0xff, PCMA: 0xd5 };

/** Encode 16-bit samples. */
export function encode(samples: Int16Array, codec: G711Codec): Buffer {
  const out = Buffer.allocUnsafe(samples.length);
  const f = codec === 'PCMU' ? linearToUlaw : linearToAlaw;
  for (let i = 0; i < samples.length; i++) out[i] = f(samples[i]!);
  return out;
}
