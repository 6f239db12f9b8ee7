/**
 * Outbound LCR and calls from peers through the proxy in-process (no lb: `lb: ''` sends to
 * the peers directly): peering servers are UAs on their own loopback addresses, provisioned
 * through the API; the proxy reloads the table on `ngcp:changes`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { redisKeys } from '@ngcp/db';
import { createResponse } from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';
import { provision, RPC_CTX, uniq, until, useHarness } from './harness.js';
import { Ua } from './ua.js';

const h = useHarness({ peering: { attempt_timeout_ms: 1500, down_after: 1, probe_interval_ms: 300, probe_timeout_ms: 500, dns_servers: [] } });
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

/** A peering server: a UA on its own loopback address (the proxy tells peers from subscribers by address). */
class PeerUa extends Ua {
  override readonly host: string;
  constructor(host: string) {
    super('peer', 'carrier.example', 'x', { address: '127.0.0.1', port: 0 });
    this.host = host;
  }
}
let nextHost = 20;
async function peerUa(): Promise<PeerUa> {
  const u = await new PeerUa(`127.0.0.${nextHost++}`).start();
  u.proxy = h().proxy.address();
  started.push(u);
  return u;
}
async function subscriberUa(user: string, domain: string, password: string): Promise<Ua> {
  const u = await new Ua(user, domain, password, h().proxy.address()).start();
  started.push(u);
  return u;
}

async function ok(method: string, url: string, body?: unknown): Promise<any> {
  const r = await h().api(method, url, body);
  if (r.status < 200 || r.status > 299) throw new Error(`${method} ${url}: ${r.status} ${JSON.stringify(r.data)}`);
  return r.data;
}

type ServerSpec = { host: string; port: number; weight?: number; probe?: boolean };
/** A group with servers and one rule, through the API; resolves once the proxy has loaded all of it. */
async function group(priority: number, prefix: string, servers: ServerSpec[]): Promise<{ id: number; servers: number[] }> {
  const g = await ok('POST', '/api/peeringgroups', { name: uniq('g'), priority });
  // the rule first: the reload that shows the last server has it too
  await ok('POST', '/api/peeringrules', { group_id: g.id, callee_prefix: prefix });
  const ids: number[] = [];
  for (const s of servers) {
    const c = await ok('POST', '/api/peeringservers', { group_id: g.id, name: uniq('s'), host: s.host, port: s.port, weight: s.weight ?? 1, probe: s.probe ?? false });
    ids.push(c.id);
  }
  await until(async () => {
    const list = (await h().proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number }> };
    return ids.every((id) => list.servers.some((s) => s.id === id));
  }, 'peering table reloaded');
  return { id: g.id, servers: ids };
}

async function caller(): Promise<{ a: Ua; domain: string; number: string }> {
  const number = `43${Math.floor(1e7 + Math.random() * 8e7)}`;
  const domain = await provision(h(), [{ username: 'a', password: 'a-password', number }]);
  const a = await subscriberUa('a', domain, 'a-password');
  expect((await a.register()).final.status).toBe(200);
  return { a, domain, number };
}

let prefixSeq = 700;
/** A prefix no other test's rules match (each test its own routes). */
const newPrefix = (): string => `99${prefixSeq++}`;

const metric = async (name: string): Promise<string> => (await h().metrics.getSingleMetricAsString(name));

describe('outbound LCR', () => {
  it('first server 503, second 200: both hit, the call completes, BYE ok; acc names the peer', async () => {
    const { a, domain, number } = await caller();
    const p1 = await peerUa();
    const p2 = await peerUa();
    const prefix = newPrefix();
    // weight 0 comes after every weighted server: p1 first, p2 second, deterministically
    const g = await group(1, prefix, [{ host: p1.host, port: p1.port, weight: 1 }, { host: p2.host, port: p2.port, weight: 0 }]);
    const callee = `${prefix}123456`;
    const calling = a.invite(`sip:${callee}@${domain}`);
    const i1 = await p1.next('INVITE');
    expect(i1.req.uri).toBe(`sip:${callee}@${p1.host}:${p1.port}`);
    expect(i1.req.body.toString()).toContain('c=IN IP4 203.0.113.1');
    // the peer is shown the caller's number (E.164 as stored: the peer has no rewrite set) and a P-Asserted-Identity
    expect(i1.req.get('from')).toContain(`<sip:${number}@`);
    expect(i1.req.get('p-asserted-identity')).toBe(`<sip:${number}@${domain}>`);
    p1.answer(i1, 503);
    const i2 = await p2.next('INVITE');
    expect(i2.req.callId()).toBe(i1.req.callId());
    p2.answer(i2, 180, false);
    const d2 = p2.answer(i2, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    await until(() => p2.acks.length > 0, 'ACK at p2');
    const callId = r.req.callId();
    expect(await h().redis.hget(redisKeys.call(callId), 'peer_id')).toBe(String(g.servers[1]));
    expect(h().media.of(callId)).toEqual(['offer', 'answer']);
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
    await p2.next('BYE');
    await until(async () => (await h().db('acc').where('callid', callId)).length === 2, 'acc start + stop');
    const rows = await h().db('acc').where('callid', callId).orderBy('id').select('method', 'sip_code', 'peering_server_id', 'dst_ouser');
    expect(rows).toEqual([
      { method: 'INVITE', sip_code: '200', peering_server_id: g.servers[1], dst_ouser: callee },
      { method: 'BYE', sip_code: '200', peering_server_id: g.servers[1], dst_ouser: callee },
    ]);
    expect(await metric('proxy_peer_attempts_total')).toMatch(/result="next"/);
    void d2;
  });

  it('every server of group 1 fails (503, then no answer): group 2 answers', async () => {
    const { a, domain } = await caller();
    const p1 = await peerUa();
    const p3 = await peerUa();
    const dead = await freePort();
    const prefix = newPrefix();
    await group(1, prefix, [{ host: p1.host, port: p1.port, weight: 5 }, { host: '127.0.0.99', port: dead, weight: 0 }]);
    await group(2, prefix, [{ host: p3.host, port: p3.port }]);
    const calling = a.invite(`sip:${prefix}5555@${domain}`);
    p1.answer(await p1.next('INVITE'), 500);
    // the dead server gets attempt_timeout_ms (1.5 s), then group 2
    const i3 = await p3.next('INVITE', 10_000);
    p3.answer(i3, 200);
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
  });

  it('a 486 from the first server ends the search: the caller gets 486, the second server is not tried', async () => {
    const { a, domain } = await caller();
    const p1 = await peerUa();
    const p2 = await peerUa();
    const prefix = newPrefix();
    await group(1, prefix, [{ host: p1.host, port: p1.port, weight: 1 }, { host: p2.host, port: p2.port, weight: 0 }]);
    const calling = a.invite(`sip:${prefix}1@${domain}`);
    p1.answer(await p1.next('INVITE'), 486);
    expect((await calling).final.status).toBe(486);
    await new Promise((res) => setTimeout(res, 300));
    expect(p2.pending('INVITE')).toBe(0);
  });

  it('CANCEL during the search cancels the ringing attempt and stops the search (487)', async () => {
    const { a, domain } = await caller();
    const p1 = await peerUa();
    const p2 = await peerUa();
    const prefix = newPrefix();
    await group(1, prefix, [{ host: p1.host, port: p1.port, weight: 1 }, { host: p2.host, port: p2.port, weight: 0 }]);
    let inviteTx: { cancel(): void } | undefined;
    const calling = a.invite(`sip:${prefix}2@${domain}`, { onTx: (tx) => (inviteTx = tx) });
    const i1 = await p1.next('INVITE');
    p1.answer(i1, 180, false);
    await until(() => inviteTx !== undefined, 'invite tx');
    await new Promise((res) => setTimeout(res, 100));
    inviteTx!.cancel();
    await until(() => p1.cancels.length > 0, 'CANCEL at p1');
    p1.answer(i1, 487);
    expect((await calling).final.status).toBe(487);
    await new Promise((res) => setTimeout(res, 300));
    expect(p2.pending('INVITE')).toBe(0);
  });

  it('all servers down: 408 after the attempts, then marked down (480 at once); an OPTIONS answer brings one back', async () => {
    const { a, domain } = await caller();
    const silent = await peerUa(); // receives, answers nothing (its transaction layer sends 100 only)
    const dead = await freePort();
    const prefix = newPrefix();
    const g = await group(1, prefix, [{ host: silent.host, port: silent.port, weight: 1 }, { host: '127.0.0.98', port: dead, weight: 0 }]);
    const first = await a.invite(`sip:${prefix}3@${domain}`);
    expect(first.final.status).toBe(408);
    await silent.next('INVITE'); // the attempt that timed out (and was CANCELled)
    const list = async () => ((await h().proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number; up: boolean }> }).servers.filter((s) => g.servers.includes(s.id));
    expect((await list()).every((s) => !s.up)).toBe(true);
    expect(await metric('proxy_peer_up')).toMatch(/proxy_peer_up\{server="[^"]+"\} 0/);
    const t0 = Date.now();
    const second = await a.invite(`sip:${prefix}4@${domain}`);
    expect(second.final.status).toBe(480);
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(silent.pending('INVITE')).toBe(0);
    // the silent server answers the probes from now on: it is up again, calls reach it
    let answering = true;
    const answerer = (async () => {
      while (answering) {
        try {
          const o = await silent.next('OPTIONS', 500);
          o.tx.respond(createResponse(o.req, 200));
        } catch {
          // none within 500 ms: look again
        }
      }
    })();
    await until(async () => (await list()).some((s) => s.id === g.servers[0] && s.up), 'server up again after answering OPTIONS', 10_000);
    answering = false;
    await answerer;
    const third = a.invite(`sip:${prefix}5@${domain}`);
    silent.answer(await silent.next('INVITE'), 200);
    const r = await third;
    expect(r.final.status).toBe(200);
    expect((await a.inDialog(r.dialog!)).status).toBe(200);
  });
});

describe('calls from a peer', () => {
  it('a peering server calls a subscriber by number without digest; an unknown source is challenged', async () => {
    const number = `43${Math.floor(Math.random() * 1e8)}`;
    const domain = await provision(h(), [{ username: 'b', password: 'b-password', number }]);
    const b = await subscriberUa('b', domain, 'b-password');
    expect((await b.register()).final.status).toBe(200);
    const peer = await peerUa();
    const g = await group(1, newPrefix(), [{ host: peer.host, port: 5060 }]);
    const calling = peer.invite(`sip:${number}@127.0.0.1`);
    const inc = await b.next('INVITE');
    expect(inc.req.uri).toBe(b.contact);
    const d = b.answer(inc, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    const callId = r.req.callId();
    expect(await h().redis.hget(redisKeys.call(callId), 'peer_id')).toBe(String(g.servers[0]));
    expect((await b.inDialog(d)).status).toBe(200);
    await until(async () => (await h().db('acc').where('callid', callId)).length === 2, 'acc rows');
    expect((await h().db('acc').where('callid', callId).first('peering_server_id')).peering_server_id).toBe(g.servers[0]);

    const stranger = await peerUa();
    const refused = await stranger.send(stranger.build('INVITE', `sip:${number}@127.0.0.1`, `<sip:${number}@127.0.0.1>`, [], 'v=0\r\n'), { auth: false });
    expect(refused.final.status).toBe(407);
    expect(b.pending('INVITE')).toBe(0);
  });

  it('a peer calling a number nobody owns gets 404', async () => {
    const peer = await peerUa();
    await group(1, newPrefix(), [{ host: peer.host, port: 5060 }]);
    expect((await peer.invite('sip:4399999999999@127.0.0.1')).final.status).toBe(404);
  });
});
