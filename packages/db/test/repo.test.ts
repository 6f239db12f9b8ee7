import { computeHA1 } from '@ngcp/sip';
import { useMariaDb } from '@ngcp/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyRewriteRules, ensureVoicemailBox, findPeeringRoutes, findSubscriberCredentials, getCallForwards,
  getEffectivePreferences, getNcosLevel, getPreferences, getRewriteRules, insertAcc, insertAccs, insertCdr, insertVoicemail,
  createReader, readerFor, depositVoicemail, voicemailFile, findVoicemailOwner, voicemailCounts, listBoxMessages, voicemailAudio, markVoicemailRead, moveVoicemail, deleteVoicemail, findPrepaidAccount, findBillingFees, getBalance, reserveCredit, reservePrepaidCall, markPrepaidAnswered, staleReservations, settlePrepaidCall, loadPreferenceDefs, lookupNumber, migrate, ncosAllows, subscriberHa1, subscriberNumbers, domainExists, type Db,
  CALL_FORWARDS_ENTITY, checkCallForwards, publishChange, readCallForwardDocs, replaceCallForwards, updateCallForwards,
} from '../src/index.js';
import { freshDb } from './helpers.js';

const mariadb = useMariaDb({ grantAll: true });
let db: Db;
let domainId: number;
let customerId: number;
let aliceId: number;

beforeAll(async () => {
  db = await freshDb(mariadb());
  await migrate.latest(db);
  [domainId] = (await db('domains').insert({ domain: 'example.org' })) as [number];
  [customerId] = (await db('customers').insert({ name: 'ACME', concurrent_max: 10 })) as [number];
  [aliceId] = (await db('subscribers').insert({
    uuid: crypto.randomUUID(), domain_id: domainId, customer_id: customerId, username: 'alice', ...subscriberHa1('alice', 'example.org', 'pw'),
  })) as [number];
  await db('numbers').insert([
    { e164: '4912345', subscriber_id: aliceId, is_primary: true },
    { e164: '4912346', subscriber_id: aliceId, is_primary: false },
    { e164: '4999999', subscriber_id: null, is_primary: false },
  ]);
});
afterAll(async () => {
  await db?.destroy();
});

describe('reader (MariaDB connector, prepared statements)', () => {
  const SQL = 'SELECT s.id, s.username, s.customer_id, s.display_name, s.created_at, n.e164, n.is_primary FROM subscribers s LEFT JOIN numbers n ON n.subscriber_id = s.id WHERE s.id = ? ORDER BY n.e164';
  it('returns the same values as knex, numbers as numbers and DATETIME as UTC text', async () => {
    const m = mariadb();
    const reader = createReader({ ...m.connectionConfig(), database: (db.client.config.connection as { database: string }).database, readers: 2 });
    try {
      for (let i = 0; i < 3; i++) {
        const rows = await reader.execute<Record<string, unknown>>(SQL, [aliceId]);
        const [viaKnex] = (await db.raw(SQL, [aliceId]).options({ dateStrings: true })) as unknown as [Record<string, unknown>[]];
        expect(rows.map((r) => ({ ...r }))).toEqual(viaKnex.map((r) => ({ ...r })));
        expect(rows[0]).toMatchObject({ id: aliceId, username: 'alice', customer_id: customerId, display_name: null, e164: '4912345', is_primary: 1 });
        expect(rows[0]?.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
      }
      expect(await reader.execute(SQL, [aliceId + 1000])).toEqual([]);
      await expect(reader.execute('SELECT nope FROM subscribers WHERE id = ?', [1])).rejects.toThrow(/nope/);
      for (let i = 0; i < 5; i++) await expect(reader.execute('SELECT nope FROM subscribers WHERE id = ?', [1])).rejects.toThrow();
      expect((await reader.execute(SQL, [aliceId])).length).toBe(2);
      expect(reader.stats().active).toBe(0);
    } finally {
      await reader.close();
      await reader.close();
    }
  });

  it('readerFor: inside a knex transaction the read goes through it and sees its writes', async () => {
    const m = mariadb();
    const reader = createReader({ ...m.connectionConfig(), database: (db.client.config.connection as { database: string }).database, readers: 1 });
    try {
      await db.transaction(async (trx) => {
        await trx('subscribers').where('id', aliceId).update({ display_name: 'in-trx' });
        const [inside] = await readerFor(trx, reader).execute<{ display_name: string; created_at: string }>(SQL, [aliceId]);
        expect(inside?.display_name).toBe('in-trx');
        expect(inside?.created_at).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/); // same shape as the reader's
        const [outside] = await readerFor(db, reader).execute<{ display_name: string | null }>(SQL, [aliceId]);
        expect(outside?.display_name).toBeNull();
        throw new Error('roll back');
      }).catch((e: Error) => expect(e.message).toBe('roll back'));
    } finally {
      await reader.close();
    }
  });
});

describe('subscriber lookups', () => {
  it('findSubscriberCredentials returns both HA1s for username@domain', async () => {
    const c = await findSubscriberCredentials(db, 'alice', 'example.org');
    expect(c).toMatchObject({ subscriberId: aliceId, username: 'alice', domain: 'example.org', status: 'active', customerId });
    expect(c?.ha1Md5).toBe(computeHA1('MD5', 'alice', 'example.org', 'pw'));
    expect(c?.ha1Sha256).toBe(computeHA1('SHA-256', 'alice', 'example.org', 'pw'));
    expect(await findSubscriberCredentials(db, 'alice', 'other.org')).toBeUndefined();
    expect(await findSubscriberCredentials(db, 'bob', 'example.org')).toBeUndefined();
  });
  it('lookupNumber finds primary numbers and aliases, with or without +', async () => {
    expect(await lookupNumber(db, '4912345')).toMatchObject({ e164: '4912345', isPrimary: true, subscriber: { id: aliceId, username: 'alice', domain: 'example.org' } });
    expect(await lookupNumber(db, '+4912346')).toMatchObject({ isPrimary: false, subscriber: { id: aliceId } });
    const free = await lookupNumber(db, '4999999');
    expect(free).toMatchObject({ e164: '4999999' });
    expect(free?.subscriber).toBeUndefined();
    expect(await lookupNumber(db, '111')).toBeUndefined();
    expect(await subscriberNumbers(db, aliceId)).toEqual([{ e164: '4912345', isPrimary: true }, { e164: '4912346', isPrimary: false }]);
    expect(await domainExists(db, 'example.org')).toBe(true);
    expect(await domainExists(db, 'nope.org')).toBe(false);
  });
});

describe('preferences', () => {
  it('decodes by type, lists for max_occur 0, and merges domain < customer < subscriber', async () => {
    const defs = await loadPreferenceDefs(db);
    const id = (a: string) => defs.find((d) => d.attribute === a)!.id;
    await db('domain_preferences').insert([
      { domain_id: domainId, attribute_id: id('ringtimeout'), value: '30' },
      { domain_id: domainId, attribute_id: id('block_in_clir'), value: '1' },
      { domain_id: domainId, attribute_id: id('language'), value: 'de' },
    ]);
    await db('customer_preferences').insert({ customer_id: customerId, attribute_id: id('lock'), value: 'outgoing' });
    await db('subscriber_preferences').insert([
      { subscriber_id: aliceId, attribute_id: id('ringtimeout'), value: '15' },
      { subscriber_id: aliceId, attribute_id: id('allowed_ips'), value: '10.0.0.0/8' },
      { subscriber_id: aliceId, attribute_id: id('allowed_ips'), value: '192.0.2.1' },
    ]);
    expect(await getPreferences(db, 'domain', domainId)).toEqual({ ringtimeout: 30, block_in_clir: true, language: 'de' });
    expect(await getPreferences(db, 'subscriber', aliceId)).toEqual({ ringtimeout: 15, allowed_ips: ['10.0.0.0/8', '192.0.2.1'] });
    expect(await getEffectivePreferences(db, aliceId)).toEqual({
      ringtimeout: 15, block_in_clir: true, language: 'de', lock: 'outgoing', allowed_ips: ['10.0.0.0/8', '192.0.2.1'],
    });
    expect(await getEffectivePreferences(db, 99999)).toBeUndefined();
    const ncos = defs.find((d) => d.attribute === 'ncos_id');
    expect(ncos).toMatchObject({ dataType: 'int', levels: ['domain', 'customer', 'subscriber'], refTable: 'ncos_levels', maxOccur: 1 });
  });
});

describe('routing data', () => {
  it('call forwards by type in order, with ring timeout', async () => {
    await db('call_forwards').insert([
      { subscriber_id: aliceId, type: 'cft', position: 1, destination_type: 'voicemail', destination: null, ring_timeout: 20 },
      { subscriber_id: aliceId, type: 'cft', position: 0, destination_type: 'number', destination: '4930000', ring_timeout: 20 },
      { subscriber_id: aliceId, type: 'cfb', position: 0, destination_type: 'number', destination: '4930001', enabled: false },
    ]);
    const cf = await getCallForwards(db, aliceId);
    expect(cf.cft).toEqual({ ringTimeout: 20, destinations: [{ type: 'number', destination: '4930000' }, { type: 'voicemail', destination: null }] });
    expect(cf.cfb.destinations).toEqual([]);
    expect(cf.cfu.destinations).toEqual([]);
  });

  it('rewrite rules apply in priority order', async () => {
    const [setId] = (await db('rewrite_rule_sets').insert({ name: 'de' })) as [number];
    await db('rewrite_rules').insert([
      { set_id: setId, direction: 'in', field: 'callee', match_pattern: '^49', replace_pattern: '+49', priority: 20 },
      { set_id: setId, direction: 'in', field: 'callee', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '49$1', priority: 10 },
      { set_id: setId, direction: 'out', field: 'caller', match_pattern: '^49', replace_pattern: '0', priority: 10 },
      { set_id: setId, direction: 'in', field: 'callee', match_pattern: '^x', replace_pattern: 'y', priority: 5, enabled: false },
    ]);
    const rules = await getRewriteRules(db, setId);
    expect(rules.map((r) => r.priority)).toEqual([10, 10, 20]);
    expect(applyRewriteRules(rules, 'in', 'callee', '030123')).toBe('+4930123');
    expect(applyRewriteRules(rules, 'out', 'caller', '4930123')).toBe('030123');
    expect(applyRewriteRules([{ direction: 'in', field: 'callee', match: '(', replace: '', priority: 1 }], 'in', 'callee', 'a')).toBe('a');
  });

  it('NCOS: the longest matching prefix decides, else the default', async () => {
    const [levelId] = (await db('ncos_levels').insert({ level: 'no-premium', default_action: 'allow' })) as [number];
    await db('ncos_patterns').insert([
      { level_id: levelId, prefix: '49900', action: 'deny' },
      { level_id: levelId, prefix: '499001', action: 'allow' },
    ]);
    const level = (await getNcosLevel(db, levelId))!;
    expect(ncosAllows(level, '4930123')).toBe(true);
    expect(ncosAllows(level, '499005555')).toBe(false);
    expect(ncosAllows(level, '499001555')).toBe(true);
    expect(ncosAllows({ ...level, defaultAction: 'deny' }, '4930123')).toBe(false);
    expect(await getNcosLevel(db, 9999)).toBeUndefined();
  });

  it('peering: longest prefix, then group priority; patterns and disabled servers respected', async () => {
    const [g1] = (await db('peering_groups').insert({ name: 'carrier-a', priority: 2 })) as [number];
    const [g2] = (await db('peering_groups').insert({ name: 'carrier-b', priority: 1 })) as [number];
    const [g3] = (await db('peering_groups').insert({ name: 'mobile', priority: 5 })) as [number];
    const [g4] = (await db('peering_groups').insert({ name: 'dead', priority: 1 })) as [number];
    await db('peering_servers').insert([
      { group_id: g1, name: 'a1', host: '192.0.2.10', weight: 1 },
      { group_id: g1, name: 'a2', host: '192.0.2.11', weight: 5 },
      { group_id: g2, name: 'b1', host: '198.51.100.1', transport: 'tcp' },
      { group_id: g2, name: 'b2', host: '198.51.100.2', enabled: false },
      { group_id: g3, name: 'm1', host: '203.0.113.1' },
      { group_id: g4, name: 'd1', host: '203.0.113.9', enabled: false },
    ]);
    await db('peering_rules').insert([
      { group_id: g1, callee_prefix: '' },
      { group_id: g2, callee_prefix: '' },
      { group_id: g3, callee_prefix: '4917' },
      { group_id: g4, callee_prefix: '' },
      { group_id: g1, callee_prefix: '4915', caller_pattern: '^43' },
    ]);
    const r1 = await findPeeringRoutes(db, '4917123', '4930');
    expect(r1.map((g) => g.groupName)).toEqual(['mobile', 'carrier-b', 'carrier-a']);
    expect(r1[2]?.servers.map((s) => s.name)).toEqual(['a2', 'a1']);
    expect(r1[1]?.servers.map((s) => s.name)).toEqual(['b1']);
    expect((await findPeeringRoutes(db, '4915123', '4330')).map((g) => g.groupName)).toEqual(['carrier-a', 'carrier-b']);
    expect((await findPeeringRoutes(db, '4915123', '4930')).map((g) => g.groupName)).toEqual(['carrier-b', 'carrier-a']);
  });
});

describe('writes of the SIP side', () => {
  it('accounting is idempotent per (callid, kind): a second start or stop is skipped, not an error', async () => {
    const t = new Date();
    expect(await insertAcc(db, { method: 'INVITE', callid: 'idem-1', sip_code: '200', time: t })).toBe(true);
    // the other node writes the same start (and a retry does): no second row
    expect(await insertAcc(db, { method: 'INVITE', callid: 'idem-1', sip_code: '200', time: t })).toBe(false);
    expect(await insertAccs(db, [
      { method: 'BYE', callid: 'idem-1', sip_code: '200', time: t },
      { method: 'BYE', callid: 'idem-1', sip_code: '200', time: t },
      { method: 'INVITE', callid: 'idem-2', sip_code: '486', time: t, sip_reason: 'Busy Here' },
      { method: 'INVITE', callid: 'idem-1', sip_code: '200', time: t },
    ])).toBe(2);
    expect(await insertAccs(db, [])).toBe(0);
    const rows = await db('acc').whereIn('callid', ['idem-1', 'idem-2']).orderBy('id').select('callid', 'method', 'kind', 'sip_code');
    expect(rows).toEqual([
      { callid: 'idem-1', method: 'INVITE', kind: 'start', sip_code: '200' },
      { callid: 'idem-1', method: 'BYE', kind: 'stop', sip_code: '200' },
      { callid: 'idem-2', method: 'INVITE', kind: 'failure', sip_code: '486' },
    ]);
    // a real error (a column that does not exist) still fails
    await expect(insertAccs(db, [{ method: 'BYE', callid: 'idem-3', sip_code: '200', time: t, nope: 1 } as never])).rejects.toThrow(/nope/);
  });


  it('accounting, CDRs and voicemail', async () => {
    expect(await insertAcc(db, { method: 'INVITE', callid: 'c1', sip_code: '200', time: new Date(), src_user: 'alice' })).toBe(true);
    const cdrId = await insertCdr(db, { call_id: 'c1', call_status: 'ok', call_code: '200', init_time: new Date('2024-01-01T10:00:00.123Z'), duration: 12.5 });
    const cdr = await db('cdrs').where('id', cdrId).first();
    expect(cdr).toMatchObject({ call_id: 'c1', duration: 12.5, call_type: 'call' });
    expect(cdr.init_time.toISOString()).toBe('2024-01-01T10:00:00.123Z');
    const box = await ensureVoicemailBox(db, aliceId);
    expect(await ensureVoicemailBox(db, aliceId)).toBe(box);
    const vm = await insertVoicemail(db, aliceId, { caller: '4930111', duration: 7, audio: Buffer.from('RIFF') });
    const msg = await db('voicemail_messages').where('id', vm).first();
    expect(msg).toMatchObject({ box_id: box, folder: 'INBOX', is_read: 0, duration: 7 });
    expect(Buffer.from(msg.audio).toString()).toBe('RIFF');
  });
});

describe('call forward writes (the API\'s and the star codes\' one path)', () => {
  it('updateCallForwards changes one type, keeps the others, checks, journals; a refused change writes nothing', async () => {
    const [bobId] = (await db('subscribers').insert({
      uuid: crypto.randomUUID(), domain_id: domainId, customer_id: customerId, username: 'bob-cf', ...subscriberHa1('bob-cf', 'example.org', 'pw'),
    })) as [number];
    const actor = { apiUserId: null, login: 'sip:bob-cf@example.org', role: 'subscriber', remoteAddr: '192.0.2.9' };
    const base = checkCallForwards({ cfb: { enabled: true, destinations: [{ type: 'number', destination: '+4930002' }] }, cft: { ringtimeout: 20, destinations: [{ type: 'voicemail', destination: null }] } });
    if (!base.ok) throw new Error(JSON.stringify(base.errors));
    expect(base.doc.cfb.destinations).toEqual([{ type: 'number', destination: '4930002' }]);
    await replaceCallForwards(db, bobId, base.doc);

    const r = await updateCallForwards(db, bobId, { cfu: (c) => ({ ...c, destinations: [{ type: 'number', destination: '+4930003' }] }) }, actor);
    expect(r.ok).toBe(true);
    const doc = (await readCallForwardDocs(db, [bobId])).get(bobId)!;
    expect(doc).toEqual({
      id: bobId, cfu: { enabled: true, destinations: [{ type: 'number', destination: '4930003' }] }, cfb: { enabled: true, destinations: [{ type: 'number', destination: '4930002' }] },
      cfna: { enabled: true, ringtimeout: null, destinations: [] }, cft: { enabled: true, ringtimeout: 20, destinations: [{ type: 'voicemail', destination: null }] },
    });
    expect((await getCallForwards(db, bobId)).cfu.destinations).toEqual([{ type: 'number', destination: '4930003' }]);
    const rows = await db('journal').where({ entity: CALL_FORWARDS_ENTITY, entity_id: String(bobId) });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ api_user_id: null, login: 'sip:bob-cf@example.org', role: 'subscriber', remote_addr: '192.0.2.9', op: 'update' });
    expect(JSON.parse(rows[0].content)).toEqual(doc);

    const refused = await updateCallForwards(db, bobId, { cfu: (c) => ({ ...c, destinations: [{ type: 'number', destination: '0' }] }), cft: (c) => ({ ...c, ringtimeout: 2 }) }, actor);
    expect(refused).toEqual({ ok: false, errors: [{ field: 'cfu/destinations/0/destination', message: 'must be an E.164 number' }, { field: 'cft/ringtimeout', message: 'must be an integer from 5 to 300' }] });
    expect((await readCallForwardDocs(db, [bobId])).get(bobId)).toEqual(doc);
    expect(await db('journal').where({ entity: CALL_FORWARDS_ENTITY, entity_id: String(bobId) })).toHaveLength(1);
  });

  it('checkCallForwards names every wrong field', () => {
    const r = checkCallForwards({
      cfu: { destinations: [{ type: 'uri', destination: 'sip:nohost' }, { type: 'voicemail', destination: '1' }] },
      cft: { destinations: [{ type: 'number', destination: '4930000' }] },
      cfb: { destinations: Array.from({ length: 11 }, () => ({ type: 'number' as const, destination: '4930000' })) },
    });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.errors.map((e) => e.field)).toEqual(['cfu/destinations/0/destination', 'cfu/destinations/1/destination', 'cfb/destinations', 'cft/ringtimeout']);
  });

  it('publishChange sends the ChangeNotification on ngcp:changes', async () => {
    const sent: Array<[string, string]> = [];
    const n = await publishChange({ publish: async (ch, msg) => void sent.push([ch, msg]) }, CALL_FORWARDS_ENTITY, 7, 'update', 1234);
    expect(n).toEqual({ entity: 'call_forwards', id: 7, op: 'update', ts: 1234 });
    expect(sent).toEqual([['ngcp:changes', JSON.stringify(n)]]);
  });
});

describe('prepaid (0008)', () => {
  it('finds the prepaid account of a subscriber and the fees of the candidate prefixes', async () => {
    const [pid] = (await db('billing_profiles').insert({ name: 'pp-lookup', currency: 'EUR' })) as [number];
    await db('billing_fees').insert([
      { billing_profile_id: pid, destination: '', price_per_minute: 100 },
      { billing_profile_id: pid, destination: '49', price_per_minute: 600, first_interval: 1, next_interval: 1 },
      { billing_profile_id: pid, destination: '4930', price_per_minute: 300, first_interval: 30, next_interval: 6 },
    ]);
    const [cid] = (await db('customers').insert({ name: 'pp', prepaid: true, billing_profile_id: pid })) as [number];
    await db('subscribers').insert({ uuid: crypto.randomUUID(), domain_id: domainId, customer_id: cid, username: 'pp-carol', ...subscriberHa1('pp-carol', 'example.org', 'pw') });
    expect(await findPrepaidAccount(db, 'pp-carol', 'example.org')).toMatchObject({ customerId: cid, prepaid: true, billingProfileId: pid });
    expect(await findPrepaidAccount(db, 'alice', 'example.org')).toMatchObject({ customerId, prepaid: false, billingProfileId: null });
    expect(await findPrepaidAccount(db, 'nobody', 'example.org')).toBeUndefined();
    const fees = await findBillingFees(db, pid, ['4940', '494', '49', '4', '']);
    expect(fees.sort((a, b) => a.destination.localeCompare(b.destination))).toEqual([
      { destination: '', price: 100, first: 60, next: 60 },
      { destination: '49', price: 600, first: 1, next: 1 },
    ]);
  });

  it('reserves only what the balance has free, also against concurrent reservations', async () => {
    const [cid] = (await db('customers').insert({ name: 'pp-reserve', prepaid: true })) as [number];
    expect(await reserveCredit(db, cid, 10)).toBe(false); // no balance row
    await db('customer_balances').insert({ customer_id: cid, cash_balance: 100 });
    const results = await Promise.all(Array.from({ length: 5 }, () => reserveCredit(db, cid, 30)));
    expect(results.filter(Boolean)).toHaveLength(3);
    expect(await getBalance(db, cid)).toEqual({ cash: 100, reserved: 90, available: 10 });
    expect(await reserveCredit(db, cid, 11)).toBe(false);
    expect(await reserveCredit(db, cid, 10)).toBe(true);
    expect(await reserveCredit(db, cid, 0)).toBe(true);
  });

  it('settles a call once: the charge and the release in one transaction, a second settlement changes nothing', async () => {
    const [cid] = (await db('customers').insert({ name: 'pp-settle', prepaid: true })) as [number];
    await db('customer_balances').insert({ customer_id: cid, cash_balance: 100, reserved: 50 });
    const s = { callId: `pp-${process.pid}-1`, customerId: cid, seconds: 2, amount: 20, released: 30 };
    const both = await Promise.all([settlePrepaidCall(db, s), settlePrepaidCall(db, s)]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(await settlePrepaidCall(db, { ...s, amount: 25 })).toBe(false);
    expect(await getBalance(db, cid)).toEqual({ cash: 80, reserved: 20, available: 60 });
    expect(await db('prepaid_charges').where('call_id', s.callId).first('customer_id', 'seconds', 'amount', 'released')).toEqual({ customer_id: cid, seconds: 2, amount: 20, released: 30 });
    // an unanswered call releases its reservation and is charged nothing
    expect(await settlePrepaidCall(db, { callId: `pp-${process.pid}-2`, customerId: cid, seconds: 0, amount: 0, released: 20 })).toBe(true);
    expect(await getBalance(db, cid)).toEqual({ cash: 80, reserved: 0, available: 80 });
  });

  it('a reservation is durable: its row and the balance change together; a duplicate settlement charges once and releases what the row held', async () => {
    const [cid] = (await db('customers').insert({ name: 'pp-durable', prepaid: true })) as [number];
    await db('customer_balances').insert({ customer_id: cid, cash_balance: 100 });
    const fee = { destination: '49', price: 600, first: 1, next: 1 };
    const callId = `pp-${process.pid}-durable`;
    const t0 = Date.parse('2026-01-01T10:00:00.000Z');
    expect(await reservePrepaidCall(db, { callId, customerId: cid, extra: 30, held: 30, granted: 3, first: true, fee, now: t0 })).toBe('ok');
    // not enough free for another call's first quota: neither its row nor the balance change
    expect(await reservePrepaidCall(db, { callId: `${callId}-b`, customerId: cid, extra: 80, held: 80, granted: 8, first: true, fee, now: t0 })).toBe('no_credit');
    expect(await db('prepaid_reservations').where('call_id', `${callId}-b`).first()).toBeUndefined();
    expect(await getBalance(db, cid)).toEqual({ cash: 100, reserved: 30, available: 70 });
    expect(await markPrepaidAnswered(db, callId, t0 + 1000)).toBe(true);
    expect(await markPrepaidAnswered(db, callId, t0 + 5000)).toBe(false); // answered once
    expect(await reservePrepaidCall(db, { callId, customerId: cid, extra: 30, held: 60, granted: 6, first: false, answeredAt: t0 + 1000, now: t0 + 4000 })).toBe('ok');
    expect(await reservePrepaidCall(db, { callId, customerId: cid, extra: 50, held: 110, granted: 11, first: false, answeredAt: t0 + 1000, now: t0 + 7000 })).toBe('no_credit');
    expect(await getBalance(db, cid)).toEqual({ cash: 100, reserved: 60, available: 40 });
    const stale = await staleReservations(db, t0 + 4001);
    expect(stale.filter((r) => r.customerId === cid)).toEqual([
      { callId, customerId: cid, held: 60, granted: 6, fee, createdAt: t0, answeredAt: t0 + 1000, updatedAt: t0 + 4000 },
    ]);
    expect((await staleReservations(db, t0 + 4000)).filter((r) => r.customerId === cid)).toEqual([]);
    // settled twice at once and once more later: charged once; released what the row held (60), not the caller's stale 30
    const s = { callId, customerId: cid, seconds: 4, amount: 40, released: 30 };
    const results = await Promise.all([settlePrepaidCall(db, s), settlePrepaidCall(db, s)]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await settlePrepaidCall(db, s)).toBe(false);
    expect(await getBalance(db, cid)).toEqual({ cash: 60, reserved: 0, available: 60 });
    expect(await db('prepaid_reservations').where('call_id', callId).first()).toBeUndefined();
    expect(await db('prepaid_charges').where('call_id', callId).first('seconds', 'amount', 'released')).toEqual({ seconds: 4, amount: 40, released: 60 });
    // a next quota of a call whose row is gone reserves nothing
    expect(await reservePrepaidCall(db, { callId, customerId: cid, extra: 10, held: 70, granted: 7, first: false, fee, now: t0 + 9000 })).toBe('gone');
    expect(await getBalance(db, cid)).toEqual({ cash: 60, reserved: 0, available: 60 });
    // a call reserved before 0011 (no row, no charge) gets its row at its next quota, holding all it holds
    await db('customer_balances').where('customer_id', cid).update({ reserved: 20 });
    const legacy = `${callId}-legacy`;
    expect(await reservePrepaidCall(db, { callId: legacy, customerId: cid, extra: 10, held: 30, granted: 3, first: false, fee, answeredAt: t0, now: t0 + 2000 })).toBe('ok');
    expect(await db('prepaid_reservations').where('call_id', legacy).first('held', 'granted', 'answered_at')).toEqual({ held: 30, granted: 3, answered_at: new Date(t0) });
    expect(await settlePrepaidCall(db, { callId: legacy, customerId: cid, seconds: 2, amount: 20, released: 20 })).toBe(true);
    expect(await getBalance(db, cid)).toEqual({ cash: 40, reserved: 0, available: 40 });
  });
});

describe('voicemail (repo/voicemail.ts, the app-server\'s deposit, retrieval and MWI)', () => {
  it('owner, counts (new = INBOX unread), play order, read / save / delete', async () => {
    const [bobId] = (await db('subscribers').insert({
      uuid: crypto.randomUUID(), domain_id: domainId, customer_id: customerId, username: 'bob', ...subscriberHa1('bob', 'example.org', 'pw'),
    })) as [number];
    expect(await findVoicemailOwner(db, bobId)).toEqual({ subscriberId: bobId, username: 'bob', domain: 'example.org' });
    expect(await findVoicemailOwner(db, 999_999)).toBeUndefined();
    expect(await voicemailCounts(db, bobId)).toEqual({ new: 0, old: 0 });
    const alice = await voicemailCounts(db, aliceId);
    const older = await depositVoicemail(db, bobId, { caller: '4930111', duration: 4, audio: Buffer.from('one'), receivedAt: new Date('2026-01-01T10:00:00Z') });
    const newer = await depositVoicemail(db, bobId, { caller: '4930222', duration: 5, receivedAt: new Date('2026-01-02T10:00:00Z') });
    const saved = await depositVoicemail(db, bobId, { caller: '4930333', duration: 6, folder: 'Old', receivedAt: new Date('2025-12-01T10:00:00Z') });
    expect(newer.boxId).toBe(older.boxId);
    expect(voicemailFile('/spool/vm', older.boxId, older.id)).toBe(`/spool/vm/${older.boxId}/${older.id}.wav`);
    expect(await voicemailCounts(db, bobId)).toEqual({ new: 2, old: 1 });
    // new ones first (oldest first), then the saved one
    expect((await listBoxMessages(db, bobId)).map((m) => [m.id, m.isNew, m.caller])).toEqual([[older.id, true, '4930111'], [newer.id, true, '4930222'], [saved.id, false, '4930333']]);
    expect((await voicemailAudio(db, older.id))?.toString()).toBe('one');
    expect(await voicemailAudio(db, newer.id)).toBeNull();
    expect(await markVoicemailRead(db, older.id)).toBe(true);
    expect(await voicemailCounts(db, bobId)).toEqual({ new: 1, old: 2 });
    expect(await moveVoicemail(db, newer.id, 'Old')).toBe(true);
    expect(await db('voicemail_messages').where('id', newer.id).first('folder', 'is_read')).toEqual({ folder: 'Old', is_read: 1 });
    expect(await voicemailCounts(db, bobId)).toEqual({ new: 0, old: 3 });
    expect(await deleteVoicemail(db, saved.id)).toBe(true);
    expect(await deleteVoicemail(db, saved.id)).toBe(false);
    expect(await markVoicemailRead(db, saved.id)).toBe(false);
    expect(await voicemailCounts(db, bobId)).toEqual({ new: 0, old: 2 });
    // another subscriber's box is untouched
    expect(await voicemailCounts(db, aliceId)).toEqual(alice);
  });
});
