#!/usr/bin/env node
/** sbc: the B2BUA (config from NGCP_SBC_CONFIG). */
import { runDaemon } from '@ngcp/daemon';
import { sbcDaemon } from './daemon.js';

await runDaemon(sbcDaemon);
