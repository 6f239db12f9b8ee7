/** Auth, roles, errors, validation, paging, OpenAPI, notifications, journal, brute force, API bans, logs. */
import { Writable } from 'node:stream';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CHANGES_CHANNEL } from '@ngcp/db';
import { ERRORS } from '../src/errors.js';
import { RESOURCES } from '../src/resources/index.js';
import { ADMIN, ADMIN_AUTH, basic, call, createApiUser, uniq, useApi } from './helpers.js';

const logLines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, cb) {
    logLines.push(String(chunk));
    cb();
  },
});
const h = useApi(
  { log: { level: 'info', requests: true }, bruteforce: { slow_after: 2, delay_ms: 20, max_delay_ms: 50, ban_after: 4, ban_s: 60, window_s: 60 } },
  { logger: pino({ level: 'info', redact: { paths: ['req.headers.authorization', '*.password'], censor: '[redacted]' } }, sink) },
);
const app = () => h().app;
let ipSeq = 10;
const freshIp = () => `192.0.2.${ipSeq++}`;

describe('authentication', () => {
  it('401 without credentials, with a challenge and the one error shape', async () => {
    const res = await call(app(), 'GET', '/api/domains', { auth: null });
    expect(res.statusCode).toBe(401);
    expect(res.headers['www-authenticate']).toMatch(/^Basic realm="ngcp", Bearer/);
    expect(res.data).toEqual({ statusCode: 401, code: 'NGCP_API_UNAUTHORIZED', error: 'Unauthorized', message: ERRORS.NGCP_API_UNAUTHORIZED.message });
  });

  it('401 for a wrong password, an unknown user, garbage and unknown schemes', async () => {
    for (const auth of [basic(ADMIN.login, 'wrong'), basic('nobody', 'x'), 'Basic !!!', 'Digest foo', 'Bearer short']) {
      const res = await app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: auth }, remoteAddress: freshIp() });
      expect(res.statusCode, auth).toBe(401);
      expect(JSON.parse(res.body).code).toMatch(/^NGCP_API_(BAD_CREDENTIALS|UNAUTHORIZED)$/);
    }
  });

  it('bearer tokens: created once, usable, listed without the secret, revocable, expiring', async () => {
    const created = await call(app(), 'POST', '/api/tokens', { body: { name: 'oss' } });
    expect(created.statusCode).toBe(201);
    const token = created.data.token as string;
    expect(token).toMatch(/^[\w-]{43}$/);
    const bearer = `Bearer ${token}`;
    expect((await call(app(), 'GET', '/api/domains', { auth: bearer })).statusCode).toBe(200);
    const list = await call(app(), 'GET', '/api/tokens');
    expect(list.body).not.toContain(token);
    expect(list.data.items.some((t: { id: number }) => t.id === created.data.id)).toBe(true);
    const stored = await h().db('api_tokens').where('id', created.data.id).first();
    expect(JSON.stringify(stored)).not.toContain(token);
    const journal = await call(app(), 'GET', '/api/journal', { query: { entity: 'api_token', entity_id: String(created.data.id) } });
    expect(journal.body).not.toContain(token);
    expect((await call(app(), 'DELETE', `/api/tokens/${created.data.id}`)).statusCode).toBe(204);
    expect((await app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: bearer }, remoteAddress: freshIp() })).statusCode).toBe(401);
    const short = await call(app(), 'POST', '/api/tokens', { body: { expires_in: 60 } });
    await h().db('api_tokens').where('id', short.data.id).update({ expires_at: new Date(Date.now() - 1000) });
    expect((await app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: `Bearer ${short.data.token}` }, remoteAddress: freshIp() })).statusCode).toBe(401);
  });

  it('inactive API users cannot log in; an admin manages API users (password write-only)', async () => {
    const login = uniq('op');
    const created = await call(app(), 'POST', '/api/apiusers', { body: { login, password: 'operator-pw', role: 'admin' } });
    expect(created.statusCode).toBe(201);
    expect(created.body).not.toContain('operator-pw');
    expect(created.data).toMatchObject({ login, role: 'admin', is_active: true, reseller_id: null });
    const auth = basic(login, 'operator-pw');
    expect((await call(app(), 'GET', '/api/domains', { auth })).statusCode).toBe(200);
    const off = await call(app(), 'PATCH', `/api/apiusers/${created.data.id}`, { patch: true, body: [{ op: 'replace', path: '/is_active', value: false }] });
    expect(off.statusCode).toBe(200);
    expect((await app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: auth }, remoteAddress: freshIp() })).statusCode).toBe(401);
    const bad = await call(app(), 'POST', '/api/apiusers', { body: { login: uniq('r'), password: 'reseller-pw', role: 'reseller' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields[0].field).toBe('reseller_id');
    const self = (await h().db('api_users').where('login', ADMIN.login).first()).id;
    expect((await call(app(), 'DELETE', `/api/apiusers/${self}`)).statusCode).toBe(403);
    expect((await call(app(), 'GET', '/api/apiusers')).body).not.toMatch(/password/);
  });
});

describe('api users and tokens', () => {
  it('apiusers: GET, PUT keeps the password and changes the role at once, 422 names each field, DELETE then 404', async () => {
    const login = uniq('au');
    const c = await call(app(), 'POST', '/api/apiusers', { body: { login, password: 'apiuser-pw-1', role: 'admin' } });
    expect(c.statusCode).toBe(201);
    const url = c.headers.location as string;
    expect(url).toBe(`/api/apiusers/${c.data.id}`);
    expect((await call(app(), 'GET', url)).data).toEqual(c.data);
    const auth = basic(login, 'apiuser-pw-1');
    expect((await call(app(), 'GET', '/api/resellers', { auth })).statusCode).toBe(200);
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const put = await call(app(), 'PUT', url, { body: { login, role: 'reseller', reseller_id: r.data.id } });
    expect(put.statusCode).toBe(200);
    expect(put.data).toMatchObject({ login, role: 'reseller', reseller_id: r.data.id, subscriber_id: null, is_active: true });
    expect(put.body).not.toMatch(/password/);
    expect((await call(app(), 'GET', '/api/resellers', { auth })).statusCode).toBe(403); // same password, new role
    const bad = await call(app(), 'PUT', url, { body: { login: 'has space', role: 'root', password: 'short' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['login', 'password', 'role']);
    expect((await call(app(), 'PUT', url, { body: { login, role: 'subscriber' } })).data.fields).toEqual([{ field: 'subscriber_id', message: 'is required for role subscriber' }]);
    expect((await call(app(), 'PUT', url, { body: { login, role: 'reseller', reseller_id: 999999 } })).data.fields).toEqual([{ field: 'reseller_id', message: 'does not exist' }]);
    expect((await call(app(), 'GET', url)).data).toEqual(put.data);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
    expect((await call(app(), 'GET', url)).statusCode).toBe(404);
    expect((await app().inject({ method: 'GET', url: '/api/customers', headers: { authorization: auth }, remoteAddress: freshIp() })).statusCode).toBe(401);
  });

  it("tokens: GET one's own, another API user's are invisible, 422 names expires_in, DELETE then 404", async () => {
    const created = await call(app(), 'POST', '/api/tokens', { body: { name: 'mine', expires_in: null } });
    expect(created.statusCode).toBe(201);
    const url = created.headers.location as string;
    expect(url).toBe(`/api/tokens/${created.data.id}`);
    const { token: _secret, ...visible } = created.data;
    expect(visible.expires_at).toBeNull();
    expect((await call(app(), 'GET', url)).data).toEqual(visible);
    const login = uniq('other');
    await createApiUser(h().db, login, 'other-admin-pw', 'admin');
    const other = basic(login, 'other-admin-pw');
    expect((await call(app(), 'GET', url, { auth: other })).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', url, { auth: other })).statusCode).toBe(404);
    expect((await call(app(), 'GET', '/api/tokens', { auth: other })).data.items).toEqual([]);
    const bad = await call(app(), 'POST', '/api/tokens', { body: { expires_in: 10, colour: 'red' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['colour', 'expires_in']);
    expect((await call(app(), 'GET', url)).statusCode).toBe(200);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
    expect((await call(app(), 'GET', url)).statusCode).toBe(404);
  });
});

describe('roles', () => {
  it('403 for a role that may not do something, with the stable code', async () => {
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('rs');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    const auth = basic(login, 'reseller-pw');
    for (const [method, url, body] of [
      ['GET', '/api/journal'], ['GET', '/api/peeringgroups'], ['POST', '/api/peeringgroups', { name: 'x' }], ['GET', '/api/apiusers'],
      ['GET', '/api/bannedips'], ['GET', '/api/apibans'], ['POST', '/api/preferencedefs', { attribute: 'x', data_type: 'int', levels: ['domain'] }], ['GET', '/api/metrics'],
    ] as [string, string, unknown?][]) {
      const res = await call(app(), method, url, { auth, ...(body ? { body } : {}) });
      expect(res.statusCode, `${method} ${url}`).toBe(403);
      expect(res.data.code).toBe('NGCP_API_FORBIDDEN');
    }
    expect((await call(app(), 'GET', '/api/preferencedefs', { auth })).statusCode).toBe(200);
  });
});

/**
 * The role table of the README, for every resource: who may list, get, create, update
 * (PUT and PATCH) and delete — A(dmin), R(eseller), S(ubscriber); null = not offered (405).
 */
type Who = 'A' | 'AR' | 'ARS' | null;
const ROLE_TABLE: Record<string, [list: Who, get: Who, create: Who, update: Who, remove: Who]> = {
  domains: ['AR', 'AR', 'A', 'A', 'A'],
  customers: ['AR', 'AR', 'AR', 'AR', 'AR'],
  subscribers: ['ARS', 'ARS', 'AR', 'ARS', 'AR'],
  numbers: ['ARS', 'ARS', 'AR', 'AR', 'AR'],
  billingprofiles: ['AR', 'AR', 'A', 'A', 'A'],
  billingfees: ['AR', 'AR', 'A', 'A', 'A'],
  customerbalances: ['AR', 'AR', null, 'AR', null],
  subscriberpreferences: ['ARS', 'ARS', null, 'AR', null],
  domainpreferences: ['AR', 'AR', null, 'A', null],
  customerpreferences: ['AR', 'AR', null, 'AR', null],
  peeringserverpreferences: ['A', 'A', null, 'A', null],
  preferencedefs: ['ARS', 'ARS', 'A', 'A', 'A'],
  callforwards: ['ARS', 'ARS', null, 'ARS', 'ARS'],
  rewriterulesets: ['AR', 'AR', 'A', 'A', 'A'],
  rewriterules: ['AR', 'AR', 'A', 'A', 'A'],
  ncoslevels: ['AR', 'AR', 'A', 'A', 'A'],
  peeringgroups: ['A', 'A', 'A', 'A', 'A'],
  peeringservers: ['A', 'A', 'A', 'A', 'A'],
  peeringrules: ['A', 'A', 'A', 'A', 'A'],
  cdrs: ['ARS', 'ARS', null, null, null],
  voicemails: ['ARS', 'ARS', null, 'ARS', 'ARS'],
  voicemailsettings: ['ARS', 'ARS', null, 'ARS', null],
  journal: ['A', 'A', null, null, null],
  registrations: ['ARS', 'ARS', null, null, null],
  calls: ['ARS', 'ARS', null, null, 'AR'],
  bannedips: ['A', 'A', null, null, 'A'],
  bannedusers: ['A', 'A', null, null, 'A'],
  apibans: ['A', 'A', null, null, 'A'],
  resellers: ['A', 'A', 'A', 'A', 'A'],
  apiusers: ['A', 'A', 'A', 'A', 'A'],
  tokens: ['ARS', 'ARS', 'ARS', null, 'ARS'], // API users only: a subscriber's web login has none (403)
};
const STRING_IDS = new Set(['registrations', 'calls', 'bannedips', 'bannedusers', 'apibans']);
const unknownId = (r: string) => (STRING_IDS.has(r) ? encodeURIComponent('nobody@nowhere.invalid') : '4000000000');
const PROBE_PATCH = [{ op: 'test', path: '/id', value: 0 }];
let numberSeq = 0;

/** The requests of one operation on a resource (update = PUT and PATCH). */
function requestsOf(r: string, op: number): { method: string; url: string; body?: unknown; patch?: boolean }[] {
  const item = `/api/${r}/${unknownId(r)}`;
  switch (op) {
    case 0: return [{ method: 'GET', url: `/api/${r}` }];
    case 1: return [{ method: 'GET', url: item }];
    case 2: return [{ method: 'POST', url: `/api/${r}`, body: {} }];
    case 3: return [{ method: 'PUT', url: item, body: {} }, { method: 'PATCH', url: item, body: PROBE_PATCH, patch: true }];
    default: return [{ method: 'DELETE', url: item }];
  }
}

describe('every resource', () => {
  it('is in the role table (a new resource must be added to it and to the README)', () => {
    expect(Object.keys(ROLE_TABLE).sort()).toEqual(RESOURCES.map((r) => r.name).sort());
  });

  it('401 without credentials on every method of every resource', async () => {
    for (const r of Object.keys(ROLE_TABLE)) {
      for (let op = 0; op < 5; op++) {
        for (const q of requestsOf(r, op)) {
          const res = await call(app(), q.method, q.url, { auth: null, body: q.body, patch: q.patch });
          expect(res.statusCode, `${q.method} ${q.url}`).toBe(401);
          expect(res.data.code).toBe('NGCP_API_UNAUTHORIZED');
        }
      }
    }
    expect((await call(app(), 'GET', '/api/voicemails/1/recording', { auth: null })).statusCode).toBe(401);
    expect((await call(app(), 'GET', '/api/metrics', { auth: null })).statusCode).toBe(401);
  });

  it('405 with Allow for every operation a resource does not offer', async () => {
    for (const [r, ops] of Object.entries(ROLE_TABLE)) {
      const collection = [ops[0] && 'GET', ops[2] && 'POST'].filter(Boolean).join(', ');
      const item = [ops[1] && 'GET', ops[3] && 'PUT', ops[3] && 'PATCH', ops[4] && 'DELETE'].filter(Boolean).join(', ');
      const missing = [
        ...[2].filter((op) => !ops[op]).flatMap((op) => requestsOf(r, op)),
        ...[3, 4].filter((op) => !ops[op]).flatMap((op) => requestsOf(r, op)),
        // no resource replaces or deletes its whole collection
        { method: 'PUT', url: `/api/${r}`, body: {} }, { method: 'PATCH', url: `/api/${r}`, body: PROBE_PATCH, patch: true }, { method: 'DELETE', url: `/api/${r}` },
      ];
      for (const q of missing) {
        const res = await call(app(), q.method, q.url, { body: q.body, patch: q.patch });
        expect(res.statusCode, `${q.method} ${q.url}`).toBe(405);
        expect(res.data.code).toBe('NGCP_API_METHOD_NOT_ALLOWED');
        expect(res.headers.allow, `${q.method} ${q.url}`).toBe(q.url === `/api/${r}` ? collection : item);
      }
    }
  });

  it('403 for every operation a reseller or a subscriber may not do, whatever the body', async () => {
    const res = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('rs');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: res.data.id });
    const d = await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('t')}.example` } });
    await call(app(), 'POST', '/api/subscribers', { body: { domain: d.data.domain, username: 'tab', password: 'secret1', webpassword: 'tab-web-pw' } });
    const auths = { R: basic(login, 'reseller-pw'), S: basic(`tab@${d.data.domain}`, 'tab-web-pw') };
    let checked = 0;
    for (const [r, ops] of Object.entries(ROLE_TABLE)) {
      for (let op = 0; op < 5; op++) {
        for (const role of ['R', 'S'] as const) {
          const who = ops[op] ?? null;
          const forbidden = who !== null && (!who.includes(role) || (r === 'tokens' && role === 'S'));
          if (!forbidden) continue;
          for (const q of requestsOf(r, op)) {
            const out = await call(app(), q.method, q.url, { auth: auths[role], body: q.body, patch: q.patch });
            expect(out.statusCode, `${role} ${q.method} ${q.url}`).toBe(403);
            expect(out.data.code).toBe('NGCP_API_FORBIDDEN');
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(90);
    expect((await call(app(), 'GET', '/api/metrics', { auth: auths.S })).statusCode).toBe(403);
  });

  it('404 for an unknown id on every item operation offered', async () => {
    for (const [r, ops] of Object.entries(ROLE_TABLE)) {
      const requests = [1, 3, 4].filter((op) => ops[op]).flatMap((op) => requestsOf(r, op)).filter((q) => q.method !== 'PUT');
      for (const q of requests) {
        const res = await call(app(), q.method, q.url, { body: q.body, patch: q.patch });
        expect(res.statusCode, `${q.method} ${q.url}`).toBe(404);
        expect(res.data.code).toBe('NGCP_API_NOT_FOUND');
      }
    }
  });

  const unique: { url: string; field: string; make: () => Promise<Record<string, unknown>> }[] = [
    { url: '/api/domains', field: 'domain', make: async () => ({ domain: `${uniq('u')}.example` }) },
    { url: '/api/resellers', field: 'name', make: async () => ({ name: uniq('rsl') }) },
    { url: '/api/customers', field: 'external_id', make: async () => ({ name: 'c', external_id: uniq('ext') }) },
    { url: '/api/numbers', field: 'e164', make: async () => ({ e164: `49${String(process.pid).slice(-4)}${String(++numberSeq).padStart(6, '0')}` }) },
    { url: '/api/apiusers', field: 'login', make: async () => ({ login: uniq('au'), password: 'apiuser-pw', role: 'admin' }) },
    { url: '/api/preferencedefs', field: 'attribute', make: async () => ({ attribute: uniq('pd').toLowerCase(), data_type: 'int', levels: ['domain'] }) },
    { url: '/api/rewriterulesets', field: 'name', make: async () => ({ name: uniq('set') }) },
    { url: '/api/billingprofiles', field: 'name', make: async () => ({ name: uniq('bp') }) },
    { url: '/api/ncoslevels', field: 'level', make: async () => ({ level: uniq('lvl') }) },
    { url: '/api/peeringgroups', field: 'name', make: async () => ({ name: uniq('grp') }) },
    {
      url: '/api/peeringservers', field: 'host',
      make: async () => ({ group_id: (await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('grp') } })).data.id, name: 'gw', host: '203.0.113.9' }),
    },
    {
      url: '/api/subscribers', field: 'username',
      make: async () => ({ domain: (await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('u')}.example` } })).data.domain, username: 'dup', password: 'secret1' }),
    },
  ];
  for (const u of unique) {
    it(`409 naming ${u.field} on POST and PUT of ${u.url}`, async () => {
      const b1 = await u.make();
      expect((await call(app(), 'POST', u.url, { body: b1 })).statusCode).toBe(201);
      const dup = await call(app(), 'POST', u.url, { body: b1 });
      expect(dup.statusCode, dup.body).toBe(409);
      expect(dup.data).toMatchObject({ code: 'NGCP_API_CONFLICT', fields: [{ field: u.field }] });
      const second = await call(app(), 'POST', u.url, { body: await u.make() });
      expect(second.statusCode).toBe(201);
      const put = await call(app(), 'PUT', second.headers.location as string, { body: b1 });
      expect(put.statusCode, put.body).toBe(409);
      expect(put.data.fields).toEqual([{ field: u.field, message: 'already exists' }]);
      expect((await call(app(), 'GET', second.headers.location as string)).data).toEqual(second.data); // unchanged
    });
  }
});

describe('errors', () => {
  it('404 for an unknown route and id, 405 with Allow, 400 for broken JSON, 415, 413', async () => {
    const route = await call(app(), 'GET', '/api/nothing');
    expect(route.statusCode).toBe(404);
    expect(route.data.code).toBe('NGCP_API_ROUTE_NOT_FOUND');
    expect((await call(app(), 'GET', '/api/domains/999999')).data.code).toBe('NGCP_API_NOT_FOUND');
    expect((await call(app(), 'GET', '/api/domains/abc')).statusCode).toBe(404);
    const m = await call(app(), 'POST', '/api/cdrs', { body: {} });
    expect(m.statusCode).toBe(405);
    expect(m.headers.allow).toBe('GET');
    expect(m.data.code).toBe('NGCP_API_METHOD_NOT_ALLOWED');
    expect((await call(app(), 'DELETE', '/api/journal/1')).headers.allow).toBe('GET');
    const broken = await call(app(), 'POST', '/api/domains', { body: '{"domain":' });
    expect(broken.statusCode).toBe(400);
    expect(broken.data.code).toBe('NGCP_API_BAD_REQUEST');
    const xml = await call(app(), 'POST', '/api/domains', { body: '<domain/>', headers: { 'content-type': 'application/xml' } });
    expect(xml.statusCode).toBe(415);
    const big = await call(app(), 'POST', '/api/domains', { body: { domain: 'x'.repeat(300_000) } });
    expect(big.statusCode).toBe(413);
    for (const r of [route, m, broken, xml, big]) expect(Object.keys(r.data).sort()).toEqual(['code', 'error', 'message', 'statusCode']);
  });
});

describe('415 says what the body must be', () => {
  it('POST/PUT take application/json; a form (curl -d), text or no Content-Type get a 415 naming it', async () => {
    for (const [type, got] of [['application/x-www-form-urlencoded', 'Content-Type application/x-www-form-urlencoded'], ['text/plain', 'Content-Type text/plain']] as const) {
      const res = await call(app(), 'POST', '/api/domains', { body: '{"domain":"x.example"}', headers: { 'content-type': type } });
      expect(res.statusCode).toBe(415);
      expect(res.data).toEqual({
        statusCode: 415,
        code: 'NGCP_API_UNSUPPORTED_MEDIA_TYPE',
        error: 'Unsupported Media Type',
        message: `POST takes a body of Content-Type application/json; the request had ${got}`,
      });
    }
    const bare = await app().inject({ method: 'POST', url: '/api/domains', headers: { authorization: ADMIN_AUTH }, payload: '{"domain":"x.example"}' });
    expect(bare.statusCode).toBe(415);
    expect(JSON.parse(bare.body).message).toBe('POST takes a body of Content-Type application/json; the request had no Content-Type');
  });

  it('PATCH takes application/json-patch+json: a plain JSON or text body gets a 415 naming it, with Accept-Patch', async () => {
    const created = await call(app(), 'POST', '/api/apiusers', { body: { login: uniq('mt'), password: 'secret-secret', role: 'admin' } });
    expect(created.statusCode, created.body).toBe(201);
    const url = `/api/apiusers/${created.data.id}`;
    for (const type of ['application/json', 'text/plain']) {
      const res = await call(app(), 'PATCH', url, { body: '[{"op":"replace","path":"/is_active","value":false}]', headers: { 'content-type': type } });
      expect(res.statusCode, type).toBe(415);
      expect(res.headers['accept-patch']).toBe('application/json-patch+json');
      expect(res.data.message).toBe(`PATCH takes a body of Content-Type application/json-patch+json (a JSON Patch, RFC 6902); the request had Content-Type ${type}`);
    }
    expect((await call(app(), 'GET', url)).data.is_active).toBe(true);
  });
});

describe('OpenAPI', () => {
  it('/api/docs is public, valid OpenAPI 3.1, and documents every resource with its schemas', async () => {
    const res = await call(app(), 'GET', '/api/docs', { auth: null });
    expect(res.statusCode).toBe(200);
    const doc = res.data;
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc));
    for (const r of RESOURCES) {
      expect(doc.paths[`/api/${r.name}`], r.name).toBeDefined();
      expect(doc.paths[`/api/${r.name}/{id}`].get, r.name).toBeDefined();
      expect(doc.components.schemas[r.schemaId], r.schemaId).toBeDefined();
    }
    const post = doc.paths['/api/subscribers'].post;
    expect(post.requestBody.content['application/json'].schema.required).toEqual(['domain', 'username', 'password']);
    expect(post.responses['201']).toBeDefined();
    expect(post.responses['422']).toBeDefined();
    expect(doc.paths['/api/subscribers/{id}'].patch.requestBody.content['application/json-patch+json']).toBeDefined();
    expect(JSON.stringify(doc.components.schemas.Subscriber)).not.toMatch(/password|ha1/);
    expect(Object.keys(doc.components.schemas.VoicemailSettings.properties)).not.toContain('pin');
    const vmPut = doc.paths['/api/voicemailsettings/{id}'].put.requestBody.content['application/json'].schema;
    expect(JSON.stringify(vmPut.properties.pin)).toMatch(/"writeOnly":true/);
    expect(doc.paths['/api/apibans/{id}'].delete).toBeDefined();
    expect(doc.components.securitySchemes).toMatchObject({ basicAuth: { scheme: 'basic' }, bearerAuth: { scheme: 'bearer' } });
  });
});

describe('change notifications and journal', () => {
  it('every committed change of routing data is published on ngcp:changes and journaled', async () => {
    const sub = new Redis(h().redis.options.port!, h().redis.options.host!);
    const got: unknown[] = [];
    await sub.subscribe(CHANGES_CHANNEL);
    sub.on('message', (_ch, msg) => got.push(JSON.parse(msg)));
    const d = await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('n')}.example` } });
    await call(app(), 'PATCH', `/api/domains/${d.data.id}`, { patch: true, body: [{ op: 'add', path: '/description', value: 'x' }] });
    await call(app(), 'DELETE', `/api/domains/${d.data.id}`);
    await call(app(), 'POST', '/api/domains', { body: { domain: 'invalid domain' } }); // refused: no notification
    await new Promise((r) => setTimeout(r, 100));
    await sub.quit();
    const mine = got.filter((n) => (n as { id: number }).id === d.data.id && (n as { entity: string }).entity === 'domain');
    expect(mine.map((n) => (n as { op: string }).op)).toEqual(['create', 'update', 'delete']);
    expect(mine[0]).toMatchObject({ entity: 'domain', id: d.data.id, op: 'create', ts: expect.any(Number) });
    const j = await call(app(), 'GET', '/api/journal', { query: { entity: 'domain', entity_id: String(d.data.id) } });
    expect(j.data.items.map((e: { op: string }) => e.op)).toEqual(['create', 'update', 'delete']);
    expect(j.data.items[1]).toMatchObject({ login: ADMIN.login, role: 'admin', content: { description: 'x' } });
    expect(j.data.items[2].content.domain).toBe(d.data.domain);
  });

  it('a Redis outage does not fail the write', async () => {
    const broken = new Redis({ port: 1, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    broken.on('error', () => {});
    const { Notifier } = await import('../src/notifier.js');
    const errors: unknown[] = [];
    const n = new Notifier(broken, (e) => errors.push(e));
    n.publish('domain', 1, 'create');
    await new Promise((r) => setTimeout(r, 100));
    expect(n.stats).toEqual({ published: 0, failed: 1 });
    broken.disconnect();
  });
});

describe('brute force', () => {
  it('never slows or bans an exempt address (default: loopback), but counts its failures', async () => {
    const before = (await call(app(), 'GET', '/api/metrics')).data.bruteforce;
    for (const ip of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
      const hit = (auth: string) => app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: auth }, remoteAddress: ip });
      // ban_after is 4 here: six failures would have banned any other address
      for (let i = 0; i < 6; i++) expect((await hit(basic(ADMIN.login, `wrong${i}`))).statusCode, ip).toBe(401);
      expect((await hit(basic(ADMIN.login, ADMIN.password))).statusCode, ip).toBe(200);
      // and no failure of it is held back (the 401 is not delayed)
      expect(app().services.guard.fail(ip).delayMs, ip).toBe(0);
    }
    const after = (await call(app(), 'GET', '/api/metrics')).data.bruteforce;
    expect(after.failures - before.failures).toBe(28);
    expect(after.bans).toBe(before.bans);
    expect((await call(app(), 'GET', '/api/apibans', { query: { rows: 1000 } })).data.items.map((b: { id: string }) => b.id)).not.toContain('127.0.0.1');
  });

  it('slows down repeated failures, then refuses with 429 + Retry-After, even with good credentials; the ban is stored in Redis', async () => {
    const ip = freshIp();
    const hit = (auth: string) => app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: auth }, remoteAddress: ip });
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = Date.now();
      const r = await hit(basic(ADMIN.login, `wrong${i}`));
      times.push(Date.now() - t);
      expect(r.statusCode).toBe(401);
    }
    expect(times[2]).toBeGreaterThanOrEqual(18); // third failure is held back (slow_after 2, delay 20 ms)
    const banned = await hit(basic(ADMIN.login, 'wrong3'));
    expect(banned.statusCode).toBe(429);
    expect(banned.headers['retry-after']).toBe('60');
    expect(JSON.parse(banned.body).code).toBe('NGCP_API_TOO_MANY_ATTEMPTS');
    const good = await hit(basic(ADMIN.login, ADMIN.password));
    expect(good.statusCode).toBe(429);
    expect(Number(good.headers['retry-after'])).toBeGreaterThan(0);
    expect(await h().redis.ttl(`apiban:${ip}`)).toBeGreaterThan(50);
    // other addresses are unaffected
    expect((await app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: basic(ADMIN.login, ADMIN.password) }, remoteAddress: freshIp() })).statusCode).toBe(200);
    // a restarted API takes the ban over from Redis
    const { BruteForceGuard } = await import('../src/auth/bruteforce.js');
    const g = new BruteForceGuard(h().config.bruteforce, h().redis);
    expect(await g.loadBans()).toBeGreaterThanOrEqual(1);
    expect(g.bannedFor(ip)).toBeGreaterThan(50);
    await g.unban(ip);
    expect(await h().redis.exists(`apiban:${ip}`)).toBe(0);
  });
});

describe('apibans', () => {
  it('lists the addresses the login guard banned, and DELETE lifts a ban at once, in memory and in Redis; admin only', async () => {
    const ip = freshIp();
    const hit = (auth: string) => app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: auth }, remoteAddress: ip });
    for (let i = 0; i < 4; i++) await hit(basic(ADMIN.login, `wrong${i}`)); // ban_after 4
    expect((await hit(basic(ADMIN.login, ADMIN.password))).statusCode).toBe(429);

    const list = await call(app(), 'GET', '/api/apibans', { query: { rows: 1000 } });
    expect(list.statusCode).toBe(200);
    const mine = list.data.items.find((b: { id: string }) => b.id === ip);
    expect(mine).toEqual({ id: ip, reason: 'api login failures', banned_at: expect.any(String), count: 4, expires_in: expect.any(Number), expires_at: expect.any(String) });
    expect(mine.expires_in).toBeGreaterThan(50);
    expect(mine.expires_in).toBeLessThanOrEqual(60);
    expect((await call(app(), 'GET', `/api/apibans/${ip}`)).data).toMatchObject({ id: ip, count: 4 });

    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('rs');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    const reseller = basic(login, 'reseller-pw');
    expect((await call(app(), 'GET', '/api/apibans', { auth: reseller })).statusCode).toBe(403);
    expect((await call(app(), 'GET', `/api/apibans/${ip}`, { auth: reseller })).statusCode).toBe(403);
    expect((await call(app(), 'DELETE', `/api/apibans/${ip}`, { auth: reseller })).statusCode).toBe(403);
    expect((await hit(basic(ADMIN.login, ADMIN.password))).statusCode).toBe(429); // still banned

    expect((await call(app(), 'DELETE', `/api/apibans/${ip}`)).statusCode).toBe(204);
    expect(await h().redis.exists(`apiban:${ip}`)).toBe(0);
    expect((await hit(basic(ADMIN.login, ADMIN.password))).statusCode).toBe(200); // at once
    expect((await call(app(), 'GET', `/api/apibans/${ip}`)).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', `/api/apibans/${ip}`)).statusCode).toBe(404);
    expect((await call(app(), 'POST', '/api/apibans', { body: {} })).statusCode).toBe(405);
    const j = await call(app(), 'GET', '/api/journal', { query: { entity: 'apiban', entity_id: ip } });
    expect(j.data.items).toEqual([expect.objectContaining({ op: 'delete', login: ADMIN.login, content: expect.objectContaining({ id: ip, count: 4 }) })]);
  });

  it('a ban held only in memory (its Redis copy lost) is listed and can be lifted', async () => {
    const ip = freshIp();
    const hit = (auth: string) => app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: auth }, remoteAddress: ip });
    for (let i = 0; i < 4; i++) await hit(basic(ADMIN.login, `wrong${i}`));
    await h().redis.del(`apiban:${ip}`);
    expect((await hit(basic(ADMIN.login, ADMIN.password))).statusCode).toBe(429); // the guard decides from memory
    const one = await call(app(), 'GET', `/api/apibans/${ip}`);
    expect(one.data).toEqual({ id: ip, reason: 'api login failures', banned_at: null, count: null, expires_in: expect.any(Number), expires_at: expect.any(String) });
    expect((await call(app(), 'GET', '/api/apibans', { query: { rows: 1000 } })).data.items.map((b: { id: string }) => b.id)).toContain(ip);
    expect((await call(app(), 'DELETE', `/api/apibans/${ip}`)).statusCode).toBe(204);
    expect((await hit(basic(ADMIN.login, ADMIN.password))).statusCode).toBe(200);
  });
});

describe('logs', () => {
  it('never contain passwords, hashes or the Authorization header', async () => {
    const secret = 'log-test-secret-pw';
    const d = await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('l')}.example` } });
    const sub = await call(app(), 'POST', '/api/subscribers', { body: { domain: d.data.domain, username: 'logme', password: secret, webpassword: `${secret}-web` } });
    expect((await call(app(), 'PUT', `/api/voicemailsettings/${sub.data.id}`, { body: { pin: '80647213' } })).statusCode).toBe(200);
    expect((await call(app(), 'PUT', `/api/voicemailsettings/${sub.data.id}`, { body: { pin: '80647213x' } })).statusCode).toBe(422);
    await app().inject({ method: 'GET', url: '/api/domains', headers: { authorization: basic(ADMIN.login, secret) }, remoteAddress: freshIp() });
    const all = logLines.join('');
    expect(all).toContain('api login failed');
    // the request's log lines carry its id (the child logger is made lazily, on the first line)
    expect(all).toMatch(/"reqId":"[^"]+"[^\n]*"msg":"api login failed"/);
    expect(all).toContain('"statusCode"');
    expect(all).not.toContain(secret);
    expect(all).not.toContain(Buffer.from(`${ADMIN.login}:${secret}`).toString('base64'));
    expect(all).not.toContain(Buffer.from(`${ADMIN.login}:${ADMIN.password}`).toString('base64'));
    expect(all).not.toMatch(/ha1|password_hash|pin_hash/);
    expect(all).not.toContain('80647213');
  });
});

describe('metrics', () => {
  it('counts requests, logins, notifications', async () => {
    const d = await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('m')}.example` } });
    const s = await call(app(), 'POST', '/api/subscribers', { body: { domain: d.data.domain, username: 'metered', password: 'secret1' } });
    expect((await call(app(), 'GET', `/api/subscribers/${s.data.id}`)).statusCode).toBe(200); // through the reader pool
    const m = await call(app(), 'GET', '/api/metrics');
    expect(m.statusCode).toBe(200);
    expect(m.data.requests.total).toBeGreaterThan(10);
    expect(m.data.auth.cacheHits).toBeGreaterThan(0);
    expect(m.data.notifications.published).toBeGreaterThan(0);
    expect(m.data.db_pool).toMatchObject({ used: expect.any(Number) });
    expect(m.data.db_readers).toMatchObject({ total: expect.any(Number), active: 0, waiting: 0 });
    expect(m.data.db_readers.total).toBeGreaterThan(0);
  });
});

describe('loggableError', () => {
  it('drops the SQL (with its values) of database errors', async () => {
    const { loggableError } = await import('../src/app.js');
    const err = Object.assign(new Error("insert into subscribers (ha1_md5) values ('0123456789abcdef') - Table is full"), {
      code: 'ER_RECORD_FILE_FULL', errno: 1114, sqlState: 'HY000', sqlMessage: 'The table is full', sql: "insert into subscribers (ha1_md5) values ('0123456789abcdef')",
    });
    const out = JSON.stringify(loggableError(err));
    expect(out).not.toContain('0123456789abcdef');
    expect(out).toContain('The table is full');
  });
});

describe('database outage', () => {
  it('answers 503 NGCP_API_UNAVAILABLE (not 500) when a pool cannot reach MariaDB, and logs no SQL', async () => {
    const { buildApp } = await import('../src/app.js');
    const { createDb, createReader } = await import('@ngcp/db');
    const { freePort } = await import('@ngcp/testkit');
    const dead = { host: '127.0.0.1', port: await freePort(), user: 'nobody', password: 'x', database: 'none', acquireTimeoutMs: 300 };
    // the reader pool (GET by id) down, knex up: the request authenticates, then the read fails
    const lines: string[] = [];
    const reader = createReader(dead);
    const readerDown = buildApp(h().config, {
      db: h().db, redis: h().redis, reader,
      logger: pino({ level: 'error' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) })),
    });
    try {
      const res = await call(readerDown, 'GET', '/api/subscribers/1');
      expect(res.statusCode).toBe(503);
      expect(res.data.code).toBe('NGCP_API_UNAVAILABLE');
      expect(lines.join('')).not.toMatch(/SELECT/i);
    } finally {
      await readerDown.close();
      await reader.close();
    }
    // knex down: even the login check cannot run
    const db = createDb({ ...dead, pool: { max: 1 } });
    const dbDown = buildApp(h().config, { db, redis: h().redis, logger: pino({ level: 'silent' }) });
    try {
      const res = await call(dbDown, 'GET', '/api/domains');
      expect(res.statusCode).toBe(503);
      expect(res.data.code).toBe('NGCP_API_UNAVAILABLE');
    } finally {
      await dbDown.close();
      await db.destroy();
    }
  });
});
