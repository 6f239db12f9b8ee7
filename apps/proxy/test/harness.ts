/**
 * One private MariaDB + Redis per test file (testkit), migrated; the API app in-process to
 * provision domains and subscribers and to read /api/registrations and /api/calls; the proxy
 * service on a free loopback port with a fake mediactl (the MediaControl interface).
 */
import { useMariaDb, useRedis } from '@ngcp/testkit/vitest';
import { Redis } from 'ioredis';
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, expect } from 'vitest';
import { buildApp, ensureAdmin, resolveConfig } from '@ngcp/api';
import { createDb, migrate, type Db } from '@ngcp/db';
import { createProxyService, type ProxyService } from '../src/service.js';
import { proxyConfigDefaults, type ProxyConfig } from '../src/config.js';
import type { MediaControl } from '../src/media/media-control.js';
import { RPC_ERRORS, RpcError } from '@ngcp/rpc';
import { PeerUa, Ua } from './ua.js';

/** The context a control method gets from the RpcServer. */
export const RPC_CTX = { logger: pino({ level: 'silent' }) };

export const ADMIN = { login: 'admin', password: 'admin-secret-1' };
const AUTH = `Basic ${Buffer.from(`${ADMIN.login}:${ADMIN.password}`).toString('base64')}`;

/** A fake mediactl: rewrites the c= line to 203.0.113.1 and records every call. */
export class FakeMedia implements MediaControl {
  calls: Array<{ method: string; params: Record<string, unknown> }> = [];
  unavailable = false;
  private rewrite(sdp: string): string {
    return sdp.replace(/c=IN IP4 [0-9.]+/g, 'c=IN IP4 203.0.113.1');
  }
  private check(): void {
    if (this.unavailable) throw new RpcError(RPC_ERRORS.UNAVAILABLE, 'no rtpengine available');
  }
  async offer(p: { call_id: string; from_tag: string; sdp: string }) {
    this.calls.push({ method: 'offer', params: p });
    this.check();
    return { sdp: this.rewrite(p.sdp), instance: 'rtp1' };
  }
  async answer(p: { call_id: string; from_tag: string; to_tag: string; sdp: string }) {
    this.calls.push({ method: 'answer', params: p });
    this.check();
    return { sdp: this.rewrite(p.sdp), instance: 'rtp1' };
  }
  async delete(p: { call_id: string }) {
    this.calls.push({ method: 'delete', params: p });
    return { deleted: true };
  }
  of(callId: string): string[] {
    return this.calls.filter((c) => c.params.call_id === callId).map((c) => c.method);
  }
}

export interface Harness {
  app: ReturnType<typeof buildApp>;
  db: Db;
  redis: Redis;
  proxy: ProxyService;
  media: FakeMedia;
  metrics: Registry;
  config: ProxyConfig;
  /** stop the running proxy and start a new instance on the same port (a restart) */
  restartProxy(): Promise<void>;
  api(method: string, url: string, body?: unknown): Promise<{ status: number; data: any }>;
}

let seq = 0;
export const uniq = (p = 'x'): string => `${p}${process.pid}x${++seq}`;

export function useHarness(overrides: Partial<ProxyConfig> | (() => Promise<Partial<ProxyConfig>>) = {}): () => Harness {
  const mariadb = useMariaDb();
  const redisSrv = useRedis();
  let h: Harness | undefined;
  beforeAll(async () => {
    const m = mariadb();
    const r = redisSrv();
    const over = typeof overrides === 'function' ? await overrides() : overrides;
    const dbCfg = { host: m.host, port: m.port, user: m.user, password: m.password, database: m.database };
    const apiConfig = resolveConfig({
      tls: { enabled: false }, db: dbCfg, redis: { host: r.host, port: r.port },
      admin: { login: ADMIN.login, password: ADMIN.password }, log: { level: 'silent', requests: false },
    } as never);
    const db = createDb({ ...dbCfg, pool: { max: 5 } });
    await migrate.latest(db);
    await ensureAdmin(db, apiConfig);
    const redis = new Redis({ host: r.host, port: r.port, lazyConnect: true });
    const app = buildApp(apiConfig, { db, redis });
    await app.ready();
    const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
    const media = new FakeMedia();
    const config: ProxyConfig = {
      node: 'sp1', listen: { address: '127.0.0.1', udp_port: 0 }, control: { address: '127.0.0.1', port: 0 }, workers: 1,
      registrar: { min_expires: 60, max_expires: 3600, default_expires: 600, max_contacts: 5, flow_timer: 15, auth: true },
      auth: { nonce_secret: 'test-nonce-secret', nonce_ttl_s: 300, algorithms: ['MD5', 'SHA-256'] }, media: true, mediactl: { url: 'http://127.0.0.1:1/', timeout_ms: 500 },
      calls: { ttl_s: 600, auth: true }, userban: { ...proxyConfigDefaults.userban, exempt: [] }, lb: '', db: { ...dbCfg, pool_max: 5 }, redis: { host: r.host, port: r.port, db: 0 }, log: { level: 'silent' },
      ...over,
    };
    let metrics = new Registry();
    let proxy = createProxyService({ config, logger, metrics, media, db });
    await proxy.start();
    h = {
      app, db, redis, proxy, media, metrics, config,
      async restartProxy() {
        const port = h!.proxy.address().port;
        await h!.proxy.stop();
        metrics = new Registry();
        proxy = createProxyService({ config: { ...config, listen: { ...config.listen, udp_port: port } }, logger, metrics, media, db });
        await proxy.start();
        h!.proxy = proxy;
        h!.metrics = metrics;
      },
      async api(method, url, body) {
        const res = await app.inject({
          method: method as 'GET', url, headers: { authorization: AUTH, ...(body !== undefined ? { 'content-type': method === 'PATCH' ? 'application/json-patch+json' : 'application/json' } : {}) },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
        return { status: res.statusCode, data: res.body ? JSON.parse(res.body) : undefined };
      },
    };
  }, 120_000);
  afterAll(async () => {
    // the file is done: no transaction left to finish (a graceful drain would wait out Timer J, 5 s)
    await h?.proxy.stop({ drainMs: 0 });
    await h?.app.close();
    await h?.db.destroy();
    h?.redis.disconnect();
  });
  return () => {
    if (!h) throw new Error('harness not ready');
    return h;
  };
}

/** A domain with subscribers provisioned through the API. */
export async function provision(h: Harness, users: Array<{ username: string; password: string; number?: string }>): Promise<string> {
  const domain = `${uniq('d')}.example`;
  const d = await h.api('POST', '/api/domains', { domain });
  if (d.status !== 201) throw new Error(`domain: ${d.status} ${JSON.stringify(d.data)}`);
  for (const u of users) {
    const s = await h.api('POST', '/api/subscribers', { domain, username: u.username, password: u.password, ...(u.number ? { primary_number: u.number } : {}) });
    if (s.status !== 201) throw new Error(`subscriber: ${s.status} ${JSON.stringify(s.data)}`);
  }
  return domain;
}

let numberSeq = 0;
/**
 * A primary number no other test process takes: 43, three digits from the pid, a sequence. Its
 * national significant part never starts with 0, as in a real numbering plan: a national rule
 * like `^0([1-9][0-9]+)$` must match its national form `0…` (a pid ending in 000–099 once made
 * "00…", which that rule refuses — a 1-in-10 failure of features.test "rewrite rules").
 */
export const testNumber = (): string => `43${100 + (process.pid % 900)}${String(++numberSeq).padStart(4, '0')}`;

export interface Party { ua: Ua; id: number; number: string; user: string }

/**
 * Subscribers `names` of a new domain (password `<name>-password-1`, a primary number each),
 * provisioned through the API, each with a started UA (pushed to `started`: stop them after the
 * test) registered — but for those in `unregistered`.
 */
export async function subscriberParties(h: Harness, names: string[], o: { started: Ua[]; unregistered?: string[] }): Promise<{ domain: string; p: Record<string, Party> }> {
  const users = names.map((n) => ({ username: n, password: `${n}-password-1`, number: testNumber() }));
  const domain = await provision(h, users);
  const p: Record<string, Party> = {};
  for (const u of users) {
    const list = await h.api('GET', `/api/subscribers?domain=${domain}&username=${u.username}`);
    const sub = list.data.items.find((s: { username: string }) => s.username === u.username);
    const ua = await new Ua(u.username, domain, u.password, h.proxy.address()).start();
    o.started.push(ua);
    if (!o.unregistered?.includes(u.username)) expect((await ua.register()).final.status).toBe(200);
    p[u.username] = { ua, id: sub.id, number: u.number, user: u.username };
  }
  return { domain, p };
}

/** Poll `fn` until it returns a truthy value (readiness under load, not timing). */
export async function until<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A peering server: a started PeerUa on `host` (calls from it go to the proxy), in a group of
 * its own with a rule for `prefix` (null: no rule), once the proxy loaded it. Stop the UA after.
 */
export async function peeringServer(h: Harness, host: string, prefix: string | null): Promise<{ peer: PeerUa; serverId: number }> {
  const peer = await new PeerUa(host, h.proxy.address()).start();
  const g = await h.api('POST', '/api/peeringgroups', { name: uniq('g'), priority: 1 });
  if (prefix !== null) await h.api('POST', '/api/peeringrules', { group_id: g.data.id, callee_prefix: prefix });
  const srv = await h.api('POST', '/api/peeringservers', { group_id: g.data.id, name: uniq('s'), host: peer.host, port: peer.port });
  if (srv.status !== 201) throw new Error(`peering server: ${srv.status} ${JSON.stringify(srv.data)}`);
  await until(async () => ((await h.proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number }> }).servers.some((x) => x.id === srv.data.id), 'peering table reloaded');
  return { peer, serverId: srv.data.id as number };
}
