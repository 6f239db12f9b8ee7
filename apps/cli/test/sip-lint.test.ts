/**
 * `ngcp sip-lint` as an operator runs it: the real executable on every RFC 4475 /
 * RFC 5118 fixture, on each transport, printing one JSON verdict with the exit
 * code of its action; plus argument errors (exit 2).
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { cases, expectedAction, FIXTURE_DIR } from '../../../packages/sip/test/fixtures.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '../../..');
const BIN = join(ROOT, 'apps/cli/dist/bin/sip-lint.js');

async function lint(args: string[], viaNgcp = false): Promise<{ code: number; out: string; err: string }> {
  const [cmd, argv] = viaNgcp ? [join(ROOT, 'ngcp'), ['sip-lint', ...args]] : [process.execPath, [BIN, ...args]];
  try {
    const r = await run(cmd, argv, { cwd: ROOT });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

describe('ngcp sip-lint', () => {
  beforeAll(() => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: build first (./ngcp test does)`);
  });

  it('gives every fixture its expected verdict on each transport (real executable)', async () => {
    const failures: string[] = [];
    await pool(cases, 4, async ({ f, transport }) => {
      const r = await lint(['--transport', transport, join(FIXTURE_DIR, f.file)]);
      const out = JSON.parse(r.out);
      const want = expectedAction(f.lb);
      if (out.action !== want || out.status !== f.lb.status || r.code !== (want === 'accept' ? 0 : 1)) {
        failures.push(`${f.file} ${transport}: got ${r.out.trim()} exit ${r.code}, want ${want} ${f.lb.status}`);
      }
      if (f.kind === 'request' && out.action !== 'drop' && out.method !== f.method && out.method !== 'INVALID') failures.push(`${f.file}: method ${out.method}`);
      if (f.kind === 'response' && out.statusCode !== undefined && out.statusCode !== f.statusCode) failures.push(`${f.file}: statusCode ${out.statusCode}`);
    });
    expect(failures).toEqual([]);
    // one process per fixture and transport: minutes on a loaded 2-core machine
  }, 400_000);

  it('prints exactly the documented JSON shape, through ./ngcp', async () => {
    const r = await lint(['--transport', 'udp', join(FIXTURE_DIR, 'rfc4475/badvers.dat')], true);
    expect(r.code).toBe(1);
    const out = JSON.parse(r.out);
    expect(Object.keys(out).sort()).toEqual(['action', 'method', 'reason', 'status']);
    expect(out).toMatchObject({ action: 'reject', status: 505, method: 'OPTIONS' });
    const ok = await lint([join(FIXTURE_DIR, 'rfc4475/wsinv.dat')], true);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ action: 'accept', status: null, method: 'INVITE' });
    const resp = await lint([join(FIXTURE_DIR, 'rfc4475/bigcode.dat')], true);
    expect(JSON.parse(resp.out)).toMatchObject({ action: 'drop', status: null });
  }, 60_000);

  it('reads a capture from stdin with -', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lint-'));
    const f = join(dir, 'm.sip');
    writeFileSync(f, 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
    const r = await run('/bin/sh', ['-c', `"${process.execPath}" "${BIN}" --transport tcp - < "${f}"`]).catch((e) => e);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'reject', status: 483, method: 'OPTIONS' });
  });

  it('answers bad arguments with exit 2 and a usage line', async () => {
    for (const args of [[], ['--transport', 'sctp', 'x'], ['--bogus', 'x'], ['a', 'b'], ['/nonexistent/file']]) {
      const r = await lint(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toMatch(/sip-lint/);
    }
  });
});
