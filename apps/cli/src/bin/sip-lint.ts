#!/usr/bin/env node
import { main } from '../commands/sip-lint.js';

process.exitCode = main(process.argv.slice(2), {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
});
