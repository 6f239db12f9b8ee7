#!/usr/bin/env node
/** ngcp-api: NGCP_API_CONFIG=/etc/ngcp/api.yml node dist/main.js — see README.md. */
import { exitOnFatal, loadConfigOrExit, onSignals } from '@ngcp/daemon';
import { apiConfigDefinition } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

const loaded = loadConfigOrExit(apiConfigDefinition, { optional: true });
if (loaded) {
  const logger = createLogger(loaded.config);
  exitOnFatal(logger);
  try {
    const api = await startServer(loaded.config, logger);
    logger.info({ url: api.url, config: loaded.path ?? '(defaults)' }, 'api listening');
    onSignals(logger, { stop: () => api.close() });
  } catch (err) {
    logger.fatal({ err }, 'api failed to start');
    process.exit(1);
  }
}
