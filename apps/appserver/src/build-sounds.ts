/**
 * The build step of the default sound set (`pnpm build` runs it after tsc): each text of
 * DEFAULT_SOUNDS spoken by espeak-ng, then converted by sox to what the app-server plays
 * (8 kHz, mono, 16-bit PCM WAV, normalised to -6 dBFS) in dist/sounds/<name>.wav. Nothing
 * is downloaded. Without espeak-ng or sox the build fails and says which Debian package
 * to install (deploy/bootstrap.sh installs both). The tones of DEFAULT_TONES (voicemail's
 * beep) are synthesised by sox alone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILTIN_SOUNDS_DIR, DEFAULT_SOUNDS, DEFAULT_TONES } from './sound-set.js';
import { readWav } from './wav.js';

/** espeak-ng's voice and words per minute. */
const VOICE = 'en-us';
const SPEED = 150;

function need(bin: string, pkg: string): void {
  try {
    execFileSync(bin, ['--version'], { stdio: 'ignore' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return; // there, if not fond of --version
    throw new Error(`${bin} not found: the app-server's sound set is rendered at build time with espeak-ng and sox; install the Debian package ${pkg} (deploy/bootstrap.sh does)`);
  }
}

export function buildSounds(outDir: string): string[] {
  need('espeak-ng', 'espeak-ng');
  need('sox', 'sox');
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'ngcp-sounds-'));
  try {
    const built: string[] = [];
    for (const [name, text] of Object.entries(DEFAULT_SOUNDS)) {
      const spoken = join(work, `${name}.espeak.wav`);
      const converted = join(work, `${name}.wav`);
      execFileSync('espeak-ng', ['-v', VOICE, '-s', String(SPEED), '-w', spoken, text], { stdio: ['ignore', 'ignore', 'pipe'] });
      execFileSync('sox', [spoken, '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', converted, 'norm', '-6'], { stdio: ['ignore', 'ignore', 'pipe'] });
      readWav(readFileSync(converted)); // what the daemon will accept, or the build fails here
      copyFileSync(converted, join(outDir, `${name}.wav`));
      built.push(name);
    }
    for (const [name, synth] of Object.entries(DEFAULT_TONES)) {
      const converted = join(work, `${name}.wav`);
      execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-b', '16', '-e', 'signed-integer', converted, ...synth, 'norm', '-6'], { stdio: ['ignore', 'ignore', 'pipe'] });
      readWav(readFileSync(converted));
      copyFileSync(converted, join(outDir, `${name}.wav`));
      built.push(name);
    }
    return built;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const dir = fileURLToPath(BUILTIN_SOUNDS_DIR);
    const built = buildSounds(dir);
    process.stdout.write(`appserver: ${built.length} sounds in ${dir}\n`);
  } catch (err) {
    process.stderr.write(`appserver: building the sound set failed: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
