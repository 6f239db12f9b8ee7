/**
 * A tiny RTP endpoint (RFC 3550 fixed 12-byte header, PCMU payload type 0) on a UDP
 * socket of 127.0.0.1: it sends a bounded burst to where the SDP it received says, and
 * counts what arrives — only packets that are RTP version 2 from the peer's SSRC count,
 * with the address they came from (so a test can check they came from rtpengine). It also
 * presses keys: RFC 4733 telephone-events in its own stream (the app-server's
 * `telephoneEventPackets`, as the app-server's own tests send them).
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { telephoneEventPackets } from '@ngcp/appserver';
import { freePort } from '@ngcp/testkit';

export interface RtpStats {
  packets: number;
  /** `address:port` of every sender seen. */
  sources: Set<string>;
  ssrcs: Set<number>;
}

export class RtpEndpoint {
  readonly ssrc = randomInt(1, 0xffffffff);
  readonly received: RtpStats = { packets: 0, sources: new Set(), ssrcs: new Set() };
  private seq = randomInt(0, 0xffff);
  private ts = randomInt(0, 0xffffffff);

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (b, rinfo) => {
      if (b.length < 12 || b[0]! >> 6 !== 2) return;
      this.received.packets++;
      this.received.sources.add(`${rinfo.address}:${rinfo.port}`);
      this.received.ssrcs.add(b.readUInt32BE(8));
    });
  }

  static async open(address = '127.0.0.1'): Promise<RtpEndpoint> {
    const port = await freePort({ udp: true, host: address });
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new RtpEndpoint(socket, port);
  }

  /** Packets that came from the given SSRC. */
  from(ssrc: number): boolean {
    return this.received.ssrcs.has(ssrc);
  }

  packet(): Buffer {
    const b = Buffer.alloc(12 + 160, 0xff); // 20 ms of PCMU silence
    b[0] = 0x80; // V=2, no padding, no extension, CC=0
    b[1] = 0; // M=0, PT=0 (PCMU)
    b.writeUInt16BE(this.seq, 2);
    b.writeUInt32BE(this.ts, 4);
    b.writeUInt32BE(this.ssrc, 8);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + 160) >>> 0;
    return b;
  }

  private stopped = false;

  /** Sends `count` packets, `intervalMs` apart, to address:port (fewer after `stop()`). */
  async send(address: string, port: number, count = 25, intervalMs = 20): Promise<void> {
    for (let i = 0; i < count && !this.stopped; i++) {
      await new Promise<void>((resolve, reject) => this.socket.send(this.packet(), port, address, (e) => (e ? reject(e) : resolve())));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /**
   * Presses `digit`: its six RFC 4733 packets (payload type `payloadType`, as the SDP offered
   * it) 20 ms apart, in this endpoint's stream (its SSRC, the next sequence numbers).
   */
  async digit(digit: string, address: string, port: number, payloadType = 101): Promise<void> {
    const packets = telephoneEventPackets(digit, { payloadType, ssrc: this.ssrc, sequence: this.seq, timestamp: this.ts });
    this.seq = (this.seq + packets.length) & 0xffff;
    this.ts = (this.ts + 160 * packets.length) >>> 0;
    for (const p of packets) {
      await new Promise<void>((resolve, reject) => this.socket.send(p, port, address, (e) => (e ? reject(e) : resolve())));
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Ends every `send` under way after its current packet. */
  stop(): void {
    this.stopped = true;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
