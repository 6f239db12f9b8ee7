/**
 * Via processing at the transport (RFC 3261 §18.2.1, §18.2.2; RFC 3581 §4) and
 * address helpers shared by the transports.
 */
import { isIP, SocketAddress } from 'node:net';
import type { SipRequest } from '../message/message.js';
import type { Via } from '../message/via.js';
import type { Destination } from '../message/transports.js';
import { defaultPort, isReliableTransport, toTransportName } from '../message/transports.js';
import type { TransportRoute } from './types.js';
import { TransportError } from './types.js';

/** An IP address without brackets, IPv6 in canonical (compressed, lower-case) form. */
export function normalizeAddress(address: string): string {
  const a = address.charCodeAt(0) === 0x5b && address.endsWith(']') ? address.slice(1, -1) : address;
  if (isIP(a) === 6) {
    try {
      return new SocketAddress({ address: a, family: 'ipv6' }).address;
    } catch {
      return a.toLowerCase();
    }
  }
  return isIP(a) === 4 ? a : a.toLowerCase();
}

/** Same host? IPs compare canonically, names case-insensitively. */
export function sameAddress(a: string, b: string): boolean {
  return normalizeAddress(a) === normalizeAddress(b);
}

/** "host:port" with IPv6 in brackets. */
export function hostPort(address: string, port: number): string {
  const a = normalizeAddress(address);
  return isIP(a) === 6 ? `[${a}]:${port}` : `${a}:${port}`;
}

/** Pool key of a flow. */
export function flowKey(transport: string, address: string, port: number): string {
  return `${transport.toLowerCase()}:${hostPort(address, port)}`;
}

/**
 * RFC 3261 §18.2.1 + RFC 3581 §4 on a received request: add `received=<source ip>`
 * when the top Via's sent-by host is not the source address (or a received is already
 * there, so a forged one is overwritten); fill an empty `rport` with the source port
 * (and add received then too); with `forceRport`, act as if rport was asked for.
 * Returns whether the Via changed.
 */
export function stampVia(req: SipRequest, source: { address: string; port: number }, forceRport = false): boolean {
  const via = req.topVia();
  if (via === undefined) return false;
  const src = normalizeAddress(source.address);
  let changed = false;
  if (via.rport === null || (forceRport && via.rport === undefined)) {
    via.setParam('rport', String(source.port));
    changed = true;
  }
  if (changed || via.received !== undefined || !sameAddress(via.host, src)) {
    if (via.received !== src) {
      via.setParam('received', src);
      changed = true;
    }
  }
  if (changed) req.setTopVia(via);
  return changed;
}

export interface ResponseRouteOptions {
  /** Send to a Via maddr (RFC 3261 §18.2.2). Default true. */
  honorMaddr?: boolean;
}

/**
 * Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4), from the top Via of the
 * response and, when known, the source of the request (`source`, e.g. the TransportSource
 * given to onMessage): reliable transports use the request's connection
 * (`connectionId`), falling back to received (or the sent-by host) and the sent-by
 * port; unreliable ones go to maddr, else to received (or the sent-by host) with the
 * port from rport when present, else the sent-by port. UDP responses leave from the
 * socket the request arrived on (`localAddress/localPort`). Null when the transport
 * is not one of udp/tcp/tls.
 */
export function responseDestination(via: Via, source?: Destination, opts: ResponseRouteOptions = {}): TransportRoute | null {
  const transport = toTransportName(source?.transport ?? via.transport);
  if (transport === null) return null;
  const sentByPort = via.port ?? defaultPort(transport);
  const received = via.received ?? (source ? normalizeAddress(source.address) : undefined);
  const dest: TransportRoute = { transport, address: normalizeAddress(received ?? via.host), port: sentByPort };
  if (isReliableTransport(transport)) {
    if (source?.connectionId !== undefined) dest.connectionId = String(source.connectionId);
    return dest;
  }
  const maddr = via.param('maddr');
  if ((opts.honorMaddr ?? true) && typeof maddr === 'string') {
    dest.address = normalizeAddress(maddr);
  } else {
    const rport = via.rport;
    if (typeof rport === 'number' && Number.isInteger(rport) && rport > 0) dest.port = rport;
    else if (rport === null && source) dest.port = source.port;
  }
  if (source?.localAddress !== undefined) dest.localAddress = source.localAddress;
  if (source?.localPort !== undefined) dest.localPort = source.localPort;
  return dest;
}

/** Validate and normalise a Destination (throws TransportError). */
export function toRoute(d: Destination): TransportRoute {
  const transport = toTransportName(String(d.transport));
  if (transport === null) throw new TransportError('unsupported-transport', `transport '${String(d.transport)}' not supported`, d);
  if (!Number.isInteger(d.port) || d.port <= 0 || d.port > 65535) throw new TransportError('send-failed', `invalid port ${String(d.port)}`, d);
  const r: TransportRoute = { transport, address: normalizeAddress(String(d.address)), port: d.port };
  if (d.connectionId !== undefined) r.connectionId = String(d.connectionId);
  if (d.localAddress !== undefined) r.localAddress = d.localAddress;
  if (d.localPort !== undefined) r.localPort = d.localPort;
  if (d.servername !== undefined) r.servername = d.servername;
  return r;
}
