#!/usr/bin/env node
/** ngcp-proxy: NGCP_PROXY_CONFIG=/etc/ngcp/proxy.yml node dist/main.js — see README.md. */
import { runDaemon } from '@ngcp/daemon';
import { proxyDaemon } from './daemon.js';

await runDaemon(proxyDaemon);
