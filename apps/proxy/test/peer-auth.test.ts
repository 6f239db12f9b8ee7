/**
 * Digest authentication towards peering servers that challenge (issue #11, docs/routing.md
 * "Authentication towards peers"): the proxy in-process (no lb: `lb: ''` sends to the peers
 * directly), the peering server a real sipp UAS on its own loopback address, its credentials
 * provisioned through the API. sipp checks the answer itself where it can (verifyauth reads
 * Authorization only: the 401 case); for the 407 case the test recomputes the digest from
 * sipp's message trace with node:crypto (RFC 2617 §3.2.2), independently of @ngcp/sip.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { SipRequest } from '@ngcp/sip';
import { provision, RPC_CTX, uniq, until, useHarness } from './harness.js';
import { branchOf, cseqOf, received, sippUas as startSippUas, tagOf, type SippUas, type Traced } from './sipp.js';
import { Ua } from './ua.js';

const h = useHarness({ peering: { attempt_timeout_ms: 3000, down_after: 3, probe_interval_ms: 60_000, probe_timeout_ms: 500, dns_servers: [] } });
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

/** A sipp UAS on `address` running one call of a scenario of ./scenarios (stopped after the test). */
const sippUas = (scenario: string, address: string): Promise<SippUas> => startSippUas(scenario, address, stops);

const TRUNK = { user: 'trunk-user', password: 'trunk-secret', realm: 'carrier.example' };

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
function digestParams(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of v.replace(/^Digest\s+/i, '').matchAll(/([a-zA-Z]+)=(?:"([^"]*)"|([^,\s]+))/g)) out[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
  return out;
}

/** A sipp UAS for one call of a scenario (test/sipp.ts), stopped after the test. */

let nextHost = 71;
let prefixSeq = 810;
/** A group of one server (sipp) with the trunk's credentials and a rule of its own; resolves once the proxy loaded it. */
async function challengingPeer(scenario: string, auth: Record<string, unknown> = { auth_username: TRUNK.user, auth_password: TRUNK.password }): Promise<{ uas: SippUas; prefix: string; serverId: number }> {
  const uas = await sippUas(scenario, `127.0.0.${nextHost++}`);
  const prefix = `98${prefixSeq++}`;
  const g = await h().api('POST', '/api/peeringgroups', { name: uniq('g'), priority: 1 });
  await h().api('POST', '/api/peeringrules', { group_id: g.data.id, callee_prefix: prefix });
  const s = await h().api('POST', '/api/peeringservers', { group_id: g.data.id, name: uniq('trunk'), host: uas.address, port: uas.port, ...auth });
  expect(s.status, JSON.stringify(s.data)).toBe(201);
  await until(async () => {
    const list = (await h().proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number; auth: { username: string } | null }> };
    return list.servers.some((x) => x.id === s.data.id && (x.auth?.username ?? null) === (auth.auth_username ?? null));
  }, 'peering table reloaded');
  return { uas, prefix, serverId: s.data.id as number };
}

async function caller(): Promise<{ a: Ua; domain: string }> {
  const domain = await provision(h(), [{ username: 'a', password: 'a-password', number: `43${Math.floor(1e7 + Math.random() * 8e7)}` }]);
  const a = await new Ua('a', domain, 'a-password', h().proxy.address()).start();
  stops.push(() => a.stop());
  expect((await a.register()).final.status).toBe(200);
  return { a, domain };
}

/** The two INVITEs sipp got: the first without credentials, the second re-sent with them (same dialog, CSeq + 1, new branch). */
function expectResent(msgs: Traced[], header: 'Authorization' | 'Proxy-Authorization'): [Traced, Traced] {
  const invites = received(msgs, 'INVITE');
  expect(invites).toHaveLength(2);
  const [i1, i2] = invites as [Traced, Traced];
  // the subscriber's own digest (realm: our domain) was consumed by the proxy (RFC 3261 §22.3):
  // the peer gets no credentials of the caller, only its own in the re-sent INVITE
  expect(i1.header('Proxy-Authorization')).toBeUndefined();
  expect(i1.header('Authorization')).toBeUndefined();
  expect(i2.text.match(/^(Proxy-)?Authorization:/gim)).toHaveLength(1);
  expect(i2.header(header)).toMatch(new RegExp(`^Digest .*username="${TRUNK.user}"`));
  expect(i2.header('Call-ID')).toBe(i1.header('Call-ID'));
  expect(tagOf(i2.header('From'))).toBe(tagOf(i1.header('From')));
  expect(i2.header('To')).toBe(i1.header('To'));
  expect(cseqOf(i2)).toBe(cseqOf(i1) + 1);
  expect(branchOf(i2)).not.toBe(branchOf(i1));
  expect(i2.startLine).toBe(i1.startLine); // the same server, the same Request-URI
  // the 401/407 was ACKed hop by hop, with the first INVITE's CSeq
  expect(received(msgs, 'ACK').map(cseqOf)).toContain(cseqOf(i1));
  return [i1, i2];
}

describe('digest authentication towards a peer that challenges', () => {
  it('401: the INVITE is re-sent with Authorization (verified by sipp), the caller sees one 200; ACK and BYE reach the peer in its CSeq space', async () => {
    const { a, domain } = await caller();
    const { uas, prefix } = await challengingPeer('uas-peer-401-verify-auth-then-answer.xml');
    const r = await a.invite(`sip:${prefix}123456@${domain}`);
    expect(r.final.status).toBe(200);
    // one final, with the caller's own CSeq (the peer's dialog counts one higher)
    expect(r.final.cseq().seq).toBe(r.req.cseq().seq);
    let bye: SipRequest | undefined;
    const byeRes = await a.inDialog(r.dialog!, 'BYE', (req) => (bye = req));
    expect(byeRes.status).toBe(200);
    expect(byeRes.cseq().seq).toBe(bye!.cseq().seq);
    const res = await uas.done;
    expect(res.code, res.report).toBe(0);
    const [, i2] = expectResent(res.messages, 'Authorization');
    // the 2xx's ACK and the BYE of the caller are shifted by one for the peer
    const acks = received(res.messages, 'ACK');
    expect(acks.at(-1) && cseqOf(acks.at(-1)!)).toBe(cseqOf(i2));
    expect(received(res.messages, 'BYE').map(cseqOf)).toEqual([bye!.cseq().seq + 1]);
    expect(await h().metrics.getSingleMetricAsString('proxy_peer_auth_total')).toMatch(/result="answered"\} [1-9]/);
  }, 40_000);

  it('407: Proxy-Authorization with qop=auth, nc and cnonce, the opaque echoed; the digest is right for the password', async () => {
    const { a, domain } = await caller();
    const { uas, prefix } = await challengingPeer('uas-peer-407-expect-proxy-auth-then-answer.xml', {
      auth_username: TRUNK.user, auth_password: TRUNK.password, auth_realm: TRUNK.realm,
    });
    const r = await a.invite(`sip:${prefix}654321@${domain}`);
    expect(r.final.status).toBe(200);
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
    const res = await uas.done;
    expect(res.code, res.report).toBe(0);
    const [, i2] = expectResent(res.messages, 'Proxy-Authorization');
    const p = digestParams(i2.header('Proxy-Authorization')!);
    const challenge = digestParams(res.messages.find((x) => x.dir === 'sent' && x.startLine.startsWith('SIP/2.0 407'))!.header('Proxy-Authenticate')!);
    expect(p).toMatchObject({ username: TRUNK.user, realm: TRUNK.realm, nonce: challenge.nonce, opaque: '0a1b2c', qop: 'auth', nc: '00000001' });
    expect(p.cnonce).toMatch(/^[0-9a-f]{8,}$/);
    const ruri = i2.startLine.split(' ')[1]!;
    expect(p.uri).toBe(ruri);
    const ha1 = md5(`${TRUNK.user}:${TRUNK.realm}:${TRUNK.password}`);
    const ha2 = md5(`INVITE:${ruri}`);
    expect(p.response).toBe(md5(`${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`));
  }, 40_000);

  it('wrong password: the second 407 is not answered again; the caller gets 500 "Peer Authentication Failed", never the peer\'s challenge', async () => {
    const { a, domain } = await caller();
    const { uas, prefix, serverId } = await challengingPeer('uas-peer-407-twice-expect-no-retry.xml', { auth_username: TRUNK.user, auth_password: 'not-the-password' });
    const r = await a.invite(`sip:${prefix}777@${domain}`);
    expect(r.final.status).toBe(500);
    expect(r.final.reason).toBe('Peer Authentication Failed');
    expect(r.final.get('proxy-authenticate')).toBeUndefined();
    const res = await uas.done;
    expect(res.code, res.report).toBe(0);
    expectResent(res.messages, 'Proxy-Authorization');
    expect(received(res.messages, 'INVITE')).toHaveLength(2);
    expect(await h().metrics.getSingleMetricAsString('proxy_peer_auth_total')).toMatch(/result="rejected"\} [1-9]/);

    // the operator fixes the password through the API: the proxy gets it by ngcp:changes (no reload by hand)
    const fixed = await sippUas('uas-peer-407-expect-proxy-auth-then-answer.xml', `127.0.0.${nextHost++}`);
    const patch = await h().api('PATCH', `/api/peeringservers/${serverId}`, [
      { op: 'replace', path: '/host', value: fixed.address }, { op: 'replace', path: '/port', value: fixed.port },
      { op: 'add', path: '/auth_password', value: TRUNK.password },
    ]);
    expect(patch.status, JSON.stringify(patch.data)).toBe(200);
    await until(async () => ((await h().proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number; port: number }> })
      .servers.some((x) => x.id === serverId && x.port === fixed.port), 'peering table reloaded');
    const again = await a.invite(`sip:${prefix}778@${domain}`);
    expect(again.final.status).toBe(200);
    expect((await a.inDialog(again.dialog!)).status).toBe(200);
    const ok = await fixed.done;
    expect(ok.code, ok.report).toBe(0);
  }, 60_000);

  it('a server without credentials is not answered: its challenge ends the attempt (500), it is not relayed to the caller', async () => {
    const { a, domain } = await caller();
    const { uas, prefix } = await challengingPeer('uas-peer-407-expect-ack.xml', {});
    const r = await a.invite(`sip:${prefix}888@${domain}`);
    expect(r.final.status).toBe(500);
    expect(r.final.get('proxy-authenticate')).toBeUndefined();
    const res = await uas.done;
    expect(res.code, res.report).toBe(0);
    expect(received(res.messages, 'INVITE')).toHaveLength(1);
    expect(await h().metrics.getSingleMetricAsString('proxy_peer_auth_total')).toMatch(/result="no-credentials"\} [1-9]/);
  }, 40_000);
});
