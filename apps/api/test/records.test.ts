/** cdrs, voicemails, voicemail settings, journal; live views from Redis: registrations, calls, bannedips, bannedusers. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { CHANGES_CHANNEL, insertCdr, insertVoicemail, redisKeys, verifyPassword, type LocationBinding } from '@ngcp/db';
import { basic, call, expectNoSecrets, scopeFixture, uniq, useApi } from './helpers.js';

const h = useApi();
const app = () => h().app;
let domain: string;
let alice: { id: number };
let bob: { id: number };
let aliceAuth: string;
let custA: number;
let resellerAuth: string;

beforeAll(async () => {
  ({ domain, alice, bob, aliceAuth, customerId: custA, resellerAuth } = await scopeFixture(h()));
});

describe('cdrs', () => {
  it('read-only list with filters, time range and per-role visibility', async () => {
    const base = { call_status: 'ok' as const, call_code: '200', source_domain: domain, destination_domain: domain };
    await insertCdr(h().db, { ...base, call_id: 'c1', source_subscriber_id: alice.id, source_customer_id: custA, destination_subscriber_id: bob.id, init_time: new Date('2024-05-01T10:00:00Z'), duration: 61.25 });
    await insertCdr(h().db, { ...base, call_id: 'c2', source_subscriber_id: bob.id, destination_subscriber_id: alice.id, destination_customer_id: custA, init_time: new Date('2024-05-02T10:00:00Z'), call_status: 'busy', call_code: '486' });
    await insertCdr(h().db, { ...base, call_id: 'c3', source_subscriber_id: bob.id, destination_user_in: '4930999', init_time: new Date('2024-05-03T10:00:00Z'), call_status: 'noanswer', call_code: '480' });
    const all = await call(app(), 'GET', '/api/cdrs', { query: { rows: 100 } });
    expect(all.data.total_count).toBe(3);
    expect(all.data.items[0]).toMatchObject({ call_id: 'c1', duration: 61.25, init_time: '2024-05-01T10:00:00.000Z', start_time: null, call_type: 'call' });
    expect((await call(app(), 'GET', '/api/cdrs', { query: { call_status: 'busy' } })).data.items.map((c: { call_id: string }) => c.call_id)).toEqual(['c2']);
    expect((await call(app(), 'GET', '/api/cdrs', { query: { start: '2024-05-02T00:00:00Z', end: '2024-05-03T00:00:00Z' } })).data.items.map((c: { call_id: string }) => c.call_id)).toEqual(['c2']);
    const desc = await call(app(), 'GET', '/api/cdrs', { query: { order_by: 'init_time', order_by_direction: 'desc', rows: 1 } });
    expect(desc.data.items[0].call_id).toBe('c3');
    expect((await call(app(), 'GET', '/api/cdrs', { query: { subscriber_id: alice.id } })).data.total_count).toBe(2);
    // alice sees her two calls, the reseller the calls of its customer, nobody may write
    expect((await call(app(), 'GET', '/api/cdrs', { auth: aliceAuth })).data.items.map((c: { call_id: string }) => c.call_id)).toEqual(['c1', 'c2']);
    expect((await call(app(), 'GET', '/api/cdrs', { auth: resellerAuth })).data.items.map((c: { call_id: string }) => c.call_id)).toEqual(['c1', 'c2']);
    const c3 = all.data.items[2].id;
    expect((await call(app(), 'GET', `/api/cdrs/${c3}`, { auth: aliceAuth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', `/api/cdrs/${c3}`)).statusCode).toBe(200);
    expect((await call(app(), 'PUT', `/api/cdrs/${c3}`, { body: {} })).statusCode).toBe(405);
    expect((await call(app(), 'DELETE', `/api/cdrs/${c3}`)).statusCode).toBe(405);
    const badFilter = await call(app(), 'GET', '/api/cdrs', { query: { start: 'yesterday' } });
    expect(badFilter.statusCode).toBe(422);
    expect(badFilter.data.fields.map((f: { field: string }) => f.field)).toEqual(['start']);
  });

  it('call_type=voicemail lists the calls to a voicebox (a deposit names whom the caller dialled); an unknown type is 422 naming the field', async () => {
    const base = { call_status: 'ok' as const, call_code: '200', source_domain: domain, source_subscriber_id: alice.id, init_time: new Date('2024-04-01T10:00:00Z') };
    await insertCdr(h().db, { ...base, call_id: 'vm-1', call_type: 'voicemail', destination_user: `vm-deposit.${bob.id}`, destination_domain: 'voicebox.local', destination_subscriber_id: bob.id, destination_user_in: 'bob' });
    await insertCdr(h().db, { ...base, call_id: 'vm-2', call_type: 'cfu', destination_user: 'carol', destination_domain: domain, destination_user_in: 'bob' });
    const window = { start: '2024-04-01T00:00:00Z', end: '2024-04-02T00:00:00Z' };
    const vm = await call(app(), 'GET', '/api/cdrs', { query: { ...window, call_type: 'voicemail' } });
    expect(vm.statusCode).toBe(200);
    expect(vm.data.items).toHaveLength(1);
    expect(vm.data.items[0]).toMatchObject({ call_id: 'vm-1', call_type: 'voicemail', destination_user: `vm-deposit.${bob.id}`, destination_domain: 'voicebox.local', destination_subscriber_id: bob.id, destination_user_in: 'bob' });
    expect((await call(app(), 'GET', '/api/cdrs', { query: { ...window, call_type: 'cfu' } })).data.items.map((c: { call_id: string }) => c.call_id)).toEqual(['vm-2']);
    const csv = await call(app(), 'GET', '/api/cdrs/export.csv', { query: { ...window, call_type: 'voicemail' } });
    expect(csv.statusCode).toBe(200);
    expect(String(csv.body).trim().split('\r\n')).toHaveLength(2); // the header and vm-1
    expect(String(csv.body)).toContain('vm-1');
    const bad = await call(app(), 'GET', '/api/cdrs', { query: { call_type: 'mailbox' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field)).toEqual(['call_type']);
  });

  it('export.csv: the same filters and visibility as the list, every page, a header row, RFC 4180 quoting', async () => {
    const base = { call_status: 'ok' as const, call_code: '200', source_domain: domain, destination_domain: domain };
    for (let i = 0; i < 5; i++) {
      await insertCdr(h().db, { ...base, call_id: `csv-${i}`, source_subscriber_id: alice.id, source_cli: i === 0 ? 'a "quoted", odd\nname' : '4312345', init_time: new Date(`2024-06-0${i + 1}T10:00:00Z`), duration: i });
    }
    const all = await call(app(), 'GET', '/api/cdrs/export.csv', { query: { start: '2024-06-01T00:00:00Z', end: '2024-07-01T00:00:00Z' } });
    expect(all.statusCode).toBe(200);
    expect(all.headers['content-type']).toMatch(/^text\/csv/);
    const lines = all.body.split('\r\n');
    expect(lines[0]).toMatch(/^id,call_id,source_subscriber_id,/);
    expect(lines.at(-1)).toBe('');
    // the first record's CLI is quoted (comma, quote, line break inside); the others follow in init_time order
    expect(all.body).toContain('"a ""quoted"", odd\nname"');
    const ids = [...all.body.matchAll(/,(csv-\d),/g)].map((m) => m[1]);
    expect(ids).toEqual(['csv-0', 'csv-1', 'csv-2', 'csv-3', 'csv-4']);
    // limit, a filter, and a subscriber sees only her own calls
    const two = await call(app(), 'GET', '/api/cdrs/export.csv', { query: { start: '2024-06-01T00:00:00Z', limit: 2 } });
    expect([...two.body.matchAll(/,(csv-\d),/g)].map((m) => m[1])).toEqual(['csv-0', 'csv-1']);
    const bobs = await call(app(), 'GET', '/api/cdrs/export.csv', { auth: basic(`bob@${domain}`, 'nope') });
    expect(bobs.statusCode).toBe(401);
    const mine = await call(app(), 'GET', '/api/cdrs/export.csv', { auth: aliceAuth });
    expect(mine.body).toContain(',csv-4,');
    expect(mine.body).not.toContain(',c3,');
    const bad = await call(app(), 'GET', '/api/cdrs/export.csv', { query: { call_status: 'fine' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field)).toEqual(['call_status']);
  });

  it('CDRs with the same init_time: list pages and the CSV export give each exactly once (ties ordered by id; the export pages by keyset, past paging.max_rows)', async () => {
    const at = new Date('2023-03-03T03:03:03Z');
    const base = { call_status: 'ok' as const, call_code: '200', source_domain: domain, destination_domain: domain, init_time: at, duration: 1 };
    // one more than paging.max_rows (1000), so the export needs a second page inside the tie
    const rows = Array.from({ length: 1001 }, (_, i) => ({ ...base, call_id: `tie-${i}` }));
    for (let i = 0; i < rows.length; i += 250) await h().db('cdrs').insert(rows.slice(i, i + 250));
    const window = { start: '2023-03-03T00:00:00Z', end: '2023-03-04T00:00:00Z' };
    const seen: string[] = [];
    for (let page = 1; page <= 3; page++) {
      const r = await call(app(), 'GET', '/api/cdrs', { query: { ...window, rows: 400, page, order_by: 'init_time' } });
      seen.push(...r.data.items.map((c: { call_id: string }) => c.call_id));
    }
    expect(seen).toHaveLength(1001);
    expect(new Set(seen).size).toBe(1001);
    const csv = await call(app(), 'GET', '/api/cdrs/export.csv', { query: window });
    const ids = [...csv.body.matchAll(/,(tie-\d+),/g)].map((m) => m[1]);
    expect(ids).toHaveLength(1001);
    expect(new Set(ids).size).toBe(1001);
  });
});

describe('voicemails', () => {
  it('list, read, move, mark read, fetch the recording, delete — own messages only', async () => {
    const m1 = await insertVoicemail(h().db, alice.id, { caller: '4930111', duration: 12, audio: Buffer.from('RIFF....WAVE') });
    const m2 = await insertVoicemail(h().db, bob.id, { caller: '4930222', duration: 3 });
    const mine = await call(app(), 'GET', '/api/voicemails', { auth: aliceAuth });
    expect(mine.data.items).toEqual([expect.objectContaining({ id: m1, subscriber_id: alice.id, folder: 'INBOX', is_read: false, caller: '4930111', duration: 12, has_audio: true })]);
    expect((await call(app(), 'GET', `/api/voicemails/${m2}`, { auth: aliceAuth })).statusCode).toBe(404);
    const moved = await call(app(), 'PATCH', `/api/voicemails/${m1}`, { auth: aliceAuth, patch: true, body: [{ op: 'replace', path: '/folder', value: 'Old' }, { op: 'replace', path: '/is_read', value: true }] });
    expect(moved.data).toMatchObject({ folder: 'Old', is_read: true });
    const bad = await call(app(), 'PUT', `/api/voicemails/${m1}`, { auth: aliceAuth, body: { folder: 'Spam', is_read: true } });
    expect(bad.statusCode).toBe(422);
    expect((await call(app(), 'PATCH', `/api/voicemails/${m1}`, { auth: aliceAuth, patch: true, body: [{ op: 'replace', path: '/caller', value: 'x' }] })).statusCode).toBe(422);
    expect((await call(app(), 'GET', '/api/voicemails', { query: { subscriber_id: alice.id, folder: 'Old' } })).data.total_count).toBe(1);
    const rec = await app().inject({ method: 'GET', url: `/api/voicemails/${m1}/recording`, headers: { authorization: aliceAuth } });
    expect(rec.statusCode).toBe(200);
    expect(rec.headers['content-type']).toBe('audio/x-wav');
    expect(rec.body).toBe('RIFF....WAVE');
    expect((await app().inject({ method: 'GET', url: `/api/voicemails/${m2}/recording`, headers: { authorization: aliceAuth } })).statusCode).toBe(404);
    expect((await call(app(), 'POST', '/api/voicemails', { body: {} })).statusCode).toBe(405);
    expect((await call(app(), 'DELETE', `/api/voicemails/${m1}`, { auth: aliceAuth })).statusCode).toBe(204);
    expect((await call(app(), 'GET', `/api/voicemails/${m1}`)).statusCode).toBe(404);
  });

  it("GET, PUT, 422 naming each field; a reseller reaches its customers' messages only", async () => {
    const m = await insertVoicemail(h().db, alice.id, { caller: '4930444', duration: 7 });
    const other = await insertVoicemail(h().db, bob.id, { caller: '4930555', duration: 9 });
    const url = `/api/voicemails/${m}`;
    const got = await call(app(), 'GET', url);
    expect(got.data).toMatchObject({ id: m, subscriber_id: alice.id, folder: 'INBOX', is_read: false, caller: '4930444', duration: 7, has_audio: false });
    const put = await call(app(), 'PUT', url, { body: { folder: 'Work', is_read: true } });
    expect(put.statusCode).toBe(200);
    expect(put.data).toEqual({ ...got.data, folder: 'Work', is_read: true });
    expect((await call(app(), 'GET', url)).data).toEqual(put.data);
    const bad = await call(app(), 'PUT', url, { body: { folder: 'Spam', is_read: 'no', caller: 'x' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['caller', 'folder', 'is_read']);
    expect((await call(app(), 'PUT', url, { body: { folder: 'Old' } })).data.fields).toEqual([{ field: 'is_read', message: 'is required' }]);
    expect((await call(app(), 'GET', url)).data).toEqual(put.data);

    const list = await call(app(), 'GET', '/api/voicemails', { auth: resellerAuth, query: { rows: 1000 } });
    expect(list.data.items.map((v: { id: number }) => v.id)).toContain(m);
    expect(list.data.items.every((v: { subscriber_id: number }) => v.subscriber_id === alice.id)).toBe(true);
    for (const [method, body, patch] of [['GET'], ['PUT', { folder: 'Old', is_read: true }], ['PATCH', [{ op: 'replace', path: '/is_read', value: true }], true], ['DELETE']] as [string, unknown?, boolean?][]) {
      expect((await call(app(), method, `/api/voicemails/${other}`, { auth: resellerAuth, body, patch })).statusCode, method).toBe(404);
    }
    expect((await call(app(), 'GET', `/api/voicemails/${other}`)).data.is_read).toBe(false);
    expect((await call(app(), 'PATCH', url, { auth: resellerAuth, patch: true, body: [{ op: 'replace', path: '/folder', value: 'Family' }] })).data.folder).toBe('Family');
    expect((await call(app(), 'DELETE', url, { auth: resellerAuth })).statusCode).toBe(204);
    expect((await call(app(), 'GET', url)).statusCode).toBe(404);
  });
});

describe('voicemail settings', () => {
  const url = (id: number) => `/api/voicemailsettings/${id}`;
  const box = (id: number) => h().db('voicemail_boxes').where('subscriber_id', id).first();

  it('defaults without a box; PUT creates it, PUT/PATCH change it; the PIN is write-only, stored as scrypt, journaled without it', async () => {
    const carol = (await call(app(), 'POST', '/api/subscribers', { body: { domain, username: uniq('carol'), password: 'secret1' } })).data;
    const defaults = await call(app(), 'GET', url(carol.id));
    expect(defaults.statusCode).toBe(200);
    expect(defaults.data).toEqual({ id: carol.id, email: null, attach: true, delete_after_email: false, pin_set: false });
    expect(await box(carol.id)).toBeUndefined(); // nothing written on read

    const put = await call(app(), 'PUT', url(carol.id), { body: { pin: '4711', email: 'carol@example.org', attach: true, delete_after_email: true } });
    expect(put.statusCode).toBe(200);
    expect(put.data).toEqual({ id: carol.id, email: 'carol@example.org', attach: true, delete_after_email: true, pin_set: true });
    expectNoSecrets(put.body, ['4711']);
    const row = await box(carol.id);
    expect(row.pin_hash).toMatch(/^scrypt\$/);
    expect(await verifyPassword('4711', row.pin_hash)).toBe(true);
    expect(await call(app(), 'GET', url(carol.id))).toMatchObject({ statusCode: 200, data: put.data });

    // PUT without pin keeps it; absent fields take their defaults
    const keep = await call(app(), 'PUT', url(carol.id), { body: { email: 'c2@example.org' } });
    expect(keep.data).toEqual({ id: carol.id, email: 'c2@example.org', attach: true, delete_after_email: false, pin_set: true });
    expect((await box(carol.id)).pin_hash).toBe(row.pin_hash);

    // PATCH: `add /pin` sets a new PIN; other fields as usual; pin_set is read-only
    const patched = await call(app(), 'PATCH', url(carol.id), {
      patch: true, body: [{ op: 'add', path: '/pin', value: '0815230' }, { op: 'replace', path: '/attach', value: false }, { op: 'test', path: '/pin_set', value: true }],
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.data).toEqual({ id: carol.id, email: 'c2@example.org', attach: false, delete_after_email: false, pin_set: true });
    expectNoSecrets(patched.body, ['0815230']);
    expect(await verifyPassword('0815230', (await box(carol.id)).pin_hash)).toBe(true);
    const ro = await call(app(), 'PATCH', url(carol.id), { patch: true, body: [{ op: 'replace', path: '/pin_set', value: false }] });
    expect(ro.statusCode).toBe(422);
    expect(ro.data.fields).toEqual([{ field: 'pin_set', message: 'is read-only' }]);
    expect((await call(app(), 'PATCH', url(carol.id), { patch: true, body: [{ op: 'replace', path: '/pin', value: '1234' }] })).data.code).toBe('NGCP_API_PATCH_INVALID');

    // "pin": null removes the PIN
    const cleared = await call(app(), 'PUT', url(carol.id), { body: { pin: null, email: null } });
    expect(cleared.data).toMatchObject({ pin_set: false, email: null });
    expect((await box(carol.id)).pin_hash).toBeNull();

    // list, filtered and paged like the others; every visible subscriber has settings
    const one = await call(app(), 'GET', '/api/voicemailsettings', { query: { subscriber_id: carol.id } });
    expect(one.data).toEqual({ total_count: 1, page: 1, rows: 10, items: [cleared.data] });
    const all = await call(app(), 'GET', '/api/voicemailsettings', { query: { rows: 2, order_by: 'id', order_by_direction: 'desc' } });
    expect(all.data.total_count).toBeGreaterThanOrEqual(3);
    expect(all.data.items[0].id).toBeGreaterThan(all.data.items[1].id);
    expectNoSecrets(all.body);

    // journal: who changed it, never the PIN or its hash
    const j = await call(app(), 'GET', '/api/journal', { query: { entity: 'voicemail_settings', entity_id: String(carol.id), rows: 100 } });
    expect(j.data.items.map((e: { op: string }) => e.op)).toEqual(['update', 'update', 'update', 'update']);
    expect(j.data.items[0].content).toEqual(put.data);
    expect(j.body).not.toMatch(/4711|0815230|scrypt|"pin"|pin_hash/);

    expect((await call(app(), 'POST', '/api/voicemailsettings', { body: {} })).statusCode).toBe(405);
    expect((await call(app(), 'DELETE', url(carol.id))).statusCode).toBe(405);
    expect((await call(app(), 'GET', url(4000000000))).statusCode).toBe(404);
    expect((await call(app(), 'PUT', url(4000000000), { body: {} })).statusCode).toBe(404);
  });

  it('422 naming each failing field: PIN, email, types, unknown properties, delete without mail', async () => {
    const before = await box(bob.id);
    const bad = await call(app(), 'PUT', url(bob.id), { body: { pin: '12a4', email: 'not-an-email', attach: 'yes', colour: 'red' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.code).toBe('NGCP_API_VALIDATION');
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['attach', 'colour', 'email', 'pin']);
    expect(bad.body).not.toContain('12a4');
    for (const pin of ['123', '12345678901', ' 1234', 4711]) {
      const r = await call(app(), 'PUT', url(bob.id), { body: { pin } });
      expect(r.statusCode, String(pin)).toBe(422);
      expect(r.data.fields.map((f: { field: string }) => f.field)).toEqual(['pin']);
    }
    const lost = await call(app(), 'PUT', url(bob.id), { body: { delete_after_email: true, attach: true } });
    expect(lost.data.fields).toEqual([{ field: 'delete_after_email', message: expect.stringContaining('email') }]);
    expect((await call(app(), 'PUT', url(bob.id), { body: { delete_after_email: true, attach: false, email: 'b@example.org' } })).data.fields[0].field).toBe('delete_after_email');
    const unknown = await call(app(), 'PATCH', url(bob.id), { patch: true, body: [{ op: 'add', path: '/greeting', value: 'hi' }, { op: 'add', path: '/pin', value: '99' }] });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['greeting', 'pin']);
    expect((await call(app(), 'PUT', url(bob.id), { body: '{"pin": ' })).statusCode).toBe(400);
    expect(await box(bob.id)).toEqual(before); // nothing was written
  });

  it('a subscriber reads and changes only its own settings; a reseller those of its customers; 401 without credentials', async () => {
    const bobBox = await box(bob.id);
    const own = await call(app(), 'PUT', url(alice.id), { auth: aliceAuth, body: { pin: '2468', email: 'alice@example.org' } });
    expect(own.statusCode).toBe(200);
    expect(own.data).toMatchObject({ id: alice.id, pin_set: true, email: 'alice@example.org' });
    expectNoSecrets(own.body, ['2468']);
    expect((await call(app(), 'GET', url(alice.id), { auth: aliceAuth })).data.pin_set).toBe(true);
    expect((await call(app(), 'GET', url(bob.id), { auth: aliceAuth })).statusCode).toBe(404);
    expect((await call(app(), 'PUT', url(bob.id), { auth: aliceAuth, body: { pin: '1357' } })).statusCode).toBe(404);
    expect((await call(app(), 'PATCH', url(bob.id), { auth: aliceAuth, patch: true, body: [{ op: 'add', path: '/pin', value: '1357' }] })).statusCode).toBe(404);
    expect((await call(app(), 'GET', '/api/voicemailsettings', { auth: aliceAuth })).data.items.map((i: { id: number }) => i.id)).toEqual([alice.id]);

    expect((await call(app(), 'GET', url(alice.id), { auth: resellerAuth })).data).toEqual(own.data);
    expect((await call(app(), 'GET', url(bob.id), { auth: resellerAuth })).statusCode).toBe(404);
    expect((await call(app(), 'PUT', url(bob.id), { auth: resellerAuth, body: {} })).statusCode).toBe(404);
    const patched = await call(app(), 'PATCH', url(alice.id), { auth: resellerAuth, patch: true, body: [{ op: 'replace', path: '/attach', value: false }] });
    expect(patched.data).toMatchObject({ attach: false, pin_set: true });
    expect((await call(app(), 'GET', '/api/voicemailsettings', { auth: resellerAuth })).data.items.map((i: { id: number }) => i.id)).toEqual([alice.id]);

    expect((await call(app(), 'GET', url(alice.id), { auth: null })).statusCode).toBe(401);
    expect((await call(app(), 'PUT', url(alice.id), { auth: null, body: { pin: '1111' } })).statusCode).toBe(401);
    expect(await box(bob.id)).toEqual(bobBox);
  });
});

describe('journal', () => {
  it('records who changed what, filterable; admin only; read-only', async () => {
    const d = await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('j')}.example` } });
    const res = await call(app(), 'GET', '/api/journal', { query: { entity: 'domain', entity_id: String(d.data.id), op: 'create' } });
    expect(res.data.items).toEqual([expect.objectContaining({ entity: 'domain', entity_id: String(d.data.id), op: 'create', login: 'admin', role: 'admin', remote_addr: '127.0.0.1', content: d.data })]);
    const one = await call(app(), 'GET', `/api/journal/${res.data.items[0].id}`);
    expect(one.data.content).toEqual(d.data);
    const subJournal = await call(app(), 'GET', '/api/journal', { query: { entity: 'subscriber', entity_id: String(alice.id) } });
    expect(subJournal.body).not.toMatch(/password|ha1|secret1/);
    expect((await call(app(), 'GET', '/api/journal', { auth: aliceAuth })).statusCode).toBe(403);
    expect((await call(app(), 'POST', '/api/journal', { body: {} })).statusCode).toBe(405);
  });
});

describe('live views from Redis', () => {
  const binding = (contact: string, inS: number): LocationBinding => ({
    contact, expires: Math.floor(Date.now() / 1000) + inS, q: 1, user_agent: 'softphone/1.0', received: 'udp:198.51.100.7:5060',
    path: ['<sip:lb@127.0.0.1;lr;received=sip:198.51.100.7:5060>'], socket: 'udp:127.0.0.1:5062', call_id: 'reg-1', cseq: 3,
  });

  it('registrations: current contacts only, per-role visibility', async () => {
    const r = h().redis;
    const aAor = `alice@${domain}`;
    await r.hset(redisKeys.location(aAor), 'sip:alice@198.51.100.7:5060', JSON.stringify(binding('sip:alice@198.51.100.7:5060', 300)),
      'sip:alice@10.0.0.9', JSON.stringify(binding('sip:alice@10.0.0.9', -5)));
    await r.hset(redisKeys.location(`bob@${domain}`), 'sip:bob@198.51.100.8', JSON.stringify(binding('sip:bob@198.51.100.8', 100)));
    await r.hset(redisKeys.location('ghost@elsewhere.example'), 'sip:g@x', JSON.stringify(binding('sip:g@x', 100)));
    const all = await call(app(), 'GET', '/api/registrations', { query: { domain } });
    expect(all.statusCode).toBe(200);
    expect(all.data.items.map((x: { id: string }) => x.id)).toEqual([aAor, `bob@${domain}`]);
    const a = all.data.items[0];
    expect(a).toMatchObject({ aor: aAor, username: 'alice', domain, subscriber_id: alice.id });
    expect(a.contacts).toHaveLength(1); // the expired one is not shown
    expect(a.contacts[0]).toMatchObject({ contact: 'sip:alice@198.51.100.7:5060', received: 'udp:198.51.100.7:5060', q: 1, cseq: 3, path: [expect.stringContaining('lb@')] });
    expect(a.contacts[0].expires_in).toBeGreaterThan(290);
    expect((await call(app(), 'GET', `/api/registrations/${encodeURIComponent(aAor)}`)).data.id).toBe(aAor);
    expect((await call(app(), 'GET', '/api/registrations', { query: { subscriber_id: bob.id } })).data.items.map((x: { id: string }) => x.id)).toEqual([`bob@${domain}`]);
    expect((await call(app(), 'GET', '/api/registrations/ghost%40elsewhere.example')).data.subscriber_id).toBeNull();
    expect((await call(app(), 'GET', '/api/registrations', { auth: aliceAuth })).data.items.map((x: { id: string }) => x.id)).toEqual([aAor]);
    expect((await call(app(), 'GET', `/api/registrations/${encodeURIComponent(`bob@${domain}`)}`, { auth: aliceAuth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', '/api/registrations', { auth: resellerAuth })).data.items.map((x: { id: string }) => x.id)).toEqual([aAor]);
    expect((await call(app(), 'GET', '/api/registrations/nobody%40nowhere')).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', `/api/registrations/${encodeURIComponent(aAor)}`)).statusCode).toBe(405);
  });

  it('calls: active calls with typed fields, per-role visibility', async () => {
    const r = h().redis;
    const now = Math.floor(Date.now() / 1000);
    await r.hset(redisKeys.call('call-1@x'), { call_id: 'call-1@x', caller: '4930111', callee: '4930222', state: 'answered', start_time: String(now - 30), answer_time: String(now - 25), caller_subscriber_id: String(alice.id), customer_id: String(custA), node: 'sp1' });
    await r.hset(redisKeys.call('call-2@x'), { call_id: 'call-2@x', caller: '4930333', callee: '447700900123', state: 'ringing', start_time: String(now - 2), caller_subscriber_id: String(bob.id), peer: 'carrier-a' });
    const all = await call(app(), 'GET', '/api/calls');
    expect(all.data.items).toHaveLength(2);
    expect(all.data.items[0]).toMatchObject({ id: 'call-1@x', state: 'answered', caller_subscriber_id: alice.id, customer_id: custA, callee_subscriber_id: null, node: 'sp1' });
    expect(all.data.items[0].answer_time).toBe(new Date((now - 25) * 1000).toISOString());
    expect((await call(app(), 'GET', '/api/calls', { query: { state: 'ringing' } })).data.items.map((c: { id: string }) => c.id)).toEqual(['call-2@x']);
    expect((await call(app(), 'GET', '/api/calls', { auth: aliceAuth })).data.items.map((c: { id: string }) => c.id)).toEqual(['call-1@x']);
    expect((await call(app(), 'GET', '/api/calls', { auth: resellerAuth })).data.items.map((c: { id: string }) => c.id)).toEqual(['call-1@x']);
    expect((await call(app(), 'GET', '/api/calls/call-2%40x', { auth: aliceAuth })).statusCode).toBe(404);
    expect((await call(app(), 'GET', '/api/calls/call-2%40x')).data.peer).toBe('carrier-a');
    expect(all.data.items[0].caller_call_id).toBeNull();
    // a call through the sbc: listed under its B leg, found by the caller's Call-ID too (sbc:leg → sbc:call → its B leg)
    await r.hset(redisKeys.call('b-leg@sbc'), { call_id: 'b-leg@sbc', caller_call_id: 'a-leg@phone', caller: '4930111', callee: '4930222', state: 'answered', start_time: String(now), caller_subscriber_id: String(alice.id) });
    await r.set(redisKeys.sbcLeg('a-leg@phone'), 'sbc-1');
    await r.set(redisKeys.sbcCall('sbc-1'), JSON.stringify({ id: 'sbc-1', a: { dialog: { id: { callId: 'a-leg@phone' } } }, b: { dialog: { id: { callId: 'b-leg@sbc' } } } }));
    expect((await call(app(), 'GET', '/api/calls/a-leg%40phone')).data).toMatchObject({ id: 'b-leg@sbc', call_id: 'b-leg@sbc', caller_call_id: 'a-leg@phone' });
    expect((await call(app(), 'GET', '/api/calls/a-leg%40phone', { auth: aliceAuth })).statusCode).toBe(200);
    // DELETE: only a call through the sbc can be ended; this API has no sbc_control → 409 naming why; a subscriber may not
    const del = await call(app(), 'DELETE', '/api/calls/call-1%40x');
    expect(del.statusCode).toBe(409);
    expect(JSON.stringify(del.data)).toMatch(/only an answered call through the sbc/);
    expect((await call(app(), 'DELETE', '/api/calls/a-leg%40phone')).statusCode).toBe(409);
    expect((await call(app(), 'DELETE', '/api/calls/call-1%40x', { auth: aliceAuth })).statusCode).toBe(403);
    expect((await call(app(), 'DELETE', '/api/calls/nope%40x')).statusCode).toBe(404);
    expect(await r.exists(redisKeys.call('call-1@x'))).toBe(1);
  });

  it('banned IPs and users: list with remaining time, DELETE unbans (journaled, announced on ngcp:changes), admin only', async () => {
    const r = h().redis;
    const sub = new Redis(r.options.port!, r.options.host!);
    const notes: Array<{ entity: string; id: unknown; op: string }> = [];
    await sub.subscribe(CHANGES_CHANNEL);
    sub.on('message', (_ch, msg) => notes.push(JSON.parse(msg)));
    await r.set(redisKeys.ipBan('198.51.100.66'), JSON.stringify({ reason: 'flood', banned_at: 1700000000, count: 500 }), 'EX', 300);
    await r.set(redisKeys.userBan(`bob@${domain}`), JSON.stringify({ reason: 'auth failures', banned_at: 1700000000, count: 10 }), 'EX', 120);
    const ips = await call(app(), 'GET', '/api/bannedips');
    expect(ips.data.items).toEqual([{ id: '198.51.100.66', reason: 'flood', banned_at: '2023-11-14T22:13:20.000Z', count: 500, expires_in: expect.any(Number), expires_at: expect.any(String) }]);
    expect(Date.parse(ips.data.items[0].expires_at) - Date.now()).toBeGreaterThan(290_000);
    expect(ips.data.items[0].expires_in).toBeGreaterThan(290);
    expect((await call(app(), 'GET', '/api/bannedips/198.51.100.66')).data).toMatchObject({ id: '198.51.100.66', reason: 'flood', count: 500 });
    const users = await call(app(), 'GET', '/api/bannedusers');
    expect(users.data.items[0]).toMatchObject({ id: `bob@${domain}`, reason: 'auth failures' });
    expect((await call(app(), 'GET', `/api/bannedusers/${encodeURIComponent(`bob@${domain}`)}`)).data).toMatchObject({ id: `bob@${domain}`, count: 10 });
    expect((await call(app(), 'GET', '/api/bannedips', { auth: resellerAuth })).statusCode).toBe(403);
    expect((await call(app(), 'DELETE', '/api/bannedips/198.51.100.66', { auth: aliceAuth })).statusCode).toBe(403);
    expect((await call(app(), 'DELETE', '/api/bannedips/198.51.100.66')).statusCode).toBe(204);
    expect(await r.exists(redisKeys.ipBan('198.51.100.66'))).toBe(0);
    expect((await call(app(), 'DELETE', '/api/bannedips/198.51.100.66')).statusCode).toBe(404);
    expect((await call(app(), 'DELETE', `/api/bannedusers/${encodeURIComponent(`bob@${domain}`)}`)).statusCode).toBe(204);
    expect((await call(app(), 'GET', `/api/bannedusers/${encodeURIComponent(`bob@${domain}`)}`)).statusCode).toBe(404);
    const j = await call(app(), 'GET', '/api/journal', { query: { entity: 'ipban', entity_id: '198.51.100.66' } });
    expect(j.data.items[0]).toMatchObject({ op: 'delete', content: { reason: 'flood' } });
    // the lb and the proxy hold bans in memory: each lift is announced once, the refused and 404 ones not
    await new Promise((res) => setTimeout(res, 100));
    await sub.quit();
    expect(notes.filter((n) => n.entity === 'ipban' || n.entity === 'userban').map((n) => [n.entity, n.id, n.op])).toEqual([
      ['ipban', '198.51.100.66', 'delete'],
      ['userban', `bob@${domain}`, 'delete'],
    ]);
  });
});
