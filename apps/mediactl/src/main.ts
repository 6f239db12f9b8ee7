#!/usr/bin/env node
/** mediactl: the media-relay controller (config from NGCP_MEDIACTL_CONFIG). */
import { runDaemon } from '@ngcp/daemon';
import { mediactlDaemon } from './daemon.js';

await runDaemon(mediactlDaemon);
