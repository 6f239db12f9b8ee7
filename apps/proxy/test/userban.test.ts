/**
 * security.userban against the real proxy, MariaDB and Redis, the API in process: failed
 * digest authentications are counted per user and per source in Redis; at max_failures the
 * user is banned (`userban:<user@domain>`, TTL ban_s) and its requests get 403 without a
 * challenge, even with the right password, while other users register; the API's
 * DELETE /api/bannedusers lifts the ban at once (ngcp:changes); a ban made elsewhere (the
 * other node, another worker) is in force through its notification, and after a restart.
 * Failures from one source past source_max_failures ban the source (`ipban:<ip>`, enforced
 * by the lb).
 */
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CHANGES_CHANNEL, redisKeys, type BanEntry } from '@ngcp/db';
import { provision, until, useHarness } from './harness.js';
import { Ua } from './ua.js';

const h = useHarness({ userban: { enable: true, max_failures: 3, source_max_failures: 7, window_s: 60, ban_s: 90, exempt: [] } });

async function ua(user: string, domain: string, password: string): Promise<Ua> {
  return new Ua(user, domain, password, h().proxy.address()).start();
}

const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await h().metrics.metrics())?.[1] ?? 0);

describe('proxy: failed authentications ban the user (security.userban)', () => {
  it('bans a brute-forced user (403, no challenge, even with the right password) while others register; the API lifts it at once', async () => {
    const domain = await provision(h(), [{ username: 'carol', password: 'carol-pw-1' }, { username: 'dave', password: 'dave-pw-1' }]);
    const notes: Array<{ entity: string; id: string; op: string }> = [];
    const sub = new Redis(h().redis.options.port!, h().redis.options.host!);
    await sub.subscribe(CHANGES_CHANNEL);
    sub.on('message', (_c, m) => notes.push(JSON.parse(m)));
    try {
      const guess = await ua('carol', domain, 'guess');
      for (let i = 0; i < 3; i++) expect((await guess.register({ expires: 60 })).final.status).toBe(403);
      await guess.stop();
      const key = redisKeys.userBan(`carol@${domain}`);
      const entry = JSON.parse((await h().redis.get(key))!) as BanEntry;
      expect(entry).toMatchObject({ reason: 'auth failures', count: 3 });
      expect(await h().redis.ttl(key)).toBeGreaterThan(80);
      expect(await h().redis.exists(redisKeys.authFail(`user:carol@${domain}`))).toBe(0); // counting starts afresh after a lift
      await until(() => notes.some((n) => n.entity === 'userban' && n.id === `carol@${domain}` && n.op === 'create'), 'the ban announced');

      // the right password does not help; no challenge either
      const carol = await ua('carol', domain, 'carol-pw-1');
      expect((await carol.register({ expires: 60 })).final.status).toBe(403);
      const bare = await carol.send(carol.build('REGISTER', `sip:${domain}`, `<sip:carol@${domain}>`, [['Contact', `<${carol.contact}>`]]), { auth: false });
      expect(bare.final.status).toBe(403);
      expect(await metric('auth_banned_refused_total')).toBeGreaterThanOrEqual(2);
      expect(await metric('auth_bans_total\\{kind="user"\\}')).toBe(1);
      // another user is not affected
      const dave = await ua('dave', domain, 'dave-pw-1');
      expect((await dave.register({ expires: 60 })).final.status).toBe(200);

      // listed and lifted through the API
      const list = await h().api('GET', '/api/bannedusers');
      expect(list.data.items.map((b: { id: string }) => b.id)).toContain(`carol@${domain}`);
      expect((await h().api('DELETE', `/api/bannedusers/${encodeURIComponent(`carol@${domain}`)}`)).status).toBe(204);
      await until(async () => (await carol.register({ expires: 60 })).final.status === 200, 'carol registers after the lift', 5000);
      await carol.stop();
      await dave.stop();
    } finally {
      await sub.quit();
    }
  });

  it('a ban written elsewhere holds through its notification and after a restart; failures from one source ban the source (ipban)', async () => {
    const domain = await provision(h(), [{ username: 'erin', password: 'erin-pw-1' }]);
    const r = h().redis;
    await r.set(redisKeys.userBan(`erin@${domain}`), JSON.stringify({ reason: 'auth failures', banned_at: 1, count: 9 }), 'EX', 60);
    await r.publish(CHANGES_CHANNEL, JSON.stringify({ entity: 'userban', id: `erin@${domain}`, op: 'create', ts: Date.now() }));
    const erin = await ua('erin', domain, 'erin-pw-1');
    await until(async () => (await erin.register({ expires: 60 })).final.status === 403, 'the ban learnt', 5000);
    await h().restartProxy();
    erin.proxy = h().proxy.address();
    expect((await erin.register({ expires: 60 })).final.status).toBe(403);
    await erin.stop();

    // unknown users from 127.0.0.1: counted against the source only (the source has some failures of the first test)
    await r.del(redisKeys.authFail('ip:127.0.0.1'));
    for (let i = 0; i < 7; i++) {
      const nobody = await ua(`nobody${i}`, domain, 'x');
      expect((await nobody.register({ expires: 60 })).final.status).toBe(403);
      await nobody.stop();
    }
    const ipban = JSON.parse((await r.get(redisKeys.ipBan('127.0.0.1')))!) as BanEntry;
    expect(ipban).toMatchObject({ reason: 'auth failures', count: 7 });
    expect(await r.keys(`userban:nobody*`)).toEqual([]);
    expect(await metric('auth_bans_total\\{kind="source"\\}')).toBe(1);
    await r.del(redisKeys.ipBan('127.0.0.1'));
  });
});
