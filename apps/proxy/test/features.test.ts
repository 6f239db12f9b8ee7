/**
 * Call features through the proxy in-process (real MariaDB and Redis, provisioning through the
 * API app): rewrite rules both ways, NCOS and block lists (403 + Reason), CLIR and
 * P-Asserted-Identity, concurrent-call limits counted in Redis and back at zero after every
 * way a call ends (BYE either side, CANCEL, busy, not registered, timeout of a dead call).
 * Changes through the API take effect without a restart (ngcp:changes).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { redisKeys } from '@ngcp/db';
import { stillValue } from '@ngcp/testkit';
import { peeringServer, provision, RPC_CTX, testNumber, uniq, until, useHarness, type Harness } from './harness.js';
import { Ua } from './ua.js';
import type { SipResponse, SipRequest } from '@ngcp/sip';

/** The user part of a message's From URI (undefined for a non-SIP URI). */
const fromUser = (m: SipRequest | SipResponse): string | null | undefined => {
  const u = m.from().uri;
  return u.isSip ? u.user : undefined;
};

// a dead call (no BYE) is released once its call:<id> key expired: a short TTL keeps the test short.
// Every other end must release at once: those checks wait at most PROMPT ms, far less than the TTL,
// so the pruning of dead calls cannot be what brings a counter back to zero.
const CALL_TTL = 8;
const PROMPT = 2000;
const h = useHarness({ calls: { ttl_s: CALL_TTL, auth: true } });
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

/** A fresh E.164 number of "country 43" (unique in this file's database). */
const num = testNumber;

interface Party { ua: Ua; id: number; number: string }

async function parties(names: string[], opts: { customer?: number } = {}): Promise<{ domain: string; domainId: number; p: Record<string, Party> }> {
  const users = names.map((n) => ({ username: n, password: `${n}-password-1`, number: num() }));
  const domain = await provision(h(), users);
  const p: Record<string, Party> = {};
  let domainId = 0;
  for (const u of users) {
    const list = await h().api('GET', `/api/subscribers?domain=${domain}&username=${u.username}`);
    const sub = list.data.items.find((s: { username: string }) => s.username === u.username);
    domainId = sub.domain_id;
    if (opts.customer !== undefined) expect((await h().api('PATCH', `/api/subscribers/${sub.id}`, [{ op: 'replace', path: '/customer_id', value: opts.customer }])).status).toBe(200);
    const ua = await new Ua(u.username, domain, u.password, h().proxy.address()).start();
    started.push(ua);
    expect((await ua.register()).final.status).toBe(200);
    p[u.username] = { ua, id: sub.id, number: u.number };
  }
  return { domain, domainId, p };
}

/** Make a provisioning change and wait until the proxy heard of it (ngcp:changes). */
async function change<T>(fn: () => Promise<T>): Promise<T> {
  const messages = async (): Promise<number> => ((await h().proxy.stats()).changes as { messages: number }).messages;
  // earlier writes' notifications first (a late one would pass for this change's): the count still for 150 ms
  const before = await stillValue(messages);
  const r = await fn();
  await until(async () => (await messages()) > before, 'change notification at the proxy');
  return r;
}

async function setPrefs(h: Harness, level: 'subscriber' | 'domain' | 'customer', id: number, prefs: Record<string, unknown>): Promise<void> {
  const r = await change(() => h.api('PUT', `/api/${level}preferences/${id}`, prefs));
  expect(r.status, JSON.stringify(r.data)).toBe(200);
}

async function limits(params: { subscriber_id?: number; customer_id?: number }) {
  return (await h().proxy.methods['features.limits']!(params, RPC_CTX)) as { subscriber?: { calls: number; calls_out: number }; customer?: { calls: number; calls_out: number } };
}

/** A answers B's INVITE with 200 and returns both dialogs. */
async function answeredCall(from: Party, to: Party, target: string) {
  const calling = from.ua.invite(target);
  const inc = await to.ua.next('INVITE');
  const calleeDialog = to.ua.answer(inc, 200)!;
  const r = await calling;
  expect(r.final.status).toBe(200);
  return { inc, calleeDialog, callerDialog: r.dialog!, callId: r.req.callId() };
}

describe('rewrite rules', () => {
  it('the dialled national number is normalised (in) before the lookup; the callee sees the caller in national format (out) in From and PAI; the caller gets its own From back', async () => {
    const { domain, domainId, p } = await parties(['a', 'b']);
    const set = await change(() => h().api('POST', '/api/rewriterulesets', { name: uniq('at') }));
    const rule = (b: Record<string, unknown>) => h().api('POST', '/api/rewriterules', { set_id: set.data.id, ...b });
    // each change seen by the proxy before the next one counts (setPrefs below waits for "one more
    // message than before": a rule's late notification would satisfy it before the preference's)
    expect((await change(() => rule({ direction: 'in', field: 'callee', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '43$1', priority: 10 }))).status).toBe(201);
    expect((await change(() => rule({ direction: 'out', field: 'caller', match_pattern: '^43([1-9][0-9]+)$', replace_pattern: '0$1', priority: 10 }))).status).toBe(201);
    // refused by the API, naming the field
    const bad = await rule({ direction: 'in', field: 'callee', match_pattern: '^(0', replace_pattern: '' });
    expect(bad.status).toBe(422);
    expect(bad.data.fields[0].field).toBe('match_pattern');
    await setPrefs(h(), 'domain', domainId, { rewrite_rule_set_id: set.data.id });

    const national = `0${p.b!.number.slice(2)}`;
    expect(national, 'a national number the rule can match').toMatch(/^0[1-9][0-9]+$/);
    const calling = p.a!.ua.invite(`sip:${national}@${domain}`);
    // if b gets nothing, say what a got (a 404 would mean the rewrite set did not apply)
    const inc = await p.b!.ua.next('INVITE').catch(async (err: Error) => {
      const got = await Promise.race([calling.then((r) => `${r.final.status} ${r.final.reason}`, (e: Error) => e.message), new Promise((r) => setTimeout(() => r('no final yet'), 2000))]);
      throw new Error(`${err.message}; the caller got: ${String(got)}`);
    });
    const shown = `0${p.a!.number.slice(2)}`;
    expect(fromUser(inc.req)).toBe(shown);
    expect(inc.req.getAll('p-asserted-identity')).toEqual([`<sip:${shown}@${domain}>`]);
    expect(inc.req.has('privacy')).toBe(false);
    p.b!.ua.answer(inc, 180, false);
    const dialog = p.b!.ua.answer(inc, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect(fromUser(r.final)).toBe('a');
    expect(fromUser(r.provisionals.find((x) => x.status === 180)!)).toBe('a');
    expect((await p.b!.ua.inDialog(dialog)).status).toBe(200);

    // a rule written around the API that does not compile: skipped with a log line, the rest still applies
    await change(async () => {
      await h().db('rewrite_rules').insert({ set_id: set.data.id, direction: 'in', field: 'callee', match_pattern: '([', replace_pattern: 'x', priority: 1 });
      await h().redis.publish('ngcp:changes', JSON.stringify({ entity: 'rewrite_rule', id: 0, op: 'create', ts: Date.now() }));
    });
    const skippedBefore = ((await h().proxy.stats()).features as { cache: { rulesSkipped: number } }).cache.rulesSkipped;
    const again = p.a!.ua.invite(`sip:${national}@${domain}`);
    const inc2 = await p.b!.ua.next('INVITE');
    p.b!.ua.answer(inc2, 486);
    expect((await again).final.status).toBe(486);
    expect(((await h().proxy.stats()).features as { cache: { rulesSkipped: number } }).cache.rulesSkipped).toBe(skippedBefore + 1);
  });
});

describe('towards a peer', () => {
  it('the dialled national number is normalised before the peering lookup; the peer (trusted) sees the caller in E.164 in From and PAI, and the PAI under Privacy: id for CLIR; the call counts', async () => {
    const { domain, domainId, p } = await parties(['a']);
    const set = await change(() => h().api('POST', '/api/rewriterulesets', { name: uniq('at') }));
    await change(() => h().api('POST', '/api/rewriterules', { set_id: set.data.id, direction: 'in', field: 'callee', match_pattern: '^0([1-9][0-9]+)$', replace_pattern: '43$1', priority: 10 }));
    await change(() => h().api('POST', '/api/rewriterules', { set_id: set.data.id, direction: 'out', field: 'caller', match_pattern: '^43([1-9][0-9]+)$', replace_pattern: '0$1', priority: 10 }));
    await setPrefs(h(), 'domain', domainId, { rewrite_rule_set_id: set.data.id });
    const { peer } = await peeringServer(h(), '127.0.0.61', '43988');
    started.push(peer);

    const calling = p.a!.ua.invite(`sip:0988123456@${domain}`);
    const inc = await peer.next('INVITE');
    expect(inc.req.uri).toBe(`sip:43988123456@${peer.host}:${peer.port}`);
    expect(fromUser(inc.req)).toBe(p.a!.number);
    expect(inc.req.getAll('p-asserted-identity')).toEqual([`<sip:${p.a!.number}@${domain}>`]);
    expect((await limits({ subscriber_id: p.a!.id })).subscriber).toMatchObject({ calls: 1, calls_out: 1 });
    peer.answer(inc, 486);
    expect((await calling).final.status).toBe(486);
    await until(async () => (await limits({ subscriber_id: p.a!.id })).subscriber!.calls === 0, 'released', PROMPT);

    await setPrefs(h(), 'subscriber', p.a!.id, { clir: true });
    const anon = p.a!.ua.invite(`sip:0988123457@${domain}`);
    const inc2 = await peer.next('INVITE');
    expect(inc2.req.from().uri.toString()).toBe('sip:anonymous@anonymous.invalid');
    expect(inc2.req.get('privacy')).toBe('id');
    expect(inc2.req.getAll('p-asserted-identity')).toEqual([`<sip:${p.a!.number}@${domain}>`]);
    peer.answer(inc2, 486);
    expect((await anon).final.status).toBe(486);
  });
});

describe('NCOS and block lists', () => {
  it('NCOS: a denied prefix → 403 with a Reason; adm_ncos_id wins over ncos_id; lifting it works without a restart', async () => {
    const { domain, p } = await parties(['a', 'b']);
    const prefix = p.b!.number.slice(0, 7);
    const deny = await h().api('POST', '/api/ncoslevels', { level: uniq('deny'), default_action: 'allow', patterns: [{ prefix, action: 'deny' }] });
    const allow = await h().api('POST', '/api/ncoslevels', { level: uniq('allow'), default_action: 'allow', patterns: [] });
    expect(deny.status).toBe(201);
    await setPrefs(h(), 'subscriber', p.a!.id, { ncos_id: allow.data.id, adm_ncos_id: deny.data.id });
    const r = await p.a!.ua.invite(`sip:${p.b!.number}@${domain}`);
    expect(r.final.status).toBe(403);
    expect(r.final.get('reason')).toBe('SIP;cause=403;text="callee blocked by NCOS"');
    expect(p.b!.ua.pending('INVITE')).toBe(0);
    // by username too: NCOS looks at the callee's number
    expect((await p.a!.ua.invite(`sip:b@${domain}`)).final.status).toBe(403);
    const acc = await until(async () => (await h().db('acc').where('callid', r.req.callId()).select('sip_code'))[0], 'failure record');
    expect(acc.sip_code).toBe('403');

    await setPrefs(h(), 'subscriber', p.a!.id, { ncos_id: allow.data.id });
    const ok = p.a!.ua.invite(`sip:${p.b!.number}@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    expect((await ok).final.status).toBe(486);
  });

  it('block_out_list (caller), block_in_list (callee), whitelist mode and block_in_clir: 403 with a Reason each', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await setPrefs(h(), 'subscriber', p.a!.id, { block_out_list: [`${p.b!.number.slice(0, 8)}*`] });
    const out = await p.a!.ua.invite(`sip:${p.b!.number}@${domain}`);
    expect(out.final.status).toBe(403);
    expect(out.final.get('reason')).toBe('SIP;cause=403;text="callee blocked by block list"');
    // c is not on a's list... unless the pattern covers it: c's number differs in the last digits only
    await setPrefs(h(), 'subscriber', p.a!.id, { block_out_mode: 'whitelist', block_out_list: [p.c!.number] });
    expect((await p.a!.ua.invite(`sip:${p.b!.number}@${domain}`)).final.status).toBe(403);
    const toC = p.a!.ua.invite(`sip:${p.c!.number}@${domain}`);
    p.c!.ua.answer(await p.c!.ua.next('INVITE'), 486);
    expect((await toC).final.status).toBe(486);

    await setPrefs(h(), 'subscriber', p.b!.id, { block_in_list: [p.c!.number] });
    const inb = await p.c!.ua.invite(`sip:b@${domain}`);
    expect(inb.final.status).toBe(403);
    expect(inb.final.get('reason')).toBe('SIP;cause=403;text="caller blocked by callee"');

    await setPrefs(h(), 'subscriber', p.b!.id, { block_in_clir: true });
    const anon = p.c!.ua.build('INVITE', `sip:b@${domain}`, `<sip:b@${domain}>`, [['Contact', `<${p.c!.ua.contact}>`], ['Privacy', 'id']]);
    const clir = await p.c!.ua.send(anon);
    expect(clir.final.status).toBe(403);
    expect(clir.final.get('reason')).toBe('SIP;cause=403;text="anonymous caller blocked by callee"');
    // not anonymous: through
    const named = p.c!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    expect((await named).final.status).toBe(486);
  });

  it('CLIR: clir set → the callee sees an anonymous From and Privacy: id, no P-Asserted-Identity; an asserted identity from the caller never passes', async () => {
    const { domain, p } = await parties(['a', 'b']);
    await setPrefs(h(), 'subscriber', p.a!.id, { clir: true });
    const req = p.a!.ua.build('INVITE', `sip:b@${domain}`, `<sip:b@${domain}>`, [['Contact', `<${p.a!.ua.contact}>`], ['P-Asserted-Identity', '<sip:999@evil.example>']]);
    const calling = p.a!.ua.send(req);
    const inc = await p.b!.ua.next('INVITE');
    expect(inc.req.from().uri.toString()).toBe('sip:anonymous@anonymous.invalid');
    expect(inc.req.get('privacy')).toBe('id');
    expect(inc.req.has('p-asserted-identity')).toBe(false);
    p.b!.ua.answer(inc, 486);
    expect((await calling).final.status).toBe(486);

    // the network-provided number (cli) is what is asserted and shown
    const cli = num();
    await setPrefs(h(), 'subscriber', p.a!.id, { cli });
    const req2 = p.a!.ua.build('INVITE', `sip:b@${domain}`, `<sip:b@${domain}>`, [['Contact', `<${p.a!.ua.contact}>`], ['P-Asserted-Identity', '<sip:999@evil.example>']]);
    const calling2 = p.a!.ua.send(req2);
    const inc2 = await p.b!.ua.next('INVITE');
    expect(inc2.req.getAll('p-asserted-identity')).toEqual([`<sip:${cli}@${domain}>`]);
    expect(fromUser(inc2.req)).toBe(cli);
    p.b!.ua.answer(inc2, 486);
    expect((await calling2).final.status).toBe(486);
  });
});

describe('concurrent-call limits', () => {
  it('concurrent_max_out of the caller → 403, concurrent_max of the callee → 486, the customer limit → 403; slots come back when calls end', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await setPrefs(h(), 'subscriber', p.a!.id, { concurrent_max_out: 1 });
    const first = await answeredCall(p.a!, p.b!, `sip:b@${domain}`);
    expect(await limits({ subscriber_id: p.a!.id })).toEqual({ subscriber: { id: p.a!.id, calls: 1, calls_out: 1 } });
    const second = await p.a!.ua.invite(`sip:c@${domain}`);
    expect(second.final.status).toBe(403);
    expect(second.final.get('reason')).toBe('SIP;cause=403;text="caller concurrent call limit reached"');
    expect(p.c!.ua.pending('INVITE')).toBe(0);

    await setPrefs(h(), 'subscriber', p.b!.id, { concurrent_max: 1 });
    const toBusy = await p.c!.ua.invite(`sip:b@${domain}`);
    expect(toBusy.final.status).toBe(486);
    expect(toBusy.final.get('reason')).toBe('SIP;cause=486;text="callee concurrent call limit reached"');

    expect((await p.a!.ua.inDialog(first.callerDialog)).status).toBe(200);
    await until(async () => (await limits({ subscriber_id: p.a!.id })).subscriber!.calls === 0, 'a released', PROMPT);
    expect((await limits({ subscriber_id: p.b!.id })).subscriber).toMatchObject({ calls: 0, calls_out: 0 });
    const third = await answeredCall(p.a!, p.c!, `sip:c@${domain}`);
    expect((await p.c!.ua.inDialog(third.calleeDialog)).status).toBe(200);
    await until(async () => (await limits({ subscriber_id: p.a!.id })).subscriber!.calls === 0, 'a released again', PROMPT);

    const cust = await h().api('POST', '/api/customers', { name: uniq('cust'), concurrent_max: 1 });
    expect(cust.status, JSON.stringify(cust.data)).toBe(201);
    const team = await parties(['x', 'y', 'z'], { customer: cust.data.id });
    const held = await answeredCall(team.p.x!, team.p.y!, `sip:y@${team.domain}`);
    expect((await limits({ customer_id: cust.data.id })).customer).toMatchObject({ calls: 1, calls_out: 1 });
    const over = await team.p.z!.ua.invite(`sip:x@${team.domain}`);
    expect(over.final.status).toBe(403);
    expect((await team.p.y!.ua.inDialog(held.calleeDialog)).status).toBe(200);
    await until(async () => (await limits({ customer_id: cust.data.id })).customer!.calls === 0, 'customer released', PROMPT);
  });

  it('counters back at zero after calls ended by BYE (either side), CANCEL, busy, not registered, a failed branch and timeout of a dead call', async () => {
    const { domain, p } = await parties(['a', 'b']);
    const ids = [p.a!.id, p.b!.id];
    const zero = async (): Promise<boolean> => {
      for (const id of ids) {
        const s = (await limits({ subscriber_id: id })).subscriber!;
        if (s.calls !== 0 || s.calls_out !== 0) return false;
      }
      return true;
    };
    for (let i = 0; i < 10; i++) {
      const c = await answeredCall(p.a!, p.b!, `sip:b@${domain}`);
      expect((await limits({ subscriber_id: p.b!.id })).subscriber!.calls).toBe(1);
      expect((await (i % 2 ? p.a!.ua.inDialog(c.callerDialog) : p.b!.ua.inDialog(c.calleeDialog))).status).toBe(200);
      await until(zero, 'released after BYE', PROMPT);
      // CANCEL while ringing
      let tx: { cancel(): unknown } | undefined;
      const ringing = p.a!.ua.invite(`sip:b@${domain}`, { onTx: (t, req) => { if (req.has('proxy-authorization')) tx = t; } });
      const inc = await p.b!.ua.next('INVITE');
      p.b!.ua.answer(inc, 180, false);
      await until(async () => tx !== undefined && (await h().redis.hget(redisKeys.call(inc.req.callId()), 'state')) === 'ringing', 'ringing');
      tx!.cancel();
      expect((await ringing).final.status).toBe(487);
      await until(zero, 'released after CANCEL', PROMPT);
      // busy / failure
      const busy = p.a!.ua.invite(`sip:b@${domain}`);
      p.b!.ua.answer(await p.b!.ua.next('INVITE'), i % 2 ? 486 : 503);
      expect((await busy).final.status).toBe(i % 2 ? 486 : 500);
      await until(zero, 'released after a failure final', PROMPT);
    }
    // not registered: counted and released at once
    expect((await p.b!.ua.register({ expires: 0 })).final.status).toBe(200);
    expect((await p.a!.ua.invite(`sip:b@${domain}`)).final.status).toBe(480);
    await until(zero, 'released after 480', PROMPT);
    expect((await p.b!.ua.register()).final.status).toBe(200);

    // a dead call: answered, then nobody sends BYE; released once call:<id> expired (calls.ttl_s)
    const dead = await answeredCall(p.a!, p.b!, `sip:b@${domain}`);
    expect((await limits({ subscriber_id: p.a!.id })).subscriber!.calls).toBe(1);
    await until(async () => (await h().redis.exists(redisKeys.call(dead.callId))) === 0, 'call key expired', (CALL_TTL + 5) * 1000);
    await until(zero, 'dead call released', 5000);
    expect(await h().redis.keys('conc:sub:*').then((ks) => ks.filter((k) => ids.some((id) => k === `conc:sub:${id}`)))).toEqual([]);

    // the sweep prunes the sets of a subscriber who never calls again (nothing else looks at them)
    const last = await answeredCall(p.a!, p.b!, `sip:b@${domain}`);
    expect(await h().redis.zscore(`conc:sub:${p.b!.id}`, last.callId)).not.toBeNull();
    await h().redis.del(redisKeys.call(last.callId)); // the call key gone as if it had expired
    await h().redis.zadd(`conc:sub:${p.b!.id}`, 1, last.callId); // and its deadline passed
    await h().redis.zadd(`conc:subout:${p.a!.id}`, 1, last.callId);
    expect(await h().redis.zcard(`conc:sub:${p.b!.id}`)).toBe(1);
    await h().proxy.methods['features.sweep']!({}, RPC_CTX);
    expect(await h().redis.exists(`conc:sub:${p.b!.id}`, `conc:subout:${p.a!.id}`)).toBe(0);
    expect(await h().redis.zcard(`conc:sub:${p.a!.id}`)).toBe(1); // deadline not passed yet: kept until then
  }, 120_000);
});
