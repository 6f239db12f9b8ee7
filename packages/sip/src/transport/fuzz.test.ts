/**
 * Garbage in, process stays up: random and mutated datagrams and stream chunks at
 * real listeners. Seeded, so a failure can be replayed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, makeLayer, request, response, tcpPeer, udpPeer, waitUntil } from './test-helpers.js';
import { seededRandom } from '../dns/test-dns-server.js';

afterEach(cleanup);

const rng = seededRandom;

const SEED = Number(process.env.SIP_FUZZ_SEED ?? 20240611);

function garbage(r: () => number, peerPort: number): Buffer {
  const int = (n: number): number => Math.floor(r() * n);
  const base = Buffer.from(
    r() < 0.5
      ? request({ via: `SIP/2.0/UDP 127.0.0.1:${peerPort};branch=z9hG4bK-f${int(1e6)};rport`, body: r() < 0.3 ? 'v=0\r\n' : '' })
      : response({ via: `SIP/2.0/UDP 127.0.0.1:${peerPort};branch=z9hG4bK-f${int(1e6)}` }),
    'latin1',
  );
  switch (int(6)) {
    case 0: { // pure noise
      const b = Buffer.alloc(int(1500));
      for (let i = 0; i < b.length; i++) b[i] = int(256);
      return b;
    }
    case 1: // truncation
      return base.subarray(0, int(base.length));
    case 2: { // byte flips
      const b = Buffer.from(base);
      for (let k = int(8) + 1; k > 0; k--) b[int(b.length)] = int(256);
      return b;
    }
    case 3: { // special characters spliced in
      const b = Buffer.from(base);
      const specials = [0x00, 0x0d, 0x0a, 0x3a, 0x3b, 0x3c, 0x3e, 0x22, 0x5b, 0x5d, 0x20, 0x09, 0x2c, 0xff];
      for (let k = int(6) + 1; k > 0; k--) b[int(b.length)] = specials[int(specials.length)]!;
      return b;
    }
    case 4: // duplicated header block / oversized
      return Buffer.concat([base, base.subarray(0, int(base.length)), r() < 0.2 ? Buffer.alloc(70000, 0x41) : Buffer.alloc(0)]);
    default: // line shuffling
      return Buffer.from(base.toString('latin1').split('\r\n').sort(() => r() - 0.5).join('\r\n'), 'latin1');
  }
}

describe('fuzz: random input at the listeners', () => {
  it('UDP: survives thousands of garbage datagrams; counters move; still serves valid requests', async () => {
    const r = rng(SEED);
    const { layer, next } = makeLayer();
    const [u] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
    const peer = await udpPeer();
    const N = 3000;
    let sentOk = 0;
    for (let i = 0; i < N; i++) {
      const g = garbage(r, peer.port);
      if (g.length > 65507) continue; // cannot be a datagram
      await peer.send(g, u!.port);
      sentOk++;
      if (i % 200 === 0) await new Promise((res) => setImmediate(res));
    }
    const seen = (): number => {
      const s = layer.stats();
      return s.received + (s.dropped.keepalive ?? 0) + (s.dropped.stun ?? 0);
    };
    await waitUntil(() => seen() === sentOk, 10_000, `all ${sentOk} datagrams processed`);
    const s = layer.stats();
    const dropped = Object.values(s.dropped).reduce((a, b) => a + (b ?? 0), 0);
    const rejected = Object.values(s.rejected).reduce((a, b) => a + b, 0);
    expect(s.accepted + dropped + rejected).toBe(sentOk);
    expect(dropped).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
    expect(s.dropped['internal-error'] ?? 0).toBe(0);
    while ((await Promise.race([next(50).then(() => true, () => false)])) === true);
    await peer.send(request({ callId: 'still-alive' }), u!.port);
    expect((await next()).msg.callId()).toBe('still-alive');
  }, 30_000);

  it('TCP: survives random chunking of garbage streams on many connections', async () => {
    const r = rng(SEED + 1);
    const { layer, next } = makeLayer({ maxMessageSize: 8000 });
    const [t] = await layer.listen([{ transport: 'tcp', address: '127.0.0.1', port: 0 }]);
    for (let c = 0; c < 40; c++) {
      const peer = await tcpPeer(t!.port);
      const stream = Buffer.concat(Array.from({ length: 10 }, () => garbage(r, 5060)));
      let off = 0;
      while (off < stream.length && !peer.closed) {
        const n = 1 + Math.floor(r() * 600);
        await peer.write(stream.subarray(off, off + n)).catch(() => undefined);
        off += n;
      }
      peer.socket.end();
    }
    await waitUntil(() => layer.stats().connections.open === 0, 5000, 'all connections closed');
    const s = layer.stats();
    expect(s.connections.opened).toBe(40);
    expect(s.received).toBeGreaterThan(0);
    expect(s.dropped['internal-error'] ?? 0).toBe(0);
    while ((await next(50).then(() => true, () => false)) === true);
    const peer = await tcpPeer(t!.port);
    await peer.write(request({ callId: 'tcp-alive', via: 'SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-alive' }));
    expect((await next()).msg.callId()).toBe('tcp-alive');
  }, 30_000);
});
