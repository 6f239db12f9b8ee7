/**
 * UDP endpoint (node:dgram). One socket per listen address; responses leave from
 * the socket the request came in on. Bind to specific addresses, not 0.0.0.0:
 * Node has no IP_PKTINFO, so a wildcard socket answers from the primary address.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import { normalizeAddress } from './routing.js';
import type { Logger } from '../logger.js';
import { TransportError } from './types.js';

export interface UdpOptions {
  /** SO_RCVBUF to ask for, bytes. Default 4 MiB (the kernel caps it at net.core.rmem_max). */
  recvBufferSize?: number;
  /** SO_SNDBUF to ask for, bytes. Default 4 MiB (capped at net.core.wmem_max). */
  sendBufferSize?: number;
  /** SO_REUSEADDR. Default false. */
  reuseAddr?: boolean;
}

export const DEFAULT_UDP_BUFFER = 4 * 1024 * 1024;

export type DatagramHandler = (data: Buffer, rinfo: RemoteInfo, endpoint: UdpEndpoint) => void;

export class UdpEndpoint {
  readonly transport = 'udp' as const;
  /** Bound local address (as given, canonical) and port (the real one when 0 was asked). */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** Buffer sizes as read back from the kernel after setting them. */
  recvBufferSize = 0;
  sendBufferSize = 0;
  private closed = false;

  private constructor(private readonly socket: Socket, address: string, port: number, family: 4 | 6) {
    this.address = address;
    this.port = port;
    this.family = family;
  }

  static bind(address: string, port: number, opts: UdpOptions, onDatagram: DatagramHandler, logger: Logger): Promise<UdpEndpoint> {
    const host = normalizeAddress(address);
    const fam = isIP(host);
    if (fam === 0) return Promise.reject(new TypeError(`UDP listen address must be an IP address, got '${address}'`));
    const socket = createSocket({ type: fam === 6 ? 'udp6' : 'udp4', reuseAddr: opts.reuseAddr ?? false, ipv6Only: fam === 6 });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', onError);
        const ep = new UdpEndpoint(socket, host, socket.address().port, fam === 6 ? 6 : 4);
        ep.sizeBuffers(opts, logger);
        socket.on('error', (err) => logger.warn({ address: ep.address, port: ep.port, err }, 'udp socket error'));
        socket.on('message', (data, rinfo) => onDatagram(data, rinfo, ep));
        resolve(ep);
      });
    });
  }

  private sizeBuffers(opts: UdpOptions, logger: Logger): void {
    const want = { recv: opts.recvBufferSize ?? DEFAULT_UDP_BUFFER, send: opts.sendBufferSize ?? DEFAULT_UDP_BUFFER };
    try {
      if (want.recv > 0) this.socket.setRecvBufferSize(want.recv);
      if (want.send > 0) this.socket.setSendBufferSize(want.send);
    } catch (e) {
      logger.warn({ err: e }, 'could not size the UDP socket buffers');
    }
    try {
      this.recvBufferSize = this.socket.getRecvBufferSize();
      this.sendBufferSize = this.socket.getSendBufferSize();
    } catch {
      // not available on this platform
    }
    // Linux doubles the value it grants (bookkeeping overhead): less than asked means capped
    if (this.recvBufferSize > 0 && this.recvBufferSize < want.recv) {
      logger.warn({ wanted: want.recv, got: this.recvBufferSize }, 'UDP receive buffer capped by the kernel (raise net.core.rmem_max)');
    }
  }

  /** Send one datagram; rejects with TransportError('send-failed'). */
  send(data: Buffer, port: number, address: string): Promise<void> {
    if (this.closed) return Promise.reject(new TransportError('closed', 'UDP socket closed'));
    return new Promise((resolve, reject) => {
      try {
        this.socket.send(data, port, address, (err) => {
          if (err) reject(new TransportError('send-failed', `UDP send to ${address}:${port} failed: ${err.message}`, undefined, { cause: err }));
          else resolve();
        });
      } catch (err) {
        // synchronous throws: bad port, socket closed meanwhile
        reject(new TransportError('send-failed', `UDP send to ${address}:${port} failed: ${(err as Error).message}`, undefined, { cause: err }));
      }
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** A UDP datagram of CR/LF only: a keep-alive some UAs send. */
export function isKeepAlive(d: Buffer): boolean {
  if (d.length === 0 || d.length > 8) return false;
  for (const b of d) if (b !== 0x0d && b !== 0x0a) return false;
  return true;
}

/** RFC 5389 STUN: first two bits 0, magic cookie 0x2112A442 at offset 4. */
export function isStun(d: Buffer): boolean {
  return d.length >= 20 && (d[0]! & 0xc0) === 0 && d.readUInt32BE(4) === 0x2112a442;
}
