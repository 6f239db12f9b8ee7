/**
 * Dispatch to the proxy set through the real lb: failover when a proxy does not answer
 * or answers 503, 503 when none is left, OPTIONS probing marking a destination down and
 * back up, dispatcher.set/list by hand, CANCEL hop by hop. No MariaDB/Redis here (the
 * clients are trusted peers): the lb keeps answering without them, health says degraded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { createResponse, newTag, parseMessage, type SipRequest } from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';
import { Peer, lbConfig, startLb, type RunningLb } from './helpers.js';

const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function peer(port?: number): Promise<Peer> {
  const p = await Peer.start('127.0.0.2', port ? { port } : {});
  cleanup.push(() => p.close());
  return p;
}

async function lbWith(proxies: Array<{ address: string; port: number }>, dispatch: Parameters<typeof lbConfig>[0]['dispatch'] = {}): Promise<{ lb: RunningLb; client: Peer }> {
  const lb = await startLb(await lbConfig({ proxies, trusted_peers: ['127.0.0.1'], dispatch: { algorithm: 'round-robin', timeout_ms: 400, ...dispatch } }));
  cleanup.push(() => lb.stop());
  const client = await Peer.start('127.0.0.1');
  cleanup.push(() => client.close());
  return { lb, client };
}

const dead = async () => ({ address: '127.0.0.2', port: await freePort({ udp: true, host: '127.0.0.2' }) });
const at = (lb: RunningLb) => ({ transport: 'udp', address: '127.0.0.1', port: lb.udp });
type View = Array<{ destination: string; state: string; admin_down: boolean; misses: number; last_probe: { status: number | null } | null }>;

describe('failover', () => {
  it('moves to the next proxy when the first does not answer, and marks it down', async () => {
    const gone = await dead();
    const p2 = await peer();
    const { lb, client } = await lbWith([gone, p2]);
    const r = client.make('INVITE', 'sip:bob@example.org', { contact: '<sip:alice@127.0.0.1>' });
    p2.handler = (tx, req) => tx.respond(createResponse(req, 486, { toTag: newTag() }));
    expect((await client.request(r, at(lb))).final.status).toBe(486);
    expect(p2.methods('INVITE')).toHaveLength(1);
    const list = lb.svc.methods['dispatcher.list']!(undefined) as View;
    expect(list.find((d) => d.destination === `${gone.address}:${gone.port}`)).toMatchObject({ state: 'down' });
  });

  it('moves to the next proxy on a 503, with a new branch', async () => {
    const p1 = await peer();
    const p2 = await peer();
    p1.handler = (tx, req) => tx.respond(createResponse(req, 503, { toTag: newTag() }));
    const { lb, client } = await lbWith([p1, p2]);
    const r = client.make('MESSAGE', 'sip:bob@example.org', { body: 'x' });
    expect((await client.request(r, at(lb))).final.status).toBe(200);
    const b1 = p1.methods('MESSAGE')[0]!.req.topVia()!.branch;
    const b2 = p2.methods('MESSAGE')[0]!.req.topVia()!.branch;
    expect(b1).not.toBe(b2);
  });

  it('a 2xx from a proxy given up on is relayed, not dropped: it answers the call and the next attempt is CANCELled', async () => {
    // p1 answers the INVITE, but only after the lb's dispatch timeout (no 100 first, as a stalled proxy would)
    const slow = createSocket('udp4');
    await new Promise<void>((r) => slow.bind(0, '127.0.0.2', () => r()));
    let open = true;
    cleanup.push(() => new Promise<void>((r) => ((open = false), slow.close(() => r()))));
    slow.on('message', (buf, rinfo) => {
      const m = parseMessage(buf);
      if (m.kind !== 'request' || (m as SipRequest).method !== 'INVITE') return; // the CANCEL waits for a 1xx that never comes
      setTimeout(() => {
        if (!open) return;
        const ok = createResponse(m as SipRequest, 200, { toTag: newTag() });
        ok.append('Contact', '<sip:bob@127.0.0.2>');
        slow.send(ok.toBuffer(), rinfo.port, rinfo.address);
      }, 700);
    });
    const p2 = await peer();
    p2.handler = (tx, req) => tx.respond(createResponse(req, 180, { toTag: newTag() })); // rings, never answers
    const { lb, client } = await lbWith([{ address: '127.0.0.2', port: slow.address().port }, { address: '127.0.0.2', port: p2.port }]);
    const r = await client.request(client.make('INVITE', 'sip:bob@example.org', { contact: '<sip:alice@127.0.0.1>' }), at(lb));
    expect(r.final.status).toBe(200);
    expect(r.final.getAll('contact').join()).toContain('sip:bob@127.0.0.2');
    expect(p2.methods('INVITE')).toHaveLength(1);
    await p2.waitFor((s) => s.req.method === 'CANCEL', 5000);
  });

  it('answers 503 when no proxy is left', async () => {
    const { lb, client } = await lbWith([await dead()]);
    expect((await client.request(client.make('OPTIONS', 'sip:bob@example.org'), at(lb))).final.status).toBe(503);
    // now the only destination is down: 503 at once
    expect((await client.request(client.make('OPTIONS', 'sip:bob@example.org'), at(lb))).final.status).toBe(503);
  });
});

describe('probing and manual state', () => {
  it('OPTIONS probing marks a silent destination down and back up when it answers', async () => {
    const p1 = await peer();
    const gone = await dead();
    const { lb } = await lbWith([p1, gone], { probe: { interval_ms: 150, timeout_ms: 150, failures: 2 } });
    const id = `${gone.address}:${gone.port}`;
    const state = () => (lb.svc.methods['dispatcher.list']!(undefined) as View).find((d) => d.destination === id)!;
    await waitUntil(() => state().state === 'down');
    expect(await lb.registry.getSingleMetricAsString('lb_dispatch_destination_up')).toContain(`lb_dispatch_destination_up{destination="${id}"} 0`);
    const back = await peer(gone.port);
    await waitUntil(() => state().state === 'up');
    expect(state().last_probe?.status).toBe(200);
    expect(back.methods('OPTIONS').length).toBeGreaterThan(0);
    expect(await lb.registry.getSingleMetricAsString('lb_dispatch_destination_up')).toContain(`lb_dispatch_destination_up{destination="${id}"} 1`);
  });

  it('dispatcher.set takes a destination out by hand; requests go to the others', async () => {
    const p1 = await peer();
    const p2 = await peer();
    const { lb, client } = await lbWith([p1, p2]);
    const set = lb.svc.methods['dispatcher.set']!;
    expect(set({ destination: `${p1.address}:${p1.port}`, state: 'down' })).toMatchObject({ state: 'down', admin_down: true });
    for (let i = 0; i < 4; i++) expect((await client.request(client.make('OPTIONS', 'sip:bob@example.org'), at(lb))).final.status).toBe(200);
    expect(p1.methods('OPTIONS')).toHaveLength(0);
    expect(p2.methods('OPTIONS')).toHaveLength(4);
    expect(() => set({ destination: 'nope', state: 'down' })).toThrow(/unknown destination/);
    expect(() => set({ destination: `${p1.address}:${p1.port}`, state: 'sideways' })).toThrow(/state/);
  });

  it('round robin spreads, hash-callid keeps a Call-ID on one proxy', async () => {
    const p1 = await peer();
    const p2 = await peer();
    const { lb, client } = await lbWith([p1, p2], { algorithm: 'hash-callid' });
    for (let i = 0; i < 3; i++) await client.request(client.make('OPTIONS', 'sip:bob@example.org', { callId: 'same-call', cseq: i + 1 }), at(lb));
    expect([p1.methods('OPTIONS').length, p2.methods('OPTIONS').length].sort()).toEqual([0, 3]);
  });
});

describe('CANCEL', () => {
  it('is answered by the lb and sent on hop by hop; the INVITE ends with 487', async () => {
    const p1 = await peer();
    p1.handler = (tx, req) => tx.respond(createResponse(req, 180, { toTag: newTag() }));
    const { lb, client } = await lbWith([p1]);
    const invite = client.make('INVITE', 'sip:bob@example.org', { contact: '<sip:alice@127.0.0.1>' });
    const statuses: number[] = [];
    const done = new Promise<number>((resolve) => {
      const tx = client.sip.sendRequest(invite, at(lb), {
        onProvisional: (res) => {
          statuses.push(res.status);
          if (res.status === 180) tx.cancel();
        },
        onFinal: (res) => resolve(res.status),
      });
    });
    expect(await done).toBe(487);
    await p1.waitFor((s) => s.req.method === 'CANCEL');
  });
});

describe('without MariaDB and Redis', () => {
  it('keeps answering, reports degraded health, and answers 503 (not 403) to initial requests from untrusted sources', async () => {
    const p1 = await peer();
    const lb = await startLb(await lbConfig({ proxies: [p1] }));
    cleanup.push(() => lb.stop());
    const client = await Peer.start('127.0.0.1');
    cleanup.push(() => client.close());
    const h = lb.svc.health();
    expect(h).toMatchObject({ ok: true, degraded: true, domains: { domains: null, db: 'failing' } });
    expect((await client.request(client.make('INVITE', 'sip:bob@example.org', { contact: '<sip:a@127.0.0.1>' }), at(lb))).final.status).toBe(503);
    // the lb's own address is served: an OPTIONS ping to it gets 200 from the lb itself
    expect((await client.request(client.make('OPTIONS', `sip:127.0.0.1:${lb.udp}`), at(lb))).final.status).toBe(200);
    expect(p1.methods('INVITE')).toHaveLength(0);
  });
});

async function waitUntil(cond: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
