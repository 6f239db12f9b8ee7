/**
 * What mediactl needs of an ng client: the surface of `@ngcp/ng`'s `NgClient`, so the
 * controller's logic runs against a fake in unit tests and against the real client (one per
 * rtpengine) in the daemon.
 */
import { NgClient, type NgParams, type NgResult } from '@ngcp/ng';

export type { NgParams, NgResult };

export interface NgControl {
  ping(): Promise<void>;
  request(command: string, params?: NgParams): Promise<NgResult>;
  offer(params: NgParams): Promise<NgResult>;
  answer(params: NgParams): Promise<NgResult>;
  delete(params: NgParams): Promise<NgResult>;
  query(params: NgParams): Promise<NgResult>;
  list(params?: NgParams): Promise<NgResult>;
  close(): Promise<void>;
}

export interface NgTarget {
  id: string;
  host: string;
  port: number;
  timeoutMs: number;
  /** first retransmission of an unanswered request (ms), doubling; 0 none */
  retransmitMs: number;
  /** Called for each retransmission (for `ng_retransmissions_total`). */
  onRetransmit: (command: string) => void;
  /** Called once per request when it settles (for `ng_roundtrip_seconds`). */
  onRoundTrip: (command: string, ms: number, ok: boolean) => void;
}

export type NgControlFactory = (target: NgTarget) => NgControl;

/** The stable codes of `@ngcp/ng`'s NgError. */
export type NgFailure = 'timeout' | 'error-result' | 'socket';

/** The NgError code of a rejection (duck-typed, so fakes need not import @ngcp/ng); 'socket' for anything else. */
export function ngFailure(err: unknown): { code: NgFailure; reason: string } {
  const e = err as { code?: unknown; errorReason?: unknown; message?: unknown } | null;
  const code = e?.code === 'timeout' || e?.code === 'error-result' || e?.code === 'socket' ? e.code : 'socket';
  const reason =
    typeof e?.errorReason === 'string' && e.errorReason ? e.errorReason : typeof e?.message === 'string' ? e.message : String(err);
  return { code, reason };
}

/** The production factory: one @ngcp/ng NgClient (on rtpengine-client) per rtpengine. */
export const ngClientFactory: NgControlFactory = (t) =>
  new NgClient({ host: t.host, port: t.port, timeoutMs: t.timeoutMs, retransmitMs: t.retransmitMs, onRetransmit: t.onRetransmit, onRoundTrip: t.onRoundTrip });
