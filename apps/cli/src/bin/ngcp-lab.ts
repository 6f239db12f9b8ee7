#!/usr/bin/env node
import { main } from '../commands/ngcp-lab.js';
import { exitQuietlyOnEpipe, processIo } from '../commands/lib/io.js';

exitQuietlyOnEpipe();
process.exitCode = await main(process.argv.slice(2), processIo);
