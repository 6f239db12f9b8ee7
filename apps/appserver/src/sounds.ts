/**
 * The sounds the app-server plays: the default set the build rendered (dist/sounds), and
 * the operator's WAV files in `sounds_dir` overriding them by name (or adding names).
 * Each sound is held encoded in both codecs, ready to be packetised.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { encode, type G711Codec } from './g711.js';
import { DEFAULT_SOUND_NAMES, SOUND_NAME } from './sound-set.js';
import { readWav } from './wav.js';

export interface Sound {
  name: string;
  source: 'builtin' | 'operator';
  file: string;
  samples: number;
  /** The sound encoded, one byte per sample. */
  encoded: Readonly<Record<G711Codec, Buffer>>;
}

/** A file of `sounds_dir` that was not taken, and why. */
export interface RefusedSound {
  file: string;
  reason: string;
}

export interface SoundSet {
  sounds: Map<string, Sound>;
  refused: RefusedSound[];
}

function load(file: string, name: string, source: Sound['source']): Sound {
  const samples = readWav(readFileSync(file));
  return { name, source, file, samples: samples.length, encoded: { PCMU: encode(samples, 'PCMU'), PCMA: encode(samples, 'PCMA') } };
}

/**
 * Loads the default set from `builtinDir` (every name of DEFAULT_SOUND_NAMES must be there: a
 * missing or unreadable one throws, the build did not run) and then `operatorDir`'s
 * `*.wav` files, which replace a default of the same name; an operator file that is not
 * 8 kHz mono 16-bit PCM, or whose name is not a sound name, is refused and listed.
 */
export function loadSounds(builtinDir: string, operatorDir: string | null): SoundSet {
  const sounds = new Map<string, Sound>();
  for (const name of DEFAULT_SOUND_NAMES) {
    const file = join(builtinDir, `${name}.wav`);
    try {
      sounds.set(name, load(file, name, 'builtin'));
    } catch (err) {
      throw new Error(`default sound ${name} unusable (${file}: ${(err as Error).message}); build apps/appserver (it renders the set with espeak-ng and sox)`);
    }
  }
  const refused: RefusedSound[] = [];
  if (operatorDir !== null) {
    let entries: string[];
    try {
      entries = readdirSync(operatorDir).filter((f) => f.toLowerCase().endsWith('.wav')).sort();
    } catch (err) {
      refused.push({ file: operatorDir, reason: `directory not readable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
      entries = [];
    }
    for (const f of entries) {
      const file = join(operatorDir, f);
      const name = basename(f, f.slice(-4));
      if (!SOUND_NAME.test(name)) {
        refused.push({ file, reason: `name must match ${SOUND_NAME.source}` });
        continue;
      }
      try {
        sounds.set(name, load(file, name, 'operator'));
      } catch (err) {
        refused.push({ file, reason: (err as Error).message });
      }
    }
  }
  return { sounds, refused };
}
