import { describe, expect, it } from 'vitest';
import { alawToLinear, encode, linearToAlaw, linearToUlaw, ulawToLinear } from './g711.js';

// Reference codes of G.711 (μ-law Table 2a, A-law Table 1a; the same as Python's audioop and Sun's g711.c for these samples)
const SAMPLES = [0, 8, -8, 100, -100, 1000, -1000, 4000, -4000, 12345, -12345, 32767, -32768];
const ULAW = [0xff, 0xfe, 0x7e, 0xf2, 0x72, 0xce, 0x4e, 0xaf, 0x2f, 0x97, 0x17, 0x80, 0x00];
const ALAW = [0xd5, 0xd5, 0x55, 0xd3, 0x53, 0xfa, 0x7a, 0x9a, 0x1a, 0xbd, 0x3d, 0xaa, 0x2a];

describe('G.711 encoder', () => {
  it('μ-law codes of reference samples', () => {
    expect(SAMPLES.map(linearToUlaw)).toEqual(ULAW);
  });

  it('A-law codes of reference samples', () => {
    expect(SAMPLES.map(linearToAlaw)).toEqual(ALAW);
  });

  it('digital silence is 0xFF (μ-law) and 0xD5 (A-law); the extremes saturate', () => {
    expect(linearToUlaw(0)).toBe(0xff);
    expect(linearToAlaw(0)).toBe(0xd5);
    expect(linearToUlaw(40_000)).toBe(linearToUlaw(32767));
    expect(linearToAlaw(-40_000)).toBe(linearToAlaw(-32768));
  });

  it('decoding gives back the sample within the quantisation step of its segment', () => {
    for (let s = -32768; s <= 32767; s += 31) {
      const u = ulawToLinear(linearToUlaw(s));
      const a = alawToLinear(linearToAlaw(s));
      // the step doubles per segment: at most 1/16 of the magnitude (+ the finest step near 0)
      expect(Math.abs(u - s), `μ-law ${s} → ${u}`).toBeLessThanOrEqual(Math.abs(s) / 16 + 8);
      expect(Math.abs(a - s), `A-law ${s} → ${a}`).toBeLessThanOrEqual(Math.abs(s) / 16 + 16);
    }
  });

  it('every code decodes and encodes to itself (but μ-law 0x7F, the negative zero)', () => {
    for (let c = 0; c < 256; c++) {
      if (c !== 0x7f) expect(linearToUlaw(ulawToLinear(c)), `μ-law 0x${c.toString(16)}`).toBe(c);
      expect(linearToAlaw(alawToLinear(c)), `A-law 0x${c.toString(16)}`).toBe(c);
    }
  });

  it('encode() turns a buffer of samples into one byte each', () => {
    const samples = Int16Array.from(SAMPLES);
    expect([...encode(samples, 'PCMU')]).toEqual(ULAW);
    expect([...encode(samples, 'PCMA')]).toEqual(ALAW);
  });
});
