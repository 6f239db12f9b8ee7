#!/usr/bin/env node
// Runs the benchmarks (all, or those named) one after another and keeps their
// JSON results in bench/out/. Usage: ./ngcp bench [parser|transactions|api|db-read|sip|mediator|failover|flood|soak …]
// `soak` (10 minutes of call load on the lab pair, bench/soak.mjs) runs only when named.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const ALL = {
  parser: ['parser.mjs', []],
  transactions: ['transactions.mjs', [], ['--expose-gc']],
  api: ['api.mjs', []],
  'db-read': ['db-read.mjs', []],
  sip: ['sip.mjs', []],
  mediator: ['mediator.mjs', []],
  failover: ['failover.mjs', []],
  flood: ['flood.mjs', []],
  soak: ['soak.mjs', []],
};
const ONLY_WHEN_NAMED = new Set(['soak']);
const names = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const chosen = names.length ? names : Object.keys(ALL).filter((n) => !ONLY_WHEN_NAMED.has(n));
mkdirSync(join(here, 'out'), { recursive: true });
let failed = 0;
for (const name of chosen) {
  const entry = ALL[name];
  if (!entry) {
    console.error(`unknown benchmark '${name}' (have: ${Object.keys(ALL).join(', ')})`);
    process.exit(2);
  }
  const [file, args, nodeArgs = []] = entry;
  if (!existsSync(join(here, file))) {
    console.log(`\n== ${name}: ${file} not present yet, skipped`);
    continue;
  }
  console.log(`\n== ${name}: node ${[...nodeArgs, file, ...args].join(' ')}`);
  const r = spawnSync(process.execPath, [...nodeArgs, join(here, file), ...args, '--json', join(here, 'out', `${name}.json`)], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
