/** preferences (+defs), call forwards, rewrite rules, NCOS, peering. */
import { beforeAll, describe, expect, it } from 'vitest';
import { findPeeringRoutes, getCallForwards, getEffectivePreferences, getRewriteRules } from '@ngcp/db';
import { basic, call, createApiUser, uniq, useApi } from './helpers.js';

const h = useApi();
const app = () => h().app;
let domain: string;
let domainId: number;
let sub: { id: number };
let subAuth: string;

beforeAll(async () => {
  domain = `${uniq('r')}.example`;
  domainId = (await call(app(), 'POST', '/api/domains', { body: { domain } })).data.id;
  sub = (await call(app(), 'POST', '/api/subscribers', { body: { domain, username: 'alice', password: 'secret1', webpassword: 'alice-web-pw' } })).data;
  subAuth = basic(`alice@${domain}`, 'alice-web-pw');
});

describe('preferencedefs', () => {
  it('lists the built-in definitions, filtered by level', async () => {
    const res = await call(app(), 'GET', '/api/preferencedefs', { query: { level: 'peer', rows: 100 } });
    expect(res.statusCode).toBe(200);
    const names = res.data.items.map((d: { attribute: string }) => d.attribute);
    expect(names).toContain('rewrite_rule_set_id');
    expect(names).not.toContain('clir');
    const one = await call(app(), 'GET', '/api/preferencedefs', { query: { attribute: 'allowed_ips' } });
    expect(one.data.items[0]).toMatchObject({ data_type: 'string', max_occur: 0, levels: ['domain', 'subscriber'], ref_table: null });
  });

  it('admin CRUD with consistency checks', async () => {
    const c = await call(app(), 'POST', '/api/preferencedefs', { body: { attribute: 'fax_mode', data_type: 'enum', enum_values: ['t38', 'g711'], levels: ['subscriber', 'domain'] } });
    expect(c.statusCode).toBe(201);
    expect(c.data).toMatchObject({ attribute: 'fax_mode', max_occur: 1, levels: ['domain', 'subscriber'], enum_values: ['t38', 'g711'] });
    expect((await call(app(), 'POST', '/api/preferencedefs', { body: { attribute: 'fax_mode', data_type: 'int', levels: ['domain'] } })).statusCode).toBe(409);
    const noEnum = await call(app(), 'POST', '/api/preferencedefs', { body: { attribute: 'x_enum', data_type: 'enum', levels: ['domain'] } });
    expect(noEnum.statusCode).toBe(422);
    expect(noEnum.data.fields[0].field).toBe('enum_values');
    const p = await call(app(), 'PATCH', c.headers.location as string, { patch: true, body: [{ op: 'add', path: '/enum_values/-', value: 'off' }] });
    expect(p.data.enum_values).toEqual(['t38', 'g711', 'off']);
    expect((await call(app(), 'PUT', `/api/subscriberpreferences/${sub.id}`, { body: { fax_mode: 'off' } })).statusCode).toBe(200);
    // stored values must stay valid: no type change, no dropped level while values exist
    expect((await call(app(), 'PUT', c.headers.location as string, { body: { attribute: 'fax_mode', data_type: 'string', levels: ['subscriber'] } })).statusCode).toBe(409);
    expect((await call(app(), 'PATCH', c.headers.location as string, { patch: true, body: [{ op: 'replace', path: '/levels', value: ['domain'] }] })).statusCode).toBe(409);
    expect((await call(app(), 'PATCH', c.headers.location as string, { patch: true, body: [{ op: 'replace', path: '/levels', value: ['subscriber'] }] })).statusCode).toBe(200);
    expect((await call(app(), 'DELETE', c.headers.location as string)).statusCode).toBe(204);
    expect((await call(app(), 'GET', `/api/subscriberpreferences/${sub.id}`)).data).toEqual({ id: sub.id });
  });
});

describe('subscriber and domain preferences', () => {
  it('PUT/GET/PATCH a typed document; the SIP side sees the merged result', async () => {
    const ncos = await call(app(), 'POST', '/api/ncoslevels', { body: { level: uniq('ncos'), default_action: 'deny', patterns: [{ prefix: '49', action: 'allow' }] } });
    const put = await call(app(), 'PUT', `/api/subscriberpreferences/${sub.id}`, {
      body: { ncos_id: ncos.data.id, allowed_ips: ['10.0.0.0/8'], clir: true, ringtimeout: 20, block_in_mode: 'whitelist' },
    });
    expect(put.statusCode).toBe(200);
    expect(put.data).toEqual({ id: sub.id, ncos_id: ncos.data.id, allowed_ips: ['10.0.0.0/8'], clir: true, ringtimeout: 20, block_in_mode: 'whitelist' });
    const patch = await call(app(), 'PATCH', `/api/subscriberpreferences/${sub.id}`, { patch: true, body: [
      { op: 'add', path: '/allowed_ips/-', value: '192.0.2.0/24' }, { op: 'remove', path: '/clir' }, { op: 'replace', path: '/ringtimeout', value: 25 },
    ] });
    expect(patch.statusCode).toBe(200);
    expect(patch.data).toEqual({ id: sub.id, ncos_id: ncos.data.id, allowed_ips: ['10.0.0.0/8', '192.0.2.0/24'], ringtimeout: 25, block_in_mode: 'whitelist' });
    const dom = await call(app(), 'PUT', `/api/domainpreferences/${domainId}`, { body: { ringtimeout: 60, language: 'de', block_in_clir: true } });
    expect(dom.statusCode).toBe(200);
    expect(await getEffectivePreferences(h().db, sub.id)).toMatchObject({ ringtimeout: 25, language: 'de', block_in_clir: true, ncos_id: ncos.data.id });
    // the referenced NCOS level cannot go away while in use
    expect((await call(app(), 'DELETE', `/api/ncoslevels/${ncos.data.id}`)).statusCode).toBe(409);
  });

  it('422 for unknown attributes, wrong level, wrong type, list vs. single, dangling references — each named', async () => {
    const res = await call(app(), 'PUT', `/api/subscriberpreferences/${sub.id}`, {
      body: { nonsense: 1, e164_to_ruri: true, ringtimeout: 'long', allowed_ips: '10.0.0.1', clir: [true], ncos_id: 999999, block_in_mode: 'greylist' },
    });
    expect(res.statusCode).toBe(422);
    expect(res.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['allowed_ips', 'block_in_mode', 'clir', 'e164_to_ruri', 'ncos_id', 'nonsense', 'ringtimeout']);
    // nothing was changed
    expect((await call(app(), 'GET', `/api/subscriberpreferences/${sub.id}`)).data.ringtimeout).toBe(25);
  });

  it('404 for an unknown owner; list of documents; roles', async () => {
    expect((await call(app(), 'GET', '/api/subscriberpreferences/999999')).statusCode).toBe(404);
    expect((await call(app(), 'PUT', '/api/subscriberpreferences/999999', { body: {} })).statusCode).toBe(404);
    const list = await call(app(), 'GET', '/api/subscriberpreferences', { query: { rows: 1000 } });
    expect(list.data.items.find((d: { id: number }) => d.id === sub.id)).toMatchObject({ ringtimeout: 25 });
    expect((await call(app(), 'POST', '/api/subscriberpreferences', { body: {} })).statusCode).toBe(405);
    // a subscriber reads its own preferences but cannot change them, and sees no domain preferences
    expect((await call(app(), 'GET', `/api/subscriberpreferences/${sub.id}`, { auth: subAuth })).statusCode).toBe(200);
    expect((await call(app(), 'PUT', `/api/subscriberpreferences/${sub.id}`, { auth: subAuth, body: {} })).statusCode).toBe(403);
    expect((await call(app(), 'GET', `/api/domainpreferences/${domainId}`, { auth: subAuth })).statusCode).toBe(403);
  });

  it('customer and peering-server preferences', async () => {
    const cust = await call(app(), 'POST', '/api/customers', { body: { name: 'prefs' } });
    const cp = await call(app(), 'PUT', `/api/customerpreferences/${cust.data.id}`, { body: { lock: 'outgoing', prepaid: true } });
    expect(cp.data).toEqual({ id: cust.data.id, lock: 'outgoing', prepaid: true });
    expect((await call(app(), 'PUT', `/api/customerpreferences/${cust.data.id}`, { body: { clir: true } })).statusCode).toBe(422);
    const g = await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('pg') } });
    const s = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 's1', host: '192.0.2.50' } });
    const pp = await call(app(), 'PATCH', `/api/peeringserverpreferences/${s.data.id}`, { patch: true, body: [{ op: 'add', path: '/max_call_duration', value: 3600 }] });
    expect(pp.data).toEqual({ id: s.data.id, max_call_duration: 3600 });
  });

  it('domain and peering-server preferences: GET, list, PUT, PATCH; 422 names each bad attribute and changes nothing', async () => {
    const d = (await call(app(), 'POST', '/api/domains', { body: { domain: `${uniq('dp')}.example` } })).data;
    const g = await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('pg') } });
    const s = (await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 's1', host: '192.0.2.51' } })).data;
    for (const [url, good, patch, bad, badFields] of [
      [`/api/domainpreferences/${d.id}`, { language: 'fr', max_call_duration: 7200 }, { op: 'remove', path: '/language' }, { clir: true, language: 'klingon' }, ['clir', 'language']],
      [`/api/peeringserverpreferences/${s.id}`, { e164_to_ruri: true, sst_expires: 1800 }, { op: 'remove', path: '/e164_to_ruri' }, { ringtimeout: 20, sst_expires: 'long' }, ['ringtimeout', 'sst_expires']],
    ] as [string, Record<string, unknown>, unknown, Record<string, unknown>, string[]][]) {
      const id = Number(url.split('/').pop());
      expect((await call(app(), 'GET', url)).data, url).toEqual({ id });
      const put = await call(app(), 'PUT', url, { body: good });
      expect(put.statusCode, url).toBe(200);
      expect(put.data).toEqual({ id, ...good });
      expect((await call(app(), 'GET', url)).data).toEqual(put.data);
      const list = await call(app(), 'GET', url.slice(0, url.lastIndexOf('/')), { query: { rows: 1000 } });
      expect(list.data.items).toContainEqual(put.data);
      const refused = await call(app(), 'PUT', url, { body: bad });
      expect(refused.statusCode, url).toBe(422);
      expect(refused.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(badFields);
      expect((await call(app(), 'GET', url)).data).toEqual(put.data);
      const patched = await call(app(), 'PATCH', url, { patch: true, body: [patch] });
      expect(patched.statusCode, url).toBe(200);
      expect(Object.keys(patched.data)).toHaveLength(Object.keys(put.data).length - 1);
    }
  });

  it("customer preferences: GET, PATCH, list; 422 names the attribute; a reseller reaches only its own customers'", async () => {
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('cp');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    const auth = basic(login, 'reseller-pw');
    const mine = (await call(app(), 'POST', '/api/customers', { auth, body: { name: 'mine' } })).data;
    const theirs = (await call(app(), 'POST', '/api/customers', { body: { name: 'theirs' } })).data;
    const url = `/api/customerpreferences/${mine.id}`;
    expect((await call(app(), 'GET', url, { auth })).data).toEqual({ id: mine.id });
    const p = await call(app(), 'PATCH', url, { auth, patch: true, body: [{ op: 'add', path: '/lock', value: 'global' }] });
    expect(p.statusCode).toBe(200);
    expect((await call(app(), 'GET', url)).data).toEqual({ id: mine.id, lock: 'global' });
    const bad = await call(app(), 'PUT', url, { auth, body: { lock: 'sometimes', clir: true, prepaid: 'yes' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['clir', 'lock', 'prepaid']);
    expect((await call(app(), 'GET', '/api/customerpreferences', { auth, query: { rows: 1000 } })).data.items).toEqual([{ id: mine.id, lock: 'global' }]);
    expect((await call(app(), 'GET', `/api/customerpreferences/${theirs.id}`, { auth })).statusCode).toBe(404);
    expect((await call(app(), 'PUT', `/api/customerpreferences/${theirs.id}`, { auth, body: { prepaid: true } })).statusCode).toBe(404);
    expect((await call(app(), 'GET', `/api/customerpreferences/${theirs.id}`)).data).toEqual({ id: theirs.id });
  });

  it('subscriber preferences and call forwards: a subscriber reaches only its own, a reseller those of its customers', async () => {
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('sp');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    const resAuth = basic(login, 'reseller-pw');
    const cust = (await call(app(), 'POST', '/api/customers', { auth: resAuth, body: { name: 'c' } })).data;
    const hers = (await call(app(), 'POST', '/api/subscribers', { auth: resAuth, body: { domain, username: uniq('cu'), password: 'secret1', customer_id: cust.id } })).data;
    const other = (await call(app(), 'POST', '/api/subscribers', { body: { domain, username: uniq('ot'), password: 'secret1' } })).data;
    const forward = { cfu: { destinations: [{ type: 'voicemail' }] } };
    for (const [auth, own] of [[subAuth, sub.id], [resAuth, hers.id]] as [string, number][]) {
      for (const r of ['subscriberpreferences', 'callforwards']) {
        const list = await call(app(), 'GET', `/api/${r}`, { auth, query: { rows: 1000 } });
        expect(list.data.items.map((d: { id: number }) => d.id), r).toEqual([own]);
        expect((await call(app(), 'GET', `/api/${r}/${own}`, { auth })).statusCode).toBe(200);
        expect((await call(app(), 'GET', `/api/${r}/${other.id}`, { auth })).statusCode, r).toBe(404);
      }
      expect((await call(app(), 'PUT', `/api/callforwards/${other.id}`, { auth, body: forward })).statusCode).toBe(404);
      expect((await call(app(), 'PATCH', `/api/callforwards/${other.id}`, { auth, patch: true, body: [{ op: 'replace', path: '/cfu/enabled', value: false }] })).statusCode).toBe(404);
      expect((await call(app(), 'DELETE', `/api/callforwards/${other.id}`, { auth })).statusCode).toBe(404);
    }
    expect((await call(app(), 'PUT', `/api/subscriberpreferences/${hers.id}`, { auth: resAuth, body: { clir: true } })).data).toEqual({ id: hers.id, clir: true });
    expect((await call(app(), 'PUT', `/api/subscriberpreferences/${other.id}`, { auth: resAuth, body: { clir: true } })).statusCode).toBe(404);
    expect((await call(app(), 'PUT', `/api/callforwards/${hers.id}`, { auth: resAuth, body: forward })).data.cfu.destinations).toEqual([{ type: 'voicemail', destination: null }]);
    expect((await call(app(), 'GET', `/api/subscriberpreferences/${other.id}`)).data).toEqual({ id: other.id });
    expect((await call(app(), 'GET', `/api/callforwards/${other.id}`)).data.cfu.destinations).toEqual([]);
  });
});

describe('callforwards', () => {
  it('document GET/PUT/PATCH/DELETE; stored for the proxy', async () => {
    const empty = await call(app(), 'GET', `/api/callforwards/${sub.id}`);
    expect(empty.data).toEqual({
      id: sub.id, cfu: { enabled: true, destinations: [] }, cfb: { enabled: true, destinations: [] },
      cfna: { enabled: true, ringtimeout: null, destinations: [] }, cft: { enabled: true, ringtimeout: null, destinations: [] },
    });
    const put = await call(app(), 'PUT', `/api/callforwards/${sub.id}`, { body: {
      cfb: { destinations: [{ type: 'voicemail' }] },
      cft: { ringtimeout: 20, destinations: [{ type: 'number', destination: '+4930123' }, { type: 'uri', destination: 'sip:desk@pbx.example' }] },
    } });
    expect(put.statusCode).toBe(200);
    expect(put.data.cft).toEqual({ enabled: true, ringtimeout: 20, destinations: [{ type: 'number', destination: '4930123' }, { type: 'uri', destination: 'sip:desk@pbx.example' }] });
    expect(put.data.cfb.destinations).toEqual([{ type: 'voicemail', destination: null }]);
    const cf = await getCallForwards(h().db, sub.id);
    expect(cf.cft.ringTimeout).toBe(20);
    expect(cf.cft.destinations.map((d) => d.destination)).toEqual(['4930123', 'sip:desk@pbx.example']);
    // the subscriber itself may change its forwards
    const p = await call(app(), 'PATCH', `/api/callforwards/${sub.id}`, { auth: subAuth, patch: true, body: [
      { op: 'add', path: '/cfu/destinations/-', value: { type: 'number', destination: '4940000' } },
      { op: 'replace', path: '/cft/enabled', value: false },
    ] });
    expect(p.statusCode).toBe(200);
    expect(p.data.cfu.destinations).toEqual([{ type: 'number', destination: '4940000' }]);
    expect((await getCallForwards(h().db, sub.id)).cft.destinations).toEqual([]); // disabled → not used by the proxy
    const bad = await call(app(), 'PUT', `/api/callforwards/${sub.id}`, { body: {
      cfu: { destinations: [{ type: 'number', destination: 'abc' }, { type: 'voicemail', destination: '123' }] },
      cft: { destinations: [{ type: 'uri', destination: 'http://x' }] },
      cfx: {},
    } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field)).toEqual(['cfx']);
    const bad2 = await call(app(), 'PUT', `/api/callforwards/${sub.id}`, { body: {
      cfu: { destinations: [{ type: 'number', destination: 'abc' }, { type: 'voicemail', destination: '123' }] },
      cft: { destinations: [{ type: 'uri', destination: 'http://x' }] },
    } });
    expect(bad2.data.fields.map((f: { field: string }) => f.field)).toEqual(['cfu/destinations/0/destination', 'cfu/destinations/1/destination', 'cft/destinations/0/destination', 'cft/ringtimeout']);
    expect((await call(app(), 'DELETE', `/api/callforwards/${sub.id}`)).statusCode).toBe(204);
    expect((await call(app(), 'GET', `/api/callforwards/${sub.id}`)).data.cfu.destinations).toEqual([]);
    expect((await call(app(), 'GET', '/api/callforwards/999999')).statusCode).toBe(404);
  });
});

describe('rewrite rules', () => {
  it('sets and rules: CRUD, order, regex validation, cascade', async () => {
    const set = await call(app(), 'POST', '/api/rewriterulesets', { body: { name: uniq('rs'), description: 'germany' } });
    expect(set.statusCode).toBe(201);
    const r1 = await call(app(), 'POST', '/api/rewriterules', { body: { set_id: set.data.id, direction: 'in', field: 'callee', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '49$1', priority: 10 } });
    expect(r1.statusCode).toBe(201);
    expect(r1.data).toMatchObject({ enabled: true, description: null, priority: 10 });
    await call(app(), 'POST', '/api/rewriterules', { body: { set_id: set.data.id, direction: 'in', field: 'callee', match_pattern: '^00', replace_pattern: '', priority: 5 } });
    const list = await call(app(), 'GET', '/api/rewriterules', { query: { set_id: set.data.id } });
    expect(list.data.items.map((r: { priority: number }) => r.priority)).toEqual([5, 10]);
    const bad = await call(app(), 'POST', '/api/rewriterules', { body: { set_id: set.data.id, direction: 'up', field: 'callee', match_pattern: '([', replace_pattern: '' } });
    expect(bad.statusCode).toBe(422);
    expect(bad.data.fields.map((f: { field: string }) => f.field)).toEqual(['direction']);
    const badRe = await call(app(), 'POST', '/api/rewriterules', { body: { set_id: set.data.id, direction: 'in', field: 'callee', match_pattern: '([', replace_pattern: '' } });
    expect(badRe.statusCode).toBe(422);
    expect(badRe.data.fields[0].field).toBe('match_pattern');
    const noSet = await call(app(), 'POST', '/api/rewriterules', { body: { set_id: 999999, direction: 'in', field: 'callee', match_pattern: 'x', replace_pattern: '' } });
    expect(noSet.statusCode).toBe(422);
    expect(noSet.data.fields[0].field).toBe('set_id');
    const p = await call(app(), 'PATCH', r1.headers.location as string, { patch: true, body: [{ op: 'replace', path: '/enabled', value: false }] });
    expect(p.data.enabled).toBe(false);
    expect((await getRewriteRules(h().db, set.data.id)).length).toBe(1);
    const put = await call(app(), 'PUT', r1.headers.location as string, { body: { set_id: set.data.id, direction: 'out', field: 'caller', match_pattern: '^49', replace_pattern: '0' } });
    expect(put.data).toMatchObject({ direction: 'out', priority: 50, enabled: true });
    // assigned through a preference; in use → 409; unassigned → delete cascades to the rules
    await call(app(), 'PUT', `/api/domainpreferences/${domainId}`, { body: { rewrite_rule_set_id: set.data.id } });
    expect((await call(app(), 'DELETE', set.headers.location as string)).statusCode).toBe(409);
    await call(app(), 'PUT', `/api/domainpreferences/${domainId}`, { body: {} });
    expect((await call(app(), 'DELETE', set.headers.location as string)).statusCode).toBe(204);
    expect((await call(app(), 'GET', r1.headers.location as string)).statusCode).toBe(404);
  });
});

describe('ncoslevels', () => {
  it('a level with its patterns as one object', async () => {
    const name = uniq('lvl');
    const c = await call(app(), 'POST', '/api/ncoslevels', { body: { level: name, patterns: [{ prefix: '49900', action: 'deny', description: 'premium' }, { prefix: '0', action: 'deny' }] } });
    expect(c.statusCode).toBe(201);
    expect(c.data).toMatchObject({ level: name, default_action: 'allow', patterns: [{ prefix: '0', action: 'deny', description: null }, { prefix: '49900', action: 'deny', description: 'premium' }] });
    const p = await call(app(), 'PATCH', c.headers.location as string, { patch: true, body: [{ op: 'add', path: '/patterns/-', value: { prefix: '499001', action: 'allow' } }] });
    expect(p.data.patterns).toHaveLength(3);
    const dup = await call(app(), 'PUT', c.headers.location as string, { body: { level: name, patterns: [{ prefix: '1', action: 'deny' }, { prefix: '1', action: 'allow' }] } });
    expect(dup.statusCode).toBe(422);
    expect(dup.data.fields[0].field).toBe('patterns/1/prefix');
    const bad = await call(app(), 'POST', '/api/ncoslevels', { body: { level: uniq('l'), patterns: [{ prefix: 'abc', action: 'maybe' }] } });
    expect(bad.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['patterns/0/action', 'patterns/0/prefix']);
    expect((await call(app(), 'POST', '/api/ncoslevels', { body: { level: name } })).statusCode).toBe(409);
    expect((await call(app(), 'GET', '/api/ncoslevels', { query: { level: name } })).data.total_count).toBe(1);
    expect((await call(app(), 'DELETE', c.headers.location as string)).statusCode).toBe(204);
    expect(await h().db('ncos_patterns').where('level_id', c.data.id)).toEqual([]);
  });
});

describe('peering', () => {
  it('groups, servers and rules drive the route lookup of the proxy', async () => {
    const g = await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('carrier'), priority: 2 } });
    expect(g.data).toMatchObject({ priority: 2, description: null });
    const s = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'gw1', host: '203.0.113.7', transport: 'tcp', weight: 10, probe: true } });
    expect(s.statusCode).toBe(201);
    expect(s.data).toMatchObject({ port: 5060, transport: 'tcp', weight: 10, probe: true, enabled: true });
    expect((await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'gw1b', host: '203.0.113.7', transport: 'tcp' } })).statusCode).toBe(409);
    const r = await call(app(), 'POST', '/api/peeringrules', { body: { group_id: g.data.id, callee_prefix: '4477', caller_pattern: '^49' } });
    expect(r.statusCode).toBe(201);
    const routes = await findPeeringRoutes(h().db, '447700900123', '4930111');
    expect(routes[0]).toMatchObject({ groupId: g.data.id, calleePrefix: '4477', servers: [{ host: '203.0.113.7', transport: 'tcp', port: 5060 }] });
    const off = await call(app(), 'PATCH', s.headers.location as string, { patch: true, body: [{ op: 'replace', path: '/enabled', value: false }] });
    expect(off.data.enabled).toBe(false);
    expect((await findPeeringRoutes(h().db, '447700900123', '4930111')).find((x) => x.groupId === g.data.id)).toBeUndefined();
    const badRule = await call(app(), 'POST', '/api/peeringrules', { body: { group_id: g.data.id, callee_prefix: '44%', caller_pattern: '(' } });
    expect(badRule.data.fields.map((f: { field: string }) => f.field)).toEqual(['callee_prefix']);
    const badServer = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'x', host: 'bad host', port: 70000, transport: 'sctp' } });
    expect(badServer.data.fields.map((f: { field: string }) => f.field).sort()).toEqual(['host', 'port', 'transport']);
    expect((await call(app(), 'PUT', r.headers.location as string, { body: { group_id: g.data.id, callee_prefix: '44' } })).data).toMatchObject({ callee_prefix: '44', caller_pattern: null });
    expect((await call(app(), 'GET', '/api/peeringservers', { query: { group_id: g.data.id } })).data.total_count).toBe(1);
    // deleting the group takes servers and rules with it
    expect((await call(app(), 'DELETE', g.headers.location as string)).statusCode).toBe(204);
    expect((await call(app(), 'GET', s.headers.location as string)).statusCode).toBe(404);
    expect((await call(app(), 'GET', r.headers.location as string)).statusCode).toBe(404);
  });

  it('digest credentials of a peering server: the password is write-only, the fields go together, 422 names the field', async () => {
    const g = await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('authgrp') } });
    const s = await call(app(), 'POST', '/api/peeringservers', {
      body: { group_id: g.data.id, name: 'gw', host: '203.0.113.40', auth_username: 'trunk-1', auth_password: 'trunk-secret', auth_realm: 'carrier.example' },
    });
    expect(s.statusCode, s.body).toBe(201);
    const url = s.headers.location as string;
    expect(s.data).toMatchObject({ auth_username: 'trunk-1', auth_realm: 'carrier.example' });
    expect(s.data).not.toHaveProperty('auth_password');
    expect(s.body).not.toContain('trunk-secret');
    const got = await call(app(), 'GET', url);
    expect(got.data).not.toHaveProperty('auth_password');
    expect(JSON.stringify((await call(app(), 'GET', '/api/peeringservers', { query: { group_id: g.data.id } })).data)).not.toContain('trunk-secret');
    const journal = await h().db('journal').where({ entity: 'peering_server', entity_id: String(s.data.id) });
    expect(journal.length).toBeGreaterThan(0);
    expect(JSON.stringify(journal)).not.toContain('trunk-secret');
    const row = async () => h().db('peering_servers').where('id', s.data.id).first('auth_username', 'auth_password', 'auth_realm');
    expect(await row()).toEqual({ auth_username: 'trunk-1', auth_password: 'trunk-secret', auth_realm: 'carrier.example' });
    // PATCH and PUT without the password keep it; a new one replaces it
    expect((await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/weight', value: 7 }] })).statusCode).toBe(200);
    expect((await row()).auth_password).toBe('trunk-secret');
    const put = await call(app(), 'PUT', url, { body: { group_id: g.data.id, name: 'gw', host: '203.0.113.40', auth_username: 'trunk-2' } });
    expect(put.statusCode, put.body).toBe(200);
    expect(await row()).toEqual({ auth_username: 'trunk-2', auth_password: 'trunk-secret', auth_realm: null });
    await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'add', path: '/auth_password', value: 'new-secret' }] });
    expect((await row()).auth_password).toBe('new-secret');
    // each bad value is refused by its field, and changes nothing
    const refused: Array<[Record<string, unknown>, string]> = [
      [{ auth_username: 'trunk', auth_password: '' }, 'auth_password'],
      [{ auth_username: 'bad\r\nX-Injected: 1', auth_password: 'pw' }, 'auth_username'],
      [{ auth_username: 'trunk', auth_password: 'pw', auth_realm: 'a\nb' }, 'auth_realm'],
      [{ auth_username: 'x'.repeat(128), auth_password: 'pw' }, 'auth_username'],
      [{ auth_username: 42, auth_password: 'pw' }, 'auth_username'],
      [{ auth_password: 'pw' }, 'auth_username'],
      [{ auth_realm: 'carrier.example' }, 'auth_username'],
    ];
    for (const [extra, field] of refused) {
      const res = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'bad', host: '203.0.113.41', ...extra } });
      expect(res.statusCode, JSON.stringify(extra)).toBe(422);
      expect([...new Set(res.data.fields.map((f: { field: string }) => f.field))], JSON.stringify(extra)).toEqual([field]);
    }
    // a username without any password (none given, none stored) is refused naming the password
    const noPw = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'np', host: '203.0.113.42', auth_username: 'trunk' } });
    expect(noPw.statusCode).toBe(422);
    expect(noPw.data.fields).toEqual([{ field: 'auth_password', message: 'is required with auth_username' }]);
    const plain = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'plain', host: '203.0.113.43' } });
    expect(plain.data).toMatchObject({ auth_username: null, auth_realm: null });
    const setUser = await call(app(), 'PATCH', plain.headers.location as string, { patch: true, body: [{ op: 'replace', path: '/auth_username', value: 'u' }] });
    expect(setUser.statusCode).toBe(422);
    expect(setUser.data.fields[0].field).toBe('auth_password');
    expect((await call(app(), 'GET', url)).data).toMatchObject({ auth_username: 'trunk-2', weight: 1 }); // the PUT above reset the weight; the refused writes changed nothing
    // no username: no authentication, the stored password goes with it
    expect((await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/auth_username', value: null }] })).statusCode).toBe(200);
    expect(await row()).toEqual({ auth_username: null, auth_password: null, auth_realm: null });
    await call(app(), 'DELETE', g.headers.location as string);
  });

  it('outbound registration of a peering server: fields with defaults, 422 without credentials, live state read from Redis peerreg:<id>', async () => {
    const g = await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('reggrp') } });
    const creds = { auth_username: 'trunk-r', auth_password: 'trunk-secret' };
    const plain = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'gw', host: '203.0.113.60', ...creds } });
    expect(plain.statusCode, plain.body).toBe(201);
    expect(plain.data).toMatchObject({
      register_enable: false, register_expires_s: 600, register_user: null, register_domain: null, register_contact_user: null,
      registration: { state: 'disabled', expires_at: null, last_code: null, last_reason: null, last_attempt_at: null },
    });
    const url = plain.headers.location as string;
    const on = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/register_enable', value: true }, { op: 'replace', path: '/register_contact_user', value: '4930123456' }] });
    expect(on.statusCode, on.body).toBe(200);
    expect(on.data).toMatchObject({ register_enable: true, register_contact_user: '4930123456', registration: { state: 'unregistered', expires_at: null } });
    // the state the proxy's agent wrote
    const at = Date.now();
    await h().redis.set(`peerreg:${plain.data.id}`, JSON.stringify({
      state: 'registered', call_id: 'c1@x', cseq: 3, from_tag: 't', binding: 'b', aor: 'trunk-r@203.0.113.60', contact: 'sip:4930123456@192.0.2.1:5060',
      expires_at: at + 600_000, granted_s: 600, last_code: 200, last_reason: 'OK', last_attempt_at: at, failures: 0,
    }));
    const got = await call(app(), 'GET', url);
    expect(got.data.registration).toEqual({ state: 'registered', expires_at: new Date(at + 600_000).toISOString(), last_code: 200, last_reason: 'OK', last_attempt_at: new Date(at).toISOString() });
    const listed = await call(app(), 'GET', '/api/peeringservers', { query: { group_id: g.data.id } });
    expect(listed.data.items[0].registration.state).toBe('registered');
    // the live state cannot be written, and does not go into the journal
    const ro = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/registration/state', value: 'failed' }] });
    expect(ro.statusCode).toBe(422);
    expect(ro.data.fields[0].field).toBe('registration');
    const journal = await h().db('journal').where({ entity: 'peering_server', entity_id: String(plain.data.id) });
    expect(JSON.stringify(journal)).not.toContain('registration');
    // a disabled server shows disabled, whatever Redis still holds
    expect((await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/enabled', value: false }] })).data.registration.state).toBe('disabled');
    // bad values are refused by their field
    const refused: Array<[Record<string, unknown>, string]> = [
      [{ register_enable: true }, 'register_enable'],
      [{ ...creds, register_enable: true, register_expires_s: 5 }, 'register_expires_s'],
      [{ ...creds, register_enable: true, register_expires_s: 100_000 }, 'register_expires_s'],
      [{ ...creds, register_user: 'a b' }, 'register_user'],
      [{ ...creds, register_contact_user: 'x@y' }, 'register_contact_user'],
      [{ ...creds, register_domain: 'bad domain' }, 'register_domain'],
      [{ ...creds, register_enable: 'yes' }, 'register_enable'],
    ];
    for (const [extra, field] of refused) {
      const res = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'bad', host: '203.0.113.61', ...extra } });
      expect(res.statusCode, JSON.stringify(extra)).toBe(422);
      expect([...new Set(res.data.fields.map((f: { field: string }) => f.field))], JSON.stringify(extra)).toEqual([field]);
    }
    const noCreds = await call(app(), 'POST', '/api/peeringservers', { body: { group_id: g.data.id, name: 'nc', host: '203.0.113.62', register_enable: true } });
    expect(noCreds.data.fields[0].message).toMatch(/needs credentials: auth_username and auth_password/);
    // removing the credentials of a registering server is refused too
    const rm = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: '/enabled', value: true }, { op: 'replace', path: '/auth_username', value: null }] });
    expect(rm.statusCode).toBe(422);
    expect(rm.data.fields[0].field).toBe('register_enable');
    await h().redis.del(`peerreg:${plain.data.id}`);
    await call(app(), 'DELETE', g.headers.location as string);
  });

  it('peering is admin only', async () => {
    const res = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('pr');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: res.data.id });
    for (const url of ['/api/peeringgroups', '/api/peeringservers', '/api/peeringrules']) {
      expect((await call(app(), 'GET', url, { auth: basic(login, 'reseller-pw') })).statusCode).toBe(403);
    }
    expect((await call(app(), 'GET', '/api/rewriterulesets', { auth: basic(login, 'reseller-pw') })).statusCode).toBe(200);
    expect((await call(app(), 'POST', '/api/rewriterulesets', { auth: basic(login, 'reseller-pw'), body: { name: 'x' } })).statusCode).toBe(403);
  });
});

describe('PUT and PATCH round trips of the remaining simple resources', () => {
  const group = async () => (await call(app(), 'POST', '/api/peeringgroups', { body: { name: uniq('grp') } })).data.id as number;
  const cases: {
    url: string; create: () => Record<string, unknown> | Promise<Record<string, unknown>>; patch: [string, unknown];
    put: (c: Record<string, unknown>) => Record<string, unknown>; check: Record<string, unknown>; invalid: [string, unknown];
  }[] = [
    { url: '/api/rewriterulesets', create: () => ({ name: uniq('set') }), patch: ['/description', 'patched'], put: (c) => ({ name: c.name }), check: { description: null }, invalid: ['name', ''] },
    { url: '/api/peeringgroups', create: () => ({ name: uniq('grp'), priority: 3 }), patch: ['/priority', 5], put: (c) => ({ name: c.name }), check: { priority: 1 }, invalid: ['priority', 10] },
    { url: '/api/resellers', create: () => ({ name: uniq('rsl') }), patch: ['/status', 'locked'], put: (c) => ({ name: c.name }), check: { status: 'active' }, invalid: ['status', 'gone'] },
    {
      url: '/api/preferencedefs', create: () => ({ attribute: uniq('p').toLowerCase(), data_type: 'int', levels: ['domain'] }), patch: ['/description', 'patched'],
      put: (c) => ({ attribute: c.attribute, data_type: 'boolean', levels: ['subscriber', 'peer'] }), check: { data_type: 'boolean', levels: ['subscriber', 'peer'], description: null },
      invalid: ['levels', ['everywhere']],
    },
    {
      url: '/api/rewriterules',
      create: async () => ({ set_id: (await call(app(), 'POST', '/api/rewriterulesets', { body: { name: uniq('set') } })).data.id, direction: 'in', field: 'callee', match_pattern: '^0', replace_pattern: '49', priority: 3 }),
      patch: ['/priority', 7], put: (c) => ({ set_id: c.set_id, direction: 'out', field: 'caller', match_pattern: '^49', replace_pattern: '0' }),
      check: { direction: 'out', field: 'caller', priority: 50, enabled: true, description: null }, invalid: ['match_pattern', '(['],
    },
    {
      url: '/api/ncoslevels', create: () => ({ level: uniq('lvl'), default_action: 'deny', patterns: [{ prefix: '0', action: 'allow' }] }), patch: ['/default_action', 'allow'],
      put: (c) => ({ level: c.level }), check: { default_action: 'allow', patterns: [], description: null }, invalid: ['default_action', 'maybe'],
    },
    {
      url: '/api/peeringservers', create: async () => ({ group_id: await group(), name: 'gw', host: '203.0.113.30', port: 5080, weight: 3 }), patch: ['/weight', 5],
      put: (c) => ({ group_id: c.group_id, name: 'gw2', host: '203.0.113.31' }), check: { name: 'gw2', host: '203.0.113.31', port: 5060, transport: 'udp', weight: 1, probe: false, enabled: true },
      invalid: ['port', 0],
    },
    {
      url: '/api/peeringrules', create: async () => ({ group_id: await group(), callee_prefix: '49', caller_pattern: '^1', enabled: false }), patch: ['/callee_prefix', '4930'],
      put: (c) => ({ group_id: c.group_id }), check: { callee_prefix: '', caller_pattern: null, callee_pattern: null, enabled: true }, invalid: ['callee_pattern', '(['],
    },
  ];
  for (const tc of cases) {
    it(tc.url, async () => {
      const c = await call(app(), 'POST', tc.url, { body: await tc.create() });
      expect(c.statusCode, c.body).toBe(201);
      const url = c.headers.location as string;
      expect(url).toBe(`${tc.url}/${c.data.id}`);
      expect((await call(app(), 'GET', url)).data).toEqual(c.data);
      expect((await call(app(), 'GET', tc.url, { query: { rows: 1000 } })).data.items).toContainEqual(c.data);
      const p = await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'replace', path: tc.patch[0], value: tc.patch[1] }] });
      expect(p.statusCode, p.body).toBe(200);
      expect(p.data[tc.patch[0].slice(1)]).toEqual(tc.patch[1]);
      const u = await call(app(), 'PUT', url, { body: tc.put(c.data) });
      expect(u.statusCode, u.body).toBe(200);
      expect(u.data).toMatchObject(tc.check);
      expect((await call(app(), 'GET', url)).data).toEqual(u.data);
      const bogus = await call(app(), 'PUT', url, { body: { ...tc.put(c.data), bogus: 1 } });
      expect(bogus.statusCode).toBe(422);
      expect(bogus.data.fields).toEqual([{ field: 'bogus', message: 'is not allowed' }]);
      const [field, value] = tc.invalid;
      for (const res of [
        await call(app(), 'PUT', url, { body: { ...tc.put(c.data), [field]: value } }),
        await call(app(), 'PATCH', url, { patch: true, body: [{ op: 'add', path: `/${field}`, value }] }),
      ]) {
        expect(res.statusCode, res.body).toBe(422);
        expect(res.data.fields.map((f: { field: string }) => f.field.split('/')[0])).toEqual([field]);
      }
      expect((await call(app(), 'GET', url)).data).toEqual(u.data); // the refused writes changed nothing
      expect((await call(app(), 'DELETE', url)).statusCode).toBe(204);
      expect((await call(app(), 'GET', url)).statusCode).toBe(404);
      expect((await call(app(), 'DELETE', url)).statusCode).toBe(404);
    });
  }

  it('domain preferences by PATCH, and a reseller reads but cannot write them', async () => {
    const p = await call(app(), 'PATCH', `/api/domainpreferences/${domainId}`, { patch: true, body: [{ op: 'add', path: '/block_in_list', value: ['4990*', '4991*'] }] });
    expect(p.statusCode).toBe(200);
    expect(p.data.block_in_list).toEqual(['4990*', '4991*']);
    const r = await call(app(), 'POST', '/api/resellers', { body: { name: uniq('res') } });
    const login = uniq('dp');
    await createApiUser(h().db, login, 'reseller-pw', 'reseller', { reseller_id: r.data.id });
    expect((await call(app(), 'GET', `/api/domainpreferences/${domainId}`, { auth: basic(login, 'reseller-pw') })).data.block_in_list).toHaveLength(2);
    expect((await call(app(), 'PUT', `/api/domainpreferences/${domainId}`, { auth: basic(login, 'reseller-pw'), body: {} })).statusCode).toBe(403);
  });
});
