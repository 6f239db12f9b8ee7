/**
 * State that survives a takeover (issue 9), the lb's part: lb A forwards a client's INVITE
 * to a proxy and is closed without cleanup while it rings; lb B — same config, same Redis,
 * nothing in memory — takes the same addresses. The proxy's 200 reaches the client through
 * B (stateless by Via); the client's CANCEL reaches the proxy through B with the branch A
 * gave the INVITE (both nodes share `branch_secret`), so the proxy's INVITE transaction
 * matches it and the 487 flows back; with another secret the branch is not recognised.
 * The same towards a client: the proxy's CANCEL reaches the ringing client through B with the
 * branch A used. A proxy set down by hand on A is down on B at once (Redis `dispatcher:state`).
 */
import { useRedis } from '@ngcp/testkit/vitest';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClientTransaction, ServerTransaction, SipRequest, SipResponse } from '@ngcp/sip';
import { createResponse, newTag } from '@ngcp/sip';
import { redisKeys } from '@ngcp/db';
import type { LbConfig } from '../src/config.js';
import { Peer, lbConfig, startLb, type RunningLb } from './helpers.js';

const redisSrv = useRedis();
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

type View = Array<{ destination: string; state: string; admin_down: boolean }>;

async function peer(address: string): Promise<Peer> {
  const p = await Peer.start(address);
  cleanup.push(() => p.close());
  return p;
}

async function lb(config: LbConfig): Promise<RunningLb> {
  const l = await startLb(config);
  let stopped = false;
  cleanup.push(async () => {
    if (!stopped) await l.stop();
  });
  return { ...l, stop: async () => { stopped = true; await l.stop(); } };
}

/** A proxy that rings (180) and keeps every INVITE's server transaction. */
async function ringingProxy(): Promise<{ proxy: Peer; invites: Array<{ tx: ServerTransaction; req: SipRequest; toTag: string }> }> {
  const proxy = await peer('127.0.0.2');
  const invites: Array<{ tx: ServerTransaction; req: SipRequest; toTag: string }> = [];
  proxy.handler = (tx, req) => {
    if (req.method !== 'INVITE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
    const toTag = newTag();
    invites.push({ tx, req, toTag });
    tx.respond(createResponse(req, 180, { toTag }));
  };
  return { proxy, invites };
}

async function setup(secretA: string, secretB: string) {
  const r = redisSrv();
  const { proxy, invites } = await ringingProxy();
  const spare = await peer('127.0.0.2');
  const base = await lbConfig({
    proxies: [{ address: proxy.address, port: proxy.port }, { address: spare.address, port: spare.port }],
    trusted_peers: ['127.0.0.1'], redis: { host: r.host, port: r.port }, dispatch: { algorithm: 'hash-callid' },
  });
  const configA: LbConfig = { ...base, branch_secret: secretA };
  const a = await lb(configA);
  // every call goes to `proxy`: the spare one is set down by hand on A
  a.svc.methods['dispatcher.set']!({ destination: `${spare.address}:${spare.port}`, state: 'down' });
  const client = await peer('127.0.0.1');
  const finals: SipResponse[] = [];
  const provisionals: SipResponse[] = [];
  const invite = client.make('INVITE', 'sip:bob@example.org', { contact: '<sip:alice@127.0.0.1>' });
  const tx: ClientTransaction = client.sip.sendRequest(invite, { transport: 'udp', address: '127.0.0.1', port: a.udp }, {
    onProvisional: (res) => void provisionals.push(res),
    onFinal: (res) => void finals.push(res),
  });
  await proxy.waitFor((s) => s.req.method === 'INVITE');
  await until(() => provisionals.some((p) => p.status === 180), '180 at the client');
  // lb A goes away with the INVITE still ringing; lb B takes its addresses
  await a.stop();
  const b = await lb({ ...base, branch_secret: secretB });
  return { proxy, spare, invites, client, tx, finals, b };
}

async function until<T>(fn: () => T | Promise<T>, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('lb takeover: an INVITE ringing through lb A carries on through lb B', () => {
  it('the proxy\'s 200 reaches the client through B; the spare proxy set down on A is down on B', async () => {
    const { spare, invites, finals, b } = await setup('pair-secret-1', 'pair-secret-1');
    const spareId = `${spare.address}:${spare.port}`;
    expect((b.svc.methods['dispatcher.list']!(undefined) as View).find((d) => d.destination === spareId)).toMatchObject({ state: 'down', admin_down: true });
    const r = new Redis({ host: redisSrv().host, port: redisSrv().port });
    try {
      expect(JSON.parse((await r.hget(redisKeys.dispatcherState(), spareId))!)).toMatchObject({ state: 'down', admin_down: true, node: 'sp1' });
    } finally {
      r.disconnect();
    }

    const inv = invites[0]!;
    inv.tx.respond(createResponse(inv.req, 200, { toTag: inv.toTag, headers: [['Contact', '<sip:bob@127.0.0.2>']] }));
    await until(() => finals.length > 0, 'final at the client');
    expect(finals[0]!.status).toBe(200);
    expect(finals[0]!.to().tag).toBe(inv.toTag);
  });

  it('the client\'s CANCEL at B reaches the proxy with the INVITE\'s branch; the proxy\'s 487 reaches the client', async () => {
    const { proxy, invites, tx, finals, b } = await setup('pair-secret-1', 'pair-secret-1');
    tx.cancel();
    const cancel = await proxy.waitFor((s) => s.req.method === 'CANCEL');
    expect(cancel.req.topVia()!.branch).toBe(invites[0]!.req.topVia()!.branch);
    await until(() => finals.length > 0, '487 at the client');
    expect(finals[0]!.status).toBe(487);
    expect((b.svc.stats() as { forwarded: { cancelsWithoutInvite: number } }).forwarded.cancelsWithoutInvite).toBe(1);
  });

  it('with another branch secret on B the CANCEL\'s branch is not the INVITE\'s (why both nodes share it)', async () => {
    const { proxy, invites, tx, finals } = await setup('pair-secret-1', 'other-secret-2');
    tx.cancel();
    const cancel = await proxy.waitFor((s) => s.req.method === 'CANCEL');
    expect(cancel.req.topVia()!.branch).not.toBe(invites[0]!.req.topVia()!.branch);
    await new Promise((r) => setTimeout(r, 500));
    expect(finals).toHaveLength(0); // the proxy's INVITE transaction never learnt of the CANCEL
    // end the call so nothing is left ringing
    invites[0]!.tx.respond(createResponse(invites[0]!.req, 480, { toTag: invites[0]!.toTag }));
    await until(() => finals.length > 0, 'final at the client');
  });
});

describe('lb takeover: an INVITE ringing towards a client', () => {
  it('the proxy\'s CANCEL at B reaches the client with the INVITE\'s branch; the client\'s 487 reaches the proxy', async () => {
    const r = redisSrv();
    const proxy = await peer('127.0.0.2');
    const callee = await peer('127.0.0.1');
    const ringing: Array<{ req: SipRequest }> = [];
    callee.handler = (tx, req) => {
      if (req.method !== 'INVITE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
      ringing.push({ req });
      tx.respond(createResponse(req, 180, { toTag: newTag() }));
    };
    const base = await lbConfig({ proxies: [{ address: proxy.address, port: proxy.port }], redis: { host: r.host, port: r.port } });
    const a = await lb({ ...base, branch_secret: 'pair-secret-1' });
    // the proxy calls a registered client: Route = the binding's Path (received = the client)
    const invite = proxy.make('INVITE', `sip:bob@127.0.0.1:${callee.port}`, {
      headers: [['Route', `<sip:127.0.0.2:${a.internal};lr;received=sip:127.0.0.1:${callee.port}>`]], from: `<sip:alice@example.org>;tag=${newTag()}`,
    });
    const finals: SipResponse[] = [];
    const provisionals: SipResponse[] = [];
    const tx = proxy.sip.sendRequest(invite, { transport: 'udp', address: '127.0.0.2', port: a.internal }, {
      onProvisional: (res) => void provisionals.push(res),
      onFinal: (res) => void finals.push(res),
    });
    await until(() => provisionals.some((p) => p.status === 180), '180 at the proxy');
    await a.stop();
    await lb({ ...base, branch_secret: 'pair-secret-1' });

    tx.cancel();
    const cancel = await callee.waitFor((s) => s.req.method === 'CANCEL');
    expect(cancel.req.topVia()!.branch).toBe(ringing[0]!.req.topVia()!.branch);
    await until(() => finals.length > 0, '487 at the proxy');
    expect(finals[0]!.status).toBe(487);
  });
});

describe('lb takeover: an error response after the takeover', () => {
  it('the client\'s 486 reaches the proxy through B and the proxy\'s ACK reaches the client\'s INVITE transaction (the INVITE\'s branch)', async () => {
    const r = redisSrv();
    const proxy = await peer('127.0.0.2');
    const callee = await peer('127.0.0.1');
    const ringing: Array<{ tx: ServerTransaction; req: SipRequest; toTag: string }> = [];
    callee.handler = (tx, req) => {
      if (req.method !== 'INVITE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
      const toTag = newTag();
      ringing.push({ tx, req, toTag });
      tx.respond(createResponse(req, 180, { toTag }));
    };
    const base = await lbConfig({ proxies: [{ address: proxy.address, port: proxy.port }], redis: { host: r.host, port: r.port } });
    const a = await lb({ ...base, branch_secret: 'pair-secret-1' });
    const invite = proxy.make('INVITE', `sip:bob@127.0.0.1:${callee.port}`, {
      headers: [['Route', `<sip:127.0.0.2:${a.internal};lr;received=sip:127.0.0.1:${callee.port}>`]], from: `<sip:alice@example.org>;tag=${newTag()}`,
    });
    const finals: SipResponse[] = [];
    const provisionals: SipResponse[] = [];
    proxy.sip.sendRequest(invite, { transport: 'udp', address: '127.0.0.2', port: a.internal }, {
      onProvisional: (res) => void provisionals.push(res),
      onFinal: (res) => void finals.push(res),
    });
    await until(() => provisionals.some((p) => p.status === 180), '180 at the proxy');
    await a.stop();
    await lb({ ...base, branch_secret: 'pair-secret-1' });

    const inv = ringing[0]!;
    inv.tx.respond(createResponse(inv.req, 486, { toTag: inv.toTag }));
    await until(() => finals.length > 0, '486 at the proxy');
    expect(finals[0]!.status).toBe(486);
    // the proxy's client transaction ACKs the 486 hop by hop; lb B forwards it with the
    // INVITE's branch, so the client's INVITE server transaction takes it (it never reaches the TU)
    await until(() => (inv.tx.machine as { name: string }).name !== 'Completed', 'the ACK at the client\'s INVITE transaction');
    expect(['Confirmed', 'Terminated']).toContain((inv.tx.machine as { name: string }).name);
    expect(callee.methods('ACK')).toHaveLength(0);
  });
});

describe('lb takeover: dispatcher state from Redis', () => {
  async function seed(states: Record<string, { state: 'up' | 'down'; admin_down: boolean }>): Promise<void> {
    const r = new Redis({ host: redisSrv().host, port: redisSrv().port });
    try {
      await r.del(redisKeys.dispatcherState());
      for (const [id, v] of Object.entries(states)) await r.hset(redisKeys.dispatcherState(), id, JSON.stringify({ ...v, at: 1, node: 'sp2' }));
      await r.hset(redisKeys.dispatcherState(), '192.0.2.9:5062', 'not json'); // not ours, and unreadable: ignored
    } finally {
      r.disconnect();
    }
  }
  const view = (l: RunningLb) => l.svc.methods['dispatcher.list']!(undefined) as View;

  it('probing on: a proxy the other lb saw down starts down and is asked at once; one that answers is up again', async () => {
    const live = await peer('127.0.0.2');
    const deadPort = (await Peer.start('127.0.0.2').then(async (p) => { await p.close(); return p.port; }));
    const dead = { address: '127.0.0.2', port: deadPort };
    const liveId = `${live.address}:${live.port}`;
    const deadId = `${dead.address}:${deadPort}`;
    await seed({ [liveId]: { state: 'down', admin_down: false }, [deadId]: { state: 'down', admin_down: false } });
    const r = redisSrv();
    const l = await lb(await lbConfig({
      proxies: [{ address: live.address, port: live.port }, dead], trusted_peers: ['127.0.0.1'], redis: { host: r.host, port: r.port },
      dispatch: { probe: { interval_ms: 60_000, timeout_ms: 5000, failures: 1 } }, // the dead one's probe does not time out during the test
    }));
    // the first probe round right after start: the live one answers long before the next interval
    await until(() => view(l).find((d) => d.destination === liveId)?.state === 'up', 'live proxy up again');
    expect(view(l).find((d) => d.destination === deadId)).toMatchObject({ state: 'down', admin_down: false });
    expect((l.svc.stats() as { dispatch: { state_store: { loaded: number } } }).dispatch.state_store.loaded).toBe(2);
  });

  it('probing off: only what an operator set down by hand is taken over; dispatcher.load applies a later change', async () => {
    const p1 = await peer('127.0.0.2');
    const p2 = await peer('127.0.0.2');
    const id1 = `${p1.address}:${p1.port}`;
    const id2 = `${p2.address}:${p2.port}`;
    await seed({ [id1]: { state: 'down', admin_down: false }, [id2]: { state: 'down', admin_down: true } });
    const r = redisSrv();
    const l = await lb(await lbConfig({ proxies: [p1, p2], trusted_peers: ['127.0.0.1'], redis: { host: r.host, port: r.port } }));
    expect(view(l).map((d) => [d.destination, d.state, d.admin_down])).toEqual([[id1, 'up', false], [id2, 'down', true]]);
    await seed({ [id1]: { state: 'down', admin_down: true }, [id2]: { state: 'up', admin_down: false } });
    const res = (await l.svc.methods['dispatcher.load']!(undefined)) as { applied: number; destinations: View };
    expect(res.applied).toBe(2);
    expect(res.destinations.map((d) => [d.destination, d.state, d.admin_down])).toEqual([[id1, 'down', true], [id2, 'up', false]]);
  });
});
