/**
 * The default announcements, rendered at build time (build-sounds.ts) into
 * `dist/sounds/<name>.wav`. The names are the interface with the proxy, which sends a
 * call to `sip:announce.<name>@<appserver>` (README "The sound set"); operators replace
 * any of them, or add more, with WAV files of the same name in `sounds_dir`.
 */
export const DEFAULT_SOUNDS: Readonly<Record<string, string>> = {
  'vsc-ok': 'Your setting has been saved.',
  'vsc-cleared': 'Your setting has been cleared.',
  'vsc-error': 'Sorry, your setting could not be changed.',
  'number-unknown': 'The number you have dialled is not known.',
  busy: 'The person you are calling is busy. Please try again later.',
  unavailable: 'The person you are calling is not available. Please try again later.',
  'no-credit': 'You do not have enough credit for this call.',
  'not-allowed': 'You are not allowed to make this call.',
  // voicemail (voicemail.ts): the deposit's greeting, the retrieval's prompts
  'vm-greeting': 'The person you are calling is not available. Please leave a message after the tone.',
  'vm-you-have': 'You have',
  'vm-new-messages': 'new messages',
  'vm-and': 'and',
  'vm-saved-messages': 'saved messages.',
  'vm-no-messages': 'You have no messages.',
  'vm-menu': 'Press 1 to hear the message again, 7 to delete it, 9 to save it, pound for the next one.',
  'vm-deleted': 'Message deleted.',
  'vm-saved': 'Message saved.',
  'vm-goodbye': 'Goodbye.',
  ...Object.fromEntries(['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'].map((w, d) => [`digit-${d}`, w])),
};

/** The default tones: sox `synth` arguments (rendered at build time like the spoken ones, without espeak-ng). */
export const DEFAULT_TONES: Readonly<Record<string, readonly string[]>> = {
  /** the deposit's beep: 1 kHz for 300 ms */
  'vm-beep': ['synth', '0.3', 'sine', '1000'],
};

/** Every name of the default set. */
export const DEFAULT_SOUND_NAMES: readonly string[] = [...Object.keys(DEFAULT_SOUNDS), ...Object.keys(DEFAULT_TONES)];

/** What a sound's name may be: the user part `announce.<name>` of a Request-URI, and a file name. */
export const SOUND_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Where the build puts the default set, from this module's folder (src/ under test, dist/ built): always dist/sounds. */
export const BUILTIN_SOUNDS_DIR = new URL('../dist/sounds/', import.meta.url);
