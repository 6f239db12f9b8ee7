/** TransportLayer behaviour across transports: the transaction contract, options, edge cases. */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.js';
import { createResponse } from '../message/builders.js';
import type { SipRequest } from '../message/message.js';
import { parseMessage } from '../parser/parse.js';
import type { TransactionTransport } from '../transaction/types.js';
import { TransportLayer } from './transport-layer.js';
import { cleanup, headerOf, makeLayer, request, response, statusOf, tcpPeer, udpPeer, waitUntil } from './test-helpers.js';

afterEach(cleanup);

describe('TransportLayer', () => {
  it('satisfies the transaction layer transport contract', async () => {
    const layer = new TransportLayer({ logger: silentLogger });
    const t: TransactionTransport = layer;
    expect(t.isReliable('UDP')).toBe(false);
    expect(t.isReliable('udp')).toBe(false);
    expect(t.isReliable('TCP')).toBe(true);
    expect(t.isReliable('tls')).toBe(true);
    await layer.close();
  });

  it('a server transaction answers with the request source as dest (Via transport spelled UDP)', async () => {
    const { layer, next } = makeLayer();
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    await peer.send(request({ via: 'SIP/2.0/UDP ua.invalid:7;branch=z9hG4bK-st;rport' }), u!.port);
    const { msg, source } = await next();
    const txDest = { transport: 'UDP', address: source.address, port: source.port, connectionId: undefined };
    await layer.send(createResponse(msg as SipRequest, 200), { ...txDest, localAddress: source.localAddress, localPort: source.localPort });
    expect(statusOf((await peer.next()).text)).toBe(200);
    await expect(layer.send(msg, { transport: 'SCTP', address: '127.0.0.1', port: 5060 })).rejects.toMatchObject({ code: 'unsupported-transport' });
    await expect(layer.send(msg)).rejects.toMatchObject({ code: 'unroutable' });
  });

  it('answers a request with an unreadable Via to the source address, Via echoed', async () => {
    const { layer } = makeLayer();
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    await peer.send(request({ via: 'SIP/2.0/UDP 127.0.0.1:notaport;branch=z9hG4bK-uv' }), u!.port);
    const got = await peer.next();
    expect(statusOf(got.text)).toBe(400);
    expect(headerOf(got.text, 'Via')).toBe('SIP/2.0/UDP 127.0.0.1:notaport;branch=z9hG4bK-uv');
  });

  it('option sentBy drops responses whose top Via is not ours', async () => {
    const { layer, next, inbox } = makeLayer({ sentBy: ['127.0.0.1:5060'] });
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    await peer.send(response({ via: 'SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bK-other', callId: 'theirs' }), u!.port);
    await peer.send(response({ via: 'SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-mine', callId: 'ours' }), u!.port);
    expect((await next()).msg.callId()).toBe('ours');
    expect(inbox).toHaveLength(0);
    expect(layer.stats().dropped).toEqual({ 'via-mismatch': 1 });
  });

  it('option viaAlias (RFC 5923): a request back to the sent-by reuses the connection', async () => {
    const { layer, next } = makeLayer({ viaAlias: true });
    const [t] = await layer.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    const peer = await tcpPeer(t!.port);
    await peer.write(request({ via: 'SIP/2.0/TCP 127.0.0.1:5077;branch=z9hG4bK-al;alias' }));
    await next();
    expect(layer.connections()[0]!.keys).toContain('tcp:127.0.0.1:5077');
    const req = parseMessage(Buffer.from(request({ method: 'NOTIFY', via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-n' })));
    await layer.send(req, { transport: 'tcp', address: '127.0.0.1', port: 5077 });
    await peer.waitFor((d) => d.startsWith('NOTIFY '));
    expect(layer.stats().connections.opened).toBe(1);
  });

  it('ping(connectionId) sends CRLFCRLF and counts the pong', async () => {
    const { layer, next } = makeLayer();
    const [t] = await layer.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    const peer = await tcpPeer(t!.port);
    await peer.write(request({ via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-p' }));
    const { source } = await next();
    await layer.ping(source.connectionId!);
    await peer.waitFor((d) => d === '\r\n\r\n');
    await expect(layer.ping('tcp-nope')).rejects.toMatchObject({ code: 'connection-closed' });
  });

  it('adds Content-Length when a message without one goes out over a stream', async () => {
    const { layer: a, next: nextA } = makeLayer();
    const [u] = await a.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const { layer: b, next: nextB } = makeLayer();
    const [t] = await b.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    await peer.send(request({ contentLength: false, body: 'hello', via: 'SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-cl' }), u!.port);
    const { msg } = await nextA();
    expect(msg.has('content-length')).toBe(false);
    await a.send(msg, { transport: 'tcp', address: '127.0.0.1', port: t!.port });
    const got = await nextB();
    expect(got.msg.body.toString()).toBe('hello');
    expect(got.msg.get('content-length')).toBe('5');
  });

  it('listen() failing part-way closes what it opened', async () => {
    const { layer } = makeLayer();
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const other = makeLayer().layer;
    await expect(other.listen([
      { transport: 'tcp', address: '127.0.0.1', port: 0 },
      { transport: 'udp', address: '127.0.0.1', port: u!.port },
    ])).rejects.toThrow();
    expect(other.listening()).toEqual([]);
    await expect(other.listen([{ transport: 'udp', address: 'localhost', port: 0 }])).rejects.toThrow(/IP address/);
  });

  it('close() closes connections and fails later sends', async () => {
    const { layer, next } = makeLayer();
    const [t] = await layer.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    const peer = await tcpPeer(t!.port);
    await peer.write(request({ via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-c' }));
    const { msg, source } = await next();
    await layer.close();
    await peer.waitClosed();
    await expect(layer.send(createResponse(msg as SipRequest, 200), source)).rejects.toMatchObject({ code: 'closed' });
    await waitUntil(() => layer.stats().connections.open === 0);
  });
});
