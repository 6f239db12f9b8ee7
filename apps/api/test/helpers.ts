/**
 * One private MariaDB + Redis per test file, migrated once; the app built on them and
 * driven with inject(). Tests isolate themselves with unique names (`uniq`).
 */
import { useMariaDb, useRedis } from '@ngcp/testkit/vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createDb, hashPassword, migrate, type Db } from '@ngcp/db';
import { buildApp, type BuildOptions } from '../src/app.js';
import { resolveConfig, type ApiConfig, type ApiConfigInput } from '../src/config.js';
import { ensureAdmin } from '../src/bootstrap.js';

export const ADMIN = { login: 'admin', password: 'admin-secret-1' } as const;

export interface Harness {
  app: FastifyInstance;
  db: Db;
  redis: Redis;
  config: ApiConfig;
}

let seq = 0;
/** A name unique in this test process: `prefix-<pid>-<n>`. */
export const uniq = (prefix = 'x'): string => `${prefix}${process.pid}x${++seq}`;

export function basic(login: string, password: string): string {
  return `Basic ${Buffer.from(`${login}:${password}`).toString('base64')}`;
}
export const ADMIN_AUTH = basic(ADMIN.login, ADMIN.password);

export function useApi(overrides: ApiConfigInput = {}, buildOpts: Omit<BuildOptions, 'db' | 'redis'> = {}): () => Harness {
  const mariadb = useMariaDb();
  const redisSrv = useRedis();
  let h: Harness | undefined;
  beforeAll(async () => {
    const m = mariadb();
    const r = redisSrv();
    const config = resolveConfig({
      ...overrides,
      tls: { enabled: false, ...(overrides.tls ?? {}) },
      db: { host: m.host, port: m.port, user: m.user, password: m.password, database: m.database, ...(overrides.db ?? {}) },
      redis: { host: r.host, port: r.port, ...(overrides.redis ?? {}) },
      admin: { login: ADMIN.login, password: ADMIN.password, ...(overrides.admin ?? {}) },
      log: { level: (process.env.TEST_LOG ?? 'silent') as 'silent', requests: false, ...(overrides.log ?? {}) },
    });
    const db = createDb({ ...config.db, pool: { max: 5 } });
    await migrate.latest(db);
    await ensureAdmin(db, config);
    const redis = new Redis({ host: r.host, port: r.port, lazyConnect: true });
    const app = buildApp(config, { ...buildOpts, db, redis });
    await app.ready();
    h = { app, db, redis, config };
  }, 120_000);
  afterAll(async () => {
    await h?.app.close();
    await h?.db.destroy();
    h?.redis.disconnect();
  });
  return () => {
    if (!h) throw new Error('harness not ready');
    return h;
  };
}

export interface Call {
  auth?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  query?: Record<string, string | number | boolean>;
  patch?: boolean;
}

export type Res = LightMyRequestResponse & { data: any };

/** inject() with admin auth by default; `data` is the parsed JSON body (or undefined). */
export async function call(app: FastifyInstance, method: string, url: string, opts: Call = {}): Promise<Res> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const auth = opts.auth === undefined ? ADMIN_AUTH : opts.auth;
  if (auth) headers.authorization = auth;
  if (opts.body !== undefined && !headers['content-type']) headers['content-type'] = opts.patch ? 'application/json-patch+json' : 'application/json';
  const res = (await app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(opts.query ? { query: Object.fromEntries(Object.entries(opts.query).map(([k, v]) => [k, String(v)])) } : {}),
    ...(opts.body !== undefined ? { payload: typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body) } : {}),
  })) as Res;
  try {
    res.data = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    res.data = undefined;
  }
  return res;
}

/** Create an API user directly (fast scrypt is not used: the real one, like production). */
export async function createApiUser(db: Db, login: string, password: string, role: 'admin' | 'reseller' | 'subscriber', extra: { reseller_id?: number; subscriber_id?: number } = {}): Promise<number> {
  const [id] = (await db('api_users').insert({ login, password_hash: await hashPassword(password), role, ...extra })) as [number];
  return id;
}

/** Every field name that may never appear in a response. */
export const SECRET_FIELDS = ['password', 'webpassword', 'password_hash', 'webpassword_hash', 'ha1_md5', 'ha1_sha256', 'token_hash', 'pin', 'pin_hash'];

export function expectNoSecrets(body: string, secrets: string[] = []): void {
  for (const f of SECRET_FIELDS) if (body.includes(`"${f}"`)) throw new Error(`response contains field ${f}: ${body}`);
  for (const s of secrets) if (body.includes(s)) throw new Error(`response contains a secret value`);
}

/** Who the scope tests need: a domain, alice (web password, customer of a new reseller), bob (no customer), and the reseller's API user. */
export interface ScopeFixture { domain: string; alice: { id: number }; bob: { id: number }; aliceAuth: string; customerId: number; resellerAuth: string }

export async function scopeFixture(h: Harness, prefix = 'c'): Promise<ScopeFixture> {
  const domain = `${uniq(prefix)}.example`;
  await call(h.app, 'POST', '/api/domains', { body: { domain } });
  const r = await call(h.app, 'POST', '/api/resellers', { body: { name: uniq('res') } });
  const customerId = (await call(h.app, 'POST', '/api/customers', { body: { name: 'A', reseller_id: r.data.id } })).data.id as number;
  const alice = (await call(h.app, 'POST', '/api/subscribers', { body: { domain, username: 'alice', password: 'secret1', webpassword: 'alice-web-pw', customer_id: customerId } })).data;
  const bob = (await call(h.app, 'POST', '/api/subscribers', { body: { domain, username: 'bob', password: 'secret1' } })).data;
  const login = uniq('rs');
  await createApiUser(h.db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
  return { domain, alice, bob, aliceAuth: basic(`alice@${domain}`, 'alice-web-pw'), customerId, resellerAuth: basic(login, 'reseller-pw') };
}
