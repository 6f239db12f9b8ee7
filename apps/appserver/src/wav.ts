/**
 * The one sound format the app-server takes: RIFF/WAVE, PCM, 8000 Hz, mono, 16 bits
 * (what the build renders, and what operators drop in `sounds_dir`). Anything else is
 * refused with the reason, so the operator knows what to convert (README "The sound set").
 */

export class WavError extends Error {
  override readonly name = 'WavError';
}

/** WAVE_FORMAT_PCM and WAVE_FORMAT_EXTENSIBLE (whose sub-format must then be PCM). */
const FORMAT_PCM = 1;
const FORMAT_EXTENSIBLE = 0xfffe;

export interface WavFormat {
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
}

/** The samples of an 8 kHz mono 16-bit PCM WAV file; throws WavError saying what is wrong. */
export function readWav(buf: Buffer): Int16Array {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') throw new WavError('not a RIFF/WAVE file');
  let fmt: WavFormat | null = null;
  let data: Buffer | null = null;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString('latin1', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = buf.subarray(at + 8, Math.min(buf.length, at + 8 + size));
    if (id === 'fmt ') {
      if (body.length < 16) throw new WavError('fmt chunk too short');
      let format = body.readUInt16LE(0);
      if (format === FORMAT_EXTENSIBLE && body.length >= 26) format = body.readUInt16LE(24);
      fmt = { format, channels: body.readUInt16LE(2), sampleRate: body.readUInt32LE(4), bitsPerSample: body.readUInt16LE(14) };
    } else if (id === 'data') {
      data = body;
      break;
    }
    at += 8 + size + (size & 1); // chunks are padded to an even size
  }
  if (!fmt) throw new WavError('no fmt chunk');
  if (!data) throw new WavError('no data chunk');
  const problems: string[] = [];
  if (fmt.format !== FORMAT_PCM) problems.push(`format ${fmt.format} (want 1, PCM)`);
  if (fmt.sampleRate !== 8000) problems.push(`${fmt.sampleRate} Hz (want 8000)`);
  if (fmt.channels !== 1) problems.push(`${fmt.channels} channels (want 1)`);
  if (fmt.bitsPerSample !== 16) problems.push(`${fmt.bitsPerSample} bits (want 16)`);
  if (problems.length > 0) throw new WavError(problems.join(', '));
  const n = data.length >> 1;
  if (n === 0) throw new WavError('no samples');
  const samples = new Int16Array(n);
  for (let i = 0; i < n; i++) samples[i] = data.readInt16LE(2 * i);
  return samples;
}

/** An 8 kHz mono 16-bit PCM WAV file of `samples` (tests, and operators' tooling). */
export function writeWav(samples: Int16Array, format: Partial<WavFormat> = {}): Buffer {
  const f: WavFormat = { format: FORMAT_PCM, channels: 1, sampleRate: 8000, bitsPerSample: 16, ...format };
  const bytes = samples.length * 2;
  const out = Buffer.alloc(44 + bytes);
  out.write('RIFF', 0, 'latin1');
  out.writeUInt32LE(36 + bytes, 4);
  out.write('WAVE', 8, 'latin1');
  out.write('fmt ', 12, 'latin1');
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(f.format, 20);
  out.writeUInt16LE(f.channels, 22);
  out.writeUInt32LE(f.sampleRate, 24);
  out.writeUInt32LE((f.sampleRate * f.channels * f.bitsPerSample) / 8, 28);
  out.writeUInt16LE((f.channels * f.bitsPerSample) / 8, 32);
  out.writeUInt16LE(f.bitsPerSample, 34);
  out.write('data', 36, 'latin1');
  out.writeUInt32LE(bytes, 40);
  for (let i = 0; i < samples.length; i++) out.writeInt16LE(samples[i]!, 44 + 2 * i);
  return out;
}
