/**
 * The running API: TLS pair (generated on first start), migrations, the first admin, Redis
 * bans taken over, then listen. `close()` drains: stop accepting, finish requests in
 * flight, close MariaDB and Redis.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { migrate } from '@ngcp/db';
import { buildApp } from './app.js';
import { apiUrl, ensureAdmin, writeCredentials, type BootstrapResult } from './bootstrap.js';
import type { ApiConfig } from './config.js';
import { ensureCertificate } from '@ngcp/daemon';

export interface RunningApi {
  app: FastifyInstance;
  /** e.g. https://127.0.0.1:1443 (with the real port when listen.port was 0) */
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: ApiConfig, logger: Logger): Promise<RunningApi> {
  let https = null;
  if (config.tls.enabled) {
    const pair = await ensureCertificate(config.tls);
    if (pair.generated) logger.info({ cert: config.tls.cert, hostnames: config.tls.hostnames }, 'generated a self-signed TLS certificate');
    https = { key: pair.key, cert: pair.cert };
  }
  const app = buildApp(config, { logger, https });
  let boot: BootstrapResult = { created: false };
  try {
    const { db, guard } = app.services;
    if (config.db.migrate) {
      const res = await migrate.latest(db);
      if (res.names.length) logger.info({ applied: res.names }, 'database migrated');
    }
    boot = await ensureAdmin(db, config);
    const bans = await guard.loadBans().catch((err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'cannot load api bans from redis');
      return 0;
    });
    if (bans) logger.info({ bans }, 'api bans taken over from redis');
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await app.close();
    throw err;
  }
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.listen.port;
  const url = apiUrl({ ...config, listen: { ...config.listen, port }, admin: { ...config.admin, url: undefined } } as ApiConfig);
  if (boot.created) {
    const file = config.admin.credentials_file;
    if (file) writeCredentials(file, config.admin.url ?? url, boot.login!, boot.password!);
    logger.warn({ login: boot.login, credentials_file: file ?? null, generated: boot.generated }, 'created the first API admin');
  }
  return { app, url, close: () => app.close() };
}
