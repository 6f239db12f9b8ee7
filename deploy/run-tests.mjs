#!/usr/bin/env node
// Runs the whole suite: the type check of every package (tests included — vitest
// itself does not type-check) and every workspace project in one vitest run. Ends
// with the plain closing line "N passed, N failed[, N skipped]"; a failed type check
// counts as one failure. Exit code 0 only when both pass.
//
// The type check runs first, through turbo. NGCP_TEST_TYPECHECK=beside runs it beside the
// tests instead (≈ 1 min less) as SCHED_IDLE (`chrt --idle 0`), each package's `typecheck`
// script through pnpm (turbo would restore cached builds into dist/ while the tests start
// daemons from there), its output held back and printed after the tests. Not the default:
// in the first CI run with it (2026-12-07 13:00 UTC) the lab's failover test, which ran
// while the type check did, lost its first call's RTP and 24 of its 27 cases failed; alone,
// minutes later, the same commit passed 27/27. Idle priority bounds the CPU it takes, not the
// memory, disk and cache pressure of 18 tsc processes on a 2-core VM.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TYPECHECK = ['pnpm', 'exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only'];
const TYPECHECK_BESIDE = ['pnpm', '-r', '--no-bail', '--workspace-concurrency=2', '--reporter=append-only', 'run', 'typecheck'];
const idle = process.env.NGCP_TEST_TYPECHECK === 'beside' && spawnSync('chrt', ['--idle', '0', 'true']).status === 0;

/** The type check beside the tests; resolves to { failed, output } when it ends. */
function typecheckBeside() {
  const child = spawn('chrt', ['--idle', '0', ...TYPECHECK_BESIDE], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
  let output = '';
  child.stdout.on('data', (b) => (output += b));
  child.stderr.on('data', (b) => (output += b));
  return new Promise((resolve) => {
    child.on('error', (e) => resolve({ failed: true, output: `${output}\n${e.message}` }));
    child.on('exit', (code, signal) => resolve({ failed: code !== 0, output: output + (signal ? `\n(ended by ${signal})` : '') }));
  });
}

let typecheck;
if (idle) {
  console.log('type check: running beside the tests (idle priority); its result comes after them');
  typecheck = typecheckBeside();
} else {
  const r = spawnSync(TYPECHECK[0], TYPECHECK.slice(1), { stdio: 'inherit' });
  typecheck = Promise.resolve({ failed: r.status !== 0, output: '' });
}

// Two phases when the whole suite runs (no arguments): first every file but the HA ones,
// NGCP_TEST_WORKERS files at a time (default 2: vitest's own default on this 2-core VM is one
// worker, and most files wait on timers, sipp and services far more than they compute); then
// the lab and the real hbd processes (test/ha, apps/hbd/test), one file at a time and alone —
// takeover timing and RTP gaps are what they assert. NGCP_TEST_WORKERS=1 gives the old single
// serial run's order of work in two steps. With arguments (a project, a file) one run, as given.
const extra = process.argv.slice(2);
const workers = String(Math.max(1, Number(process.env.NGCP_TEST_WORKERS ?? 2) || 1));
const phases = extra.length > 0
  ? [{ name: null, env: {}, args: extra }]
  : [
      { name: `parallel (${workers} files at a time)`, env: { NGCP_TEST_PHASE: 'parallel' }, args: [`--maxWorkers=${workers}`, '--minWorkers=1'] },
      { name: 'serial (the lab and hbd processes, alone)', env: { NGCP_TEST_PHASE: 'serial' }, args: ['--project', 'e2e', '--project', 'hbd', '--maxWorkers=1', '--minWorkers=1'] },
    ];

/** The first `lines` lines of a message (without stack frames in node_modules), indented. */
function head(msg, lines = 14) {
  const all = msg.trimEnd().split('\n').filter((l) => !/^\s+at .*node_modules/.test(l));
  return all.slice(0, lines).map((l) => `    ${l}`).join('\n') + (all.length > lines ? `\n    … ${all.length - lines} more lines in the phase's output` : '');
}

/** What deploy/failures-reporter.mjs wrote: each failed test, suite or file with its message. */
function readFailures(file, phaseName) {
  let lines = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  } catch {
    return []; // nothing failed (or vitest died first: counted below)
  }
  return lines.map((l) => {
    const f = JSON.parse(l);
    return `${phaseName ? `[${phaseName}] ` : ''}${f.where}\n${head(f.message)}`;
  });
}

/** One vitest run; resolves to { code, summary, failures } (summary null when vitest wrote no results). */
function runVitest(phase) {
  const dir = mkdtempSync(join(tmpdir(), 'ngcp-test-'));
  const out = join(dir, 'results.json');
  const failuresFile = join(dir, 'failures.jsonl');
  const args = ['exec', 'vitest', 'run', '--reporter=default', '--reporter=json', `--reporter=${join(import.meta.dirname, 'failures-reporter.mjs')}`, `--outputFile.json=${out}`, ...phase.args];
  if (phase.name) console.log(`\n=== tests, phase ${phase.name}\n`);
  const child = spawn('pnpm', args, { stdio: 'inherit', env: { ...process.env, ...phase.env, NGCP_TEST_FAILURES: failuresFile, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR } });
  return new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      let summary = null;
      try {
        const r = JSON.parse(readFileSync(out, 'utf8'));
        // a run can fail with no failed test (a suite that did not load, an unhandled error): count it once
        const failed = r.numFailedTests + (r.success === false && r.numFailedTests === 0 ? 1 : 0);
        summary = { passed: r.numPassedTests, failed, skipped: r.numPendingTests + r.numTodoTests };
      } catch {
        // vitest died before writing results
      }
      const failures = readFailures(failuresFile, phase.name?.split(' ')[0]);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code: code ?? (signal ? 1 : 0), summary, failures });
    });
  });
}

let total = { passed: 0, failed: 0, skipped: 0 };
let code = 0;
const failures = [];
for (const phase of phases) {
  const r = await runVitest(phase);
  failures.push(...r.failures);
  if (r.code !== 0) code = r.code;
  if (r.summary) for (const k of Object.keys(total)) total[k] += r.summary[k];
  else {
    total.failed += 1; // a phase that wrote no results counts as one failure
    failures.push(`${phase.name ? `[${phase.name.split(' ')[0]}] ` : ''}vitest ended (code ${r.code}) without writing its results`);
    code ||= 1;
  }
}
if (failures.length > 0) console.log(`\n=== what failed (${failures.length}; each in full in its phase's output above)\n\n${failures.join('\n\n')}`);
const tc = await typecheck;
if (tc.failed) console.error(`${tc.output ? `\n--- type check\n${tc.output.trimEnd()}\n` : ''}\ntype check FAILED (see above)`);
else if (idle) console.log('\ntype check passed');
total.failed += tc.failed ? 1 : 0;
console.log(`\n${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
process.exit(tc.failed ? 1 : code);
