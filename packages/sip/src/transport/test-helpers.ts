/**
 * Helpers for the transport tests: raw UDP/TCP peers on loopback, message text
 * builders, and a registry that closes everything after each test.
 */
import type { Socket as UdpSocket } from 'node:dgram';
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';
import { silentLogger } from '../logger.js';
import type { SipMessage } from '../message/message.js';
import type { TransportSource } from './types.js';
import type { TransportLayerOptions } from './options.js';
import { TransportLayer } from './transport-layer.js';

const cleanups: Array<() => unknown> = [];

/** Close everything created through these helpers (call in afterEach). */
export async function cleanup(): Promise<void> {
  const fns = cleanups.splice(0).reverse();
  for (const f of fns) await f();
}


export function hasIpv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((l) => l?.some((a) => a.address === '::1'));
}

export interface Received {
  msg: SipMessage;
  source: TransportSource;
}

/** A layer that records accepted messages; closed by cleanup(). */
export function makeLayer(opts: TransportLayerOptions = {}): { layer: TransportLayer; inbox: Received[]; next: (ms?: number) => Promise<Received> } {
  const inbox: Received[] = [];
  const waiters: Array<(r: Received) => void> = [];
  const layer = new TransportLayer({
    logger: silentLogger,
    ...opts,
    onMessage: opts.onMessage ?? ((msg, source) => {
      const r = { msg, source };
      const w = waiters.shift();
      if (w) w(r);
      else inbox.push(r);
    }),
  });
  cleanups.push(() => layer.close());
  const next = (ms = 2000): Promise<Received> => {
    const r = inbox.shift();
    if (r) return Promise.resolve(r);
    let w: ((r: Received) => void) | undefined;
    return withTimeout(new Promise<Received>((res) => waiters.push((w = res))), ms, 'no message reached onMessage').finally(() => {
      const i = w ? waiters.indexOf(w) : -1;
      if (i >= 0) waiters.splice(i, 1);
    });
  };
  return { layer, inbox, next };
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`timeout: ${what}`)), ms)))]).finally(() => clearTimeout(t));
}

export async function waitUntil(cond: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface UdpPeer {
  socket: UdpSocket;
  port: number;
  send(data: string | Buffer, port: number, host?: string): Promise<void>;
  next(ms?: number): Promise<{ text: string; port: number; address: string }>;
  /** Resolves true if nothing arrives within ms. */
  silent(ms?: number): Promise<boolean>;
}

export async function udpPeer(host = '127.0.0.1'): Promise<UdpPeer> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const queue: Array<{ text: string; port: number; address: string }> = [];
  const waiters: Array<(m: { text: string; port: number; address: string }) => void> = [];
  socket.on('message', (b, r) => {
    const m = { text: b.toString('latin1'), port: r.port, address: r.address };
    const w = waiters.shift();
    if (w) w(m);
    else queue.push(m);
  });
  await new Promise<void>((res) => socket.bind(0, host, () => res()));
  cleanups.push(() => new Promise<void>((res) => socket.close(() => res())));
  return {
    socket,
    port: socket.address().port,
    send: (data, port, to = host) => new Promise((res, rej) => socket.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, port, to, (e) => (e ? rej(e) : res()))),
    next: (ms = 2000) => {
      const m = queue.shift();
      if (m) return Promise.resolve(m);
      let w: ((m: { text: string; port: number; address: string }) => void) | undefined;
      return withTimeout(new Promise<{ text: string; port: number; address: string }>((res) => waiters.push((w = res))), ms, 'no datagram').finally(() => {
        const i = w ? waiters.indexOf(w) : -1;
        if (i >= 0) waiters.splice(i, 1);
      });
    },
    silent: async (ms = 200) => {
      await new Promise((r) => setTimeout(r, ms));
      return queue.length === 0;
    },
  };
}

export interface TcpPeer {
  socket: Socket;
  /** Everything received so far (latin1). */
  readonly data: string;
  readonly closed: boolean;
  write(data: string | Buffer): Promise<void>;
  waitFor(pred: (data: string) => boolean, ms?: number): Promise<string>;
  waitClosed(ms?: number): Promise<void>;
}

export function wrapStream(socket: Socket): TcpPeer {
  let data = '';
  let closed = false;
  socket.on('data', (b: Buffer) => (data += b.toString('latin1')));
  socket.on('error', () => undefined);
  socket.on('close', () => (closed = true));
  cleanups.push(() => socket.destroy());
  return {
    socket,
    get data() {
      return data;
    },
    get closed() {
      return closed;
    },
    write: (d) => new Promise((res, rej) => socket.write(d, (e) => (e ? rej(e) : res()))),
    waitFor: async (pred, ms = 2000) => {
      await waitUntil(() => pred(data), ms, `stream data (have ${JSON.stringify(data.slice(0, 200))})`);
      return data;
    },
    waitClosed: (ms = 2000) => waitUntil(() => closed, ms, 'connection close'),
  };
}

export async function tcpPeer(port: number, host = '127.0.0.1'): Promise<TcpPeer> {
  const socket = connect({ port, host });
  await new Promise<void>((res, rej) => {
    socket.once('connect', () => res());
    socket.once('error', rej);
  });
  return wrapStream(socket);
}

export interface ReqOpts {
  method?: string;
  uri?: string;
  via?: string;
  callId?: string;
  maxForwards?: number | null;
  extra?: string[];
  body?: string;
  /** false: no Content-Length header. */
  contentLength?: boolean;
}

let seq = 1;

/** Request text (CRLF line ends). */
export function request(o: ReqOpts = {}): string {
  const method = o.method ?? 'OPTIONS';
  const body = o.body ?? '';
  const lines = [
    `${method} ${o.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    `Via: ${o.via ?? 'SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-test-1;rport'}`,
    ...(o.maxForwards === null ? [] : [`Max-Forwards: ${o.maxForwards ?? 70}`]),
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>',
    `Call-ID: ${o.callId ?? `call-${seq++}@test`}`,
    `CSeq: 1 ${method}`,
    ...(o.extra ?? []),
    ...(o.contentLength === false ? [] : [`Content-Length: ${Buffer.byteLength(body)}`]),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Response text. */
export function response(o: { status?: number; via?: string; callId?: string; extra?: string[] } = {}): string {
  const lines = [
    `SIP/2.0 ${o.status ?? 200} OK`,
    `Via: ${o.via ?? 'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-resp-1'}`,
    'From: <sip:alice@example.com>;tag=a1',
    'To: <sip:bob@example.com>;tag=b1',
    `Call-ID: ${o.callId ?? 'resp-call@test'}`,
    'CSeq: 1 OPTIONS',
    ...(o.extra ?? []),
    'Content-Length: 0',
  ];
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** First status code in text, or undefined. */
export function statusOf(text: string): number | undefined {
  const m = /^SIP\/2\.0 (\d{3})/.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Header value (first) from message text. */
export function headerOf(text: string, name: string): string | undefined {
  const re = new RegExp(`^${name}[ \\t]*:[ \\t]*(.*)$`, 'im');
  return re.exec(text)?.[1]?.trim();
}
