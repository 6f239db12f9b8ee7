/** What the request handlers share: config, stores, SIP stack and the answer helpers. */
import type { Logger } from 'pino';
import type { Destination, ServerTransaction, SipRequest, SipResponse, SipStack } from '@ngcp/sip';
import { createResponse, newTag, parseMessage } from '@ngcp/sip';
import type { Authenticator } from './auth.js';
import type { CallFeatures } from './features/call-features.js';
import type { StarCodes } from './features/vsc-apply.js';
import type { ProxyConfig } from './config.js';
import type { MediaControl } from './media/media-control.js';
import type { Peering } from './peering/peering.js';
import type { ProxyMetrics } from './metrics.js';
import type { AccountingWriter } from './store/accounting.js';
import type { CallStore } from './store/call-store.js';
import type { SubscriberDirectory } from './store/directory.js';
import type { LocationStore } from './store/location-store.js';

export interface ProxyContext {
  config: ProxyConfig;
  logger: Logger;
  sip: SipStack;
  /** our listener: Via sent-by, Record-Route, own Route entries (`ports`: every worker's, docs/workers.md) */
  self: { address: string; port: number; ports?: readonly number[] };
  dir: SubscriberDirectory;
  auth: Authenticator;
  location: LocationStore;
  calls: CallStore;
  acc: AccountingWriter;
  /** null when media relaying is off (`media: false`) */
  media: MediaControl | null;
  metrics: ProxyMetrics;
  /** outbound LCR and peer recognition (peering/); absent in a context built without it */
  peering?: Peering;
  /** number handling and call restrictions (features/): rewrite rules, NCOS, block lists, CLIR, limits */
  features: CallFeatures;
  /** the B2BUA initial INVITEs go through (docs/sbc.md); null/absent: none */
  sbc?: { dest: Destination; profile: string } | null;
  /** the app-server's SIP address (announcements, docs/routing.md); null/absent: none */
  appserver?: Destination | null;
  /** star codes (features/vsc-apply.ts); null/absent: `vsc.enable` false */
  vsc?: StarCodes | null;
  /** voicemail (features/voicemail.ts): the number subscribers dial for their box; null/absent: `voicemail.enable` false or no app-server */
  voicemail?: { number: string } | null;
}

/** Send a response through the server transaction, counting finals by method and status. */
export function respond(ctx: ProxyContext, tx: ServerTransaction, method: string, res: SipResponse): boolean {
  const sent = tx.respond(res);
  if (sent && res.status >= 200) ctx.metrics.responses.inc({ method, status: String(res.status) });
  return sent;
}

/** Answer a request ourselves (a To-tag is added to finals other than 100). */
export function reply(ctx: ProxyContext, tx: ServerTransaction, req: SipRequest, status: number, opts: { reason?: string; headers?: Array<[string, string]> } = {}): boolean {
  const res = createResponse(req, status, { ...(status > 100 ? { toTag: newTag() } : {}), ...opts });
  return respond(ctx, tx, req.method, res);
}

/** An independent copy of a request to forward (one per branch). */
export function copyRequest(req: SipRequest): SipRequest {
  return parseMessage(req.toBuffer()) as SipRequest;
}

/** The Via value we push on a request we forward (§16.6 step 8). */
export function ourVia(ctx: ProxyContext, branch: string): string {
  return `SIP/2.0/UDP ${ctx.self.address}:${ctx.self.port};branch=${branch}`;
}

/** Our Record-Route entry (docs/calls.md: `<sip:127.0.0.2:5062;lr>`). */
export function ourRecordRoute(ctx: ProxyContext): string {
  return `<sip:${ctx.self.address}:${ctx.self.port};lr>`;
}

/** Decrement Max-Forwards (§16.6 step 3); 70 when absent. */
export function decrementMaxForwards(req: SipRequest): void {
  const mf = req.maxForwards();
  req.set('Max-Forwards', String(mf === undefined ? 70 : Math.max(0, mf - 1)));
}

export function hasSdp(msg: SipRequest | SipResponse): boolean {
  if (msg.body.length === 0) return false;
  const ct = msg.get('content-type');
  return ct === undefined || ct.toLowerCase().startsWith('application/sdp');
}

/** The logging calls the request handlers make (a pino Logger has them). */
export interface Log {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * A child logger made only when a line is written at an enabled level: pino's `child()`
 * serializes its bindings (through the redaction) at once, which per INVITE and per BYE cost
 * more than the lines, nearly always none, that the handler logs.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Log {
  let child: Logger | undefined;
  const at = (level: 'debug' | 'info' | 'warn' | 'error') => (obj: object, msg?: string): void => {
    if (!parent.isLevelEnabled(level)) return;
    child ??= parent.child(bindings);
    child[level](obj, msg);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Seconds since the epoch. */
export const nowS = (): number => Math.floor(Date.now() / 1000);

/** The client's own address: the `received` the lb forced on the client's Via (the second one here, docs/calls.md), else its host, else the packet's source. */
export function clientAddress(req: SipRequest, source: { address: string }): string {
  const v = req.vias()[1];
  return v?.received ?? v?.host ?? source.address;
}
