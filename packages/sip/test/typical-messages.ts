/** Typical messages of a carrier's traffic (test/fixtures/typical/*.sip), used by the fuzz tests; the benchmarks read the same files. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const read = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures/typical', `${name}.sip`), 'latin1');

export const TYPICAL = { invite: read('invite'), register: read('register'), ok: read('ok') };
