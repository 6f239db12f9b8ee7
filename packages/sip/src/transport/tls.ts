/**
 * TLS listener and connector (node:tls). Key, certificate and CA come from the
 * options as PEM text or file paths. The client side sends SNI (the destination's
 * servername, or the host name when the destination is not an IP address) and
 * verifies the server certificate against it unless rejectUnauthorized is false.
 */
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { connect, createServer } from 'node:tls';
import { normalizeAddress } from './routing.js';
import type { ConnectOptions, StreamListener } from './tcp.js';
import { awaitConnect, closeServer, listenOn, openSocket, trackSockets } from './tcp.js';
import type { Destination } from '../message/transports.js';
import type { Logger } from '../logger.js';

/** PEM text, a Buffer, or a path to a PEM file. */
export type PemSource = string | Buffer;

export interface TlsOptions {
  key?: PemSource;
  cert?: PemSource;
  /** Trusted CAs (default: Node's bundled roots). */
  ca?: PemSource | PemSource[];
  passphrase?: string;
  /** Server: ask the client for a certificate (mutual TLS). Default false. */
  requestCert?: boolean;
  /**
   * Client: refuse servers whose certificate does not verify (default true).
   * Server with requestCert: refuse clients without a valid certificate (default false).
   */
  rejectUnauthorized?: boolean;
  /** Client: SNI name when the destination has none. */
  servername?: string;
  /** Default 'TLSv1.2'. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  ciphers?: string;
}

/** PEM text or Buffer as is; anything else is read as a file path. */
export function loadPem(v: PemSource): string | Buffer {
  if (Buffer.isBuffer(v)) return v;
  return v.includes('-----BEGIN') ? v : readFileSync(v);
}

function contextOptions(o: TlsOptions): SecureContextOptions {
  const out: SecureContextOptions = { minVersion: o.minVersion ?? 'TLSv1.2' };
  if (o.key !== undefined) out.key = loadPem(o.key);
  if (o.cert !== undefined) out.cert = loadPem(o.cert);
  if (o.ca !== undefined) out.ca = Array.isArray(o.ca) ? o.ca.map(loadPem) : loadPem(o.ca);
  if (o.passphrase !== undefined) out.passphrase = o.passphrase;
  if (o.ciphers !== undefined) out.ciphers = o.ciphers;
  return out;
}

export async function listenTls(
  address: string,
  port: number,
  opts: TlsOptions,
  handshakeTimeout: number,
  onSocket: (s: TLSSocket) => void,
  logger: Logger,
  onHandshakeError: () => void,
): Promise<StreamListener> {
  if (opts.key === undefined || opts.cert === undefined) throw new TypeError('a TLS listener needs key and cert');
  const server = createServer({
    ...contextOptions(opts),
    requestCert: opts.requestCert ?? false,
    rejectUnauthorized: opts.requestCert ? (opts.rejectUnauthorized ?? false) : false,
    handshakeTimeout,
  }, onSocket);
  const sockets = trackSockets(server);
  server.on('tlsClientError', (err, socket: Socket) => {
    onHandshakeError();
    logger.debug({ remote: socket.remoteAddress, err }, 'TLS handshake failed');
    socket.destroy();
  });
  const bound = await listenOn(server, address, port);
  server.on('error', (err) => logger.warn({ err }, 'tls server error'));
  return { transport: 'tls', address: bound.address, port: bound.port, close: () => closeServer(server, sockets) };
}

export function connectTls(dest: Destination, opts: TlsOptions, copts: ConnectOptions): Promise<TLSSocket> {
  const host = normalizeAddress(dest.address);
  const name = dest.servername ?? opts.servername ?? (isIP(host) === 0 ? host : undefined);
  try {
    const socket = openSocket(dest, () => connect({
      ...contextOptions(opts),
      host,
      port: dest.port,
      rejectUnauthorized: opts.rejectUnauthorized ?? true,
      ...(name !== undefined ? { servername: name } : {}),
      ...(copts.localAddress ? { localAddress: copts.localAddress } : {}),
    }));
    return awaitConnect(socket, 'secureConnect', dest, copts.timeout);
  } catch (e) {
    return Promise.reject(e);
  }
}
