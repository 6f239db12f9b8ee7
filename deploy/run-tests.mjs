#!/usr/bin/env node
// Runs the whole suite: the type check of every package (tests included — vitest
// itself does not type-check), then every workspace project in one vitest run. Ends
// with the plain closing line "N passed, N failed[, N skipped]"; a failed type check
// counts as one failure. Exit code 0 only when both pass.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const typecheck = spawnSync('pnpm', ['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only'], { stdio: 'inherit' });
const typeFailed = typecheck.status !== 0;
if (typeFailed) console.error('\ntype check FAILED (see above); running the tests anyway');

const dir = mkdtempSync(join(tmpdir(), 'ngcp-test-'));
const out = join(dir, 'results.json');
const args = ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const child = spawn('pnpm', args, { stdio: 'inherit', env: { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR } });
child.on('exit', (code, signal) => {
  let summary = null;
  try {
    const r = JSON.parse(readFileSync(out, 'utf8'));
    // a run can fail with no failed test (a suite that did not load, an unhandled error): count it once
    const failed = r.numFailedTests + (r.success === false && r.numFailedTests === 0 ? 1 : 0);
    summary = { passed: r.numPassedTests, failed: failed + (typeFailed ? 1 : 0), skipped: r.numPendingTests + r.numTodoTests };
  } catch {
    // vitest died before writing results
  }
  rmSync(dir, { recursive: true, force: true });
  if (summary) {
    console.log(`\n${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''}`);
  }
  process.exit(typeFailed ? 1 : (code ?? (signal ? 1 : 0)));
});
