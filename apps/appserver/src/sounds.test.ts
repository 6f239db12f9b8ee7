import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { linearToAlaw, linearToUlaw } from './g711.js';
import { DEFAULT_SOUND_NAMES } from './sound-set.js';
import { loadSounds } from './sounds.js';
import { readWav, writeWav } from './wav.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'appserver-sounds-'));
  dirs.push(d);
  return d;
}
/** A tone of `n` samples at `amplitude`. */
const tone = (n: number, amplitude = 8000): Int16Array => Int16Array.from({ length: n }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 440 * i) / 8000)));
function builtinDir(): string {
  const d = dir();
  for (const name of DEFAULT_SOUND_NAMES) writeFileSync(join(d, `${name}.wav`), writeWav(tone(800)));
  return d;
}

describe('WAV files', () => {
  it('reads back what it writes', () => {
    const t = tone(123);
    expect([...readWav(writeWav(t))]).toEqual([...t]);
  });

  it('skips chunks before data (LIST, fact) and takes WAVE_FORMAT_EXTENSIBLE with a PCM sub-format', () => {
    const plain = writeWav(tone(10));
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.alloc(1)]);
    const withList = Buffer.concat([plain.subarray(0, 36), list, plain.subarray(36)]);
    expect([...readWav(withList)]).toEqual([...tone(10)]);
    const ext = Buffer.alloc(8 + 40);
    ext.write('fmt ', 0, 'latin1');
    ext.writeUInt32LE(40, 4);
    ext.writeUInt16LE(0xfffe, 8);
    plain.copy(ext, 10, 22, 36); // channels … bits per sample of the plain fmt
    ext.writeUInt16LE(22, 24); // cbSize
    ext.writeUInt16LE(1, 32); // sub-format GUID starts with 1: PCM
    const extensible = Buffer.concat([plain.subarray(0, 12), ext, plain.subarray(36)]);
    expect([...readWav(extensible)]).toEqual([...tone(10)]);
  });

  it('refuses what is not 8 kHz mono 16-bit PCM, saying what it is', () => {
    expect(() => readWav(writeWav(tone(10), { sampleRate: 16000 }))).toThrow('16000 Hz (want 8000)');
    expect(() => readWav(writeWav(tone(10), { channels: 2 }))).toThrow('2 channels (want 1)');
    expect(() => readWav(writeWav(tone(10), { format: 3, bitsPerSample: 32 }))).toThrow('format 3 (want 1, PCM), 32 bits (want 16)');
    expect(() => readWav(Buffer.from('ID3 not a wave file'))).toThrow('not a RIFF/WAVE file');
    expect(() => readWav(writeWav(new Int16Array(0)))).toThrow('no samples');
  });
});

describe('the sound set', () => {
  it('loads the default set encoded in both codecs', () => {
    const set = loadSounds(builtinDir(), null);
    expect([...set.sounds.keys()].sort()).toEqual([...DEFAULT_SOUND_NAMES].sort());
    const busy = set.sounds.get('busy')!;
    expect(busy).toMatchObject({ source: 'builtin', samples: 800 });
    expect([...busy.encoded.PCMU]).toEqual([...tone(800)].map(linearToUlaw));
    expect([...busy.encoded.PCMA]).toEqual([...tone(800)].map(linearToAlaw));
    expect(set.refused).toEqual([]);
  });

  it('a missing default sound fails the load and says to build', () => {
    const d = builtinDir();
    rmSync(join(d, 'busy.wav'));
    expect(() => loadSounds(d, null)).toThrow(/default sound busy unusable .*build apps\/appserver/);
  });

  it('operator files replace defaults by name and add new names; bad ones are refused with the reason', () => {
    const op = dir();
    writeFileSync(join(op, 'busy.wav'), writeWav(tone(160, 1000)));
    writeFileSync(join(op, 'holiday.WAV'), writeWav(tone(320)));
    writeFileSync(join(op, 'wideband.wav'), writeWav(tone(160), { sampleRate: 16000 }));
    writeFileSync(join(op, 'Bad Name.wav'), writeWav(tone(160)));
    writeFileSync(join(op, 'notes.txt'), 'ignored: not a .wav');
    mkdirSync(join(op, 'sub'));
    const set = loadSounds(builtinDir(), op);
    expect(set.sounds.get('busy')).toMatchObject({ source: 'operator', samples: 160, file: join(op, 'busy.wav') });
    expect(set.sounds.get('holiday')).toMatchObject({ source: 'operator', samples: 320 });
    expect(set.sounds.get('unavailable')).toMatchObject({ source: 'builtin' });
    expect(set.sounds.has('wideband')).toBe(false);
    expect(set.refused).toEqual([
      { file: join(op, 'Bad Name.wav'), reason: expect.stringContaining('name must match') },
      { file: join(op, 'wideband.wav'), reason: '16000 Hz (want 8000)' },
    ]);
  });

  it('an operator directory that cannot be read is reported, the defaults still load', () => {
    const set = loadSounds(builtinDir(), '/nonexistent/ngcp-sounds');
    expect(set.sounds.size).toBe(DEFAULT_SOUND_NAMES.length);
    expect(set.refused).toEqual([{ file: '/nonexistent/ngcp-sounds', reason: 'directory not readable: ENOENT' }]);
  });
});
