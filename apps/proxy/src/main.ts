#!/usr/bin/env node
/** ngcp-proxy: NGCP_PROXY_CONFIG=/etc/ngcp/proxy.yml node dist/main.js — see README.md. */
import { runStandalone } from './standalone.js';

await runStandalone().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
