/** REGISTER against the real MariaDB (HA1) and Redis (location:<aor>), read back through the API. */
import { describe, expect, it } from 'vitest';
import { redisKeys, type LocationBinding } from '@ngcp/db';
import { provision, RPC_CTX, until, useHarness } from './harness.js';
import { Ua } from './ua.js';

const h = useHarness();

async function ua(user: string, domain: string, password: string): Promise<Ua> {
  return new Ua(user, domain, password, h().proxy.address()).start();
}

describe('registrar', () => {
  it('challenges with MD5 then SHA-256, refuses a wrong password, binds with the right one', async () => {
    const domain = await provision(h(), [{ username: 'alice', password: 'right-pw-1' }]);
    const wrong = await ua('alice', domain, 'wrong-pw');
    const r1 = await wrong.register({ expires: 300 });
    expect(r1.final.status).toBe(403);
    const challenge = await wrong.send(wrong.build('REGISTER', `sip:${domain}`, `<sip:alice@${domain}>`, [['Contact', `<${wrong.contact}>`]]), { auth: false });
    expect(challenge.final.status).toBe(401);
    const offered = challenge.final.getAll('www-authenticate').join('\n');
    // MD5 first by default (proxy.auth_algorithms): UAs that read only the first challenge (sipp) still register
    expect(offered).toMatch(/algorithm=MD5[\s\S]*algorithm=SHA-256/);
    expect(offered).toContain(`realm="${domain}"`);
    expect(await h().redis.exists(redisKeys.location(`alice@${domain}`))).toBe(0);
    await wrong.stop();

    const a = await ua('alice', domain, 'right-pw-1');
    const ok = await a.register({ expires: 300 });
    expect(ok.final.status).toBe(200);
    expect(ok.final.getAll('contact').join()).toMatch(new RegExp(`<${a.contact}>;expires=(300|299)`));
    expect(ok.final.getAll('path')).toEqual([a.path]);

    // the binding exactly as packages/db/REDIS.md says
    const hash = await h().redis.hgetall(redisKeys.location(`alice@${domain}`));
    const b = JSON.parse(hash[a.contact]!) as LocationBinding;
    expect(b).toMatchObject({ contact: a.contact, q: 1, path: [a.path], received: `udp:127.0.0.1:${a.port}`, cseq: ok.req.cseq().seq, call_id: ok.req.callId() });
    expect(b.expires - Date.now() / 1000).toBeGreaterThan(250);
    const ttl = await h().redis.ttl(redisKeys.location(`alice@${domain}`));
    expect(ttl).toBeGreaterThan(250);
    expect(ttl).toBeLessThanOrEqual(301);

    // and the API shows it
    const list = await h().api('GET', `/api/registrations?domain=${domain}`);
    expect(list.status).toBe(200);
    expect(list.data.items).toEqual([expect.objectContaining({ aor: `alice@${domain}`, contacts: [expect.objectContaining({ contact: a.contact, path: [a.path], received: `udp:127.0.0.1:${a.port}` })] })]);

    // and the control method
    const lookup = (await h().proxy.methods['location.lookup']!({ aor: `alice@${domain}` }, RPC_CTX)) as { bindings: LocationBinding[] };
    expect(lookup.bindings.map((x) => x.contact)).toEqual([a.contact]);
    await a.stop();
  });

  it('unregisters with Expires: 0 and with *', async () => {
    const domain = await provision(h(), [{ username: 'bob', password: 'bob-pw-12' }]);
    const b = await ua('bob', domain, 'bob-pw-12');
    expect((await b.register({ contacts: ['<sip:bob@127.0.0.1:7001>', '<sip:bob@127.0.0.1:7002>'] })).final.status).toBe(200);
    const one = await b.register({ contacts: ['<sip:bob@127.0.0.1:7001>;expires=0'] });
    expect(one.final.status).toBe(200);
    expect(one.final.getAll('contact').join()).not.toContain('7001');
    expect(Object.keys(await h().redis.hgetall(redisKeys.location(`bob@${domain}`)))).toEqual(['sip:bob@127.0.0.1:7002']);
    const all = await b.register({ contacts: ['*'], expires: 0 });
    expect(all.final.status).toBe(200);
    expect(all.final.has('contact')).toBe(false);
    expect(await h().redis.exists(redisKeys.location(`bob@${domain}`))).toBe(0);
    await b.stop();
  });

  it('423 with Min-Expires below min_expires; max_expires caps', async () => {
    const domain = await provision(h(), [{ username: 'carol', password: 'carol-pw-1' }]);
    const c = await ua('carol', domain, 'carol-pw-1');
    const brief = await c.register({ expires: 10 });
    expect(brief.final.status).toBe(423);
    expect(brief.final.get('min-expires')).toBe('60');
    const long = await c.register({ expires: 999_999 });
    expect(long.final.status).toBe(200);
    expect(long.final.get('contact')).toMatch(/expires=(3600|3599)/);
    await c.stop();
  });

  it('several contacts with q, all reported in the 200', async () => {
    const domain = await provision(h(), [{ username: 'dave', password: 'dave-pw-12' }]);
    const d = await ua('dave', domain, 'dave-pw-12');
    await d.register({ contacts: ['<sip:dave@127.0.0.1:7101>;q=0.5'] });
    const r = await d.register({ contacts: ['<sip:dave@127.0.0.1:7102>;q=0.9'] });
    expect(r.final.getAll('contact')).toHaveLength(2);
    const lookup = (await h().proxy.methods['location.lookup']!({ aor: `dave@${domain}` }, RPC_CTX)) as { bindings: LocationBinding[] };
    expect(lookup.bindings.map((x) => [x.contact, x.q])).toEqual([['sip:dave@127.0.0.1:7102', 0.9], ['sip:dave@127.0.0.1:7101', 0.5]]);
    await d.stop();
  });

  it('RFC 5626 outbound: with the lb\'s `ob` Path, Require: outbound and Flow-Timer; without it, none (and 439 when required)', async () => {
    const domain = await provision(h(), [{ username: 'olga', password: 'olga-pw-12' }]);
    const o = await ua('olga', domain, 'olga-pw-12');
    const inst = '<urn:uuid:00000000-0000-1000-8000-000a95a0e128>';
    const contact = `<${o.contact};transport=tcp>;+sip.instance="${inst}";reg-id=1`;
    const obPath = o.path.replace(';lr;', ';lr;ob;');
    const r = await o.register({ contacts: [contact], path: obPath, extra: [['Supported', 'outbound']] });
    expect(r.final.status).toBe(200);
    expect(r.final.optionTags('require')).toContain('outbound');
    expect(r.final.get('flow-timer')).toBe('15');
    // the edge did not mark its hop: a plain registration, no flow promised
    const plain = await o.register({ contacts: [contact], extra: [['Supported', 'outbound']] });
    expect(plain.final.status).toBe(200);
    expect(plain.final.has('flow-timer')).toBe(false);
    expect(plain.final.optionTags('require')).not.toContain('outbound');
    // a UA that requires outbound through a first hop without it: 439
    const req = await o.register({ contacts: [contact], extra: [['Supported', 'outbound'], ['Require', 'outbound']] });
    expect(req.final.status).toBe(439);
    await o.stop();
  });

  it('a password changed through the API takes effect at once (ngcp:changes)', async () => {
    const domain = await provision(h(), [{ username: 'erin', password: 'erin-old-1' }]);
    const old = await ua('erin', domain, 'erin-old-1');
    expect((await old.register()).final.status).toBe(200);
    const sub = await h().api('GET', `/api/subscribers?domain=${domain}&username=erin`);
    const id = sub.data.items[0].id as number;
    expect((await h().api('PATCH', `/api/subscribers/${id}`, [{ op: 'add', path: '/password', value: 'erin-new-1' }])).status).toBeLessThan(300);
    await until(async () => (await old.register()).final.status === 403, 'old password refused');
    const fresh = await ua('erin', domain, 'erin-new-1');
    expect((await fresh.register()).final.status).toBe(200);
    await old.stop();
    await fresh.stop();
  });
  it('an authenticated REGISTER costs two Redis round trips: the binding read shares one with the nonce-count check', async () => {
    // Redis counts the reads it processes on client sockets: one per round trip (a pipelined batch is one)
    const reads = async (): Promise<number> => Number(/total_reads_processed:(\d+)/.exec(await h().redis.info('stats'))![1]);
    const users = Array.from({ length: 10 }, (_, i) => ({ username: `rt${i}`, password: `rt-pw-${i}-x` }));
    const domain = await provision(h(), users);
    const uas = await Promise.all(users.map((u) => ua(u.username, domain, u.password)));
    for (const a of uas) expect((await a.register({ expires: 300 })).final.status).toBe(200); // HA1 cache warm
    const r0 = await reads();
    // each: REGISTER → 401 (no Redis), REGISTER with credentials → nonce count + bindings read, then the write
    for (const a of uas) expect((await a.register({ expires: 300 })).final.status).toBe(200);
    const perRegister = ((await reads()) - r0 - 1) / uas.length; // −1: the INFO itself
    expect(perRegister).toBeGreaterThanOrEqual(2);
    expect(perRegister).toBeLessThan(2.5); // 3 when the read waited for the nonce check (a stray sweep may add one)
    for (const a of uas) await a.stop();
  });
});
