/** The part of rtpengine-client@0.4 (CommonJS, no types of its own) that @ngcp/ng uses. */
declare module 'rtpengine-client' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:dgram';

  type Reply = Record<string, unknown>;
  type Callback = (err: unknown, data?: Reply) => void;

  class Client extends EventEmitter {
    constructor(opts: { localPort?: number; localAddress?: string; timeout?: number; rejectOnError?: boolean });
    socket: Socket;
    /** pending requests by cookie (internal) */
    messages: Map<string, Callback>;
    /** per-request timers by cookie (internal) */
    timers: Map<string, NodeJS.Timeout>;
    _onParsedMessage(obj: { id: string; data: Reply }): void;
    ping(port: number, host: string): Promise<Reply>;
    offer(port: number, host: string, opts: Reply): Promise<Reply>;
    answer(port: number, host: string, opts: Reply): Promise<Reply>;
    delete(port: number, host: string, opts: Reply): Promise<Reply>;
    query(port: number, host: string, opts: Reply): Promise<Reply>;
    list(port: number, host: string, opts: Reply): Promise<Reply>;
    close(): void;
    [method: string]: unknown;
  }
  class RtpEngineError extends Error {}
  const rtpengine: { Client: typeof Client; RtpEngineError: typeof RtpEngineError };
  export default rtpengine;
}
