/**
 * The SIP transport layer (RFC 3261 §18): UDP, TCP and TLS listeners, the receiving
 * edge (shared sanity check, RFC 3581 received/rport), response routing
 * (§18.2.2), and a TCP/TLS connection pool with reuse, idle and connect timeouts.
 * Satisfies the transaction layer's transport contract: `send(msg, dest)` and
 * `isReliable(transport)`.
 */
import type { RemoteInfo } from 'node:dgram';
import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SipMessage, SipResponse } from '../message/message.js';
import type { Via } from '../message/via.js';
import type { FramerEvent } from '../parser/stream-framer.js';
import type { InspectOptions } from '../sanity/inspect.js';
import { inspect } from '../sanity/inspect.js';
import { Connection } from './connection.js';
import { Edge } from './edge.js';
import type { ConnectionInfo } from './pool.js';
import { ConnectionPool, connectionInfo } from './pool.js';
import { flowKey, normalizeAddress, responseDestination, toRoute } from './routing.js';
import type { TransportStatsSnapshot } from './stats.js';
import { TransportStats } from './stats.js';
import type { StreamListener } from './tcp.js';
import { connectTcp, listenTcp } from './tcp.js';
import { connectTls, listenTls } from './tls.js';
import type { MessageHandler } from './edge.js';
import type { ListenSpec, ListeningAddress, TransportLayerOptions } from './options.js';
import type { Destination } from '../message/transports.js';
import { isReliableTransport } from '../message/transports.js';
import type { Logger } from '../logger.js';
import { stderrLogger } from '../logger.js';
import type { TransportRoute, TransportSource } from './types.js';
import { TransportError } from './types.js';
import { isKeepAlive, isStun, UdpEndpoint } from './udp.js';

export class TransportLayer {
  /** Accepted messages go here (can also be set later). */
  onMessage: MessageHandler | null;
  readonly logger: Logger;
  private readonly counters = new TransportStats();
  private readonly udp: UdpEndpoint[] = [];
  private readonly servers: StreamListener[] = [];
  private readonly pool = new ConnectionPool();
  private readonly edge: Edge;
  private readonly sources = new WeakMap<Connection, TransportSource>();
  private closing = false;
  private readonly o: Required<Pick<TransportLayerOptions, 'connectTimeout' | 'idleTimeoutInbound' | 'idleTimeoutOutbound' | 'maxConnections' | 'maxWriteBuffer' | 'maxMessageSize'>>;

  constructor(private readonly options: TransportLayerOptions = {}) {
    this.onMessage = options.onMessage ?? null;
    this.logger = (options.logger ?? stderrLogger()).child({ component: 'sip-transport' });
    this.o = {
      connectTimeout: options.connectTimeout ?? 10_000,
      idleTimeoutInbound: options.idleTimeoutInbound ?? 3_600_000,
      idleTimeoutOutbound: options.idleTimeoutOutbound ?? 600_000,
      maxConnections: options.maxConnections ?? 10_000,
      maxWriteBuffer: options.maxWriteBuffer ?? 1024 * 1024,
      maxMessageSize: options.maxMessageSize ?? 65535,
    };
    const check: InspectOptions = { maxMessageSize: this.o.maxMessageSize };
    for (const k of ['role', 'schemes', 'supported', 'methods', 'contentTypes'] as const) if (options[k] !== undefined) (check as Record<string, unknown>)[k] = options[k];
    const layer = this;
    this.edge = new Edge({
      stats: this.counters,
      logger: this.logger,
      get onMessage() {
        return layer.onMessage;
      },
      sendReply: (res, source, viaUsable) => (viaUsable ? this.send(res, source) : this.sendTo(res, source)),
      ...(options.viaAlias ? { viaAlias: (source: TransportSource, key: string) => this.alias(source, key) } : {}),
    }, { check, honorMaddr: options.honorMaddr ?? true, forceRport: options.forceRport ?? false, ...(options.sentBy ? { sentBy: options.sentBy } : {}) });
  }

  /** Transaction-layer contract: is `transport` reliable (no retransmissions needed)? */
  isReliable(transport: string): boolean {
    return isReliableTransport(transport);
  }

  /** Open listeners. Port 0 binds a free port. On a failure the ones opened by this call are closed. */
  async listen(specs: readonly ListenSpec[]): Promise<ListeningAddress[]> {
    if (this.closing) throw new TransportError('closed', 'transport layer closed');
    const opened: Array<UdpEndpoint | StreamListener> = [];
    try {
      for (const s of specs) {
        if (s.transport === 'udp') {
          const ep = await UdpEndpoint.bind(s.address, s.port, this.options.udp ?? {}, (d, r, e) => this.onDatagram(d, r, e), this.logger);
          opened.push(ep);
          this.udp.push(ep);
        } else if (s.transport === 'tcp') {
          const l = await listenTcp(s.address, s.port, (sock) => this.onInbound(sock, 'tcp'), this.logger);
          opened.push(l);
          this.servers.push(l);
        } else if (s.transport === 'tls') {
          const tls = s.tls ?? this.options.tls;
          if (!tls) throw new TypeError('TLS listener without tls options');
          const l = await listenTls(s.address, s.port, tls, this.o.connectTimeout, (sock) => this.onInbound(sock, 'tls'), this.logger, () => this.counters.connections.failed++);
          opened.push(l);
          this.servers.push(l);
        } else throw new TypeError(`unsupported transport '${String((s as { transport: unknown }).transport)}'`);
      }
    } catch (e) {
      for (const x of opened) {
        await x.close();
        if (x instanceof UdpEndpoint) this.udp.splice(this.udp.indexOf(x), 1);
        else this.servers.splice(this.servers.indexOf(x), 1);
      }
      throw e;
    }
    return opened.map((x) => ({ transport: x.transport, address: x.address, port: x.port }));
  }

  /** Every bound listener with its real port. */
  listening(): ListeningAddress[] {
    return [...this.udp, ...this.servers].map((x) => ({ transport: x.transport, address: x.address, port: x.port }));
  }

  /**
   * Send a message; rejects with TransportError. A request goes to `dest` (an IP
   * destination, RFC 3263 resolution is the caller's). A response is routed by its top
   * Via (RFC 3261 §18.2.2, RFC 3581 §4) with `dest` as the request's source: over the
   * request's connection while it is open, else to received/maddr/sent-by with the
   * rport; UDP from the socket the request came in on. Without a usable Via a response
   * goes to `dest` as given.
   */
  send(msg: SipMessage, dest?: Destination): Promise<void> {
    return this.guarded(dest, () => {
      if (msg.kind === 'response') return this.routeResponse(msg, dest);
      if (dest === undefined) throw new TransportError('unroutable', 'a request needs a destination');
      return toRoute(dest);
    }, msg);
  }

  /** Send to exactly `dest`, no Via routing (e.g. a reject whose Via is unreadable goes back to the source). */
  sendTo(msg: SipMessage, dest: Destination): Promise<void> {
    return this.guarded(dest, () => toRoute(dest), msg);
  }

  private async guarded(dest: Destination | undefined, route: () => TransportRoute, msg: SipMessage): Promise<void> {
    try {
      if (this.closing) throw new TransportError('closed', 'transport layer closed', dest);
      await this.transmit(msg, route());
    } catch (e) {
      this.counters.sendErrors++;
      throw e;
    }
  }

  private async transmit(msg: SipMessage, d: TransportRoute): Promise<void> {
    if (d.transport !== 'udp' && !msg.has('content-length')) msg.set('content-length', String(msg.body.length));
    const bytes = msg.toBuffer();
    if (d.transport === 'udp') await this.endpointFor(d).send(bytes, d.port, d.address);
    else await (await this.connectionFor(d)).write(bytes);
    this.counters.sent++;
    this.counters.bytesSent += bytes.length;
  }

  /** Send an RFC 5626 §3.5.1 keep-alive ping (CRLFCRLF) on a connection. */
  ping(connectionId: string): Promise<void> {
    const c = this.pool.getById(connectionId);
    if (!c) return Promise.reject(new TransportError('connection-closed', `no open connection ${connectionId}`));
    return c.write('\r\n\r\n');
  }

  /** The listener a message to `dest` leaves from (to build Via sent-by), if any. */
  localFor(dest: Pick<Destination, 'transport' | 'address'>): ListeningAddress | undefined {
    const fam = isIP(normalizeAddress(dest.address)) === 6 ? 6 : 4;
    const all = this.listening();
    const t = dest.transport.toLowerCase();
    return all.find((l) => l.transport === t && (isIP(l.address) === 6 ? 6 : 4) === fam);
  }

  connections(): ConnectionInfo[] {
    return this.pool.all().map(connectionInfo);
  }

  stats(): TransportStatsSnapshot {
    this.counters.connections.open = this.pool.size;
    return this.counters.snapshot(this.udp.map((u) => ({ address: u.address, port: u.port, recvBufferSize: u.recvBufferSize, sendBufferSize: u.sendBufferSize })));
  }

  /** Close listeners, connections and sockets. Sends afterwards fail with TransportError('closed'). */
  async close(): Promise<void> {
    this.closing = true;
    const servers = this.servers.splice(0);
    const udp = this.udp.splice(0);
    for (const c of this.pool.all()) c.close(new TransportError('closed', 'transport layer closed'));
    await Promise.all([...servers.map((s) => s.close()), ...udp.map((u) => u.close())]);
  }

  // ---- internals -------------------------------------------------------------------

  private routeResponse(res: SipResponse, hint: Destination | undefined): TransportRoute {
    let via: Via | undefined;
    try {
      via = res.topVia();
    } catch {
      via = undefined; // unreadable Via: only the hint can route it
    }
    const d = via ? responseDestination(via, hint, { honorMaddr: this.options.honorMaddr ?? true }) : null;
    if (d === null) {
      if (hint) return toRoute(hint);
      throw new TransportError('unroutable', `cannot route a response with Via ${via?.transport ?? '(none)'}`);
    }
    if (d.transport !== 'udp' && (d.connectionId === undefined || !this.pool.getById(d.connectionId))) {
      // the request's flow is registered under its source address:port (hint, or received:rport)
      const keys = [
        hint ? flowKey(d.transport, hint.address, hint.port) : null,
        via && typeof via.rport === 'number' ? flowKey(d.transport, d.address, via.rport) : null,
      ];
      for (const k of keys) {
        const c = k === null ? undefined : this.pool.get(k);
        if (c) {
          d.connectionId = c.id;
          break;
        }
      }
    }
    return d;
  }

  private endpointFor(d: TransportRoute): UdpEndpoint {
    if (d.localAddress !== undefined) {
      const la = normalizeAddress(d.localAddress);
      const ep = this.udp.find((u) => u.address === la && (d.localPort === undefined || u.port === d.localPort));
      if (ep) return ep;
    }
    const fam = isIP(normalizeAddress(d.address)) === 6 ? 6 : 4;
    const ep = this.udp.find((u) => u.family === fam);
    if (!ep) throw new TransportError('no-socket', `no UDP socket for IPv${fam} destination ${d.address}`, d);
    return ep;
  }

  private async connectionFor(d: TransportRoute): Promise<Connection> {
    if (d.connectionId !== undefined) {
      const c = this.pool.getById(d.connectionId);
      if (c && c.transport === d.transport) return c;
    }
    const transport = d.transport === 'tls' ? 'tls' : 'tcp';
    const key = flowKey(transport, d.address, d.port);
    return this.pool.acquire(key, async () => {
      if (this.pool.size + this.pool.pendingConnects >= this.o.maxConnections) {
        throw new TransportError('max-connections', `${this.o.maxConnections} connections open`, d);
      }
      // connect from our SIP address (a listener of the same family), not whatever the routing table picks
      const fam = isIP(d.address) === 6 ? 6 : 4;
      const local = this.localFor(d) ?? this.listening().find((l) => (isIP(l.address) === 6 ? 6 : 4) === fam);
      const localAddress = local && local.address !== '0.0.0.0' && local.address !== '::' ? local.address : undefined;
      const copts = { timeout: this.o.connectTimeout, ...(localAddress ? { localAddress } : {}) };
      let sock: Socket;
      try {
        if (transport === 'tls') {
          sock = await connectTls(d, this.options.tls ?? {}, copts);
        } else sock = await connectTcp(d, copts);
      } catch (e) {
        this.counters.connections.failed++;
        throw e;
      }
      if (this.closing) {
        sock.destroy();
        throw new TransportError('closed', 'transport layer closed', d);
      }
      const c = this.adopt(sock, transport, 'outbound');
      this.pool.alias(c, key, true);
      return c;
    });
  }

  private onDatagram(data: Buffer, rinfo: RemoteInfo, ep: UdpEndpoint): void {
    try {
      this.counters.bytesReceived += data.length;
      const address = normalizeAddress(rinfo.address);
      if (this.options.admit && !this.options.admit(address, 'udp', ep.address, ep.port)) return this.counters.drop('refused');
      if (isKeepAlive(data)) return this.counters.drop('keepalive');
      if (isStun(data)) return this.counters.drop('stun');
      const source: TransportSource = { transport: 'udp', address, port: rinfo.port, localAddress: ep.address, localPort: ep.port };
      this.edge.receive(data, source);
    } catch (e) {
      this.logger.error({ err: e }, 'UDP receive path threw');
      this.counters.drop('internal-error');
    }
  }

  private onInbound(sock: Socket | TLSSocket, transport: 'tcp' | 'tls'): void {
    try {
      if (this.closing || this.pool.size + this.pool.pendingConnects >= this.o.maxConnections) {
        this.counters.drop('max-connections');
        sock.destroy();
        return;
      }
      if (this.options.admit && !this.options.admit(normalizeAddress(sock.remoteAddress ?? ''), transport, normalizeAddress(sock.localAddress ?? ''), sock.localPort ?? 0)) {
        this.counters.drop('refused');
        sock.destroy();
        return;
      }
      this.adopt(sock, transport, 'inbound');
    } catch (e) {
      this.logger.error({ err: e }, 'accepting a connection threw');
      sock.destroy();
    }
  }

  private adopt(sock: Socket, transport: 'tcp' | 'tls', direction: 'inbound' | 'outbound'): Connection {
    const idleTimeout = direction === 'inbound' ? this.o.idleTimeoutInbound : this.o.idleTimeoutOutbound;
    const c = new Connection(sock, transport, direction, { maxMessageSize: this.o.maxMessageSize, idleTimeout, maxWriteBuffer: this.o.maxWriteBuffer }, {
      onFrames: (conn, events) => this.onFrames(conn, events),
      onClose: (conn, err) => this.onClosed(conn, err),
    });
    sock.on('data', (chunk: Buffer) => {
      this.counters.bytesReceived += chunk.length;
    });
    const source: TransportSource = { transport, address: c.remoteAddress, port: c.remotePort, localAddress: c.localAddress, localPort: c.localPort, connectionId: c.id };
    if (c.tlsAuthorized !== undefined) source.tlsAuthorized = c.tlsAuthorized;
    if (c.peerCertificate !== undefined) source.peerCertificate = c.peerCertificate;
    this.sources.set(c, Object.freeze(source));
    this.pool.add(c, flowKey(transport, c.remoteAddress, c.remotePort));
    const s = this.counters.connections;
    s.opened++;
    s[direction]++;
    s.open = this.pool.size;
    return c;
  }

  private onClosed(c: Connection, err: Error | undefined): void {
    this.pool.remove(c);
    const s = this.counters.connections;
    s.closed++;
    s.open = this.pool.size;
    if (this.options.onConnectionClose) {
      try {
        this.options.onConnectionClose(connectionInfo(c), err);
      } catch (e) {
        this.logger.error({ err: e }, 'onConnectionClose threw');
      }
    }
  }

  private onFrames(c: Connection, events: FramerEvent[]): void {
    const source = this.sources.get(c);
    if (!source) return;
    for (const ev of events) {
      try {
        if (this.options.admit && !this.options.admit(source.address, c.transport, source.localAddress, source.localPort)) {
          // the source was banned while connected: its messages go unanswered, the connection closes
          this.counters.drop('refused');
          c.endWith();
          return;
        }
        if (ev.type === 'message') this.edge.receive(ev.bytes, source);
        else if (ev.type === 'ping') {
          this.counters.keepalives.pingsReceived++;
          c.write('\r\n').then(() => this.counters.keepalives.pongsSent++, () => undefined);
        } else if (ev.type === 'pong') this.counters.keepalives.pongsReceived++;
        else {
          // framing error: answer 400/513 when the request is readable, then close
          this.counters.received++;
          const verdict = inspect(ev.bytes, { maxMessageSize: this.o.maxMessageSize, transport: c.transport });
          if (verdict.action === 'reject') {
            this.edge.apply(verdict, source, (bytes) => (bytes ? c.endWith(bytes) : c.endWith()));
          } else {
            this.counters.drop('framing');
            this.logger.debug({ err: ev.error }, 'framing error');
            c.endWith();
          }
          return;
        }
      } catch (e) {
        this.logger.error({ err: e }, 'stream receive path threw');
        this.counters.drop('internal-error');
      }
    }
  }

  private alias(source: TransportSource, key: string): void {
    const c = source.connectionId !== undefined ? this.pool.getById(source.connectionId) : undefined;
    if (!c || (c.transport === 'tls' && c.tlsAuthorized !== true)) return;
    this.pool.alias(c, key);
  }
}
