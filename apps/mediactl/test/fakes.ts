/** Test doubles: an in-memory rtpengine behind NgControl, and a Redis that can go away. */
import pino from 'pino';
import type { NgControl, NgControlFactory, NgParams, NgResult, NgTarget } from '../src/ng-control.js';
import type { PinBackend } from '../src/pin-store.js';

export const silentLogger = pino({ level: 'silent' });

class FakeNgError extends Error {
  constructor(
    readonly code: 'timeout' | 'error-result' | 'socket',
    message: string,
    readonly errorReason?: string,
  ) {
    super(message);
  }
}

/** One fake rtpengine: knows its calls; `alive = false` makes every request time out. */
export class FakeRtpengine implements NgControl {
  alive = true;
  readonly calls = new Map<string, { fromTag: string; toTag?: string }>();
  readonly sent: Array<{ command: string; params: NgParams }> = [];
  closed = false;

  constructor(readonly target: NgTarget) {}

  async ping(): Promise<void> {
    await this.request('ping');
  }

  async request(command: string, params: NgParams = {}): Promise<NgResult> {
    this.sent.push({ command, params });
    if (!this.alive) {
      this.target.onRoundTrip(command, this.target.timeoutMs, false);
      throw new FakeNgError('timeout', `ng '${command}': no reply within ${this.target.timeoutMs} ms`);
    }
    this.target.onRoundTrip(command, 0.1, true);
    const callId = params['call-id'] as string;
    const err = (reason: string): never => {
      throw new FakeNgError('error-result', `ng '${command}': ${reason}`, reason);
    };
    switch (command) {
      case 'ping':
        return { result: 'pong' };
      case 'offer': {
        if (!String(params['sdp']).startsWith('v=0')) err('Failed to parse SDP');
        this.calls.set(callId, { fromTag: params['from-tag'] as string });
        return { result: 'ok', sdp: `v=0\r\nc=IN IP4 ${this.target.host}\r\n` };
      }
      case 'answer': {
        const c = this.calls.get(callId);
        if (!c) return err('Unknown call-id');
        c.toTag = params['to-tag'] as string;
        return { result: 'ok', sdp: `v=0\r\nc=IN IP4 ${this.target.host}\r\n` };
      }
      case 'delete':
        if (!this.calls.delete(callId)) err('Unknown call-id');
        return { result: 'ok' };
      case 'query':
        if (!this.calls.has(callId)) err('Unknown call-id');
        return { result: 'ok', totals: {} };
      case 'list':
        return { result: 'ok', calls: [...this.calls.keys()] };
      default:
        return err(`unknown command ${command}`);
    }
  }

  offer = (p: NgParams): Promise<NgResult> => this.request('offer', p);
  answer = (p: NgParams): Promise<NgResult> => this.request('answer', p);
  delete = (p: NgParams): Promise<NgResult> => this.request('delete', p);
  query = (p: NgParams): Promise<NgResult> => this.request('query', p);
  list = (p: NgParams = {}): Promise<NgResult> => this.request('list', p);

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** A factory that keeps every fake it made, by instance id. */
export function fakeFactory(): { factory: NgControlFactory; engines: Map<string, FakeRtpengine> } {
  const engines = new Map<string, FakeRtpengine>();
  return {
    engines,
    factory: (t) => {
      const e = new FakeRtpengine(t);
      engines.set(t.id, e);
      return e;
    },
  };
}

/** A Redis of strings with TTLs; `ready = false` makes every command fail like a lost connection. */
export class FakeRedis implements PinBackend {
  ready = true;
  readonly data = new Map<string, { value: string; ttlS: number }>();

  async get(key: string): Promise<string | null> {
    this.#check();
    return this.data.get(key)?.value ?? null;
  }

  async set(key: string, value: string, ttlS: number): Promise<void> {
    this.#check();
    this.data.set(key, { value, ttlS });
  }

  async del(key: string): Promise<void> {
    this.#check();
    this.data.delete(key);
  }

  #check(): void {
    if (!this.ready) throw new Error('Connection is closed.');
  }
}
