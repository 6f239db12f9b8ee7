import { useMariaDb } from '@ngcp/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_PREFERENCES, MIGRATIONS, migrate, type Db } from '../src/index.js';
import { freshDb } from './helpers.js';

const mariadb = useMariaDb({ grantAll: true });

const ALL_TABLES = [
  'acc', 'api_tokens', 'api_users', 'billing_fees', 'billing_profiles', 'call_forwards', 'cdrs', 'customer_balances', 'customer_preferences', 'customers',
  'domain_preferences', 'domains', 'journal', 'ncos_levels', 'ncos_patterns', 'numbers', 'peer_preferences', 'peering_groups', 'peering_rules',
  'peering_servers', 'preference_defs', 'prepaid_charges', 'prepaid_reservations', 'resellers', 'rewrite_rule_sets', 'rewrite_rules', 'subscriber_preferences',
  'subscribers', 'voicemail_boxes', 'voicemail_messages',
];

async function tables(db: Db): Promise<string[]> {
  const [rows] = (await db.raw('SHOW TABLES')) as [Record<string, string>[]];
  return rows.map((r) => Object.values(r)[0] as string).filter((t) => !t.startsWith('knex_')).sort();
}

describe('migrations', () => {
  let db: Db;
  beforeAll(async () => {
    db = await freshDb(mariadb());
  });
  afterAll(async () => {
    await db?.destroy();
  });

  it('latest creates every table, seeds the preference definitions, and is idempotent', async () => {
    const res = await migrate.latest(db);
    expect(res.names).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await tables(db)).toEqual(ALL_TABLES);
    const defs = await db('preference_defs').count({ n: '*' }).first();
    expect(Number(defs?.n)).toBe(BUILTIN_PREFERENCES.length);
    expect((await migrate.latest(db)).names).toEqual([]);
    expect(await migrate.status(db)).toEqual({ applied: MIGRATIONS.map((m) => m.name), pending: [] });
  });

  it('goes down one migration at a time, each leaving only its predecessors’ tables', async () => {
    const seen: string[][] = [];
    for (let i = MIGRATIONS.length - 1; i >= 0; i--) {
      const res = await migrate.down(db);
      expect(res.names).toEqual([MIGRATIONS[i]?.name]);
      seen.push(await tables(db));
    }
    expect(seen.at(-1)).toEqual([]);
    // the first step (0011) took its table away, the next two (0010, 0009) altered tables only; the fourth (0008) took its tables away
    expect(ALL_TABLES.filter((t) => !seen[0]!.includes(t))).toEqual(['prepaid_reservations']);
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[1]);
    expect(seen[2]!.filter((t) => !seen[3]!.includes(t))).toEqual(['billing_fees', 'billing_profiles', 'customer_balances', 'prepaid_charges']);
    // each step leaves a subset of the tables before it (0005, 0006, 0007, 0009 and 0010 alter tables only)
    for (let i = 1; i < seen.length; i++) expect(seen[i - 1]).toEqual(expect.arrayContaining(seen[i]!));
    expect(new Set(seen.map((s) => s.length)).size, 'the table-creating migrations each removed theirs (0010 and 0009 none)').toBe(6);
  });

  it('0005-acc-kind: rows written before get their kind, duplicates of a kind collapse to the first', async () => {
    await migrate.latest(db);
    expect((await migrate.down(db)).names).toEqual(['0011-prepaid-reservations']);
    expect((await migrate.down(db)).names).toEqual(['0010-call-type-voicemail']);
    expect((await migrate.down(db)).names).toEqual(['0009-peer-register']);
    expect((await migrate.down(db)).names).toEqual(['0008-prepaid']);
    expect((await migrate.down(db)).names).toEqual(['0007-peer-auth']);
    expect((await migrate.down(db)).names).toEqual(['0006-mediation']);
    expect((await migrate.down(db)).names).toEqual(['0005-acc-kind']);
    const t = new Date();
    await db('acc').insert([
      { method: 'INVITE', callid: 'm1', sip_code: '200', time: t },
      { method: 'INVITE', callid: 'm1', sip_code: '200', time: t, sip_reason: 'dup' },
      { method: 'BYE', callid: 'm1', sip_code: '200', time: t },
      { method: 'INVITE', callid: 'm2', sip_code: '487', time: t },
    ]);
    await migrate.latest(db);
    const rows = await db('acc').whereIn('callid', ['m1', 'm2']).orderBy('id').select('callid', 'kind', 'sip_reason');
    expect(rows).toEqual([
      { callid: 'm1', kind: 'start', sip_reason: '' },
      { callid: 'm1', kind: 'stop', sip_reason: '' },
      { callid: 'm2', kind: 'failure', sip_reason: '' },
    ]);
    await expect(db('acc').insert({ method: 'BYE', kind: 'stop', callid: 'm1', sip_code: '200', time: t })).rejects.toThrow(/Duplicate/);
    await db('acc').del();
  });

  it('up again, then rollback all, leaves nothing but the migration bookkeeping', async () => {
    await migrate.latest(db);
    const res = await migrate.rollback(db, { all: true });
    expect(res.names.sort()).toEqual(MIGRATIONS.map((m) => m.name).sort());
    expect(await tables(db)).toEqual([]);
    expect((await migrate.status(db)).pending).toHaveLength(MIGRATIONS.length);
    await migrate.latest(db);
    expect(await tables(db)).toEqual(ALL_TABLES);
  });

  it('no column stores a clear-text SIP or web password (but the one the platform itself answers peers with)', async () => {
    const [rows] = (await db.raw(
      "SELECT TABLE_NAME t, COLUMN_NAME c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME LIKE '%pass%'",
    )) as [{ t: string; c: string }[]];
    // peering_servers.auth_password (0007): the platform is the digest client towards a peer and
    // needs the secret for whatever realm the peer names; the API never returns it
    expect(rows.map((r) => `${r.t}.${r.c}`).sort()).toEqual(['api_users.password_hash', 'peering_servers.auth_password', 'subscribers.webpassword_hash']);
  });

  it('0007-peer-auth: credentials of a peering server, all nullable; down drops them', async () => {
    await migrate.latest(db);
    const [gid] = (await db('peering_groups').insert({ name: 'm7' })) as [number];
    const [sid] = (await db('peering_servers').insert({ group_id: gid, name: 's', host: '192.0.2.1' })) as [number];
    expect(await db('peering_servers').where('id', sid).first('auth_username', 'auth_password', 'auth_realm')).toEqual({ auth_username: null, auth_password: null, auth_realm: null });
    await db('peering_servers').where('id', sid).update({ auth_username: 'trunk1', auth_password: 'pw', auth_realm: 'carrier.example' });
    expect((await migrate.down(db)).names).toEqual(['0011-prepaid-reservations']);
    expect((await migrate.down(db)).names).toEqual(['0010-call-type-voicemail']);
    expect((await migrate.down(db)).names).toEqual(['0009-peer-register']);
    expect((await migrate.down(db)).names).toEqual(['0008-prepaid']);
    expect((await migrate.down(db)).names).toEqual(['0007-peer-auth']);
    const cols = Object.keys((await db('peering_servers').where('id', sid).first()) as Record<string, unknown>);
    expect(cols.filter((c) => c.startsWith('auth_'))).toEqual([]);
    await migrate.latest(db);
    await db('peering_groups').where('id', gid).delete();
  });

  it('0009-peer-register: registration off with 600 s by default, the names NULL-able; down drops them', async () => {
    await migrate.latest(db);
    const [gid] = (await db('peering_groups').insert({ name: 'm9' })) as [number];
    const [sid] = (await db('peering_servers').insert({ group_id: gid, name: 's', host: '192.0.2.9' })) as [number];
    const cols = ['register_enable', 'register_expires_s', 'register_user', 'register_domain', 'register_contact_user'];
    expect(await db('peering_servers').where('id', sid).first(cols)).toEqual({ register_enable: 0, register_expires_s: 600, register_user: null, register_domain: null, register_contact_user: null });
    await db('peering_servers').where('id', sid).update({ register_enable: 1, register_expires_s: 120, register_user: 'trunk1', register_domain: 'carrier.example', register_contact_user: '4930123' });
    expect((await migrate.down(db)).names).toEqual(['0011-prepaid-reservations']);
    expect((await migrate.down(db)).names).toEqual(['0010-call-type-voicemail']);
    expect((await migrate.down(db)).names).toEqual(['0009-peer-register']);
    const left = Object.keys((await db('peering_servers').where('id', sid).first()) as Record<string, unknown>);
    expect(left.filter((c) => c.startsWith('register_'))).toEqual([]);
    expect(left).toContain('auth_username');
    await migrate.latest(db);
    await db('peering_groups').where('id', gid).delete();
  });

  it('0010-call-type-voicemail: acc and cdrs take call type voicemail; down maps those rows to call and refuses the value again', async () => {
    await migrate.latest(db);
    const t = new Date();
    const cdr = { call_id: 'm10', call_status: 'ok', call_code: '200', init_time: t, destination_domain: 'voicebox.local' };
    await db('acc').insert([
      { method: 'INVITE', kind: 'start', callid: 'm10', sip_code: '200', time: t, dst_domain: 'voicebox.local', call_type: 'voicemail' },
      { method: 'INVITE', kind: 'start', callid: 'm10b', sip_code: '200', time: t, call_type: 'cfb' },
    ]);
    await db('cdrs').insert({ ...cdr, call_type: 'voicemail' });
    expect(await db('acc').whereIn('callid', ['m10', 'm10b']).orderBy('id').pluck('call_type')).toEqual(['voicemail', 'cfb']);
    expect((await migrate.down(db)).names).toEqual(['0011-prepaid-reservations']);
    expect((await migrate.down(db)).names).toEqual(['0010-call-type-voicemail']);
    // the voicemail rows are still there, as calls (their domain still says voicebox); others untouched
    expect(await db('acc').whereIn('callid', ['m10', 'm10b']).orderBy('id').select('call_type', 'dst_domain')).toEqual([
      { call_type: 'call', dst_domain: 'voicebox.local' }, { call_type: 'cfb', dst_domain: null },
    ]);
    expect(await db('cdrs').where('call_id', 'm10').select('call_type', 'destination_domain')).toEqual([{ call_type: 'call', destination_domain: 'voicebox.local' }]);
    await expect(db('cdrs').insert({ ...cdr, call_id: 'm10c', call_type: 'voicemail' })).rejects.toThrow(/call_type/);
    await migrate.latest(db);
    await db('acc').whereIn('callid', ['m10', 'm10b']).del();
    await db('cdrs').where('call_id', 'm10').del();
  });

  it('0008-prepaid: profiles, fees, customers prepaid and billing profile, balances, charges; down removes them', async () => {
    await migrate.latest(db);
    const [pid] = (await db('billing_profiles').insert({ name: 'm8' })) as [number];
    await db('billing_fees').insert({ billing_profile_id: pid, destination: '49', price_per_minute: 600, first_interval: 1, next_interval: 1 });
    await expect(db('billing_fees').insert({ billing_profile_id: pid, destination: '49' })).rejects.toThrow(/uq_billing_fees_destination/);
    const [cid] = (await db('customers').insert({ name: 'm8', billing_profile_id: pid })) as [number];
    expect(await db('customers').where('id', cid).first('prepaid', 'billing_profile_id')).toEqual({ prepaid: 0, billing_profile_id: pid });
    await expect(db('billing_profiles').where('id', pid).delete()).rejects.toThrow(/fk_customers_billing_profile_id/);
    await db('customer_balances').insert({ customer_id: cid, cash_balance: 9_007_199_254_740 });
    expect(await db('customer_balances').where('customer_id', cid).first('cash_balance', 'reserved')).toEqual({ cash_balance: 9_007_199_254_740, reserved: 0 });
    await db('customers').where('id', cid).delete();
    expect(await db('customer_balances').where('customer_id', cid).first()).toBeUndefined();
    expect((await migrate.down(db)).names).toEqual(['0011-prepaid-reservations']);
    expect((await migrate.down(db)).names).toEqual(['0010-call-type-voicemail']);
    expect((await migrate.down(db)).names).toEqual(['0009-peer-register']);
    expect((await migrate.down(db)).names).toEqual(['0008-prepaid']);
    const [colRows] = (await db.raw("SELECT COLUMN_NAME c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'customers'")) as [{ c: string }[]];
    expect(colRows.map((r) => r.c)).not.toContain('prepaid');
    expect(colRows.map((r) => r.c)).not.toContain('billing_profile_id');
    expect(await tables(db)).not.toContain('billing_fees');
    await migrate.latest(db);
  });

  it('0011-prepaid-reservations: one row per call id, gone with its customer; down drops the table', async () => {
    await migrate.latest(db);
    const [cid] = (await db('customers').insert({ name: 'm11', prepaid: true })) as [number];
    const row = { call_id: 'm11-call', customer_id: cid, held: 30, granted: 3, destination: '49', price_per_minute: 600, first_interval: 1, next_interval: 1, created_at: new Date(), updated_at: new Date() };
    await db('prepaid_reservations').insert(row);
    expect(await db('prepaid_reservations').where('call_id', 'm11-call').first('held', 'granted', 'answered_at')).toEqual({ held: 30, granted: 3, answered_at: null });
    await expect(db('prepaid_reservations').insert(row)).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
    await expect(db('prepaid_reservations').insert({ ...row, call_id: 'm11-other', customer_id: 999_999 })).rejects.toThrow(/fk_prepaid_reservations_customer_id/);
    await db('customers').where('id', cid).delete();
    expect(await db('prepaid_reservations').where('call_id', 'm11-call').first()).toBeUndefined();
    expect((await migrate.down(db)).names).toEqual(['0011-prepaid-reservations']);
    expect(await tables(db)).not.toContain('prepaid_reservations');
    expect(await tables(db)).toContain('prepaid_charges');
    await migrate.latest(db);
  });
});

describe('constraints the API relies on', () => {
  let db: Db;
  let domainId: number;
  beforeAll(async () => {
    db = await freshDb(mariadb());
    await migrate.latest(db);
    [domainId] = (await db('domains').insert({ domain: 'example.org' })) as [number];
  });
  afterAll(async () => {
    await db?.destroy();
  });

  const sub = (username: string) => ({ uuid: crypto.randomUUID(), domain_id: domainId, username, ha1_md5: 'a'.repeat(32), ha1_sha256: 'b'.repeat(64) });

  it('username is unique per domain, reported by a key named after the field', async () => {
    await db('subscribers').insert(sub('alice'));
    await expect(db('subscribers').insert(sub('alice'))).rejects.toMatchObject({ code: 'ER_DUP_ENTRY', sqlMessage: expect.stringContaining('uq_subscribers_username') });
  });

  it('one primary number per subscriber; any number of aliases; numbers go with their subscriber', async () => {
    const [sid] = (await db('subscribers').insert(sub('bob'))) as [number];
    await db('numbers').insert({ e164: '4930111', subscriber_id: sid, is_primary: true });
    await db('numbers').insert({ e164: '4930112', subscriber_id: sid, is_primary: false });
    await db('numbers').insert({ e164: '4930113', subscriber_id: sid, is_primary: false });
    await expect(db('numbers').insert({ e164: '4930114', subscriber_id: sid, is_primary: true })).rejects.toMatchObject({
      code: 'ER_DUP_ENTRY', sqlMessage: expect.stringContaining('uq_numbers_is_primary'),
    });
    await expect(db('numbers').insert({ e164: '4930111', subscriber_id: null })).rejects.toMatchObject({ code: 'ER_DUP_ENTRY' });
    await db('subscribers').where('id', sid).delete();
    expect(await db('numbers').whereIn('e164', ['4930111', '4930112', '4930113'])).toEqual([]);
  });

  it('a domain with subscribers cannot be deleted; a missing reference is refused by name', async () => {
    await expect(db('domains').where('id', domainId).delete()).rejects.toMatchObject({ code: 'ER_ROW_IS_REFERENCED_2' });
    await expect(db('subscribers').insert({ ...sub('carol'), customer_id: 999 })).rejects.toMatchObject({
      code: 'ER_NO_REFERENCED_ROW_2', sqlMessage: expect.stringContaining('fk_subscribers_customer_id'),
    });
  });

  it('timestamps are maintained by the database, in UTC, with milliseconds', async () => {
    const before = Date.now();
    const [id] = (await db('domains').insert({ domain: 'ts.example' })) as [number];
    const row = await db('domains').where('id', id).first();
    expect(row.created_at).toBeInstanceOf(Date);
    expect(Math.abs(row.created_at.getTime() - before)).toBeLessThan(5000);
  });
});
