/**
 * The served-domain check of initial requests (no open relay), pure: which host a
 * request is for, and the decision. REGISTER is for its To host; other requests for
 * their Request-URI host (a tel: or other non-SIP Request-URI: for the From host, the
 * caller's domain — the proxy authenticates the caller). The lb's own addresses count as
 * served (`sip:127.0.0.1`). With no domain list known yet (MariaDB never answered)
 * the answer is 503, not 403: the platform cannot tell.
 */
import type { SipRequest } from '@ngcp/sip';

export type DomainVerdict = 'allow' | 'forbidden' | 'unavailable';

/** The host an initial request is for (lower case), or null when there is none to check. */
export function requestDomain(req: SipRequest): string | null {
  if (req.method === 'REGISTER') {
    const to = req.to().uri;
    return to.isSip ? to.hostname : null;
  }
  const ruri = req.requestUri();
  if (ruri.isSip) return ruri.hostname;
  const from = req.from().uri;
  return from.isSip ? from.hostname : null;
}

export interface DomainCheckInput {
  /** requestDomain(req) */
  domain: string | null;
  /** The source is a trusted peer. */
  trusted: boolean;
  /** The domain is one of the lb's own addresses. */
  own: boolean;
  /** Served domains (lower case), null when never loaded. */
  domains: ReadonlySet<string> | null;
}

export function checkDomain(i: DomainCheckInput): DomainVerdict {
  if (i.trusted || i.own) return 'allow';
  if (i.domain === null) return 'forbidden';
  if (i.domains === null) return 'unavailable';
  return i.domains.has(i.domain.toLowerCase()) ? 'allow' : 'forbidden';
}
