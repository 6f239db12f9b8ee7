/**
 * buildApp(config): the whole API as a fastify instance — no socket, no connection, no
 * file written until `listen()` or the first request (tests use `inject()`). The server
 * (listen, TLS files, migrations, first admin) is in server.ts; the entry point in main.ts.
 */
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { createDb, createReader, type Db, type Reader } from '@ngcp/db';
import type { ApiConfig } from './config.js';
import { ApiError, apiError, ERROR_SCHEMA, fromDbError, unsupportedMediaType } from './errors.js';
import { Authenticator } from './auth/authenticator.js';
import { BruteForceGuard } from './auth/bruteforce.js';
import type { Principal } from './auth/principal.js';
import { AJV_OPTIONS, ajvFieldErrors, coerceParams } from './http/validation.js';
import { createLogger, lazyChildLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { MwiTrigger } from './mwi.js';
import { RpcClient } from '@ngcp/rpc';
import { Notifier } from './notifier.js';
import { registerAll } from './resources/index.js';
import type { Services } from './services.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** no authentication (the OpenAPI document) */
    public?: boolean;
  }
  interface FastifyInstance {
    services: Services;
  }
}

export interface BuildOptions {
  logger?: Logger;
  /** use these instead of connecting from config (they are then not closed by the app) */
  db?: Db;
  reader?: Reader;
  redis?: Redis;
  /** PEM key and certificate; default: read from config.tls paths when tls.enabled */
  https?: { key: string | Buffer; cert: string | Buffer } | null;
  now?: () => number;
}

export const API_VERSION = '1.0.0';

export function buildApp(config: ApiConfig, opts: BuildOptions = {}): FastifyInstance {
  const logger = opts.logger ?? createLogger(config);
  const https = opts.https !== undefined ? opts.https : config.tls.enabled ? { key: readFileSync(config.tls.key), cert: readFileSync(config.tls.cert) } : null;
  const app = Fastify({
    loggerInstance: logger,
    childLoggerFactory: (parent, bindings, childOpts) => lazyChildLogger(parent as Logger, bindings, childOpts as Record<string, unknown>),
    ...(https ? { https } : {}),
    bodyLimit: config.body_limit,
    ajv: AJV_OPTIONS,
    logController: new LogController({ disableRequestLogging: !config.log.requests }),
    trustProxy: false,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
  }) as unknown as FastifyInstance;

  const ownDb = !opts.db;
  const ownRedis = !opts.redis;
  const ownReader = !opts.reader;
  const db = opts.db ?? createDb({ ...config.db, ...(config.db.socket ? { socket: config.db.socket } : {}), pool: { min: 0, max: config.db.pool_max }, acquireTimeoutMs: config.db.acquire_timeout_ms });
  const reader = opts.reader ?? createReader({ ...config.db, ...(config.db.socket ? { socket: config.db.socket } : {}), readers: config.db.readers, acquireTimeoutMs: config.db.acquire_timeout_ms });
  const redis = opts.redis ?? new Redis({
    host: config.redis.host, port: config.redis.port, db: config.redis.db, lazyConnect: true, maxRetriesPerRequest: 2,
    ...(config.redis.password ? { password: config.redis.password } : {}),
  });
  redis.on('error', (err: Error) => app.log.warn({ err: err.message }, 'redis connection error'));
  const now = opts.now ?? Date.now;
  const services: Services = {
    config,
    db,
    reader,
    redis,
    auth: new Authenticator(db, { cacheTtlS: config.auth.cache_ttl_s, cacheMax: config.auth.cache_max }, now),
    guard: new BruteForceGuard(config.bruteforce, redis, now, (err) => app.log.warn({ err }, 'cannot store api ban in redis')),
    notifier: new Notifier(redis, (err, n) => app.log.warn({ err: (err as Error).message, change: n }, 'change notification not published'), now),
    metrics: new Metrics(),
    mwi: new MwiTrigger(config.voicemail.appserver_control, config.voicemail.mwi_timeout_ms, app.log),
    sbc: config.calls.sbc_control ? new RpcClient(config.calls.sbc_control, { timeoutMs: config.calls.teardown_timeout_ms }) : null,
    log: app.log,
  };
  app.decorate('services', services);
  app.decorateRequest('principal', null);

  // bodies are JSON only (PATCH: JSON Patch); fastify's text/plain parser would hand a
  // schema a string and answer 422 where 415 says what to send
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('application/json-patch+json', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(apiError('NGCP_API_BAD_REQUEST', 'body is not valid JSON'), undefined);
    }
  });
  app.addHook('preValidation', coerceParams);
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config.public) return;
    const ip = req.ip;
    const banned = services.guard.bannedFor(ip);
    if (banned > 0) throw apiError('NGCP_API_TOO_MANY_ATTEMPTS', undefined, { headers: { 'retry-after': String(banned) } });
    const res = await services.auth.authenticate(req.headers.authorization, req.raw.socket);
    if (res.ok) {
      services.guard.succeed(ip);
      req.principal = res.principal;
      return;
    }
    const challenge = { 'www-authenticate': `Basic realm="${config.auth.realm}", Bearer realm="${config.auth.realm}"` };
    if (res.reason === 'missing') throw apiError('NGCP_API_UNAUTHORIZED', undefined, { headers: challenge });
    const verdict = services.guard.fail(ip);
    req.log.warn({ ip, reason: res.reason, banned: verdict.banned }, 'api login failed');
    if (verdict.banned) throw apiError('NGCP_API_TOO_MANY_ATTEMPTS', undefined, { headers: { 'retry-after': String(verdict.retryAfterS) } });
    if (verdict.delayMs > 0) await new Promise((r) => setTimeout(r, verdict.delayMs));
    throw apiError('NGCP_API_BAD_CREDENTIALS', undefined, { headers: challenge });
  });
  app.addHook('onResponse', (_req, reply, done) => {
    services.metrics.countResponse(reply.statusCode);
    done();
  });

  app.setErrorHandler(async (error: FastifyError, req, reply) => {
    const e = error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? unsupportedMediaType(req.method, req.headers['content-type']) : toApiError(error);
    if (e.statusCode >= 500) req.log.error({ err: loggableError(error) }, 'request failed');
    for (const [k, v] of Object.entries(e.headers)) reply.header(k, v);
    return reply.code(e.statusCode).type('application/json').send(e.toBody());
  });
  app.setNotFoundHandler(async (req, reply) => {
    const e = apiError('NGCP_API_ROUTE_NOT_FOUND', `no resource at ${req.method} ${req.url.split('?')[0]}`);
    return reply.code(404).send(e.toBody());
  });

  app.addSchema(ERROR_SCHEMA);
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'ngcp provisioning API', version: API_VERSION, description: 'OSS/BSS REST API of the ngcp VoIP platform. See apps/api/README.md.' },
      components: {
        securitySchemes: {
          basicAuth: { type: 'http', scheme: 'basic' },
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'token from POST /api/tokens' },
        },
      },
      security: [{ basicAuth: [] }, { bearerAuth: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  app.register(async (scope) => {
    registerAll(scope, services);
    scope.get('/api/docs', { schema: { hide: true }, config: { public: true } }, async () => scope.swagger());
  });

  app.addHook('onClose', async () => {
    services.mwi.close();
    services.sbc?.close();
    if (ownReader) await reader.close();
    if (ownDb) await db.destroy();
    if (ownRedis) redis.disconnect();
  });
  return app;
}

/**
 * What of an error may be logged: a knex/mysql2 error's message carries the SQL with its
 * values inlined (HA1s, password hashes) — log the server's own message and codes only.
 */
export function loggableError(error: unknown): Record<string, unknown> {
  const e = error as { name?: string; message?: string; code?: unknown; errno?: unknown; sqlState?: unknown; sqlMessage?: string; sql?: string; stack?: string };
  if (e && (e.sql !== undefined || e.sqlMessage !== undefined)) {
    return { type: e.name, code: e.code, errno: e.errno, sqlState: e.sqlState, message: e.sqlMessage ?? 'database error' };
  }
  return { type: e?.name, code: e?.code, message: e?.message, stack: e?.stack };
}

function toApiError(error: FastifyError & { validation?: unknown[]; validationContext?: string }): ApiError {
  if (error instanceof ApiError) return error;
  if (error.validation) {
    if (error.validationContext === 'params') return apiError('NGCP_API_NOT_FOUND', 'no such object');
    const fields = ajvFieldErrors(error.validation as Parameters<typeof ajvFieldErrors>[0]);
    const where = error.validationContext === 'querystring' ? 'query' : 'body';
    return new ApiError('NGCP_API_VALIDATION', `invalid ${where}: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`, { fields });
  }
  const db = fromDbError(error);
  if (db) return db;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return apiError('NGCP_API_PAYLOAD_TOO_LARGE');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return apiError('NGCP_API_BAD_REQUEST', error.message);
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'ECONNRESET':
    case 'PROTOCOL_CONNECTION_LOST':
    // the MariaDB connector (reader pool)
    case 'ER_GET_CONNECTION_TIMEOUT':
    case 'ER_CONNECTION_TIMEOUT':
    case 'ER_SOCKET_UNEXPECTED_CLOSE':
    case 'ER_CONNECTION_ALREADY_CLOSED':
    case 'ER_SOCKET_TIMEOUT':
      return apiError('NGCP_API_UNAVAILABLE', undefined, { cause: error });
  }
  if (error.name === 'KnexTimeoutError') return apiError('NGCP_API_UNAVAILABLE', undefined, { cause: error });
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
    return apiError('NGCP_API_BAD_REQUEST', error.message);
  }
  return apiError('NGCP_API_INTERNAL', undefined, { cause: error });
}
