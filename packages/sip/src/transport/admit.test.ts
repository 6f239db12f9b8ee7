/** The `admit` hook: a refused source's datagrams, messages and connections go unanswered and are counted. */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, makeLayer, request, statusOf, tcpPeer, udpPeer } from './test-helpers.js';

afterEach(cleanup);

describe('TransportLayer admit hook', () => {
  it('UDP: a refused source gets no answer (dropped.refused); others pass; the hook sees the listener', async () => {
    const seen: string[] = [];
    let refuse = new Set<string>();
    const { layer, next, inbox } = makeLayer({
      admit: (address, transport, localAddress, localPort) => {
        seen.push(`${transport}:${address}->${localAddress}:${localPort}`);
        return !refuse.has(address);
      },
    });
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    refuse = new Set(['127.0.0.1']);
    // a malformed request would be answered 400 by the edge: refused, not even that
    await peer.send(request({ via: 'SIP/2.0/UDP 127.0.0.1:notaport;branch=z9hG4bK-uv' }), u!.port);
    await peer.send(request(), u!.port);
    expect(await peer.silent(200)).toBe(true);
    expect(inbox).toHaveLength(0);
    expect(layer.stats().dropped).toEqual({ refused: 2 });
    expect(seen[0]).toBe(`udp:127.0.0.1->127.0.0.1:${u!.port}`);
    refuse = new Set();
    await peer.send(request(), u!.port);
    expect((await next()).source.address).toBe('127.0.0.1');
    await peer.send(request({ via: 'SIP/2.0/UDP 127.0.0.1:notaport;branch=z9hG4bK-uv' }), u!.port);
    expect(statusOf((await peer.next()).text)).toBe(400);
  });

  it('TCP: a refused source is not accepted; a source refused later has its connection closed unanswered', async () => {
    let refuse = true;
    const { layer, next } = makeLayer({ admit: () => !refuse });
    const [t] = await layer.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    const a = await tcpPeer(t!.port);
    await a.waitClosed();
    expect(layer.stats().dropped).toEqual({ refused: 1 });
    expect(layer.stats().connections.opened).toBe(0);
    refuse = false;
    const b = await tcpPeer(t!.port);
    await b.write(request({ via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-a1' }));
    await next();
    refuse = true;
    await b.write(request({ via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-a2' }));
    await b.waitClosed();
    expect(b.data).toBe('');
    expect(layer.stats().dropped).toEqual({ refused: 2 });
  });

  it('a throwing hook is counted as internal-error, never crashes the receive path', async () => {
    const { layer } = makeLayer({ admit: () => { throw new Error('bug'); } });
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    await peer.send(request(), u!.port);
    expect(await peer.silent(150)).toBe(true);
    expect(layer.stats().dropped).toEqual({ 'internal-error': 1 });
  });
});
