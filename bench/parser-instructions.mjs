#!/usr/bin/env node
// Instructions per message of the parser benchmark's work (bench/parser-work.mjs),
// counted with valgrind's callgrind: the same to within a fraction of a percent
// whatever else runs on the machine, so it is the check of a change on a loaded box.
// Each figure is (count at N2 iterations - count at N1) / (N2 - N1): node's start-up
// and the JIT's warm-up cancel out (node runs --single-threaded so that they do).
// Run: node bench/parser-instructions.mjs [--messages ok,invite] [--works routing,forward]
//                                          [--n 5000,15000] [--jobs 2] [--sides ours,npm] [--json out.json]
// Needs valgrind (apt-get install valgrind). One run takes ~20-60 s.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const self = fileURLToPath(import.meta.url);
const args = process.argv.slice(2);

if (args[0] === '--child') {
  // the measured process: N iterations of one side's work on one message
  const [, side, work, message, n] = args;
  const { WORK } = await import('./parser-work.mjs');
  const { TYPICAL } = await import('./typical-messages.mjs');
  const fn = WORK[work][side === 'ours' ? 0 : 1];
  const buf = Buffer.from(TYPICAL[message]);
  let sink = 0;
  for (let i = 0; i < Number(n); i++) sink += fn(buf);
  if (sink === -1) console.log('');
} else {
  const opt = (name, def) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
  const messages = opt('--messages', 'invite,register,ok').split(',');
  const works = opt('--works', 'routing,forward,relay (zero-copy)').split(',');
  const [n1, n2] = opt('--n', '5000,15000').split(',').map(Number);
  const jobs = Number(opt('--jobs', '2'));
  const sides = opt('--sides', 'ours,npm').split(',');
  const jsonOut = opt('--json', null);

  const count = (side, work, message, n) =>
    new Promise((resolve, reject) => {
      // --single-threaded: the JIT compiles on the main thread, at the same iteration in
      // every run (with background compile threads it lands whenever valgrind schedules
      // them, and the difference between the two runs is not the same work)
      const p = spawn('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, '--single-threaded', self, '--child', side, work, message, String(n)], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('error', reject);
      p.on('close', (code) => {
        const m = /Collected : (\d+)/.exec(err);
        if (code !== 0 || !m) reject(new Error(`valgrind ${side} ${work} ${message} ${n}: exit ${code}\n${err.slice(-500)}`));
        else resolve(Number(m[1]));
      });
    });

  const tasks = [];
  for (const message of messages) for (const work of works) for (const side of sides) for (const n of [n1, n2]) tasks.push({ message, work, side, n });
  const got = new Map();
  let next = 0;
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (next < tasks.length) {
      const t = tasks[next++];
      got.set(`${t.message}|${t.work}|${t.side}|${t.n}`, await count(t.side, t.work, t.message, t.n));
    }
  }));
  const per = (message, work, side) => (got.get(`${message}|${work}|${side}|${n2}`) - got.get(`${message}|${work}|${side}|${n1}`)) / (n2 - n1);
  const results = [];
  const pad = (s, n) => String(s).padEnd(n);
  console.log(`${pad('message', 10)}${pad('work', 19)}${pad('ours instr', 12)}${pad('npm sip instr', 15)}npm/ours`);
  for (const message of messages) for (const work of works) {
    const o = sides.includes('ours') ? Math.round(per(message, work, 'ours')) : NaN;
    const s = sides.includes('npm') ? Math.round(per(message, work, 'npm')) : NaN;
    results.push({ message, work, ours: o, npmSip: s, ratio: +(s / o).toFixed(2) });
    console.log(`${pad(message, 10)}${pad(work, 19)}${pad(o, 12)}${pad(s, 15)}${(s / o).toFixed(2)}`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), node: process.version, n: [n1, n2], results }, null, 2));
}
