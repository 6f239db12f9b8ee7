/**
 * TCP listener and connector (node:net). The transport layer wraps the sockets in
 * Connection objects; this file only opens and accepts them.
 */
import type { Server, Socket } from 'node:net';
import { connect, createServer, isIP } from 'node:net';
import { normalizeAddress } from './routing.js';
import { TransportError } from './types.js';
import type { Destination } from '../message/transports.js';
import type { Logger } from '../logger.js';

/** A listening TCP or TLS server. */
export interface StreamListener {
  readonly transport: 'tcp' | 'tls';
  readonly address: string;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Track raw sockets of a server (TLS ones during the handshake too) so close() can
 * destroy them instead of waiting for the peers.
 */
export function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  return sockets;
}

export function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  return new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    sockets.clear();
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}

export function listenOn(server: Server, address: string, port: number): Promise<{ address: string; port: number }> {
  const host = normalizeAddress(address);
  if (isIP(host) === 0) return Promise.reject(new TypeError(`listen address must be an IP address, got '${address}'`));
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true, ipv6Only: isIP(host) === 6 }, () => {
      server.off('error', onError);
      const a = server.address();
      resolve({ address: host, port: typeof a === 'object' && a !== null ? a.port : port });
    });
  });
}

export async function listenTcp(address: string, port: number, onSocket: (s: Socket) => void, logger: Logger): Promise<StreamListener> {
  const server = createServer({ noDelay: true, pauseOnConnect: false }, onSocket);
  const sockets = trackSockets(server);
  const bound = await listenOn(server, address, port);
  server.on('error', (err) => logger.warn({ err }, 'tcp server error'));
  return { transport: 'tcp', address: bound.address, port: bound.port, close: () => closeServer(server, sockets) };
}

export interface ConnectOptions {
  /** Local address to connect from (the listen address, so the peer sees our SIP IP). */
  localAddress?: string;
  /** ms. */
  timeout: number;
}

/**
 * Wait until `socket` emits `readyEvent`, failing with TransportError on error,
 * timeout or close. Used for TCP connect and the TLS handshake.
 */
export function awaitConnect<S extends Socket>(socket: S, readyEvent: string, dest: Destination, timeout: number): Promise<S> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off(readyEvent, onReady);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onReady = (): void => {
      cleanup();
      resolve(socket);
    };
    const onError = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(new TransportError('connect-failed', `${dest.transport} connect to ${dest.address}:${dest.port} failed: ${err.message}`, dest, { cause: err }));
    };
    const onClose = (): void => onError(new Error('closed during connect'));
    const timer = setTimeout(() => {
      cleanup();
      socket.destroy();
      reject(new TransportError('connect-timeout', `${dest.transport} connect to ${dest.address}:${dest.port} timed out after ${timeout} ms`, dest));
    }, timeout);
    socket.on(readyEvent, onReady);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}

/** Run a socket factory, turning synchronous throws (bad port, bad address) into TransportError. */
export function openSocket<S extends Socket>(dest: Destination, open: () => S): S {
  try {
    return open();
  } catch (e) {
    throw new TransportError('connect-failed', `${dest.transport} connect to ${dest.address}:${dest.port} failed: ${(e as Error).message}`, dest, { cause: e });
  }
}

export function connectTcp(dest: Destination, opts: ConnectOptions): Promise<Socket> {
  const host = normalizeAddress(dest.address);
  try {
    const socket = openSocket(dest, () => connect({ host, port: dest.port, noDelay: true, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) }));
    return awaitConnect(socket, 'connect', dest, opts.timeout);
  } catch (e) {
    return Promise.reject(e);
  }
}
