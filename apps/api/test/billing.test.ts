/** Billing for prepaid (migration 0008): billing profiles and fees, customers' prepaid settings, balances. */
import { describe, expect, it } from 'vitest';
import { getBalance, reserveCredit } from '@ngcp/db';
import { basic, call, createApiUser, uniq, useApi } from './helpers.js';

const h = useApi();
const app = () => h().app;

const profile = async (body: Record<string, unknown> = {}) => {
  const r = await call(app(), 'POST', '/api/billingprofiles', { body: { name: uniq('bp'), ...body } });
  expect(r.statusCode, r.body).toBe(201);
  return r.data as { id: number; name: string; currency: string };
};

describe('billingprofiles and billingfees', () => {
  it('CRUD, fee defaults, 409 on a duplicate destination, cascade of fees, a profile in use is not deleted', async () => {
    const p = await profile({ currency: 'USD', description: 'retail' });
    expect(p).toMatchObject({ currency: 'USD', description: 'retail' });
    expect((await call(app(), 'POST', '/api/billingprofiles', { body: { name: p.name } })).statusCode).toBe(409);
    const any = await call(app(), 'POST', '/api/billingfees', { body: { billing_profile_id: p.id, price_per_minute: 1200 } });
    expect(any.statusCode, any.body).toBe(201);
    expect(any.data).toMatchObject({ destination: '', price_per_minute: 1200, first_interval: 60, next_interval: 60 });
    const de = await call(app(), 'POST', '/api/billingfees', { body: { billing_profile_id: p.id, destination: '49', price_per_minute: 600, first_interval: 1, next_interval: 1 } });
    expect(de.statusCode, de.body).toBe(201);
    const dup = await call(app(), 'POST', '/api/billingfees', { body: { billing_profile_id: p.id, destination: '49', price_per_minute: 1 } });
    expect(dup.statusCode).toBe(409);
    expect(dup.data.fields).toEqual([{ field: 'destination', message: 'already exists' }]);
    const list = await call(app(), 'GET', '/api/billingfees', { query: { billing_profile_id: p.id } });
    expect(list.data.items.map((f: { destination: string }) => f.destination)).toEqual(['', '49']);
    const patched = await call(app(), 'PATCH', `/api/billingfees/${de.data.id}`, { patch: true, body: [{ op: 'replace', path: '/price_per_minute', value: 650 }] });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.data.price_per_minute).toBe(650);
    // in use by a customer: refused; once free, deleting it deletes its fees
    const cust = await call(app(), 'POST', '/api/customers', { body: { name: 'bp user', billing_profile_id: p.id } });
    expect(cust.statusCode, cust.body).toBe(201);
    expect((await call(app(), 'DELETE', `/api/billingprofiles/${p.id}`)).statusCode).toBe(409);
    expect((await call(app(), 'DELETE', `/api/customers/${cust.data.id}`)).statusCode).toBe(204);
    expect((await call(app(), 'DELETE', `/api/billingprofiles/${p.id}`)).statusCode).toBe(204);
    expect((await call(app(), 'GET', `/api/billingfees/${de.data.id}`)).statusCode).toBe(404);
  });

  it('422 naming the field: currency, destination, price, intervals, an unknown profile', async () => {
    const p = await profile();
    const bad: [Record<string, unknown>, string][] = [
      [{ name: uniq('bp'), currency: 'euro' }, 'currency'],
    ];
    for (const [body, field] of bad) {
      const r = await call(app(), 'POST', '/api/billingprofiles', { body });
      expect(r.statusCode).toBe(422);
      expect(r.data.fields.map((f: { field: string }) => f.field)).toEqual([field]);
    }
    const fees: [Record<string, unknown>, string][] = [
      [{ billing_profile_id: p.id, destination: '+49', price_per_minute: 1 }, 'destination'],
      [{ billing_profile_id: p.id, destination: '49', price_per_minute: -1 }, 'price_per_minute'],
      [{ billing_profile_id: p.id, destination: '49', price_per_minute: 1.5 }, 'price_per_minute'],
      [{ billing_profile_id: p.id, destination: '49', price_per_minute: 1, first_interval: 0 }, 'first_interval'],
      [{ billing_profile_id: p.id, destination: '49', price_per_minute: 1, next_interval: 3601 }, 'next_interval'],
      [{ billing_profile_id: 4000000, destination: '49', price_per_minute: 1 }, 'billing_profile_id'],
    ];
    for (const [body, field] of fees) {
      const r = await call(app(), 'POST', '/api/billingfees', { body });
      expect(r.statusCode, JSON.stringify(body)).toBe(422);
      expect(r.data.fields.map((f: { field: string }) => f.field)).toEqual([field]);
    }
    expect((await call(app(), 'GET', '/api/billingfees', { query: { billing_profile_id: p.id } })).data.items).toEqual([]);
  });
});

describe('customers: prepaid and billing_profile_id', () => {
  it('default not prepaid; prepaid needs a billing profile (422 naming it); an unknown profile is 422', async () => {
    const p = await profile();
    const plain = await call(app(), 'POST', '/api/customers', { body: { name: 'plain' } });
    expect(plain.data).toMatchObject({ prepaid: false, billing_profile_id: null });
    const noProfile = await call(app(), 'POST', '/api/customers', { body: { name: 'pp', prepaid: true } });
    expect(noProfile.statusCode).toBe(422);
    expect(noProfile.data.fields).toEqual([{ field: 'billing_profile_id', message: expect.stringMatching(/required/) }]);
    const unknown = await call(app(), 'POST', '/api/customers', { body: { name: 'pp', prepaid: true, billing_profile_id: 4000000 } });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.data.fields.map((f: { field: string }) => f.field)).toEqual(['billing_profile_id']);
    const pp = await call(app(), 'POST', '/api/customers', { body: { name: 'pp', prepaid: true, billing_profile_id: p.id } });
    expect(pp.statusCode, pp.body).toBe(201);
    expect(pp.data).toMatchObject({ prepaid: true, billing_profile_id: p.id });
    const off = await call(app(), 'PATCH', `/api/customers/${pp.data.id}`, { patch: true, body: [{ op: 'replace', path: '/prepaid', value: false }] });
    expect(off.data.prepaid).toBe(false);
    expect((await call(app(), 'GET', '/api/customers', { query: { prepaid: true, billing_profile_id: p.id } })).data.items).toEqual([]);
  });
});

describe('customerbalances', () => {
  const newCustomer = async (extra: Record<string, unknown> = {}) => (await call(app(), 'POST', '/api/customers', { body: { name: uniq('bal'), ...extra } })).data as { id: number };

  it('0 without a row; set, top up, take off (not below 0), with reservations of calls kept; journalled', async () => {
    const p = await profile({ currency: 'GBP' });
    const c = await newCustomer({ prepaid: true, billing_profile_id: p.id });
    const url = `/api/customerbalances/${c.id}`;
    expect((await call(app(), 'GET', url)).data).toEqual({ id: c.id, cash_balance: 0, reserved: 0, available: 0, currency: 'GBP', updated_at: null });
    const set = await call(app(), 'PATCH', url, { body: { cash_balance: 50_000 } });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.data).toMatchObject({ cash_balance: 50_000, reserved: 0, available: 50_000 });
    // a call holds 20000 (the sbc's reservation); the top-up adds to the stored value
    expect(await reserveCredit(h().db, c.id, 20_000)).toBe(true);
    const top = await call(app(), 'PATCH', url, { body: { add: 15_000 } });
    expect(top.data).toMatchObject({ cash_balance: 65_000, reserved: 20_000, available: 45_000 });
    const down = await call(app(), 'PATCH', url, { body: { add: -70_000 } });
    expect(down.statusCode).toBe(422);
    expect(down.data.fields).toEqual([{ field: 'add', message: expect.stringMatching(/below 0/) }]);
    expect(await getBalance(h().db, c.id)).toEqual({ cash: 65_000, reserved: 20_000, available: 45_000 });
    const put = await call(app(), 'PUT', url, { body: { cash_balance: 30_000 } });
    expect(put.data).toMatchObject({ cash_balance: 30_000, reserved: 20_000, available: 10_000 });
    const rfc = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'test', path: '/cash_balance', value: 30_000 }, { op: 'replace', path: '/cash_balance', value: 31_000 }] });
    expect(rfc.data.cash_balance).toBe(31_000);
    const ro = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/reserved', value: 0 }] });
    expect(ro.statusCode).toBe(422);
    expect(ro.data.fields).toEqual([{ field: 'reserved', message: 'is read-only' }]);
    const journal = await h().db('journal').where({ entity: 'customer_balance', entity_id: String(c.id) }).orderBy('id').select('op', 'content');
    expect(journal.map((j: { content: string }) => JSON.parse(j.content).cash_balance)).toEqual([50_000, 65_000, 30_000, 31_000]);
  });

  it('a top-up without a row creates it; top-ups from many requests at once add up exactly', async () => {
    const c = await newCustomer();
    const url = `/api/customerbalances/${c.id}`;
    expect((await call(app(), 'PATCH', url, { body: { add: 125 } })).data.cash_balance).toBe(125);
    const many = await Promise.all(Array.from({ length: 7 }, () => call(app(), 'PATCH', url, { body: { add: 125 } })));
    expect(many.map((r) => r.statusCode)).toEqual(Array(7).fill(200));
    expect((await call(app(), 'GET', url)).data).toMatchObject({ cash_balance: 1000, currency: null });
  });

  it('422 naming the field for bad bodies; 404 for an unknown customer; a reseller reaches only its own customers', async () => {
    const c = await newCustomer();
    const url = `/api/customerbalances/${c.id}`;
    const cases: [unknown, string][] = [
      [{}, 'cash_balance'],
      [{ cash_balance: 5, add: 5 }, 'add'],
      [{ cash_balance: -1 }, 'cash_balance'],
      [{ cash_balance: 1.25 }, 'cash_balance'],
      [{ add: '10' }, 'add'],
      [{ top: 5 }, 'top'],
    ];
    for (const [body, field] of cases) {
      const r = await call(app(), 'PATCH', url, { body });
      expect(r.statusCode, JSON.stringify(body)).toBe(422);
      expect(r.data.fields.map((f: { field: string }) => f.field), JSON.stringify(body)).toEqual([field]);
    }
    expect((await call(app(), 'GET', url)).data.cash_balance).toBe(0);
    expect((await call(app(), 'PATCH', '/api/customerbalances/4000000', { body: { add: 1 } })).statusCode).toBe(404);
    expect((await call(app(), 'POST', '/api/customerbalances', { body: { cash_balance: 1 } })).statusCode).toBe(405);
    const res = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('rsl') } });
    const login = uniq('rb');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: res.data.id });
    const auth = basic(login, 'reseller-pw');
    const mine = (await call(app(), 'POST', '/api/customers', { auth, body: { name: 'mine' } })).data as { id: number };
    expect((await call(app(), 'PATCH', `/api/customerbalances/${mine.id}`, { auth, body: { add: 700 } })).data.cash_balance).toBe(700);
    expect((await call(app(), 'GET', url, { auth })).statusCode).toBe(404);
    expect((await call(app(), 'PATCH', url, { auth, body: { add: 1 } })).statusCode).toBe(404);
    expect((await call(app(), 'GET', '/api/customerbalances', { auth })).data.items.map((i: { id: number }) => i.id)).toEqual([mine.id]);
  });
});
