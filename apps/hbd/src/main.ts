#!/usr/bin/env node
/** hbd: the HA heartbeat daemon (config from NGCP_HBD_CONFIG). */
import { runDaemon } from '@ngcp/daemon';
import { hbdDaemon } from './daemon.js';

await runDaemon(hbdDaemon);
