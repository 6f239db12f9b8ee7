/** A tiny RTP endpoint for tests: a UDP socket that sends RTP packets (12-byte header + payload) and keeps what it receives. */
import { createSocket, type Socket } from 'node:dgram';

export interface RtpEndpoint {
  address: string;
  port: number;
  received: Array<{ payload: string; seq: number; from: string }>;
  /** Sends RTP packets to `to` every `intervalMs` until `until()` holds or `max` packets went out; returns how many were sent. */
  sendUntil(to: { address: string; port: number }, tag: string, until: () => boolean, opts?: { max?: number; intervalMs?: number }): Promise<number>;
  close(): Promise<void>;
}

function rtpPacket(seq: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80; // V=2
  h[1] = 0; // PT 0 (PCMU)
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE((seq * 160) >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

export async function rtpEndpoint(address: string): Promise<RtpEndpoint> {
  const sock: Socket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, address, () => resolve());
  });
  const received: RtpEndpoint['received'] = [];
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 12 || (msg[0]! & 0xc0) !== 0x80) return;
    received.push({ payload: msg.subarray(12).toString(), seq: msg.readUInt16BE(2), from: `${rinfo.address}:${rinfo.port}` });
  });
  const ssrc = Math.floor(Math.random() * 2 ** 32);
  let seq = 1;
  return {
    address,
    port: sock.address().port,
    received,
    async sendUntil(to, tag, until, opts = {}) {
      const max = opts.max ?? 100;
      let sent = 0;
      while (sent < max && !until()) {
        const payload = Buffer.alloc(160, 0xff);
        payload.write(`${tag} #${sent}`);
        sock.send(rtpPacket(seq++, ssrc, payload), to.port, to.address);
        sent++;
        await new Promise((r) => setTimeout(r, opts.intervalMs ?? 20));
      }
      return sent;
    },
    close: () => new Promise<void>((r) => sock.close(() => r())),
  };
}

/** The audio address and port an SDP announces (session c= unless the media has its own). */
export function sdpAudio(sdp: string): { address: string; port: number } {
  const lines = sdp.split(/\r?\n/);
  const m = lines.findIndex((l) => l.startsWith('m=audio '));
  if (m < 0) throw new Error(`no m=audio in SDP:\n${sdp}`);
  const port = Number((lines[m] as string).split(' ')[1]);
  const mediaC = lines.slice(m + 1).find((l) => l.startsWith('c='));
  const sessionC = lines.slice(0, m).find((l) => l.startsWith('c='));
  const c = mediaC ?? sessionC;
  if (!c) throw new Error(`no c= in SDP:\n${sdp}`);
  return { address: c.split(' ')[2] as string, port };
}

export function sdpFor(address: string, port: number, sessionId: number): string {
  return [
    'v=0',
    `o=phone ${sessionId} 1 IN IP4 ${address}`,
    's=-',
    `c=IN IP4 ${address}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=ice-ufrag:abcd',
    'a=ice-pwd:abcdefghijklmnopqrstuvwx',
    `a=candidate:1 1 UDP 2130706431 ${address} ${port} typ host`,
    'a=sendrecv',
    '',
  ].join('\r\n');
}
