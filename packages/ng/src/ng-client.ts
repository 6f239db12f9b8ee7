/**
 * The rtpengine ng control protocol client (bencode over UDP, `<cookie> <dict>`), on the
 * npm package rtpengine-client. It adds what the platform needs on top: one client for
 * one rtpengine (host/port given once), results as `NgResult`, failures as `NgError`
 * with a stable code (`timeout`, `error-result` with rtpengine's `error-reason`,
 * `socket`), a round-trip hook for metrics, and a `close()` that settles every pending
 * request. See README.md.
 */
import { isIP } from 'node:net';
import rtpengine from 'rtpengine-client';
import { NgError } from './ng-error.js';

/** An ng reply: `result` is `ok`, `pong`, `error` …; the rest depends on the command. */
export type NgResult = { result: string; [k: string]: unknown };

/** The parameters of an ng command (the dict without `command`). */
export type NgParams = Record<string, unknown>;

export interface NgClientOptions {
  host: string;
  port: number;
  /** Per request, retransmissions included; default 2000 ms. */
  timeoutMs?: number;
  /**
   * The first retransmission of an unanswered request (the same datagram, the same cookie)
   * after this many ms, each next one after twice the wait before it, as long as `timeoutMs`
   * leaves room; 0 = none. Default 0. rtpengine answers a cookie it has seen from its
   * cookie cache, so an offer retransmitted is done once.
   */
  retransmitMs?: number;
  /** Called for each retransmission sent: the ng command. */
  onRetransmit?: (command: string) => void;
  /** Called once per request when it settles: the ng command, its round-trip time, and whether it got a non-error result. */
  onRoundTrip?: (command: string, ms: number, ok: boolean) => void;
}

type Library = InstanceType<typeof rtpengine.Client>;

/** `start recording` → `startRecording`: the method names of rtpengine-client. */
function methodOf(command: string): string {
  return command
    .trim()
    .split(/\s+/)
    .map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1)))
    .join('');
}

function withoutUndefined(params: NgParams): NgParams {
  const out: NgParams = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined && k !== 'command') out[k] = v;
  return out;
}

export class NgClient {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly retransmitMs: number;
  readonly #onRoundTrip: NgClientOptions['onRoundTrip'];
  readonly #onRetransmit: NgClientOptions['onRetransmit'];
  readonly #lib: Library;
  /** the datagram the library sent last (it sends synchronously inside the command call): what a retransmission repeats */
  #lastSent: { msg: Buffer | string; port: number; host: string } | undefined;
  readonly #pending = new Set<() => void>();
  #closed: Promise<void> | undefined;

  constructor(opts: NgClientOptions) {
    if (!isIP(opts.host)) throw new TypeError(`NgClient: host must be an IP address, got '${opts.host}'`);
    if (isIP(opts.host) === 6) throw new TypeError('NgClient: rtpengine-client 0.4 speaks UDP over IPv4 only');
    this.host = opts.host;
    this.port = opts.port;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.retransmitMs = opts.retransmitMs ?? 0;
    if (!Number.isFinite(this.retransmitMs) || this.retransmitMs < 0) throw new TypeError(`NgClient: retransmitMs must be 0 or more, got ${opts.retransmitMs}`);
    this.#onRoundTrip = opts.onRoundTrip;
    this.#onRetransmit = opts.onRetransmit;
    // a loopback rtpengine is asked from loopback: never open a socket on other addresses for it
    const loopback = opts.host.startsWith('127.');
    this.#lib = new rtpengine.Client({ timeout: this.timeoutMs, ...(loopback ? { localAddress: '127.0.0.1' } : {}) });
    // the library emits 'error' for socket errors and malformed replies; without a listener
    // an EventEmitter would throw. Requests still settle (timeout or send error).
    this.#lib.on('error', () => undefined);
    // remember each datagram as the library sends it, to retransmit it unchanged
    const socket = this.#lib.socket;
    const send = socket.send.bind(socket) as (msg: Buffer | string, port: number, host: string, cb?: (err: Error | null) => void) => void;
    (socket as unknown as { send: typeof send }).send = (msg, port, host, cb) => {
      this.#lastSent = { msg, port, host };
      send(msg, port, host, cb);
    };
    // a reply that arrives after its request timed out is expected on UDP: drop it quietly
    // (the library would print it with console.log and emit an error)
    const deliver = this.#lib._onParsedMessage.bind(this.#lib);
    this.#lib._onParsedMessage = (obj) => {
      if (this.#lib.messages.has(obj.id)) deliver(obj);
    };
  }

  /** `ping` → `pong`; rejects with NgError otherwise. */
  async ping(): Promise<void> {
    const r = await this.request('ping');
    if (r.result !== 'pong') throw new NgError('error-result', 'ping', `ng ping answered '${r.result}', not 'pong'`);
  }

  offer(params: NgParams): Promise<NgResult> {
    return this.request('offer', params);
  }

  answer(params: NgParams): Promise<NgResult> {
    return this.request('answer', params);
  }

  delete(params: NgParams): Promise<NgResult> {
    return this.request('delete', params);
  }

  query(params: NgParams): Promise<NgResult> {
    return this.request('query', params);
  }

  list(params: NgParams = {}): Promise<NgResult> {
    return this.request('list', params);
  }

  /**
   * Any ng command rtpengine-client can send (`offer`, `start recording`, `statistics` …).
   * Resolves with the reply unless it is `result: error` (NgError 'error-result').
   */
  request(command: string, params: NgParams = {}): Promise<NgResult> {
    if (this.#closed) return Promise.reject(new NgError('socket', command, `ng '${command}': the client is closed`));
    const method = this.#lib[methodOf(command)];
    if (typeof method !== 'function') {
      return Promise.reject(new TypeError(`NgClient: rtpengine-client 0.4 cannot send the ng command '${command}'`));
    }
    const t0 = performance.now();
    const where = `${this.host}:${this.port}`;
    return new Promise<NgResult>((resolve, reject) => {
      let settled = false;
      let retransmission: NodeJS.Timeout | undefined;
      const settle = (err: NgError | null, value?: NgResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(retransmission);
        this.#pending.delete(abort);
        this.#onRoundTrip?.(command, performance.now() - t0, err === null);
        if (err) reject(err);
        else resolve(value as NgResult);
      };
      const abort = (): void => settle(new NgError('socket', command, `ng '${command}' to ${where}: the client was closed with the request pending`));
      this.#pending.add(abort);
      this.#lastSent = undefined;
      const sent = (method as (port: number, host: string, opts: NgParams) => Promise<Record<string, unknown>>).call(
        this.#lib,
        this.port,
        this.host,
        withoutUndefined(params),
      );
      const datagram = this.#lastSent as { msg: Buffer | string; port: number; host: string } | undefined;
      if (datagram && this.retransmitMs > 0) this.#retransmit(datagram, command, () => settled, (t) => (retransmission = t), t0);
      sent.then(
        (data) => {
          const result = typeof data?.['result'] === 'string' ? (data['result'] as string) : '';
          if (result === 'error' || !result) {
            const reason = typeof data?.['error-reason'] === 'string' ? (data['error-reason'] as string) : undefined;
            settle(
              new NgError('error-result', command, `ng '${command}' to ${where}: ${reason ?? (result ? 'error' : 'reply without result')}`, {
                errorReason: reason ?? '',
              }),
            );
            return;
          }
          settle(null, { ...data, result });
        },
        (err: unknown) => {
          if (err instanceof rtpengine.RtpEngineError && /timeout/.test(err.message)) {
            settle(new NgError('timeout', command, `ng '${command}' to ${where}: no reply within ${this.timeoutMs} ms`, { cause: err }));
          } else {
            const msg = err instanceof Error ? err.message : String(err);
            settle(new NgError('socket', command, `ng '${command}' to ${where}: ${msg}`, { cause: err }));
          }
        },
      );
    });
  }

  /**
   * Sends `datagram` again after `retransmitMs`, then after twice that, … while the request is
   * pending and a retransmission still leaves time for a reply within `timeoutMs` (at least half
   * the first wait).
   */
  #retransmit(datagram: { msg: Buffer | string; port: number; host: string }, command: string, settled: () => boolean, arm: (t: NodeJS.Timeout) => void, t0: number): void {
    let wait = this.retransmitMs;
    let at = wait;
    const next = (): void => {
      if (at + this.retransmitMs / 2 > this.timeoutMs) return;
      arm(setTimeout(() => {
        if (settled() || this.#closed) return;
        this.#onRetransmit?.(command);
        this.#lib.socket.send(datagram.msg, datagram.port, datagram.host, () => undefined);
        wait *= 2;
        at = performance.now() - t0 + wait;
        next();
      }, Math.max(0, at - (performance.now() - t0))));
    };
    next();
  }

  /** Closes the socket; every pending request rejects with NgError 'socket'. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve) => {
      for (const t of this.#lib.timers.values()) clearTimeout(t);
      this.#lib.timers.clear();
      this.#lib.messages.clear();
      for (const abort of [...this.#pending]) abort();
      const sock = this.#lib.socket;
      sock.once('close', () => resolve());
      try {
        this.#lib.close();
      } catch {
        resolve(); // never bound or already closed
      }
    });
    return this.#closed;
  }
}
