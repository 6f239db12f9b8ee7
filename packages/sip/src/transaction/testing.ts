/**
 * Test doubles for the transaction layer and the layers above it: a fake clock
 * implementing TimerScheduler, and a transport that records what is sent and can be
 * told to fail. No sockets, no real time.
 */
import { createResponse } from '../message/builders.js';
import type { SipMessage, SipRequest, SipResponse } from '../message/message.js';
import { parseMessage } from '../parser/parse.js';
import type { TimerHandle, TimerScheduler } from './timers.js';
import type { Destination } from '../message/transports.js';
import { isReliableTransport } from '../message/transports.js';
import type { Effect, TransactionTransport } from './types.js';

interface FakeTimer {
  at: number;
  id: number;
  fn: (arg: never) => void;
  arg: unknown;
}

/** A manual clock: timers fire only inside `advance()` / `runAll()`, in time order. */
export class FakeClock implements TimerScheduler {
  private t = 0;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  now(): number {
    return this.t;
  }

  setTimer<T>(ms: number, fn: (arg: T) => void, arg: T): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, ms), id, fn: fn as (arg: never) => void, arg });
    return id;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as number);
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, firing every timer that falls due (also ones set while firing). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.earliest();
      if (due === undefined || due.at > end) break;
      this.timers.delete(due.id);
      this.t = due.at;
      (due.fn as (arg: unknown) => void)(due.arg);
    }
    this.t = end;
  }

  /** Fire timers until none is left (or `limit` have fired); returns how many fired. */
  runAll(limit = 10_000): number {
    let n = 0;
    for (let due = this.earliest(); due !== undefined && n < limit; due = this.earliest(), n++) {
      this.timers.delete(due.id);
      this.t = due.at;
      (due.fn as (arg: unknown) => void)(due.arg);
    }
    return n;
  }

  private earliest(): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers.values()) if (best === undefined || t.at < best.at || (t.at === best.at && t.id < best.id)) best = t;
    return best;
  }
}

export interface SentMessage {
  message: SipMessage;
  dest: Destination;
  /** FakeClock/Date time of the send, when a clock was given. */
  at: number;
}

/** A transport that records sends. Set `failWith` to make sends throw ('sync') or reject ('async'). */
export class RecordingTransport implements TransactionTransport {
  readonly sent: SentMessage[] = [];
  failWith: { mode: 'sync' | 'async'; error: unknown } | null = null;

  constructor(private readonly clock?: { now(): number }) {}

  send(message: SipMessage, dest: Destination): void | Promise<void> {
    this.sent.push({ message, dest, at: this.clock?.now() ?? 0 });
    const f = this.failWith;
    if (f === null) return;
    if (f.mode === 'sync') throw f.error;
    return Promise.reject(f.error);
  }

  isReliable(transport: string): boolean {
    return isReliableTransport(transport);
  }

  /** Start lines of what was sent ("INVITE sip:bob@b.example SIP/2.0", "SIP/2.0 100 Trying" …). */
  lines(): string[] {
    return this.sent.map((s) => s.message.startLine());
  }

  clear(): void {
    this.sent.length = 0;
  }
}

/** Parse a message written with \n line ends (test fixtures). */
export function parseText(text: string): SipMessage {
  const normalized = text.replace(/\r?\n/g, '\r\n');
  return parseMessage(Buffer.from(normalized.includes('\r\n\r\n') ? normalized : `${normalized.replace(/(\r\n)+$/, '')}\r\n\r\n`));
}

/**
 * Effects as short strings for table-driven tests: "send INVITE", "send 486 retx",
 * "start A 500", "stop B", "pass 180", "pass ACK", "timeout B", "transport-error", "terminate".
 */
export function summarize(effects: readonly Effect[]): string[] {
  return effects.map((e) => {
    switch (e.type) {
      case 'send': {
        const m = e.message;
        return `send ${m.kind === 'request' ? m.method : m.status}${e.retransmission ? ' retx' : ''}`;
      }
      case 'startTimer':
        return `start ${e.timer} ${e.ms}`;
      case 'stopTimer':
        return `stop ${e.timer}`;
      case 'passResponse':
        return `pass ${e.response.status}`;
      case 'passRequest':
        return `pass ${e.request.method}`;
      case 'timeout':
        return `timeout ${e.timer}`;
      case 'transportError':
        return 'transport-error';
      case 'terminate':
        return 'terminate';
    }
  });
}

export interface SampleRequestOptions {
  uri?: string;
  /** Top Via branch; null for none. Default z9hG4bK776asdhds. */
  branch?: string | null;
  /** Top Via transport. Default UDP. */
  transport?: string;
  /** Top Via sent-by. Default pc33.atlanta.example.com. */
  sentBy?: string;
  /** A second (lower) Via, as a proxy would leave it. */
  secondVia?: string;
  fromTag?: string;
  toTag?: string;
  callId?: string;
  cseq?: number;
  /** CSeq method, when it should differ from the method (ACK/CANCEL tests). */
  cseqMethod?: string;
  route?: string[];
}

/** A parsed request in the style of the RFC 3665 examples, for tests. */
export function sampleRequest(method: string, o: SampleRequestOptions = {}): SipRequest {
  const branch = o.branch === undefined ? 'z9hG4bK776asdhds' : o.branch;
  const lines = [
    `${method} ${o.uri ?? 'sip:bob@biloxi.example.com'} SIP/2.0`,
    `Via: SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? 'pc33.atlanta.example.com'}${branch === null ? '' : `;branch=${branch}`}`,
  ];
  if (o.secondVia !== undefined) lines.push(`Via: ${o.secondVia}`);
  lines.push('Max-Forwards: 70');
  for (const r of o.route ?? []) lines.push(`Route: ${r}`);
  lines.push(
    `To: Bob <sip:bob@biloxi.example.com>${o.toTag === undefined ? '' : `;tag=${o.toTag}`}`,
    `From: Alice <sip:alice@atlanta.example.com>;tag=${o.fromTag ?? '1928301774'}`,
    `Call-ID: ${o.callId ?? 'a84b4c76e66710@pc33.atlanta.example.com'}`,
    `CSeq: ${o.cseq ?? 314159} ${o.cseqMethod ?? method}`,
    'Contact: <sip:alice@pc33.atlanta.example.com>',
    'Content-Length: 0',
  );
  return parseText(lines.join('\n')) as SipRequest;
}

/** A response to `req` as received from the network (built, serialized, parsed). */
export function sampleResponse(req: SipRequest, status: number, toTag?: string): SipResponse {
  const built = createResponse(req, status, toTag === undefined ? {} : { toTag });
  return parseText(built.toString()) as SipResponse;
}
