/** domains, customers, subscribers, numbers: create, read, update, patch, delete, validation, permissions. */
import { beforeAll, describe, expect, it } from 'vitest';
import { findSubscriberCredentials, lookupNumber, subscriberHa1 } from '@ngcp/db';
import { basic, call, createApiUser, expectNoSecrets, uniq, useApi } from './helpers.js';

const h = useApi();
const app = () => h().app;

async function mkDomain(): Promise<string> {
  const name = `${uniq('d')}.example.org`;
  const res = await call(app(), 'POST', '/api/domains', { body: { domain: name } });
  expect(res.statusCode).toBe(201);
  return name;
}

describe('domains', () => {
  it('full life cycle: POST, GET, list+filter, PUT, PATCH, DELETE', async () => {
    const name = `${uniq('d')}.Example.ORG`;
    const created = await call(app(), 'POST', '/api/domains', { body: { domain: name, description: 'first' } });
    expect(created.statusCode).toBe(201);
    expect(created.data.domain).toBe(name.toLowerCase());
    const url = created.headers.location as string;
    expect(url).toBe(`/api/domains/${created.data.id}`);
    expect((await call(app(), 'GET', url)).data).toEqual(created.data);

    const list = await call(app(), 'GET', '/api/domains', { query: { domain: name.toLowerCase() } });
    expect(list.statusCode).toBe(200);
    expect(list.data).toMatchObject({ total_count: 1, page: 1, rows: 10, items: [{ id: created.data.id }] });

    const put = await call(app(), 'PUT', url, { body: { domain: name.toLowerCase(), description: 'second' } });
    expect(put.statusCode).toBe(200);
    expect(put.data.description).toBe('second');

    const patched = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'test', path: '/description', value: 'second' }, { op: 'remove', path: '/description' }] });
    expect(patched.statusCode).toBe(200);
    expect(patched.data.description).toBeNull();

    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
    expect((await call(app(), 'GET', url)).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(404);
  });

  it('422 names each failing field; unknown fields are refused', async () => {
    const res = await call(app(), 'POST', '/api/domains', { body: { domain: 'bad domain!', colour: 'red' } });
    expect(res.statusCode).toBe(422);
    expect(res.data.code).toBe('NGCP_API_VALIDATION');
    expect(res.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['colour', 'domain']);
    const missing = await call(app(), 'POST', '/api/domains', { body: {} });
    expect(missing.data.fields).toEqual([{ field: 'domain', message: 'is required' }]);
    const wrongType = await call(app(), 'POST', '/api/domains', { body: { domain: 42 } });
    expect(wrongType.statusCode).toBe(422);
    expect(wrongType.data.fields[0].field).toBe('domain');
  });

  it('409 on a duplicate, naming the field', async () => {
    const name = await mkDomain();
    const res = await call(app(), 'POST', '/api/domains', { body: { domain: name.toUpperCase() } });
    expect(res.statusCode).toBe(409);
    expect(res.data).toMatchObject({ code: 'NGCP_API_CONFLICT', fields: [{ field: 'domain' }] });
  });

  it('409 when deleting a domain that still has subscribers', async () => {
    const name = await mkDomain();
    await call(app(), 'POST', '/api/subscribers', { body: { domain: name, username: 'u1', password: 'secret1' } });
    const list = await call(app(), 'GET', '/api/domains', { query: { domain: name } });
    const res = await call(app(), 'DELETE', `/api/domains/${list.data.items[0].id}`);
    expect(res.statusCode).toBe(409);
    expect(res.data.code).toBe('NGCP_API_IN_USE');
  });
});

describe('customers', () => {
  it('CRUD with concurrent-call limits', async () => {
    const ext = uniq('ext');
    const c = await call(app(), 'POST', '/api/customers', { body: { name: 'ACME', external_id: ext, concurrent_max: 10, email: 'noc@acme.example' } });
    expect(c.statusCode).toBe(201);
    expect(c.data).toMatchObject({ name: 'ACME', external_id: ext, concurrent_max: 10, concurrent_max_out: null, status: 'active', reseller_id: null });
    const url = c.headers.location as string;
    const p = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/concurrent_max_out', value: 4 }, { op: 'replace', path: '/status', value: 'locked' }] });
    expect(p.data).toMatchObject({ concurrent_max: 10, concurrent_max_out: 4, status: 'locked' });
    const dup = await call(app(), 'POST', '/api/customers', { body: { name: 'Other', external_id: ext } });
    expect(dup.statusCode).toBe(409);
    expect(dup.data.fields[0].field).toBe('external_id');
    const bad = await call(app(), 'PUT', url, { body: { name: '', email: 'not-an-email', concurrent_max: -1 } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['concurrent_max', 'email', 'name']);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
  });

  it('a reseller sees and creates only its own customers', async () => {
    const r1 = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const r2 = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    expect(r1.statusCode).toBe(201);
    const login = uniq('reseller');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r1.data.id });
    const auth = basic(login, 'reseller-pw');
    const foreign = await call(app(), 'POST', '/api/customers', { body: { name: 'theirs', reseller_id: r2.data.id } });
    const own = await call(app(), 'POST', '/api/customers', { auth, body: { name: 'mine' } });
    expect(own.statusCode).toBe(201);
    expect(own.data.reseller_id).toBe(r1.data.id);
    const list = await call(app(), 'GET', '/api/customers', { auth, query: { rows: 100 } });
    expect(list.data.items.map((c: { id: number }) => c.id)).toEqual([own.data.id]);
    expect((await call(app(), 'GET', `/api/customers/${foreign.data.id}`, { auth })).statusCode).toBe(404);
    expect((await call(app(), 'POST', '/api/customers', { auth, body: { name: 'x', reseller_id: r2.data.id } })).statusCode).toBe(403);
    expect((await call(app(), 'GET', '/api/resellers', { auth })).statusCode).toBe(403);
    expect((await call(app(), 'POST', '/api/domains', { auth, body: { domain: 'r.example' } })).statusCode).toBe(403);
    expect((await call(app(), 'GET', '/api/domains', { auth })).statusCode).toBe(200);
  });

  it('GET, PUT (full replacement), DELETE then 404; 409 while subscribers or customers still use it', async () => {
    const c = await call(app(), 'POST', '/api/customers', { body: { name: 'Full', email: 'noc@full.example', concurrent_max: 5, status: 'locked' } });
    expect(c.statusCode).toBe(201);
    const url = c.headers.location as string;
    expect(url).toBe(`/api/customers/${c.data.id}`);
    expect((await call(app(), 'GET', url)).data).toEqual(c.data);
    const put = await call(app(), 'PUT', url, { body: { name: 'Full 2' } });
    expect(put.statusCode).toBe(200);
    expect(put.data).toMatchObject({ id: c.data.id, name: 'Full 2', email: null, concurrent_max: null, status: 'active' });
    expect((await call(app(), 'GET', url)).data).toEqual(put.data);
    const s = await call(app(), 'POST', '/api/subscribers', { body: { domain: await mkDomain(), username: 'cust', password: 'secret1', customer_id: c.data.id } });
    const inUse = await call(app(), 'DELETE', url);
    expect(inUse.statusCode).toBe(409);
    expect(inUse.data.code).toBe('NGCP_API_IN_USE');
    expect((await call(app(), 'DELETE', s.headers.location as string)).statusCode).toBe(204);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
    expect((await call(app(), 'GET', url)).statusCode).toBe(404);
    // a reseller with customers cannot be deleted either
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    await call(app(), 'POST', '/api/customers', { body: { name: 'owned', reseller_id: r.data.id } });
    expect((await call(app(), 'DELETE', r.headers.location as string)).data.code).toBe('NGCP_API_IN_USE');
  });

  it("a reseller cannot read, change or delete another reseller's customer, nor give its own away", async () => {
    const r1 = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const r2 = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('reseller');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r1.data.id });
    const auth = basic(login, 'reseller-pw');
    const theirs = await call(app(), 'POST', '/api/customers', { body: { name: 'theirs', reseller_id: r2.data.id } });
    const url = `/api/customers/${theirs.data.id}`;
    expect((await call(app(), 'PUT', url, { auth, body: { name: 'taken' } })).statusCode).toBe(404);
    expect((await call(app(), 'PATCH', url, { auth, patch: true, body: [{ op: 'replace', path: '/name', value: 'taken' }] })).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', url, { auth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', url)).data).toEqual(theirs.data);
    const mine = await call(app(), 'POST', '/api/customers', { auth, body: { name: 'mine' } });
    const away = await call(app(), 'PATCH', mine.headers.location as string, { auth, patch: true, body: [{ op: 'replace', path: '/reseller_id', value: r2.data.id }] });
    expect(away.statusCode).toBe(403);
    const put = await call(app(), 'PUT', mine.headers.location as string, { auth, body: { name: 'mine 2' } });
    expect(put.data).toMatchObject({ name: 'mine 2', reseller_id: r1.data.id }); // kept, not nulled
    expect((await call(app(), 'DELETE', mine.headers.location as string, { auth })).statusCode).toBe(204);
    expect((await call(app(), 'GET', mine.headers.location as string)).statusCode).toBe(404);
  });
});

describe('subscribers', () => {
  let domain: string;
  beforeAll(async () => {
    domain = await mkDomain();
  });

  it('the minimum contract: POST → 201, Location, object without password; HA1 stored, never the password', async () => {
    const password = 'very-secret-sip-pw';
    const res = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'alice', password, primary_number: '+4912345' } });
    expect(res.statusCode).toBe(201);
    expect(res.headers.location).toBe(`/api/subscribers/${res.data.id}`);
    expect(res.data).toMatchObject({ domain, username: 'alice', primary_number: '4912345', alias_numbers: [], customer_id: null, status: 'active' });
    expectNoSecrets(res.body, [password]);
    const creds = await findSubscriberCredentials(h().db, 'alice', domain);
    const ha1 = subscriberHa1('alice', domain, password);
    expect(creds?.ha1Md5).toBe(ha1.ha1_md5);
    expect(creds?.ha1Sha256).toBe(ha1.ha1_sha256);
    const row = await h().db('subscribers').where('id', res.data.id).first();
    expect(JSON.stringify(row)).not.toContain(password);
    expect((await lookupNumber(h().db, '4912345'))?.subscriber?.id).toBe(res.data.id);
    const get = await call(app(), 'GET', `/api/subscribers/${res.data.id}`);
    expect(get.data).toEqual(res.data);
    expectNoSecrets(get.body, [password]);
  });

  it('validation: unknown domain, bad username, short password, bad number — each field named', async () => {
    const res = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'bad user', password: '123', primary_number: '0123' } });
    expect(res.statusCode).toBe(422);
    expect(res.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['password', 'primary_number', 'username']);
    const nodom = await call(app(), 'POST', '/api/subscribers', { body: { domain: 'nowhere.example', username: 'bob', password: 'secret1' } });
    expect(nodom.statusCode).toBe(422);
    expect(nodom.data.fields).toEqual([{ field: 'domain', message: 'does not exist' }]);
    const nocust = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'bob', password: 'secret1', customer_id: 999999 } });
    expect(nocust.statusCode).toBe(422);
    expect(nocust.data.fields[0].field).toBe('customer_id');
  });

  it('conflicts: same username in the domain, a number already taken', async () => {
    await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'carol', password: 'secret1', primary_number: '4930100' } });
    const dupUser = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'carol', password: 'secret1' } });
    expect(dupUser.statusCode).toBe(409);
    expect(dupUser.data.fields[0].field).toBe('username');
    const dupNum = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'dave', password: 'secret1', primary_number: '4930100' } });
    expect(dupNum.statusCode).toBe(409);
    expect(dupNum.data.fields[0].field).toBe('primary_number');
    // the failed create left nothing behind (one transaction)
    expect((await call(app(), 'GET', '/api/subscribers', { query: { domain, username: 'dave' } })).data.total_count).toBe(0);
  });

  it('PUT and PATCH: numbers, password rules, read-only fields', async () => {
    const c = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'erin', password: 'secret1', primary_number: '4930200', alias_numbers: ['4930201'] } });
    const url = c.headers.location as string;
    expect(c.data.alias_numbers).toEqual(['4930201']);
    // swap primary and alias in one PATCH
    const swap = await call(app(), 'PATCH', url, { patch: true, body: [
      { op: 'replace', path: '/primary_number', value: '4930201' },
      { op: 'replace', path: '/alias_numbers', value: ['4930200', '4930202'] },
    ] });
    expect(swap.statusCode).toBe(200);
    expect(swap.data).toMatchObject({ primary_number: '4930201', alias_numbers: ['4930200', '4930202'] });
    // renaming needs the password again (only HA1 is stored)
    const rename = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/username', value: 'erin2' }] });
    expect(rename.statusCode).toBe(422);
    expect(rename.data.fields[0].field).toBe('password');
    const rename2 = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/username', value: 'erin2' }, { op: 'add', path: '/password', value: 'newsecret' }] });
    expect(rename2.statusCode).toBe(200);
    expect((await findSubscriberCredentials(h().db, 'erin2', domain))?.ha1Md5).toBe(subscriberHa1('erin2', domain, 'newsecret').ha1_md5);
    // read-only fields may be tested, not changed
    const ro = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/uuid', value: 'x' }] });
    expect(ro.statusCode).toBe(422);
    expect(ro.data.fields).toEqual([{ field: 'uuid', message: 'is read-only' }]);
    const t = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'test', path: '/username', value: 'nope' }] });
    expect(t.statusCode).toBe(409);
    expect(t.data.code).toBe('NGCP_API_PATCH_TEST_FAILED');
    const badPath = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'remove', path: '/nothing' }] });
    expect(badPath.statusCode).toBe(422);
    expect(badPath.data.code).toBe('NGCP_API_PATCH_INVALID');
    const badOp = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'frobnicate', path: '/x' }] });
    expect(badOp.statusCode).toBe(422);
    const wrongType = await call(app(), 'PATCH', url, { body: [{ op: 'remove', path: '/display_name' }] });
    expect(wrongType.statusCode).toBe(415);
    // PUT: full replacement, password optional when the realm stays
    const put = await call(app(), 'PUT', url, { body: { domain, username: 'erin2', display_name: 'Erin', primary_number: null } });
    expect(put.statusCode).toBe(200);
    expect(put.data).toMatchObject({ display_name: 'Erin', primary_number: null, alias_numbers: [] });
    expect(await lookupNumber(h().db, '4930201')).toBeUndefined();
  });

  it('GET by id shows the same object as the list, numbers sorted', async () => {
    const c = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'ivy', password: 'secret1', primary_number: '4930500', alias_numbers: ['4930509', '4930501', '4930505'] } });
    expect(c.statusCode).toBe(201);
    const one = await call(app(), 'GET', `/api/subscribers/${c.data.id}`);
    expect(one.data).toMatchObject({ primary_number: '4930500', alias_numbers: ['4930501', '4930505', '4930509'] });
    expect(one.data.created_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Math.abs(Date.parse(one.data.created_at) - Date.now())).toBeLessThan(60_000);
    const listed = await call(app(), 'GET', '/api/subscribers', { query: { domain, username: 'ivy' } });
    expect(listed.data.items).toEqual([one.data]);
    expect(c.data).toEqual(one.data);
    const bare = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'ivy2', password: 'secret1' } });
    expect((await call(app(), 'GET', `/api/subscribers/${bare.data.id}`)).data).toMatchObject({ primary_number: null, alias_numbers: [] });
  });

  it('paging, ordering and filters', async () => {
    const d = await mkDomain();
    for (let i = 0; i < 7; i++) {
      await call(app(), 'POST', '/api/subscribers', { body: { domain: d, username: `p${i}`, password: 'secret1', primary_number: `4940${i}00` } });
    }
    const p1 = await call(app(), 'GET', '/api/subscribers', { query: { domain: d, rows: 3, page: 1, order_by: 'username', order_by_direction: 'desc' } });
    expect(p1.data).toMatchObject({ total_count: 7, page: 1, rows: 3 });
    expect(p1.data.items.map((s: { username: string }) => s.username)).toEqual(['p6', 'p5', 'p4']);
    const p3 = await call(app(), 'GET', '/api/subscribers', { query: { domain: d, rows: 3, page: 3, order_by: 'username' } });
    expect(p3.data.items.map((s: { username: string }) => s.username)).toEqual(['p6']);
    const byNumber = await call(app(), 'GET', '/api/subscribers', { query: { number: '+4940300' } });
    expect(byNumber.data.items.map((s: { username: string }) => s.username)).toEqual(['p3']);
    const wild = await call(app(), 'GET', '/api/subscribers', { query: { domain: d, username: 'p*' } });
    expect(wild.data.total_count).toBe(7);
    const bad = await call(app(), 'GET', '/api/subscribers', { query: { rows: 0, page: 'x', colour: 1 } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['colour', 'page', 'rows']);
    expect((await call(app(), 'GET', '/api/subscribers', { query: { rows: 100000 } })).statusCode).toBe(422);
  });

  it('a subscriber logs in with username@domain and its web password, and sees only itself', async () => {
    const me = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'frank', password: 'secret1', webpassword: 'web-password-1' } });
    const other = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'grace', password: 'secret1' } });
    expectNoSecrets(me.body, ['web-password-1']);
    const auth = basic(`frank@${domain}`, 'web-password-1');
    const list = await call(app(), 'GET', '/api/subscribers', { auth });
    expect(list.statusCode).toBe(200);
    expect(list.data.items.map((s: { id: number }) => s.id)).toEqual([me.data.id]);
    expect((await call(app(), 'GET', `/api/subscribers/${other.data.id}`, { auth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', `/api/subscribers/${me.data.id}`, { auth })).statusCode).toBe(200);
    expect((await call(app(), 'POST', '/api/subscribers', { auth, body: { domain, username: 'x', password: 'secret1' } })).statusCode).toBe(403);
    expect((await call(app(), 'DELETE', `/api/subscribers/${me.data.id}`, { auth })).statusCode).toBe(403);
    expect((await call(app(), 'GET', '/api/customers', { auth })).statusCode).toBe(403);
    // may change its own display name and passwords, nothing else
    const ok = await call(app(), 'PATCH', `/api/subscribers/${me.data.id}`, { auth, patch: true, body: [{ op: 'replace', path: '/display_name', value: 'Frank' }] });
    expect(ok.statusCode).toBe(200);
    const no = await call(app(), 'PATCH', `/api/subscribers/${me.data.id}`, { auth, patch: true, body: [{ op: 'replace', path: '/status', value: 'locked' }] });
    expect(no.statusCode).toBe(403);
    // changing the web password takes effect at once (cache invalidated)
    const pw = await call(app(), 'PATCH', `/api/subscribers/${me.data.id}`, { auth, patch: true, body: [{ op: 'add', path: '/webpassword', value: 'web-password-2' }] });
    expect(pw.statusCode).toBe(200);
    expect((await call(app(), 'GET', '/api/subscribers', { auth })).statusCode).toBe(401);
    expect((await call(app(), 'GET', '/api/subscribers', { auth: basic(`frank@${domain}`, 'web-password-2') })).statusCode).toBe(200);
  });

  it('a reseller manages subscribers of its customers only', async () => {
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('rs');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    const auth = basic(login, 'reseller-pw');
    const mine = await call(app(), 'POST', '/api/customers', { auth, body: { name: 'mine' } });
    const theirs = await call(app(), 'POST', '/api/customers', { body: { name: 'theirs' } });
    const noCust = await call(app(), 'POST', '/api/subscribers', { auth, body: { domain, username: 'r1', password: 'secret1' } });
    expect(noCust.statusCode).toBe(422);
    const bad = await call(app(), 'POST', '/api/subscribers', { auth, body: { domain, username: 'r1', password: 'secret1', customer_id: theirs.data.id } });
    expect(bad.statusCode).toBe(422);
    const ok = await call(app(), 'POST', '/api/subscribers', { auth, body: { domain, username: 'r1', password: 'secret1', customer_id: mine.data.id } });
    expect(ok.statusCode).toBe(201);
    const foreign = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'r2', password: 'secret1', customer_id: theirs.data.id } });
    const list = await call(app(), 'GET', '/api/subscribers', { auth, query: { rows: 1000 } });
    expect(list.data.items.map((s: { id: number }) => s.id)).toEqual([ok.data.id]);
    expect((await call(app(), 'GET', `/api/subscribers/${foreign.data.id}`, { auth })).statusCode).toBe(404);
    const own = await call(app(), 'GET', `/api/subscribers/${ok.data.id}`, { auth });
    expect(own.statusCode).toBe(200);
    expect(own.data).toEqual((await call(app(), 'GET', `/api/subscribers/${ok.data.id}`)).data);
    expect((await call(app(), 'PATCH', `/api/subscribers/${foreign.data.id}`, { auth, patch: true, body: [{ op: 'replace', path: '/display_name', value: 'x' }] })).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', `/api/subscribers/${ok.data.id}`, { auth })).statusCode).toBe(204);
  });

  it('DELETE removes the subscriber and its numbers', async () => {
    const c = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'henry', password: 'secret1', primary_number: '4930300', alias_numbers: ['4930301'] } });
    expect((await call(app(), 'DELETE', c.headers.location as string)).statusCode).toBe(204);
    expect(await lookupNumber(h().db, '4930300')).toBeUndefined();
    expect(await lookupNumber(h().db, '4930301')).toBeUndefined();
    expect((await call(app(), 'GET', c.headers.location as string)).statusCode).toBe(404);
  });
});

describe('numbers', () => {
  it('pool numbers, assignment, one primary per subscriber', async () => {
    const domain = await mkDomain();
    const s = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'ivan', password: 'secret1', primary_number: '4950000' } });
    const pool = await call(app(), 'POST', '/api/numbers', { body: { e164: '+4950001' } });
    expect(pool.statusCode).toBe(201);
    expect(pool.data).toMatchObject({ e164: '4950001', subscriber_id: null, is_primary: false });
    const url = pool.headers.location as string;
    const second = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/subscriber_id', value: s.data.id }, { op: 'replace', path: '/is_primary', value: true }] });
    expect(second.statusCode).toBe(409);
    expect(second.data.fields[0].field).toBe('is_primary');
    const alias = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/subscriber_id', value: s.data.id }] });
    expect(alias.statusCode).toBe(200);
    expect((await call(app(), 'GET', `/api/subscribers/${s.data.id}`)).data.alias_numbers).toEqual(['4950001']);
    const list = await call(app(), 'GET', '/api/numbers', { query: { subscriber_id: s.data.id } });
    expect(list.data.items.map((n: { e164: string }) => n.e164)).toEqual(['4950000', '4950001']);
    expect((await call(app(), 'POST', '/api/numbers', { body: { e164: '4950002', is_primary: true } })).statusCode).toBe(422);
    expect((await call(app(), 'POST', '/api/numbers', { body: { e164: '4950001' } })).statusCode).toBe(409);
    expect((await call(app(), 'POST', '/api/numbers', { body: { e164: '12', subscriber_id: 999999 } })).statusCode).toBe(422);
    expect((await call(app(), 'PUT', url, { body: { e164: '4950001' } })).data.subscriber_id).toBeNull();
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
    // a subscriber reads its own numbers only, and cannot change them
    const auth = basic(`ivan@${domain}`, 'web-pw-ivan');
    await call(app(), 'PATCH', `/api/subscribers/${s.data.id}`, { patch: true, body: [{ op: 'add', path: '/webpassword', value: 'web-pw-ivan' }] });
    const own = await call(app(), 'GET', '/api/numbers', { auth, query: { rows: 1000 } });
    expect(own.data.items.map((n: { e164: string }) => n.e164)).toEqual(['4950000']);
    expect((await call(app(), 'POST', '/api/numbers', { auth, body: { e164: '4950009' } })).statusCode).toBe(403);
  });

  it('GET, 422 and 409 name the field, DELETE then 404', async () => {
    const n = await call(app(), 'POST', '/api/numbers', { body: { e164: '+4951000' } });
    expect(n.statusCode).toBe(201);
    const url = n.headers.location as string;
    expect(url).toBe(`/api/numbers/${n.data.id}`);
    expect((await call(app(), 'GET', url)).data).toEqual(n.data);
    const bad = await call(app(), 'POST', '/api/numbers', { body: { e164: '0123', is_primary: 'yes' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['e164', 'is_primary']);
    expect((await call(app(), 'POST', '/api/numbers', { body: { e164: '4951001', is_primary: true } })).data.fields).toEqual([{ field: 'is_primary', message: 'needs a subscriber_id' }]);
    expect((await call(app(), 'POST', '/api/numbers', { body: { e164: '4951001', subscriber_id: 999999 } })).data.fields).toEqual([{ field: 'subscriber_id', message: 'does not exist' }]);
    const dup = await call(app(), 'POST', '/api/numbers', { body: { e164: '4951000' } });
    expect(dup.statusCode).toBe(409);
    expect(dup.data.fields).toEqual([{ field: 'e164', message: 'already exists' }]);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
    expect((await call(app(), 'GET', url)).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', url)).statusCode).toBe(404);
  });

  it('a reseller manages the numbers of its own subscribers only', async () => {
    const domain = await mkDomain();
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('rn');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    const auth = basic(login, 'reseller-pw');
    const cust = await call(app(), 'POST', '/api/customers', { auth, body: { name: 'mine' } });
    const mine = await call(app(), 'POST', '/api/subscribers', { auth, body: { domain, username: 'rn1', password: 'secret1', customer_id: cust.data.id } });
    const theirs = await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'rn2', password: 'secret1', primary_number: '4951100' } });
    const own = await call(app(), 'POST', '/api/numbers', { auth, body: { e164: '4951101', subscriber_id: mine.data.id, is_primary: true } });
    expect(own.statusCode).toBe(201);
    expect((await call(app(), 'POST', '/api/numbers', { auth, body: { e164: '4951102', subscriber_id: theirs.data.id } })).data.fields).toEqual([{ field: 'subscriber_id', message: 'does not exist' }]);
    expect((await call(app(), 'POST', '/api/numbers', { auth, body: { e164: '4951102' } })).data.fields[0].field).toBe('subscriber_id'); // no pool numbers
    const list = await call(app(), 'GET', '/api/numbers', { auth, query: { rows: 1000 } });
    expect(list.data.items.map((x: { e164: string }) => x.e164)).toEqual(['4951101']);
    const foreign = (await call(app(), 'GET', '/api/numbers', { query: { e164: '4951100' } })).data.items[0];
    for (const [method, body, patch] of [['GET'], ['PUT', { e164: '4951100' }], ['PATCH', [{ op: 'replace', path: '/is_primary', value: false }], true], ['DELETE']] as [string, unknown?, boolean?][]) {
      expect((await call(app(), method, `/api/numbers/${foreign.id}`, { auth, body, patch })).statusCode, method).toBe(404);
    }
    const give = await call(app(), 'PATCH', own.headers.location as string, { auth, patch: true, body: [{ op: 'replace', path: '/subscriber_id', value: theirs.data.id }] });
    expect(give.statusCode).toBe(422);
    expect((await call(app(), 'GET', `/api/subscribers/${theirs.data.id}`)).data).toMatchObject({ primary_number: '4951100', alias_numbers: [] });
    expect((await call(app(), 'DELETE', own.headers.location as string, { auth })).statusCode).toBe(204);
    expect((await call(app(), 'GET', `/api/subscribers/${mine.data.id}`)).data.primary_number).toBeNull();
  });
});
