#!/usr/bin/env node
/** ngcp-lb: the SIP load-balancer (see README.md). */
import { runDaemon } from '@ngcp/daemon';
import { lbDaemon } from './daemon.js';

await runDaemon(lbDaemon);
