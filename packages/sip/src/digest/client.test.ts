import { describe, it, expect } from 'vitest';
import { computeHA1, DIGEST_ALGORITHMS } from './algorithms.js';
import type { DigestHash } from './algorithms.js';
import { answerChallenge, selectChallenges } from './answer.js';
import { DigestClient } from './client.js';
import { MemoryNonceCountStore } from './nonce-count-store.js';
import { formatChallenge, parseCredentials } from './parse-auth.js';
import { DigestServer } from './server.js';

const REALM = 'sip.example.com';
const URI = 'sip:sip.example.com';
const getHA1 = (u: string, r: string, a: DigestHash) => (u === 'alice' ? computeHA1(a, u, r, 'wonderland') : undefined);
const ch = (algorithm: string | undefined, extra: Record<string, unknown> = {}) =>
  formatChallenge({ realm: REALM, nonce: `n-${algorithm ?? 'none'}`, algorithm, qop: ['auth'], ...extra });

describe('answerChallenge', () => {
  it('reproduces the RFC 2617 §3.5 credentials', () => {
    const a = answerChallenge({
      challenges: [
        'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
      ],
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      cnonce: '0a4f113b',
    });
    expect(a?.value).toBe(
      'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", cnonce="0a4f113b", opaque="5ccc069c403ebaf9f0171e9517f40e41", qop=auth, nc=00000001',
    );
  });
  it('picks the strongest supported algorithm: SHA-512-256 > SHA-256 > MD5', () => {
    const offered = [ch('MD5'), ch('SHA-256'), ch('SHA-1'), ch('SHA-512-256'), 'Basic realm="x"', 'garbage"'];
    const base = { username: 'alice', password: 'pw', method: 'REGISTER', uri: URI };
    expect(answerChallenge({ ...base, challenges: offered })?.algorithm).toBe('SHA-512-256');
    expect(answerChallenge({ ...base, challenges: offered, algorithms: ['SHA-256', 'MD5'] })?.algorithm).toBe('SHA-256');
    expect(answerChallenge({ ...base, challenges: [ch(undefined)] })?.algorithm).toBe('MD5');
    expect(answerChallenge({ ...base, challenges: [ch('SHA-1')] })).toBeUndefined();
    expect(answerChallenge({ ...base, challenges: offered, realm: 'other' })).toBeUndefined();
  });
  it('with only precomputed HA1s, uses an algorithm it has an HA1 for', () => {
    const ha1ByAlgorithm = { MD5: computeHA1('MD5', 'alice', REALM, 'pw') };
    const a = answerChallenge({ challenges: [ch('SHA-256'), ch('MD5')], username: 'alice', ha1ByAlgorithm, realm: REALM, method: 'REGISTER', uri: URI });
    expect(a?.algorithm).toBe('MD5');
    const viaPw = answerChallenge({ challenges: [ch('MD5')], username: 'alice', password: 'pw', method: 'REGISTER', uri: URI, cnonce: a?.cnonce });
    expect(a?.value).toBe(viaPw?.value);
  });
  it('counts nc per nonce when given a map', () => {
    const nonceCounts = new Map<string, number>();
    const p = { challenges: [ch('SHA-256')], username: 'alice', password: 'pw', method: 'REGISTER', uri: URI, nonceCounts };
    expect(answerChallenge(p)?.nc).toBe(1);
    expect(answerChallenge(p)?.nc).toBe(2);
    expect(parseCredentials(answerChallenge(p)!.value).nc).toBe('00000003');
  });
  it('qop: auth preferred, auth-int if alone, RFC 2069 form if none, skip unknown-only', () => {
    const base = { username: 'alice', password: 'pw', method: 'INVITE', uri: URI };
    expect(answerChallenge({ ...base, challenges: [ch('MD5', { qop: ['auth-int', 'auth'] })] })?.qop).toBe('auth');
    expect(answerChallenge({ ...base, challenges: [ch('MD5', { qop: ['auth-int'] })] })?.qop).toBe('auth-int');
    const old = answerChallenge({ ...base, challenges: [ch('MD5', { qop: undefined })] });
    expect(old?.qop).toBeUndefined();
    expect(old?.value).not.toMatch(/nc=|cnonce=|qop=/);
    expect(answerChallenge({ ...base, challenges: [ch('MD5', { qop: ['x-new'] })] })).toBeUndefined();
    expect(selectChallenges([ch('MD5-sess', { qop: undefined })], base)).toEqual([]);
  });
});

describe('client ↔ server round trip', () => {
  for (const algorithm of DIGEST_ALGORITHMS) {
    it(algorithm, async () => {
      const server = new DigestServer({ realm: REALM, secret: 'k', algorithms: [algorithm], qop: ['auth', 'auth-int'] });
      const client = new DigestClient({ username: 'alice', password: 'wonderland' });
      expect(client.onChallenge(server.challenge())).toEqual({ action: 'retry', realms: [REALM] });
      for (const method of ['REGISTER', 'INVITE']) {
        const [h] = client.authorize({ method, uri: URI });
        expect(h?.name).toBe('Authorization');
        const r = await server.verify({ method, uri: URI, credentials: h?.value, getHA1 });
        expect(r).toEqual({ ok: true, username: 'alice', realm: REALM, algorithm, qop: 'auth' });
      }
    });
  }
  it('answerChallenge against the default server picks SHA-256', async () => {
    const server = new DigestServer({ realm: REALM, secret: 'k' });
    const a = answerChallenge({ challenges: server.challenge(), username: 'alice', password: 'wonderland', method: 'REGISTER', uri: URI });
    expect(a?.algorithm).toBe('SHA-256');
    expect(await server.verify({ method: 'REGISTER', uri: URI, credentials: a?.value, getHA1 })).toMatchObject({ ok: true });
  });
});

describe('DigestClient', () => {
  const make = () => new DigestClient({ username: 'alice', password: 'wonderland', generateCnonce: () => 'fixed' });

  it('reuses the nonce with increasing nc, which the server accepts (with a replay store)', async () => {
    const server = new DigestServer({ realm: REALM, secret: 'k', nonceCountStore: new MemoryNonceCountStore() });
    const client = make();
    expect(client.authorize({ method: 'REGISTER', uri: URI })).toEqual([]);
    client.onChallenge(server.challenge());
    for (let i = 1; i <= 3; i++) {
      const [h] = client.authorize({ method: 'REGISTER', uri: URI });
      expect(parseCredentials(h!.value).nc).toBe(`0000000${i}`);
      expect((await server.verify({ method: 'REGISTER', uri: URI, credentials: h?.value, getHA1 })).ok).toBe(true);
    }
    expect(client.state()).toMatchObject([{ realm: REALM, algorithm: 'SHA-256', nc: 3, uses: 3 }]);
  });
  it('stale=true → retry with the new nonce, no password prompt', async () => {
    let t = 0;
    const server = new DigestServer({ realm: REALM, secret: 'k', nonceTtlSeconds: 10, now: () => t });
    const client = make();
    client.onChallenge(server.challenge());
    t = 60_000;
    const [h] = client.authorize({ method: 'REGISTER', uri: URI });
    const r = await server.verify({ method: 'REGISTER', uri: URI, credentials: h?.value, getHA1 });
    expect(r).toMatchObject({ ok: false, reason: 'stale', stale: true });
    expect(client.onChallenge(server.challenge({ stale: true }))).toMatchObject({ action: 'retry' });
    const [h2] = client.authorize({ method: 'REGISTER', uri: URI });
    expect((await server.verify({ method: 'REGISTER', uri: URI, credentials: h2?.value, getHA1 })).ok).toBe(true);
  });
  it('a fresh answer challenged again (not stale) is a rejection', () => {
    const server = new DigestServer({ realm: REALM, secret: 'k' });
    const client = new DigestClient({ username: 'alice', password: 'wrong' });
    expect(client.onChallenge(server.challenge()).action).toBe('retry');
    client.authorize({ method: 'REGISTER', uri: URI });
    expect(client.onChallenge(server.challenge())).toEqual({ action: 'fail', reason: 'rejected', realm: REALM });
  });
  it('a reused nonce challenged again (server forgot it) is retried once', () => {
    const server = new DigestServer({ realm: REALM, secret: 'k' });
    const client = make();
    client.onChallenge(server.challenge());
    client.authorize({ method: 'REGISTER', uri: URI });
    const [second] = client.authorize({ method: 'REGISTER', uri: URI });
    expect(client.onChallenge(server.challenge(), { sent: [second!.value] }).action).toBe('retry');
    const [third] = client.authorize({ method: 'REGISTER', uri: URI });
    expect(client.onChallenge(server.challenge(), { sent: [third!.value] }).action).toBe('fail');
    // A request that carried no credentials is simply challenged.
    expect(client.onChallenge(server.challenge(), { sent: [] }).action).toBe('retry');
  });
  it('answers every challenging realm, with Proxy-Authorization for 407', () => {
    const p1 = new DigestServer({ realm: 'proxy1', secret: 'a' });
    const p2 = new DigestServer({ realm: 'proxy2', secret: 'b', algorithms: ['MD5'] });
    const client = make();
    const out = client.onChallenge([...p1.challenge(), ...p2.challenge()], { proxy: true });
    expect(out).toEqual({ action: 'retry', realms: ['proxy1', 'proxy2'] });
    const headers = client.authorize({ method: 'INVITE', uri: 'sip:bob@example.com' });
    expect(headers.map((h) => [h.name, parseCredentials(h.value).realm, parseCredentials(h.value).algorithm])).toEqual([
      ['Proxy-Authorization', 'proxy1', 'SHA-256'],
      ['Proxy-Authorization', 'proxy2', 'MD5'],
    ]);
    client.forget('proxy1');
    expect(client.state().map((s) => s.realm)).toEqual(['proxy2']);
  });
  it('no usable challenge', () => {
    expect(make().onChallenge(['Basic realm="x"', ch('SHA-1')])).toEqual({ action: 'fail', reason: 'no-usable-challenge' });
  });
});
