#!/usr/bin/env node
import { main } from '../commands/ngcp-make-role.js';
import { exitQuietlyOnEpipe, processIo } from '../commands/lib/io.js';

exitQuietlyOnEpipe();
process.exitCode = await main('standby', process.argv.slice(2), processIo);
