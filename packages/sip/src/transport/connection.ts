/**
 * One TCP or TLS connection: stream framing (RFC 3261 §18.3, RFC 5626 keep-alives),
 * idle timeout, bounded write buffer, and pending writes failed with a typed error
 * when the connection goes away.
 */
import type { Socket } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { FramerEvent } from '../parser/stream-framer.js';
import { StreamFramer } from '../parser/stream-framer.js';
import { normalizeAddress } from './routing.js';
import { TransportError } from './types.js';

export interface ConnectionOptions {
  maxMessageSize: number;
  /** Close after this long without traffic either way, ms (0: never). */
  idleTimeout: number;
  /** Refuse writes while more than this many bytes wait in the socket's buffer. */
  maxWriteBuffer: number;
}

export interface ConnectionHandlers {
  onFrames(conn: Connection, events: FramerEvent[]): void;
  onClose(conn: Connection, error: Error | undefined): void;
}

let nextId = 1;

export class Connection {
  readonly id: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Pool keys this connection is registered under (its flow and aliases). */
  readonly keys = new Set<string>();
  readonly createdAt = Date.now();
  tlsAuthorized?: boolean;
  peerCertificate?: PeerCertificate;
  private readonly framer: StreamFramer;
  private readonly pending = new Set<(e: Error) => void>();
  private error: Error | undefined;
  private _closed = false;
  private framerStopped = false;
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket | TLSSocket,
    readonly transport: 'tcp' | 'tls',
    readonly direction: 'inbound' | 'outbound',
    private readonly opts: ConnectionOptions,
    private readonly handlers: ConnectionHandlers,
  ) {
    this.id = `${transport}-${nextId++}`;
    this.remoteAddress = normalizeAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = normalizeAddress(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
    this.framer = new StreamFramer({ maxMessageSize: opts.maxMessageSize });
    if (transport === 'tls') {
      const t = socket as TLSSocket;
      this.tlsAuthorized = t.authorized;
      const cert = t.getPeerCertificate?.();
      if (cert && Object.keys(cert).length > 0) this.peerCertificate = cert;
    }
    socket.setNoDelay(true);
    if (opts.idleTimeout > 0) {
      socket.setTimeout(opts.idleTimeout);
      socket.on('timeout', () => this.close(new TransportError('connection-closed', `idle for ${opts.idleTimeout} ms`)));
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.error ??= err;
    });
    // a half-close by the peer ends our side too (allowHalfOpen is false), then 'close'
    socket.on('close', () => this.finish());
  }

  get closed(): boolean {
    return this._closed;
  }

  /** Bytes waiting in the socket's write buffer. */
  get writeBacklog(): number {
    return this.socket.writableLength;
  }

  private onData(chunk: Buffer): void {
    if (!this.reading) return;
    const events = this.framer.push(chunk);
    if (events.length > 0) this.handlers.onFrames(this, events);
  }

  /** Bytes read so far but not yet framed (for statistics and tests). */
  get unframed(): number {
    return this.framer.pending;
  }

  write(data: Buffer | string): Promise<void> {
    if (this._closed || this.socket.destroyed) {
      return Promise.reject(new TransportError('connection-closed', `connection ${this.id} is closed`));
    }
    if (this.socket.writableLength > this.opts.maxWriteBuffer) {
      return Promise.reject(new TransportError('buffer-full', `connection ${this.id}: ${this.socket.writableLength} bytes not yet written`));
    }
    return new Promise((resolve, reject) => {
      let done = false;
      const fail = (e: Error): void => {
        if (done) return;
        done = true;
        this.pending.delete(fail);
        reject(e instanceof TransportError ? e : new TransportError('connection-closed', `write on ${this.id} failed: ${e.message}`, undefined, { cause: e }));
      };
      this.pending.add(fail);
      try {
        this.socket.write(data, (err) => {
          if (err) return fail(err);
          if (done) return;
          done = true;
          this.pending.delete(fail);
          resolve();
        });
      } catch (e) {
        fail(e as Error);
      }
    });
  }

  /** Write `data` (if any), then close gracefully (e.g. after a 400 for a framing error). */
  endWith(data?: Buffer): void {
    if (this._closed) return;
    this.framerStopped = true;
    if (data) this.socket.end(data);
    else this.socket.end();
    // do not wait forever for the peer to read
    this.lingerTimer ??= setTimeout(() => this.close(), 2000);
    this.lingerTimer.unref();
  }

  /** Whether the connection still reads messages (false after a framing error). */
  get reading(): boolean {
    return !this.framerStopped && !this._closed;
  }

  close(error?: Error): void {
    if (error) this.error ??= error;
    if (!this.socket.destroyed) this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this._closed) return;
    this._closed = true;
    if (this.lingerTimer) clearTimeout(this.lingerTimer);
    const err = new TransportError('connection-closed', `connection ${this.id} closed${this.error ? `: ${this.error.message}` : ''}`, undefined, { cause: this.error });
    for (const fail of [...this.pending]) fail(err);
    this.pending.clear();
    this.handlers.onClose(this, this.error);
  }
}
