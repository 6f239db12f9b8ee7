/**
 * Property tests: random mutations of valid messages (the RFC 4475/5118 fixtures
 * plus typical INVITE/REGISTER/response) never make the parser, the lazy header
 * accessors or the edge checks throw anything but SipParseError — and inspect()
 * never throws at all. ≥ 100,000 cases per run (FUZZ_RUNS overrides).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SipMessage } from '../src/index.js';
import { SipParseError, StreamFramer, inspect, parseMessage } from '../src/index.js';
import { fixtureBytes, fixtures } from './fixtures.js';
import { TYPICAL } from './typical-messages.js';

const TOTAL = Number(process.env.FUZZ_RUNS ?? 100_000);
const seeds: Buffer[] = [...fixtures.filter((f) => f.valid).map(fixtureBytes), ...Object.values(TYPICAL).map((s) => Buffer.from(s))];
const SPECIAL = [0x0d, 0x0a, 0x20, 0x09, 0x3a, 0x3b, 0x2c, 0x22, 0x3c, 0x3e, 0x25, 0x40, 0x5b, 0x5d, 0x3d, 0x5c, 0x00, 0xff, 0xc3, 0x2f, 0x3f];

type Mutation =
  | { op: 'set'; pos: number; byte: number }
  | { op: 'insert'; pos: number; bytes: number[] }
  | { op: 'delete'; pos: number; len: number }
  | { op: 'truncate'; pos: number }
  | { op: 'dupline'; line: number }
  | { op: 'swaplines'; a: number; b: number };

const byteArb = fc.oneof(fc.constantFrom(...SPECIAL), fc.integer({ min: 0, max: 255 }));
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), pos: fc.nat(), byte: byteArb }),
  fc.record({ op: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.array(byteArb, { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('delete' as const), pos: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('truncate' as const), pos: fc.nat() }),
  fc.record({ op: fc.constant('dupline' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('swaplines' as const), a: fc.nat(), b: fc.nat() }),
);

function apply(buf: Buffer, m: Mutation): Buffer {
  const n = buf.length;
  switch (m.op) {
    case 'set': {
      const out = Buffer.from(buf);
      if (n > 0) out[m.pos % n] = m.byte;
      return out;
    }
    case 'insert': {
      const p = n === 0 ? 0 : m.pos % (n + 1);
      return Buffer.concat([buf.subarray(0, p), Buffer.from(m.bytes), buf.subarray(p)]);
    }
    case 'delete': {
      const p = n === 0 ? 0 : m.pos % n;
      return Buffer.concat([buf.subarray(0, p), buf.subarray(p + m.len)]);
    }
    case 'truncate':
      return buf.subarray(0, n === 0 ? 0 : m.pos % n);
    case 'dupline':
    case 'swaplines': {
      const lines = buf.toString('latin1').split('\r\n');
      if (m.op === 'dupline') {
        const i = m.line % lines.length;
        lines.splice(i, 0, lines[i]!);
      } else {
        const a = m.a % lines.length;
        const b = m.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      }
      return Buffer.from(lines.join('\r\n'), 'latin1');
    }
  }
}

/** Every accessor a routing element may call; only SipParseError may escape each. */
function touchAll(m: SipMessage): void {
  const calls: Array<() => unknown> = [
    () => m.vias(), () => m.from(), () => m.to(), () => m.callId(), () => m.cseq(), () => m.maxForwards(),
    () => m.contacts(), () => m.routes(), () => m.recordRoutes(), () => m.expires(),
    () => m.optionTags('require'), () => m.optionTags('proxy-require'), () => m.optionTags('supported'),
    () => (m.kind === 'request' ? m.requestUri() : m.status),
    () => m.from().tag, () => m.to().uri.toString(), () => m.topVia()?.branch,
    () => m.toBuffer(),
  ];
  for (const c of calls) {
    try {
      c();
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
    }
  }
  // rewriting never throws a non-parse error either, and the result re-parses or fails typed
  try {
    m.set('x-fuzz', '1');
    if (m.has('via')) m.removeFirstElement('via');
    parseMessage(m.toBuffer());
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
  }
}

function property(buf: Buffer): void {
  for (const framing of ['datagram', 'stream'] as const) {
    try {
      touchAll(parseMessage(buf, { framing }));
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
    }
  }
  for (const transport of ['udp', 'tcp'] as const) {
    const v = inspect(buf, { transport, role: transport === 'udp' ? 'lb' : 'uas' });
    expect(['accept', 'reject', 'drop']).toContain(v.action);
    if (v.action === 'reject') expect(v.status).toBeGreaterThanOrEqual(400);
  }
}

/**
 * fc.assert in slices of CHUNK runs with an await between them, so a long run does
 * not block the test worker's event loop (vitest's worker RPC times out otherwise).
 * Each slice has its own seed, derived from one base seed that failures report.
 */
const CHUNK = 2000;
const BASE_SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
async function assertChunked<T>(prop: fc.IProperty<T>, runs: number, salt: number): Promise<void> {
  for (let done = 0, i = 0; done < runs; done += CHUNK, i++) {
    const seed = (BASE_SEED + salt * 7919 + i * 104729) % 2 ** 31;
    try {
      fc.assert(prop, { numRuns: Math.min(CHUNK, runs - done), seed });
    } catch (e) {
      throw new Error(`fuzz failure (FUZZ_SEED=${BASE_SEED}, slice ${i}, seed ${seed}): ${(e as Error).message}`);
    }
    await new Promise((r) => setImmediate(r));
  }
}

describe('parser robustness under random mutation', { timeout: 600_000 }, () => {
  const runs = Math.ceil(TOTAL / 4);
  it(`single mutations (${runs} cases)`, async () => {
    await assertChunked(fc.property(fc.nat(), mutationArb, (s, m) => property(apply(seeds[s % seeds.length]!, m))), runs, 1);
  });
  it(`chains of 2–6 mutations (${runs} cases)`, async () => {
    await assertChunked(
      fc.property(fc.nat(), fc.array(mutationArb, { minLength: 2, maxLength: 6 }), (s, ms) => property(ms.reduce(apply, seeds[s % seeds.length]!))),
      runs,
      2,
    );
  });
  it(`random bytes and random text (${runs} cases)`, async () => {
    await assertChunked(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 400 }).map((s) => Buffer.from(s))), (b) => property(Buffer.from(b))),
      runs,
      3,
    );
  });
  it(`stream framing of mutated messages split into random chunks (${runs} cases)`, async () => {
    await assertChunked(
      fc.property(fc.nat(), mutationArb, fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 10 }), (s, m, cuts) => {
        const buf = apply(seeds[s % seeds.length]!, m);
        const framer = new StreamFramer();
        let pos = 0;
        for (const c of cuts) {
          for (const ev of framer.push(buf.subarray(pos, pos + c))) {
            if (ev.type === 'message') {
              try {
                touchAll(parseMessage(ev.bytes, { framing: 'stream' }));
              } catch (e) {
                if (!(e instanceof SipParseError)) throw e;
              }
            }
          }
          pos += c;
        }
        framer.push(buf.subarray(pos));
      }),
      runs,
      4,
    );
  });
});
