/**
 * The lb between clients (UDP, TCP, TLS) and a proxy, with a real MariaDB (served
 * domains) and Redis (change notifications): REGISTER gets a Path with received, an
 * INVITE is dispatched with double Record-Route and Contact alias, the proxy's BYE
 * reaches the client through Route/alias over the client's own connection, and the
 * edge answers 483, 482, 403, 400.
 */
import { createSocket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import type { SipRequest } from '@ngcp/sip';
import { createInDialogRequest, createResponse, createUacDialog, createUasDialog, newBranch, newTag, parseMessage } from '@ngcp/sip';
import { createDb, migrate, type Knex } from '@ngcp/db';
import { useMariaDb, useRedis } from '@ngcp/testkit/vitest';
import { Peer, lbConfig, routeUris, startLb, type RunningLb } from './helpers.js';

const mariadb = useMariaDb();
const redis = useRedis();
let db: Knex;
let lb: RunningLb;
let proxy: Peer;
let client: Peer;

beforeAll(async () => {
  const c = mariadb().connectionConfig();
  db = createDb({ ...c });
  await migrate.latest(db);
  await db('domains').insert({ domain: 'example.org' });
  proxy = await Peer.start('127.0.0.2');
  client = await Peer.start('127.0.0.1', { tlsClient: true });
  const r = redis();
  lb = await startLb(await lbConfig({
    proxies: [{ address: proxy.address, port: proxy.port }],
    db: { host: c.host, port: c.port, user: c.user, password: c.password, database: c.database },
    redis: { host: r.host, port: r.port },
    tls: true,
  }));
  // the proxy: a UAS that answers INVITE with 180 + 200 (Record-Route copied), anything else 200
  proxy.handler = (tx, req) => {
    if (req.method !== 'INVITE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
    const toTag = newTag();
    tx.respond(createResponse(req, 180, { toTag, copyRecordRoute: true }));
    const ok = createResponse(req, 200, { toTag, copyRecordRoute: true });
    ok.append('Contact', `<sip:bob@${proxy.address}:${proxy.port}>`);
    tx.respond(ok);
  };
}, 120_000);

afterAll(async () => {
  await lb?.stop();
  await client?.close();
  await proxy?.close();
  await db?.destroy();
});

const lbAddr = (t: 'udp' | 'tcp' | 'tls') => ({ transport: t, address: '127.0.0.1', port: t === 'udp' ? lb.udp : t === 'tcp' ? lb.tcp : lb.tls! });
const T_CODE = { udp: 1, tcp: 2, tls: 3 } as const;

describe('REGISTER', () => {
  it('gets a Path with the received address; a request along that Path reaches the client though its Contact is unreachable', async () => {
    const reg = client.make('REGISTER', 'sip:example.org', { to: '<sip:alice@example.org>', contact: '<sip:alice@127.0.0.99:9>', headers: [['Expires', '600']] });
    const callId = reg.callId();
    const { final } = await client.request(reg, lbAddr('udp'));
    expect(final.status).toBe(200);
    const seen = await proxy.waitFor((s) => s.req.method === 'REGISTER' && s.req.callId() === callId);
    const path = seen.req.elements('path');
    expect(path).toEqual([`<sip:127.0.0.2:${lb.internal};lr;received=sip:127.0.0.1:${client.port}>`]);
    const vias = seen.req.vias();
    expect(vias[0]!.sentBy).toBe(`127.0.0.2:${lb.internal}`);
    expect(vias[1]!.rport).toBe(client.port);

    // the registrar later sends to the binding: Route = its Path, R-URI = the contact
    const opt = proxy.make('OPTIONS', 'sip:alice@127.0.0.99:9', { headers: [['Route', path[0]!]], from: `<sip:proxy@127.0.0.2>;tag=${newTag()}` });
    const res = await proxy.request(opt, { transport: 'udp', address: '127.0.0.2', port: lb.internal });
    expect(res.final.status).toBe(200);
    const got = await client.waitFor((s) => s.req.method === 'OPTIONS' && s.req.callId() === opt.callId());
    expect(got.req.has('route')).toBe(false);
    expect(got.req.uri).toBe('sip:alice@127.0.0.99:9');
  });
});

async function call(t: 'udp' | 'tcp' | 'tls'): Promise<void> {
  const invite = client.make('INVITE', 'sip:bob@example.org', { transport: t, contact: `<sip:alice@127.0.0.99:9${t === 'udp' ? '' : `;transport=${t}`}>`, body: 'v=0\r\n' });
  const callId = invite.callId();
  const { final, provisional } = await client.request(invite, lbAddr(t));
  expect(final.status).toBe(200);
  expect(provisional.map((p) => p.status)).toContain(180);

  // at the proxy: our Via on top, double Record-Route (internal on top, public naming the transport), Contact alias
  const inv = (await proxy.waitFor((s) => s.req.method === 'INVITE' && s.req.callId() === callId)).req;
  expect(inv.topVia()!.sentBy).toBe(`127.0.0.2:${lb.internal}`);
  expect(inv.topVia()!.transport).toBe('UDP');
  const pubPort = t === 'tls' ? lb.tls! : t === 'tcp' ? lb.tcp : lb.udp;
  expect(routeUris(inv)).toEqual([`sip:127.0.0.2:${lb.internal};lr;r2=on`, `sip:127.0.0.1:${pubPort}${t === 'udp' ? '' : `;transport=${t}`};lr;r2=on`]);
  const contact = inv.contacts() as Exclude<ReturnType<SipRequest['contacts']>, '*'>;
  const clientSrc = (await clientSource(t, inv));
  expect(contact[0]!.uri.toString()).toContain(`;alias=127.0.0.1~${clientSrc}~${T_CODE[t]}`);
  expect(inv.maxForwards()).toBe(69);

  // ACK along the route set reaches the proxy
  const dialog = createUacDialog(invite, final);
  const ack = createInDialogRequest(dialog, 'ACK', { via: { transport: t, host: client.address, port: client.port }, cseq: 1 });
  await client.sip.send(ack.request, lbAddr(t));
  await proxy.waitFor((s) => s.req.method === 'ACK' && s.req.callId() === callId);

  // a re-INVITE with a new Contact: the alias goes on it too (target refresh behind NAT)
  const via = { transport: t, host: client.address, port: client.port };
  const re = createInDialogRequest(dialog, 'INVITE', { via, cseq: 2, headers: [['Contact', '<sip:alice@127.0.0.98:9>']] });
  expect((await client.request(re.request, lbAddr(t))).final.status).toBe(200);
  const reSeen = (await proxy.waitFor((s) => s.req.method === 'INVITE' && s.req.callId() === callId && s.req.cseq().seq === 2)).req;
  expect((reSeen.contacts() as Exclude<ReturnType<SipRequest['contacts']>, '*'>)[0]!.uri.toString()).toBe(`sip:alice@127.0.0.98:9;alias=127.0.0.1~${clientSrc}~${T_CODE[t]}`);
  expect(reSeen.has('record-route')).toBe(false);
  await client.sip.send(createInDialogRequest(dialog, 'ACK', { via, cseq: 2 }).request, lbAddr(t));

  // the proxy hangs up: BYE to the aliased Contact along the Record-Route set → the client, over its own connection
  const outbound = lb.svc.stats() as { sip: { transport: { connections: { outbound: number } } } };
  const before = outbound.sip.transport.connections.outbound;
  const uas = createUasDialog(inv, createResponse(inv, 200, { toTag: final.to().tag!, copyRecordRoute: true }));
  const bye = createInDialogRequest(uas, 'BYE', { via: { transport: 'udp', host: proxy.address, port: proxy.port } });
  const byeRes = await proxy.request(bye.request, { transport: 'udp', address: '127.0.0.2', port: lb.internal });
  expect(byeRes.final.status).toBe(200);
  const got = await client.waitFor((s) => s.req.method === 'BYE' && s.req.callId() === callId);
  expect(got.source.transport).toBe(t);
  expect(got.req.uri).toBe(`sip:alice@127.0.0.99:9${t === 'udp' ? '' : `;transport=${t}`}`); // the dialog's target as the proxy knew it
  expect(got.req.has('route')).toBe(false);
  const after = (lb.svc.stats() as typeof outbound).sip.transport.connections.outbound;
  expect(after).toBe(before); // no new connection: the client's own was reused
}

/** The client's source port as the lb saw it (its Via rport). */
async function clientSource(_t: string, inv: SipRequest): Promise<number> {
  return inv.vias()[1]!.rport as number;
}

describe('a call towards a client', () => {
  it('is double-record-routed (public entry on top) and the client\'s 1xx/2xx Contact gets its alias', async () => {
    client.handler = (tx, req) => {
      if (req.method !== 'INVITE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
      const toTag = newTag();
      for (const status of [180, 200]) {
        const res = createResponse(req, status, { toTag, copyRecordRoute: true });
        res.append('Contact', '<sip:alice@127.0.0.99:9>');
        tx.respond(res);
      }
    };
    // the registrar's INVITE to alice's binding: Route = the Path the lb put on her REGISTER
    const path = `<sip:127.0.0.2:${lb.internal};lr;received=sip:127.0.0.1:${client.port}>`;
    const inv = proxy.make('INVITE', 'sip:alice@127.0.0.99:9', { headers: [['Route', path], ['Record-Route', `<sip:${proxy.address}:${proxy.port};lr>`]], contact: `<sip:bob@${proxy.address}:${proxy.port}>` });
    const { final, provisional } = await proxy.request(inv, { transport: 'udp', address: '127.0.0.2', port: lb.internal });
    expect(final.status).toBe(200);
    for (const res of [final, provisional.find((p) => p.status === 180)!]) {
      const c = res.contacts() as Exclude<ReturnType<SipRequest['contacts']>, '*'>;
      expect(c[0]!.uri.toString()).toBe(`sip:alice@127.0.0.99:9;alias=127.0.0.1~${client.port}~1`);
    }
    const got = (await client.waitFor((s) => s.req.method === 'INVITE' && s.req.callId() === inv.callId())).req;
    expect(routeUris(got)).toEqual([`sip:127.0.0.1:${lb.udp};lr;r2=on`, `sip:127.0.0.2:${lb.internal};lr;r2=on`, `sip:${proxy.address}:${proxy.port};lr`]);
    client.handler = (tx, req) => tx.respond(createResponse(req, 200, { toTag: newTag() }));
  });
});

describe('calls through the lb', () => {
  it('UDP: INVITE dispatched with double Record-Route and alias; ACK and the proxy\'s BYE follow the route', () => call('udp'));
  it('TCP: converted to UDP inside, answered and reached over the client\'s own connection', () => call('tcp'));
  it('TLS: converted to UDP inside, answered and reached over the client\'s own connection', () => call('tls'));
});

function rawExchange(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('no answer'));
    }, 5000);
    s.on('message', (m) => {
      if (m.toString().startsWith('SIP/2.0 100')) return;
      clearTimeout(t);
      s.close();
      resolve(m.toString());
    });
    s.bind(0, '127.0.0.1', () => s.send(text, lb.udp, '127.0.0.1'));
  });
}

describe('edge checks', () => {
  it('Max-Forwards 0 → 483, nothing forwarded', async () => {
    const r = client.make('OPTIONS', 'sip:bob@example.org');
    r.set('Max-Forwards', '0');
    expect((await client.request(r, lbAddr('udp'))).final.status).toBe(483);
    expect(proxy.seen.some((s) => s.req.callId() === r.callId())).toBe(false);
  });

  it('a domain not served → 403, nothing forwarded', async () => {
    const r = client.make('INVITE', 'sip:bob@evil.example', { contact: '<sip:alice@127.0.0.1>' });
    expect((await client.request(r, lbAddr('udp'))).final.status).toBe(403);
    const reg = client.make('REGISTER', 'sip:evil.example', { to: '<sip:alice@evil.example>', contact: '<sip:alice@127.0.0.1>' });
    expect((await client.request(reg, lbAddr('udp'))).final.status).toBe(403);
    expect(proxy.seen.some((s) => s.req.callId() === r.callId() || s.req.callId() === reg.callId())).toBe(false);
  });

  it('a request that comes back to the lb unchanged → 482', async () => {
    const r = client.make('MESSAGE', 'sip:bob@example.org', { body: 'hi' });
    proxy.handler = (tx, req) => {
      if (req.method !== 'MESSAGE') return void tx.respond(createResponse(req, 200, { toTag: newTag() }));
      // a misconfigured proxy sends it straight back to the lb
      const again = parseMessage(req.toBuffer()) as SipRequest;
      again.pushVia(`SIP/2.0/UDP ${proxy.address}:${proxy.port};branch=${newBranch()};rport`);
      void proxy.request(again, { transport: 'udp', address: '127.0.0.2', port: lb.internal }).then(({ final }) => tx.respond(createResponse(req, final.status, { toTag: newTag() })));
    };
    expect((await client.request(r, lbAddr('udp'))).final.status).toBe(482);
  });

  it('a malformed request → 400', async () => {
    const bad = 'OPTIONS sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad\r\nFrom: <sip:a@example.org>;tag=1\r\nTo: <sip:bob@example.org>\r\nCall-ID: bad-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n';
    expect(await rawExchange(bad)).toMatch(/^SIP\/2\.0 400 /);
  });
});

describe('served domains', () => {
  it('a domain created in MariaDB and announced on ngcp:changes is served', async () => {
    const r = client.make('OPTIONS', 'sip:carol@new.example');
    expect((await client.request(r, lbAddr('udp'))).final.status).toBe(403);
    await db('domains').insert({ domain: 'new.example' });
    const pub = new Redis({ host: redis().host, port: redis().port });
    await pub.publish('ngcp:changes', JSON.stringify({ entity: 'domain', id: 2, op: 'create', ts: Date.now() }));
    pub.disconnect();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      status = (await client.request(client.make('OPTIONS', 'sip:carol@new.example'), lbAddr('udp'))).final.status;
    }
    expect(status).toBe(200);
  });
});
