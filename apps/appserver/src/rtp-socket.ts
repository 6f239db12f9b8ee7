/**
 * One UDP socket per announcement, bound on the internal address to a port of the
 * configured range: an even port (RFC 3550 §11: RTP on even ports), tried at random and
 * then in order from there, so two calls never share one and a port held by another
 * program is skipped.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

export class NoRtpPortError extends Error {
  override readonly name = 'NoRtpPortError';
}

function bind(address: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4', reuseAddr: false });
    const fail = (err: Error): void => {
      s.close();
      reject(err);
    };
    s.once('error', fail);
    s.bind({ address, port, exclusive: true }, () => {
      s.off('error', fail);
      resolve(s);
    });
  });
}

/** A socket on an even port of [min, max] at `address`; NoRtpPortError when every even port of the range is taken (or `tries` binds failed). */
export async function openRtpSocket(address: string, range: { min: number; max: number }, tries = 64, random = Math.random): Promise<Socket> {
  const first = range.min + (range.min & 1);
  const slots = Math.floor((range.max - first) / 2) + 1;
  if (slots <= 0) throw new NoRtpPortError(`no even port in ${range.min}-${range.max}`);
  const start = Math.floor(random() * slots);
  const n = Math.min(slots, tries);
  for (let i = 0; i < n; i++) {
    const port = first + 2 * ((start + i) % slots);
    try {
      return await bind(address, port);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    }
  }
  throw new NoRtpPortError(`no free RTP port in ${range.min}-${range.max} on ${address} after ${n} tries`);
}
