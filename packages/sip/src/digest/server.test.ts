import { describe, it, expect } from 'vitest';
import { computeHA1, computeResponse, hashBody, parseAlgorithm } from './algorithms.js';
import type { DigestHash, DigestQop } from './algorithms.js';
import { MemoryNonceCountStore } from './nonce-count-store.js';
import { formatCredentials, parseChallenge } from './parse-auth.js';
import { DigestServer } from './server.js';
import type { DigestServerOptions } from './server.js';

const REALM = 'sip.example.com';
const URI = 'sip:sip.example.com';
const T0 = 1_700_000_000_000;
const PASSWORDS: Record<string, string> = { alice: 'wonderland', bob: 'builder' };

function setup(opts: Partial<DigestServerOptions> = {}) {
  const clock = { t: T0 };
  const server = new DigestServer({ realm: REALM, secret: 'cluster-secret', now: () => clock.t, ...opts });
  return { server, clock };
}

/** The provisioning DB: one HA1 column per hash family. */
const getHA1 = (username: string, realm: string, algorithm: DigestHash): string | undefined => {
  const pw = PASSWORDS[username];
  return pw === undefined ? undefined : computeHA1(algorithm, username, realm, pw);
};

/** An independent minimal client (not DigestClient) building credentials for a challenge. */
function respond(
  challenge: string,
  o: { user?: string; password?: string; uri?: string; method?: string; nc?: number; qop?: DigestQop | null; algorithm?: string; body?: string } = {},
): string {
  const c = parseChallenge(challenge);
  const algorithm = parseAlgorithm(o.algorithm ?? c.algorithm) ?? 'MD5';
  const user = o.user ?? 'alice';
  const uri = o.uri ?? URI;
  const qop = o.qop === null ? undefined : (o.qop ?? 'auth');
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = qop === undefined ? undefined : 'cn0nce';
  const response = computeResponse({
    algorithm,
    ha1: computeHA1(algorithm, user, c.realm, o.password ?? PASSWORDS[user] ?? 'x'),
    nonce: c.nonce,
    method: o.method ?? 'REGISTER',
    uri,
    qop,
    nc: qop === undefined ? undefined : nc,
    cnonce,
    bodyHash: qop === 'auth-int' ? hashBody(algorithm, o.body ?? '') : undefined,
  });
  return formatCredentials({
    username: user,
    realm: c.realm,
    nonce: c.nonce,
    uri,
    response,
    algorithm: o.algorithm ?? algorithm,
    qop,
    cnonce,
    nc: qop === undefined ? undefined : nc,
  });
}

const req = (credentials: string | string[] | undefined, extra: { uri?: string; method?: string; body?: string } = {}) => ({
  method: extra.method ?? 'REGISTER',
  uri: extra.uri ?? URI,
  credentials,
  getHA1,
  ...(extra.body === undefined ? {} : { body: extra.body }),
});

describe('DigestServer.challenge', () => {
  it('offers SHA-256 then MD5 by default, qop="auth", distinct stateless nonces', () => {
    const { server } = setup();
    const [sha, md5, more] = server.challenge().map(parseChallenge);
    expect(more).toBeUndefined();
    expect(sha).toMatchObject({ realm: REALM, algorithm: 'SHA-256', qop: ['auth'], stale: undefined });
    expect(md5).toMatchObject({ realm: REALM, algorithm: 'MD5', qop: ['auth'] });
    expect(sha?.nonce).not.toBe(md5?.nonce);
  });
  it("offers the configured algorithms in the order given (the server's preference) and marks stale", () => {
    const { server } = setup({ algorithms: ['MD5', 'SHA-512-256', 'SHA-256', 'MD5'] });
    const values = server.challenge({ stale: true });
    expect(values.map((v) => parseChallenge(v).algorithm)).toEqual(['MD5', 'SHA-512-256', 'SHA-256']);
    expect(values[1]).toMatch(/^Digest realm="sip.example.com", nonce="[\w-]+", stale=true, algorithm=SHA-512-256, qop="auth"$/);
  });
  it('rejects bad configuration', () => {
    expect(() => setup({ algorithms: [] })).toThrow(TypeError);
    expect(() => setup({ algorithms: ['SHA-1' as 'MD5'] })).toThrow(TypeError);
    expect(() => setup({ secret: '' })).toThrow(TypeError);
    expect(() => setup({ qop: [], algorithms: ['MD5-sess'] })).toThrow(TypeError);
  });
});

describe('DigestServer.verify', () => {
  it('accepts a correct response for each offered algorithm', async () => {
    const { server } = setup({ algorithms: ['SHA-512-256', 'SHA-256', 'MD5', 'SHA-256-sess'] });
    for (const ch of server.challenge()) {
      const r = await server.verify(req(respond(ch)));
      expect(r).toEqual({ ok: true, username: 'alice', realm: REALM, algorithm: parseChallenge(ch).algorithm, qop: 'auth' });
    }
  });
  it('accepts an async getHA1 and an upper-case response', async () => {
    const { server } = setup();
    const creds = respond(server.challenge()[0]!).replace(/response="(\w+)"/, (_m, h: string) => `response="${h.toUpperCase()}"`);
    const r = await server.verify({ ...req(creds), getHA1: async (u, r, a) => getHA1(u, r, a)?.toUpperCase() });
    expect(r.ok).toBe(true);
  });
  it('a standby node with the same secret accepts the active node’s nonce', async () => {
    const active = setup().server;
    const standby = setup().server;
    expect((await standby.verify(req(respond(active.challenge()[0]!)))).ok).toBe(true);
  });
  it('wrong password → bad-response; unknown user → unknown-user', async () => {
    const { server } = setup();
    const ch = server.challenge()[0]!;
    expect(await server.verify(req(respond(ch, { password: 'guess' })))).toEqual({
      ok: false,
      reason: 'bad-response',
      stale: false,
      username: 'alice',
    });
    expect(await server.verify(req(respond(ch, { user: 'mallory' })))).toMatchObject({ ok: false, reason: 'unknown-user' });
  });
  it('expired nonce: stale with a correct response, bad-response otherwise', async () => {
    const { server, clock } = setup({ nonceTtlSeconds: 60 });
    const ch = server.challenge()[0]!;
    clock.t += 61_000;
    expect(await server.verify(req(respond(ch)))).toEqual({ ok: false, reason: 'stale', stale: true, username: 'alice' });
    expect(await server.verify(req(respond(ch, { password: 'guess' })))).toMatchObject({ reason: 'bad-response', stale: false });
  });
  it('nonce from the future beyond the clock skew is stale', async () => {
    const { server, clock } = setup({ clockSkewSeconds: 5 });
    const ch = server.challenge()[0]!;
    clock.t -= 4_000;
    expect((await server.verify(req(respond(ch)))).ok).toBe(true);
    clock.t -= 2_000;
    expect(await server.verify(req(respond(ch)))).toMatchObject({ reason: 'stale', stale: true });
  });
  it('forged or foreign nonce → bad-nonce', async () => {
    const { server } = setup();
    const other = new DigestServer({ realm: REALM, secret: 'another-secret' });
    expect(await server.verify(req(respond(other.challenge()[0]!)))).toMatchObject({ reason: 'bad-nonce' });
    const forged = `Digest realm="${REALM}", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", algorithm=SHA-256, qop="auth"`;
    expect(await server.verify(req(respond(forged)))).toMatchObject({ reason: 'bad-nonce' });
    expect(await server.verify(req(respond(`Digest realm="${REALM}", nonce="xyz"`)))).toMatchObject({ reason: 'bad-nonce' });
  });
  it('replayed nc is refused with a store; without one it is not tracked', async () => {
    const { server } = setup({ nonceCountStore: new MemoryNonceCountStore() });
    const ch = server.challenge()[0]!;
    expect((await server.verify(req(respond(ch, { nc: 1 })))).ok).toBe(true);
    expect(await server.verify(req(respond(ch, { nc: 1 })))).toMatchObject({ reason: 'replay', stale: false });
    expect((await server.verify(req(respond(ch, { nc: 2 })))).ok).toBe(true);
    const stateless = setup().server;
    const ch2 = stateless.challenge()[0]!;
    expect((await stateless.verify(req(respond(ch2)))).ok).toBe(true);
    expect((await stateless.verify(req(respond(ch2)))).ok).toBe(true);
  });
  it('uri must match the Request-URI unless configured otherwise', async () => {
    const creds = (s: DigestServer) => respond(s.challenge()[0]!, { uri: 'sip:other.example.com' });
    const strict = setup().server;
    expect(await strict.verify(req(creds(strict)))).toMatchObject({ reason: 'uri-mismatch' });
    const off = setup({ uriCheck: 'off' }).server;
    expect((await off.verify(req(creds(off)))).ok).toBe(true);
    const custom = setup({ uriCheck: (a, b) => a.toLowerCase() === b.toLowerCase() }).server;
    const ok = respond(custom.challenge()[0]!, { uri: 'SIP:SIP.EXAMPLE.COM' });
    expect((await custom.verify(req(ok))).ok).toBe(true);
  });
  it('missing, malformed, wrong realm; picks our realm among several', async () => {
    const { server } = setup();
    const other = new DigestServer({ realm: 'elsewhere', secret: 'cluster-secret' });
    const ours = respond(server.challenge()[0]!);
    const theirs = respond(other.challenge()[0]!);
    expect(await server.verify(req(undefined))).toEqual({ ok: false, reason: 'missing', stale: false });
    expect(await server.verify(req([]))).toMatchObject({ reason: 'missing' });
    expect(await server.verify(req('Digest username="alice'))).toMatchObject({ reason: 'malformed' });
    expect(await server.verify(req('Basic YWxpY2U6cHc='))).toMatchObject({ reason: 'malformed' });
    expect(await server.verify(req(theirs))).toMatchObject({ reason: 'wrong-realm', username: 'alice' });
    expect((await server.verify(req([theirs, 'garbage', ours]))).ok).toBe(true);
  });
  it('algorithm must be one we offered', async () => {
    const { server } = setup();
    const nonce = parseChallenge(server.challenge()[0]!).nonce;
    const ch = `Digest realm="${REALM}", nonce="${nonce}", qop="auth"`;
    expect(await server.verify(req(respond(ch, { algorithm: 'SHA-512-256' })))).toMatchObject({ reason: 'algorithm' });
    expect(await server.verify(req(respond(ch, { algorithm: 'MD5-sess' })))).toMatchObject({ reason: 'algorithm' });
    const unknown = respond(ch, { algorithm: 'MD5' }).replace('algorithm=MD5', 'algorithm=SHA-1');
    expect(await server.verify(req(unknown))).toMatchObject({ reason: 'algorithm' });
    // No algorithm parameter means MD5, which is offered by default.
    expect((await server.verify(req(respond(ch, { algorithm: 'MD5' }).replace(', algorithm=MD5', ''))))).toMatchObject({ ok: true });
  });
  it('qop: required when offered, unless acceptNoQop (RFC 2069 clients)', async () => {
    const strict = setup().server;
    expect(await strict.verify(req(respond(strict.challenge()[0]!, { qop: null })))).toMatchObject({ reason: 'qop' });
    expect(await strict.verify(req(respond(strict.challenge()[0]!, { qop: 'auth-int' })))).toMatchObject({ reason: 'qop' });
    const lenient = setup({ acceptNoQop: true }).server;
    expect((await lenient.verify(req(respond(lenient.challenge()[1]!, { qop: null })))).ok).toBe(true);
    const rfc2069 = setup({ qop: [], algorithms: ['MD5'] }).server;
    const ch = rfc2069.challenge()[0]!;
    expect(parseChallenge(ch).qop).toBeUndefined();
    expect((await rfc2069.verify(req(respond(ch, { qop: null })))).ok).toBe(true);
  });
  it('qop=auth-int covers the body', async () => {
    const { server } = setup({ qop: ['auth', 'auth-int'] });
    const ch = server.challenge()[0]!;
    const creds = respond(ch, { qop: 'auth-int', method: 'INVITE', body: 'v=0\r\n' });
    expect((await server.verify(req(creds, { method: 'INVITE', body: 'v=0\r\n' }))).ok).toBe(true);
    expect(await server.verify(req(creds, { method: 'INVITE', body: 'v=1\r\n' }))).toMatchObject({ reason: 'bad-response' });
  });
  it('method is part of the response', async () => {
    const { server } = setup();
    const creds = respond(server.challenge()[0]!, { method: 'INVITE' });
    expect(await server.verify(req(creds, { method: 'BYE' }))).toMatchObject({ reason: 'bad-response' });
  });
  it('qop without a valid nc in a pre-parsed object → malformed', async () => {
    const { server } = setup();
    const nonce = parseChallenge(server.challenge()[0]!).nonce;
    const creds = { username: 'alice', realm: REALM, nonce, uri: URI, response: 'x', algorithm: 'SHA-256', qop: 'auth', cnonce: 'c', nc: 'zz' };
    expect(await server.verify({ ...req(undefined), credentials: creds })).toMatchObject({ reason: 'malformed' });
  });
  it('a malformed stored HA1 is a loud error, not an auth failure', async () => {
    const { server } = setup();
    const creds = respond(server.challenge()[0]!);
    await expect(server.verify({ ...req(creds), getHA1: () => 'not-hex' })).rejects.toThrow(TypeError);
  });
});
