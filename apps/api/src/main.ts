#!/usr/bin/env node
/** ngcp-api: NGCP_API_CONFIG=/etc/ngcp/api.yml node dist/main.js — see README.md. */
import { loadConfigFile, resolveConfig } from './config.js';
import { createLogger } from './logger.js';
import { startServer } from './server.js';

const path = process.env.NGCP_API_CONFIG;
const config = path ? loadConfigFile(path) : resolveConfig({});
const logger = createLogger(config);

try {
  const api = await startServer(config, logger);
  logger.info({ url: api.url, config: path ?? '(defaults)' }, 'api listening');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'draining');
    api.close().then(() => process.exit(0), (err: unknown) => (logger.error({ err }, 'unclean shutdown'), process.exit(1)));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err }, 'api failed to start');
  process.exit(1);
}
