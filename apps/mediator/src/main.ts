#!/usr/bin/env node
/** mediator: accounting records → CDRs (config from NGCP_MEDIATOR_CONFIG). */
import { runDaemon } from '@ngcp/daemon';
import { mediatorDaemon } from './daemon.js';

await runDaemon(mediatorDaemon);
