import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import type { SipRequest } from '../message/message.js';
import { parseMessage } from '../parser/parse.js';
import { responseDestination } from './routing.js';
import type { ConnectionInfo } from './pool.js';
import { cleanup, hasIpv6Loopback, headerOf, makeLayer, request, statusOf, tcpPeer, waitUntil } from './test-helpers.js';

afterEach(cleanup);

async function tcpLayer(opts: Parameters<typeof makeLayer>[0] = {}, host = '127.0.0.1') {
  const l = makeLayer(opts);
  const [bound] = await l.layer.listen([{ transport: 'tcp', address: host, port: 0 }]);
  return { ...l, port: bound!.port };
}

const tcpVia = (n: string) => `SIP/2.0/TCP client.invalid:5070;branch=z9hG4bK-${n};rport`;

describe('TCP transport', () => {
  it('frames several messages from one write, in order', async () => {
    const { next, port, layer } = await tcpLayer();
    const peer = await tcpPeer(port);
    await peer.write(request({ callId: 'm1', via: tcpVia('1') }) + request({ callId: 'm2', via: tcpVia('2'), body: 'hello' }) + request({ callId: 'm3', via: tcpVia('3') }));
    const got = [await next(), await next(), await next()];
    expect(got.map((g) => g.msg.callId())).toEqual(['m1', 'm2', 'm3']);
    expect(got[1]!.msg.body.toString()).toBe('hello');
    expect(got[0]!.source).toMatchObject({ transport: 'tcp', address: '127.0.0.1', port: peer.socket.localPort, localPort: port });
    expect(got[0]!.source.connectionId).toBe(got[2]!.source.connectionId);
    expect(got[0]!.msg.topVia()!.rport).toBe(peer.socket.localPort);
    expect(layer.stats().connections).toMatchObject({ open: 1, opened: 1, inbound: 1 });
  });

  it('reassembles a message written byte by byte', async () => {
    const { next, port } = await tcpLayer();
    const peer = await tcpPeer(port);
    const text = request({ callId: 'bytewise', via: tcpVia('b'), body: 'v=0\r\n' });
    for (const ch of text) await peer.write(ch);
    const { msg } = await next();
    expect(msg.callId()).toBe('bytewise');
    expect(msg.body.toString()).toBe('v=0\r\n');
  });

  it('answers a CRLFCRLF ping with a CRLF pong (RFC 5626 §3.5.1)', async () => {
    const { port, layer } = await tcpLayer();
    const peer = await tcpPeer(port);
    await peer.write('\r\n\r\n');
    await peer.waitFor((d) => d === '\r\n');
    // a lone CRLF (pong) is recognised once the next byte shows it is not half a ping
    await peer.write('\r\n' + request({ via: tcpVia('after-pong') }));
    await waitUntil(() => layer.stats().keepalives.pongsReceived === 1);
    expect(layer.stats().keepalives).toEqual({ pingsReceived: 1, pongsSent: 1, pongsReceived: 1 });
  });

  it('missing Content-Length: 400 over the connection, then close', async () => {
    const { port, layer, inbox } = await tcpLayer();
    const peer = await tcpPeer(port);
    const peerPort = peer.socket.localPort;
    await peer.write(request({ contentLength: false, via: tcpVia('nocl') }));
    const data = await peer.waitFor((d) => d.includes('\r\n\r\n'));
    expect(statusOf(data)).toBe(400);
    expect(headerOf(data, 'Via')).toBe(`SIP/2.0/TCP client.invalid:5070;branch=z9hG4bK-nocl;rport=${peerPort};received=127.0.0.1`);
    await peer.waitClosed();
    expect(inbox).toHaveLength(0);
    expect(layer.stats().rejected).toEqual({ 400: 1 });
    await waitUntil(() => layer.stats().connections.open === 0);
  });

  it('too large: 513, then close', async () => {
    const { port } = await tcpLayer({ maxMessageSize: 2000 });
    const peer = await tcpPeer(port);
    await peer.write(request({ via: tcpVia('big'), body: 'x'.repeat(3000) }));
    const data = await peer.waitFor((d) => d.includes('\r\n\r\n'));
    expect(statusOf(data)).toBe(513);
    await peer.waitClosed();
  });

  it('a bad request that frames fine gets its 400 and the connection stays up', async () => {
    const { port, next } = await tcpLayer();
    const peer = await tcpPeer(port);
    await peer.write(request({ via: tcpVia('dup'), extra: ['CSeq: 2 OPTIONS'] }));
    await peer.waitFor((d) => d.includes('\r\n\r\n'));
    expect(statusOf(peer.data)).toBe(400);
    await peer.write(request({ via: tcpVia('ok'), callId: 'after' }));
    expect((await next()).msg.callId()).toBe('after');
    expect(peer.closed).toBe(false);
  });

  it('sends the response back over the same connection (routed by Via or by source)', async () => {
    const { next, port, layer } = await tcpLayer();
    const peer = await tcpPeer(port);
    await peer.write(request({ via: tcpVia('resp') }));
    const { msg, source } = await next();
    await layer.send(createResponse(msg as SipRequest, 100));
    await peer.waitFor((d) => d.includes('SIP/2.0 100'));
    await layer.send(createResponse(msg as SipRequest, 200), responseDestination(msg.topVia()!, source)!);
    await peer.waitFor((d) => d.includes('SIP/2.0 200'));
    expect(layer.stats().connections.opened).toBe(1);
  });

  it('reuses an accepted connection for a request back to the same flow', async () => {
    const { next, port, layer } = await tcpLayer();
    const peer = await tcpPeer(port);
    await peer.write(request({ via: tcpVia('flow') }));
    const { source } = await next();
    const bye = parseMessage(Buffer.from(request({ method: 'BYE', via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-bye' })));
    await layer.send(bye, { transport: 'tcp', address: source.address, port: source.port });
    await peer.waitFor((d) => d.startsWith('BYE '));
    expect(layer.stats().connections).toMatchObject({ opened: 1, outbound: 0 });
  });

  it('opens, pools and reuses outgoing connections; responses come back on them', async () => {
    const server = await tcpLayer();
    const client = makeLayer();
    await client.layer.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    const dest = { transport: 'tcp' as const, address: '127.0.0.1', port: server.port };
    const mk = (n: string) => parseMessage(Buffer.from(request({ via: `SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK-${n}${n === 'o1' ? '' : ';rport'}`, callId: n })));
    // concurrent sends share one connect
    await Promise.all([client.layer.send(mk('o1'), dest), client.layer.send(mk('o2'), dest)]);
    const a = await server.next();
    const b = await server.next();
    await client.layer.send(mk('o3'), dest);
    await server.next();
    expect(client.layer.stats().connections).toMatchObject({ opened: 1, outbound: 1, open: 1 });
    // no rport in o1's Via (sent-by port 5060 is nobody's): the source names the connection
    await server.layer.send(createResponse(a.msg as SipRequest, 200), responseDestination(a.msg.topVia()!, a.source)!);
    // o2 has rport: the Via alone finds the connection (received:rport is the accepted flow)
    await server.layer.send(createResponse(b.msg as SipRequest, 200));
    const r = [await client.next(), await client.next()];
    expect(r.map((x) => x.msg.kind)).toEqual(['response', 'response']);
    expect(r[0]!.source.connectionId).toBe(client.layer.connections()[0]!.id);
    expect(server.layer.stats().connections.opened).toBe(1);
  });

  it('closes idle connections and reports the close', async () => {
    const closed: ConnectionInfo[] = [];
    const { port, layer } = await tcpLayer({ idleTimeoutInbound: 150, onConnectionClose: (i) => closed.push(i) });
    const peer = await tcpPeer(port);
    const peerPort = peer.socket.localPort;
    await peer.waitClosed(2000);
    await waitUntil(() => closed.length === 1);
    expect(closed[0]).toMatchObject({ transport: 'tcp', direction: 'inbound', remotePort: peerPort });
    expect(layer.stats().connections).toMatchObject({ open: 0, opened: 1, closed: 1 });
  });

  it('fails a send to a closed port with connect-failed', async () => {
    const { layer } = await tcpLayer();
    const s = createServer();
    const port = await new Promise<number>((res) => s.listen(0, '127.0.0.1', () => res((s.address() as { port: number }).port)));
    await new Promise((res) => s.close(res));
    const req = parseMessage(Buffer.from(request()));
    await expect(layer.send(req, { transport: 'tcp', address: '127.0.0.1', port })).rejects.toMatchObject({ name: 'TransportError', code: 'connect-failed' });
    expect(layer.stats().connections.failed).toBe(1);
  });

  it('falls back to a new connection when the flow named by connectionId is gone', async () => {
    const { next, port, layer } = await tcpLayer();
    const peer = await tcpPeer(port);
    await peer.write(request({ via: tcpVia('gone') }));
    const { source, msg } = await next();
    const peerPort = peer.socket.localPort!;
    peer.socket.destroy();
    await waitUntil(() => layer.stats().connections.open === 0);
    // sent-by client.invalid is not resolvable here: received (127.0.0.1) and sent-by port 5070 are used
    const dest = responseDestination(msg.topVia()!, source)!;
    expect(dest).toMatchObject({ address: '127.0.0.1', port: 5070, connectionId: source.connectionId });
    await expect(layer.send(createResponse(msg as SipRequest, 200), { ...dest, port: peerPort })).rejects.toMatchObject({ code: 'connect-failed' });
  });

  it('refuses connections beyond maxConnections', async () => {
    const { port, layer } = await tcpLayer({ maxConnections: 1 });
    const p1 = await tcpPeer(port);
    const p2 = await tcpPeer(port);
    await p2.waitClosed();
    expect(p1.closed).toBe(false);
    expect(layer.stats().dropped).toEqual({ 'max-connections': 1 });
  });

  it('a slow reader: sends fail buffer-full, and pending writes fail connection-closed when it goes away', async () => {
    const { next, port, layer } = await tcpLayer({ maxWriteBuffer: 64 * 1024 });
    const peer = await tcpPeer(port);
    await peer.write(request({ via: tcpVia('slow') }));
    const { source } = await next();
    peer.socket.pause(); // stop reading: kernel buffers fill, then the socket's own buffer
    const big = parseMessage(Buffer.from(request({ method: 'MESSAGE', via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-big', body: 'x'.repeat(60_000) })));
    const pending: Array<Promise<unknown>> = [];
    let full: unknown;
    for (let i = 0; i < 500 && full === undefined; i++) {
      const p = layer.send(big, source);
      pending.push(p.catch((e: unknown) => e));
      await Promise.race([p.catch((e: unknown) => (full = e)), new Promise((r) => setImmediate(r))]);
    }
    expect(full).toMatchObject({ name: 'TransportError', code: 'buffer-full' });
    peer.socket.destroy();
    const results = await Promise.all(pending);
    expect(results.some((r) => (r as { code?: string } | undefined)?.code === 'connection-closed')).toBe(true);
  });

  it.runIf(hasIpv6Loopback())('works over IPv6', async () => {
    const { next, port, layer } = await tcpLayer({}, '::1');
    const peer = await tcpPeer(port, '::1');
    await peer.write(request({ via: 'SIP/2.0/TCP [::1]:5070;branch=z9hG4bK-v6' }));
    const { msg, source } = await next();
    expect(source.address).toBe('::1');
    expect(msg.topVia()!.received).toBeUndefined(); // [::1] is the source
    await layer.send(createResponse(msg as SipRequest, 200), responseDestination(msg.topVia()!, source)!);
    await peer.waitFor((d) => d.includes('SIP/2.0 200'));
  });
});
