/**
 * The receiving edge: every datagram and every framed stream message goes through
 * the shared sanity check (`inspect` = parseMessage + check, the same code path as
 * the load balancer and `ngcp sip-lint`), then is accepted (Via stamped, handed to
 * onMessage), rejected (a stateless error response; never to an ACK) or dropped and
 * counted. Nothing in here throws for untrusted input.
 */
import { createResponse } from '../message/builders.js';
import { SipParseError } from '../message/errors.js';
import { newTag } from '../message/ids.js';
import type { SipMessage, SipRequest, SipResponse } from '../message/message.js';
import type { InspectOptions, Verdict } from '../sanity/inspect.js';
import { inspect } from '../sanity/inspect.js';
import { flowKey, stampVia } from './routing.js';
import type { DropReason, TransportStats } from './stats.js';
import { defaultPort } from '../message/transports.js';
import type { Logger } from '../logger.js';
import type { TransportSource } from './types.js';

export type MessageHandler = (msg: SipMessage, source: TransportSource) => void | Promise<void>;

export interface EdgeOptions {
  check: InspectOptions;
  /** When set: responses whose top Via sent-by ("host:port", port defaulted) is not listed are dropped (RFC 3261 §18.1.2). */
  sentBy?: readonly string[];
  honorMaddr: boolean;
  forceRport?: boolean;
}

export interface EdgeHost {
  readonly stats: TransportStats;
  readonly logger: Logger;
  readonly onMessage: MessageHandler | null;
  /** Send a stateless reject back: routed by its Via with `source` as the request's source, or (Via unusable) to `source` itself. */
  sendReply(res: SipResponse, source: TransportSource, viaUsable: boolean): Promise<void>;
  /** RFC 5923: the request's top Via carries `alias`; the layer decides whether to alias the connection. */
  viaAlias?(source: TransportSource, key: string): void;
}

export class Edge {
  private readonly sentBy: Set<string> | null;
  /** the check options per transport, built once (not one object spread per message) */
  private readonly checkFor = new Map<string, InspectOptions>();

  constructor(private readonly host: EdgeHost, private readonly opts: EdgeOptions) {
    this.sentBy = opts.sentBy ? new Set(opts.sentBy.map((s) => s.toLowerCase())) : null;
  }

  private checkOptions(transport: TransportSource['transport']): InspectOptions {
    let o = this.checkFor.get(transport);
    if (!o) {
      o = { ...this.opts.check, transport, framed: transport !== 'udp' };
      this.checkFor.set(transport, o);
    }
    return o;
  }

  /** One received datagram or framed message. */
  receive(bytes: Buffer, source: TransportSource): void {
    const { stats, logger } = this.host;
    stats.received++;
    let verdict: Verdict;
    try {
      verdict = inspect(bytes, this.checkOptions(source.transport));
    } catch (e) {
      // inspect throws only on programmer errors: surface them, keep running
      logger.error({ err: e }, 'edge check threw');
      stats.drop('internal-error');
      return;
    }
    this.apply(verdict, source, null);
  }

  /**
   * Apply a verdict. `onReply` (streams after a framing error) gets the response bytes
   * instead of the normal send, or null when there is nothing to send.
   */
  apply(verdict: Verdict, source: TransportSource, onReply: ((bytes: Buffer | null) => void) | null): void {
    const { stats, logger } = this.host;
    try {
      if (verdict.action === 'accept') {
        onReply?.(null);
        this.accept(verdict.message, source);
        return;
      }
      if (verdict.action === 'reject') {
        const m = verdict.message;
        if (m === null || m.kind !== 'request') return this.drop(m === null ? 'unparseable' : 'malformed-response', verdict.reason, onReply);
        if (m.method === 'ACK') return this.drop('ack-rejected', verdict.reason, onReply);
        this.reject(m, verdict.status, verdict.responseHeaders, source, verdict.reason, onReply);
        return;
      }
      const reason: DropReason = verdict.message === null ? 'unparseable' : verdict.message.kind === 'response' ? 'malformed-response' : 'unanswerable';
      this.drop(reason, verdict.reason, onReply);
    } catch (e) {
      logger.error({ err: e }, 'edge processing threw');
      stats.drop('internal-error');
      onReply?.(null);
    }
  }

  private drop(reason: DropReason, detail: string, onReply: ((b: Buffer | null) => void) | null): void {
    this.host.stats.drop(reason);
    this.host.logger.debug({ reason, detail }, 'dropped');
    onReply?.(null);
  }

  private accept(msg: SipMessage, source: TransportSource): void {
    const { stats } = this.host;
    if (msg.kind === 'request') {
      stampVia(msg, source, this.opts.forceRport === true);
      if (this.host.viaAlias && source.connectionId !== undefined) {
        const via = msg.topVia();
        if (via && via.param('alias') !== undefined) {
          this.host.viaAlias(source, flowKey(source.transport, via.received ?? via.host, via.port ?? defaultPort(source.transport)));
        }
      }
    } else if (this.sentBy !== null) {
      const via = msg.topVia();
      if (via === undefined || !this.sentBy.has(via.sentBy)) return this.drop('via-mismatch', `response Via ${via?.sentBy ?? '-'} is not ours`, null);
    }
    const handler = this.host.onMessage;
    if (handler === null) return this.drop('no-handler', 'no onMessage handler', null);
    stats.accepted++;
    try {
      const r = handler(msg, source);
      if (r !== undefined && typeof (r as Promise<void>).then === 'function') (r as Promise<void>).then(undefined, (e: unknown) => this.handlerError(e));
    } catch (e) {
      this.handlerError(e);
    }
  }

  private handlerError(e: unknown): void {
    this.host.stats.handlerErrors++;
    this.host.logger.error({ err: e }, 'onMessage handler threw');
  }

  private reject(
    req: SipRequest,
    status: number,
    headers: Array<[string, string]>,
    source: TransportSource,
    detail: string,
    onReply: ((b: Buffer | null) => void) | null,
  ): void {
    const { stats, logger } = this.host;
    let viaUsable = true;
    try {
      stampVia(req, source, this.opts.forceRport === true);
      viaUsable = req.topVia() !== undefined;
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      viaUsable = false; // unreadable Via: echo it as text, answer to the source address
    }
    const res = createResponse(req, status, { headers, toTag: newTag() });
    stats.reject(status);
    logger.debug({ status, detail, from: `${source.address}:${source.port}` }, 'rejected');
    if (onReply) {
      onReply(res.toBuffer());
      stats.sent++;
      return;
    }
    this.host.sendReply(res, source, viaUsable).catch((e: unknown) => {
      logger.debug({ err: e }, 'could not send a stateless reject');
    });
  }
}
