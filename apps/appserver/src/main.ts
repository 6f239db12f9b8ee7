#!/usr/bin/env node
/** appserver: announcements (config from NGCP_APPSERVER_CONFIG). */
import { runDaemon } from '@ngcp/daemon';
import { appserverDaemon } from './daemon.js';

await runDaemon(appserverDaemon);
