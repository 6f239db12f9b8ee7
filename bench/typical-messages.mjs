// The typical messages of packages/sip/test/fixtures/typical/, for the benchmarks.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../packages/sip/test/fixtures/typical');
const read = (name) => readFileSync(join(dir, `${name}.sip`), 'latin1');

export const TYPICAL = { invite: read('invite'), register: read('register'), ok: read('ok') };
