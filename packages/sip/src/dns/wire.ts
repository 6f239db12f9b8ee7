/**
 * One DNS request/response exchange with one server, over UDP or TCP
 * (RFC 1035 §4.2). Pure I/O: retries, server rotation and RCODE handling live
 * in dns-client.ts.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket } from 'dns-packet';
import { DnsError } from './dns-error.js';
import { formatServer } from './resolv-conf.js';
import type { DnsServer } from './resolv-conf.js';

export interface Exchange {
  server: DnsServer;
  /** Encoded query message (no TCP length prefix). */
  query: Buffer;
  id: number;
  question: { name: string; type: string };
  timeoutMs: number;
}

export interface ExchangeHandle {
  promise: Promise<DecodedPacket>;
  /** Abort: the promise rejects with CANCELLED and the socket is closed. */
  cancel(): void;
}

const sameName = (a: string, b: string): boolean =>
  a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();

const stripZone = (a: string): string => a.replace(/%.*$/, '').toLowerCase();

/**
 * RFC 5452 §9.1: accept a response only if ID, question name, type and class
 * match the query (and, for UDP, it came from the address queried).
 */
function matches(p: DecodedPacket, x: Exchange): boolean {
  const q = p.questions?.[0];
  return (
    p.id === x.id &&
    p.flag_qr &&
    p.questions?.length === 1 &&
    q !== undefined &&
    sameName(q.name, x.question.name) &&
    q.type === x.question.type &&
    (q.class ?? 'IN') === 'IN'
  );
}

function decode(buf: Buffer, x: Exchange): DecodedPacket {
  try {
    return dnsPacket.decode(buf);
  } catch (e) {
    throw new DnsError('MALFORMED', `undecodable DNS response: ${(e as Error).message}`, x.question, formatServer(x.server), {
      cause: e,
    });
  }
}

/** Shared settle-once plumbing for both transports. */
function settle(x: Exchange, close: () => void) {
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  let resolveP!: (p: DecodedPacket) => void;
  let rejectP!: (e: DnsError) => void;
  const promise = new Promise<DecodedPacket>((res, rej) => {
    resolveP = res;
    rejectP = rej;
  });
  const finish = (err: DnsError | null, pkt?: DecodedPacket): void => {
    if (done) return;
    done = true;
    if (timer) clearTimeout(timer);
    close();
    if (err) rejectP(err);
    else resolveP(pkt as DecodedPacket);
  };
  const fail = (code: DnsError['code'], msg: string, cause?: unknown): void =>
    finish(new DnsError(code, msg, x.question, formatServer(x.server), { cause }));
  timer = setTimeout(() => fail('TIMEOUT', `no response from ${formatServer(x.server)} within ${x.timeoutMs} ms`), x.timeoutMs);
  return { promise, finish, fail };
}

export function udpExchange(x: Exchange): ExchangeHandle {
  const sock = dgram.createSocket(x.server.family === 6 ? 'udp6' : 'udp4');
  const s = settle(x, () => sock.close());
  sock.on('error', (e) => s.fail('NETWORK', `UDP error: ${e.message}`, e));
  sock.on('message', (msg, rinfo) => {
    // Ignore anything not from the server we asked, or too short to carry an ID:
    // a stray or spoofed datagram must not end the exchange.
    if (stripZone(rinfo.address) !== stripZone(x.server.host) || rinfo.port !== x.server.port) return;
    if (msg.length < 12 || msg.readUInt16BE(0) !== x.id) return;
    let pkt: DecodedPacket;
    try {
      pkt = decode(msg, x);
    } catch (e) {
      s.finish(e as DnsError);
      return;
    }
    if (matches(pkt, x)) s.finish(null, pkt);
  });
  sock.send(x.query, x.server.port, x.server.host, (err) => {
    if (err) s.fail('NETWORK', `UDP send failed: ${err.message}`, err);
  });
  return { promise: s.promise, cancel: () => s.fail('CANCELLED', 'DNS client closed') };
}

export function tcpExchange(x: Exchange): ExchangeHandle {
  const sock = net.connect({ host: x.server.host, port: x.server.port });
  const s = settle(x, () => sock.destroy());
  let buf = Buffer.alloc(0);
  sock.setNoDelay(true);
  sock.on('connect', () => {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(x.query.length);
    sock.write(Buffer.concat([len, x.query]));
  });
  sock.on('data', (chunk: Buffer) => {
    buf = Buffer.concat([buf, chunk]);
    if (buf.length < 2) return;
    const len = buf.readUInt16BE(0);
    if (buf.length < 2 + len) return;
    let pkt: DecodedPacket;
    try {
      pkt = decode(buf.subarray(2, 2 + len), x);
    } catch (e) {
      s.finish(e as DnsError);
      return;
    }
    // Over TCP the connection is ours: a mismatching answer is a broken server.
    if (matches(pkt, x)) s.finish(null, pkt);
    else s.fail('MALFORMED', 'TCP response does not match the query');
  });
  sock.on('error', (e) => s.fail('NETWORK', `TCP error: ${e.message}`, e));
  sock.on('close', () => s.fail('NETWORK', 'TCP connection closed before a response'));
  return { promise: s.promise, cancel: () => s.fail('CANCELLED', 'DNS client closed') };
}
