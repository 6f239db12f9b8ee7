/** The RFC 4475 / RFC 5118 fixtures and their expected outcomes (see fixtures/README.md). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Action = 'accept' | 'reject' | 'drop' | 'incomplete';
export interface Expectation {
  action: Action;
  status: number | null;
}
export interface Fixture {
  file: string;
  rfc: string;
  section: string;
  title: string;
  kind: 'request' | 'response';
  method: string | null;
  statusCode: number | null;
  valid: boolean;
  lb: Expectation;
  uas: Expectation;
  transports: Array<'udp' | 'tcp'>;
  why: string;
  /** How the message behaves on a stream, where that differs. */
  stream?: { note: string };
  trailingOctets?: number;
  noContentLength?: boolean;
  /** Where the bytes came from: archive member, SHA-256, and any change made. */
  source: { archive: string; member: string; sha256: string; modified: string | null };
}

export const FIXTURE_DIR = join(import.meta.dirname, 'fixtures');
export const fixtures: Fixture[] = JSON.parse(readFileSync(join(FIXTURE_DIR, 'manifest.json'), 'utf8'));
export const fixtureBytes = (f: Fixture): Buffer => readFileSync(join(FIXTURE_DIR, f.file));

/** One row per (fixture, transport). */
export const cases = fixtures.flatMap((f) => f.transports.map((transport) => ({ f, transport })));

/**
 * The verdict's action for an expectation: a stream that waits for more bytes
 * ("incomplete") is reported as a drop (discarded when the connection closes).
 */
export const expectedAction = (e: Expectation): 'accept' | 'reject' | 'drop' => (e.action === 'incomplete' ? 'drop' : e.action);
