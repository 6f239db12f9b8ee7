// A vitest reporter that writes what failed — every failed test, and every file or suite that
// failed outside its tests (a hook such as a beforeAll that brings a node up, an import) — to
// the file named by NGCP_TEST_FAILURES, as JSON lines { where, message }. deploy/run-tests.mjs
// prints them after the last phase: a failure of the first phase otherwise scrolls out of sight
// behind the second phase's output, and CI keeps only the tail. vitest's JSON report has no
// place for a suite's own error (a failed beforeAll leaves its tests "skipped", the error nowhere).
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';

const plain = (s) => String(s).replace(/\x1b\[[0-9;]*m/g, '');

function walk(task, path, out) {
  const here = task.type === 'suite' && !task.filepath ? [...path, task.name] : task.type === 'test' ? [...path, task.name] : path;
  const errors = task.result?.state === 'fail' ? task.result.errors ?? [] : [];
  if (task.result?.state === 'fail' && (task.type === 'test' || errors.length > 0)) {
    const what = task.type === 'test' ? 'test' : task.filepath ? 'file (outside its tests)' : 'suite (a hook)';
    const message = errors.map((e) => plain(e.stack || e.message || String(e))).join('\n') || '(no message)';
    out.push({ where: `${here.join(' > ')} [${what}]`, message });
  }
  for (const child of task.tasks ?? []) walk(child, here, out);
}

export default class FailuresReporter {
  onInit(ctx) {
    this.ctx = ctx;
  }
  onFinished(files = [], errors = []) {
    const target = process.env.NGCP_TEST_FAILURES;
    if (!target) return;
    const out = [];
    for (const file of files) walk(file, [relative(process.cwd(), file.filepath)], out);
    for (const e of errors) out.push({ where: 'unhandled error', message: plain(e?.stack || e?.message || String(e)) });
    for (const f of out) appendFileSync(target, `${JSON.stringify(f)}\n`);
  }
}
