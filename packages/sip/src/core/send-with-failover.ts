/**
 * Sending a request to a SIP URI the RFC 3263 way (§4.3): resolve the URI to an
 * ordered list of targets, try them in order, and move on to the next target when
 * one times out, fails at the transport, or answers 503 before anything else —
 * blacklisting the failed one for a while so other transactions skip it.
 * A new client transaction (new branch) is used for each target.
 */
import type { SipRequest, SipResponse } from '../message/message.js';
import type { ResolveInput, SipResolver, Target } from '../dns/index.js';
import type { ClientTransaction, FinalOrigin, TransactionLayer } from '../transaction/index.js';

export interface FailoverAttempt {
  target: Target;
  outcome: 'timeout' | 'transport' | '503' | 'final';
  status?: number;
}

export interface FailoverResult {
  /** The final response that ended the attempts (a local 408/503 when every target failed). */
  response: SipResponse;
  /** The target that gave it, or null when none was reachable. */
  target: Target | null;
  attempts: FailoverAttempt[];
}

export interface FailoverOptions {
  /** Builds the request for one target: set the Via for its transport and a fresh branch. */
  build(target: Target): SipRequest;
  /** Provisional responses of the attempt in progress; once one arrives, failover stops (the request reached a server). */
  onProvisional?(response: SipResponse, target: Target, tx: ClientTransaction): void;
  /** Called with each client transaction as it starts (e.g. to CANCEL it). */
  onAttempt?(tx: ClientTransaction, target: Target): void;
  /** Largest number of targets to try. Default 5. */
  maxAttempts?: number;
}

/** Resolution gave no target at all (the domain has no SIP service). */
export class NoTargetError extends Error {
  override readonly name = 'NoTargetError';
  readonly code = 'no-target';
  constructor(readonly host: string) {
    super(`no SIP target for ${host}`);
  }
}

/** Seconds of a 503's Retry-After, if any (RFC 3261 §21.5.4, §20.33). */
function retryAfter(res: SipResponse): number | undefined {
  const v = res.get('retry-after');
  const m = v ? /^\s*(\d+)/.exec(v) : null;
  return m ? Number(m[1]) : undefined;
}

export async function sendWithFailover(layer: TransactionLayer, resolver: SipResolver, uri: ResolveInput, opts: FailoverOptions): Promise<FailoverResult> {
  const it = resolver.iterate(uri);
  const attempts: FailoverAttempt[] = [];
  const max = opts.maxAttempts ?? 5;
  let last: SipResponse | null = null;
  for (let n = 0; n < max; n++) {
    const target = await it.next();
    if (target === undefined) break;
    const req = opts.build(target);
    const outcome = await new Promise<{ res: SipResponse; origin: FinalOrigin; provisional: boolean }>((resolve) => {
      let provisional = false;
      const tx = layer.sendRequest(req, { transport: target.transport, address: target.address, port: target.port }, {
        onProvisional: (res, t) => {
          provisional = true;
          opts.onProvisional?.(res, target, t);
        },
        onFinal: (res, _t, origin) => resolve({ res, origin, provisional }),
      });
      opts.onAttempt?.(tx, target);
    });
    last = outcome.res;
    const status = outcome.res.status;
    // a timeout (Timer B/F) or transport error arrives as a local 408 / 503 (§8.1.3.1)
    const reason = outcome.provisional ? null : outcome.origin === 'timeout' ? 'timeout' : outcome.origin === 'transport-error' ? 'transport' : status === 503 ? '503' : null;
    if (reason === null) {
      attempts.push({ target, outcome: 'final', status });
      return { response: outcome.res, target, attempts };
    }
    attempts.push({ target, outcome: reason, status });
    it.markFailed(target, reason, reason === '503' ? retryAfter(outcome.res) : undefined);
  }
  if (last === null) throw new NoTargetError(uri.host);
  return { response: last, target: null, attempts };
}
