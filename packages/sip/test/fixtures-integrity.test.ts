// Integrity checks for the RFC 4475 / RFC 5118 torture-test fixtures.
//
// This test does not exercise the parser. It only guards the fixture data itself: that the
// manifest and the .dat files agree, that the bytes are the ones recorded at import time, and
// that every message a parser is expected to accept is framed consistently (Content-Length ==
// body length), so a broken reconstruction is caught here rather than blamed on the parser.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import type { Action, Fixture } from './fixtures.js';
import { FIXTURE_DIR as FIXTURES, fixtureBytes, fixtures as manifest } from './fixtures.js';

const DIRS = ['rfc4475', 'rfc5118'] as const;
const read = (file: string): Buffer => fixtureBytes({ file } as Fixture);
type FixtureEntry = Fixture;

const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Split at the first empty line; `body` is null when the header section is unterminated. */
function split(msg: Buffer): { head: string; body: Buffer | null } {
  const end = msg.indexOf(CRLFCRLF);
  if (end < 0) return { head: msg.toString('latin1'), body: null };
  return { head: msg.subarray(0, end).toString('latin1'), body: msg.subarray(end + 4) };
}

/** Every Content-Length value (long or compact form `l`), after unfolding continuation lines. */
function contentLengths(head: string): string[] {
  const lines = head.split(/\r\n(?![ \t])/).slice(1);
  const values: string[] = [];
  for (const line of lines) {
    const m = /^([^:]+?)[ \t]*:(.*)$/s.exec(line);
    if (!m) continue;
    const name = (m[1] ?? '').trim().toLowerCase();
    if (name === 'content-length' || name === 'l') values.push((m[2] ?? '').trim());
  }
  return values;
}

function firstLine(msg: Buffer): string {
  const end = msg.indexOf(CRLF);
  return msg.subarray(0, end < 0 ? msg.length : end).toString('latin1');
}

describe('RFC 4475 / RFC 5118 fixture manifest', () => {
  it('has well-formed entries', () => {
    expect(manifest.length).toBeGreaterThan(0);
    const actions: Action[] = ['accept', 'reject', 'drop', 'incomplete'];
    for (const e of manifest) {
      const ctx = `${e.file} ${e.transports.join(',')}`;
      expect(['4475', '5118'], ctx).toContain(e.rfc);
      expect(e.file.startsWith(`rfc${e.rfc}/`), ctx).toBe(true);
      expect(e.section, ctx).toMatch(/^(\d+(\.\d+)*|A\.1)$/);
      expect(e.title.length, ctx).toBeGreaterThan(0);
      expect(e.why.length, ctx).toBeGreaterThan(20);
      expect(e.transports.length, ctx).toBeGreaterThan(0);
      for (const t of e.transports) expect(['udp', 'tcp'], ctx).toContain(t);
      for (const x of [e.lb, e.uas]) {
        expect(actions, ctx).toContain(x.action);
        if (x.action === 'reject') expect(x.status, ctx).toBeGreaterThanOrEqual(400);
        else expect(x.status, ctx).toBeNull();
      }
      if (e.kind === 'request') {
        expect(e.statusCode, ctx).toBeNull();
        expect(e.method, ctx).toBeTruthy();
      } else {
        expect(e.method, ctx).toBeNull();
        expect(typeof e.statusCode, ctx).toBe('number');
        // A response is never answered, only accepted or dropped.
        expect(['accept', 'drop'], ctx).toContain(e.lb.action);
        expect(['accept', 'drop'], ctx).toContain(e.uas.action);
      }
    }
  });

  it('lists each (file, transport) pair at most once', () => {
    const seen = new Set<string>();
    for (const e of manifest) {
      for (const t of e.transports) {
        const key = `${e.file}#${t}`;
        expect(seen.has(key), `duplicate ${key}`).toBe(false);
        seen.add(key);
      }
    }
  });

  it('references files that exist', () => {
    for (const e of manifest) expect(existsSync(join(FIXTURES, e.file)), e.file).toBe(true);
  });

  it('covers every .dat file in the fixture directories', () => {
    const listed = new Set(manifest.map((e) => e.file));
    for (const dir of DIRS) {
      for (const name of readdirSync(join(FIXTURES, dir))) {
        if (name.endsWith('.dat')) expect(listed.has(`${dir}/${name}`), `${dir}/${name}`).toBe(true);
      }
    }
  });

  it('keeps the bytes recorded at import (unmodified archive members hash-match)', () => {
    for (const e of manifest) {
      const digest = createHash('sha256').update(read(e.file)).digest('hex');
      if (e.source.modified === null) expect(digest, e.file).toBe(e.source.sha256);
      else expect(digest, `${e.file} is a documented reconstruction`).not.toBe(e.source.sha256);
    }
  });

  it('has CRLF line ends (no bare LF outside a body)', () => {
    for (const e of manifest) {
      const { head } = split(read(e.file));
      expect(/(^|[^\r])\n/.test(head), e.file).toBe(false);
    }
  });

  it('matches kind / method / statusCode against the start line', () => {
    for (const e of manifest) {
      const line = firstLine(read(e.file));
      const tokens = line.split(' ').filter((t) => t.length > 0);
      if (e.kind === 'response') {
        expect(line.startsWith('SIP/'), e.file).toBe(true);
        expect(tokens[1], e.file).toBe(String(e.statusCode));
      } else {
        expect(line.startsWith('SIP/'), e.file).toBe(false);
        expect(tokens[0], e.file).toBe(e.method);
      }
    }
  });

  it('frames every valid or accepted message by its Content-Length', () => {
    for (const e of manifest) {
      if (!e.valid && e.lb.action !== 'accept' && e.uas.action !== 'accept') continue;
      const msg = read(e.file);
      const { head, body } = split(msg);
      expect(body, `${e.file}: header section must be terminated`).not.toBeNull();
      if (body === null) continue;
      const cls = contentLengths(head);
      if (e.noContentLength) {
        expect(cls, e.file).toEqual([]);
        continue;
      }
      expect(cls.length, `${e.file}: exactly one Content-Length`).toBe(1);
      const declared = Number(cls[0]);
      expect(Number.isSafeInteger(declared) && declared >= 0, e.file).toBe(true);
      expect(body.length - declared, `${e.file}: octets after the declared body`).toBe(e.trailingOctets ?? 0);
    }
  });

  it('declares trailing octets only where they really follow a complete message', () => {
    for (const e of manifest.filter((x) => x.trailingOctets !== undefined)) {
      const { head, body } = split(read(e.file));
      if (body === null) throw new Error(`${e.file}: unterminated`);
      const declared = Number(contentLengths(head)[0]);
      const rest = body.subarray(declared).toString('latin1').replace(/^(\r\n)+/, '');
      // RFC 4475 3.1.1.8: the trailing octets look like a second request.
      expect(rest, e.file).toMatch(/^[A-Z]+ sip:\S+ SIP\/2\.0\r\n/);
    }
  });

  it('records the known framing defects of invalid messages', () => {
    // Guards against someone "fixing" the deliberately broken messages.
    const cl = (file: string): string[] => contentLengths(split(read(file)).head);
    expect(cl('rfc4475/clerr.dat')).toEqual(['9999']);
    expect(cl('rfc4475/ncl.dat')).toEqual(['-999']);
    expect(cl('rfc4475/mcl01.dat')).toEqual(['13', '5']);
    // The archive's baddn.dat has no empty line after its headers (kept as published).
    expect(split(read('rfc4475/baddn.dat')).body).toBeNull();
  });

  it('has the expected number of fixtures per RFC', () => {
    const files = (rfc: string): number => new Set(manifest.filter((e) => e.rfc === rfc).map((e) => e.file)).size;
    expect(files('4475')).toBe(50); // 49 messages described in section 3 + test.dat from the archive
    expect(files('5118')).toBe(12); // sections 4.1-4.10, with two messages each in 4.5 and 4.10
  });
});
