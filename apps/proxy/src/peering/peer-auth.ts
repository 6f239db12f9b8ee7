/**
 * Digest authentication towards a peering server that challenges (docs/routing.md
 * "Authentication towards peers"), as pure functions: the answer to a 401/407 with the
 * server's credentials (RFC 3261 §22.2–§22.3, RFC 2617/7616 through `answerChallenge` of
 * @ngcp/sip — HA1 is computed there only), the INVITE re-sent with it (RFC 3261 §8.1.3.5:
 * same Call-ID, From tag and To, CSeq + 1, a new branch), and the CSeq translation the
 * dialog then needs (Kamailio's uac_auth with its dialog's CSeq tracking does the same).
 *
 * The re-sent INVITE has CSeq n+1 while the caller's INVITE had n: the peer's dialog counts
 * from n+1, the caller's from n. So our Record-Route on the re-sent INVITE carries the
 * shift and the caller's From tag (`;ftag=…;cseq=1`): a request in that dialog whose From tag
 * is the caller's (the caller's ACK, BYE, re-INVITE …) goes to the peer with CSeq + shift,
 * and its responses go back with the caller's CSeq. Nothing about it is kept in a process or
 * in Redis: the route set carries it, so the other node after a takeover does the same.
 */
import type { NameAddr, SipRequest, SipResponse } from '@ngcp/sip';
import { answerChallenge } from '@ngcp/sip';
import { copyRequest } from '../context.js';
import type { PeerCredentials } from './selection.js';

/** The header a challenge is answered in (RFC 3261 §22.2: 401 → Authorization, §22.3: 407 → Proxy-Authorization). */
export type AuthorizationHeaderName = 'Authorization' | 'Proxy-Authorization';

export type PeerChallengeOutcome =
  | { ok: true; header: AuthorizationHeaderName; value: string; realm: string }
  /** no credentials, or none of the challenges is usable (another realm, an unknown algorithm, nothing parsable) */
  | { ok: false; reason: 'no-credentials' | 'no-usable-challenge' };

/** Whether a final response is a digest challenge the proxy may answer for a peer. */
export function isChallenge(status: number): boolean {
  return status === 401 || status === 407;
}

/** The credentials for a peer's 401/407 to `req` (the request as it was sent: its method and Request-URI). */
export function answerPeerChallenge(auth: PeerCredentials | null, res: SipResponse, req: Pick<SipRequest, 'method' | 'uri'>): PeerChallengeOutcome {
  if (!auth) return { ok: false, reason: 'no-credentials' };
  const proxy = res.status === 407;
  const challenges = res.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate');
  const answer = answerChallenge({
    challenges, username: auth.username, password: auth.password, realm: auth.realm ?? undefined, method: req.method, uri: req.uri,
  });
  if (!answer) return { ok: false, reason: 'no-usable-challenge' };
  return { ok: true, header: proxy ? 'Proxy-Authorization' : 'Authorization', value: answer.value, realm: answer.challenge.realm };
}

/**
 * The INVITE re-sent with credentials, from the one that was challenged (`sent`, with our Via
 * on top): CSeq + 1, a new Via branch, the credentials (replacing any of an earlier answer),
 * and our Record-Route (the first entry, ours) replaced by `recordRoute`.
 */
export function resendWithCredentials(sent: SipRequest, answer: Extract<PeerChallengeOutcome, { ok: true }>, via: string, recordRoute: string): SipRequest {
  const out = copyRequest(sent);
  out.popVia();
  out.pushVia(via);
  const cseq = out.cseq();
  out.set('CSeq', `${cseq.seq + 1} ${cseq.method}`);
  out.remove('authorization');
  out.remove('proxy-authorization');
  out.append(answer.header, answer.value);
  out.replaceFirstElement('Record-Route', recordRoute);
  return out;
}

/** Our Record-Route entry with the CSeq shift of the dialog and the caller's From tag. */
export function shiftedRecordRoute(ours: string, fromTag: string, shift: number): string {
  // `<sip:a:p;lr>` → `<sip:a:p;lr;ftag=…;cseq=…>` (URI parameters: the route set keeps them)
  return ours.replace(/>$/, `;ftag=${encodeURIComponent(fromTag)};cseq=${shift}>`);
}

/**
 * The CSeq shift of an in-dialog request: the `cseq` of our own Route entries (popped here)
 * when the request comes from the side whose From tag the entry names; 0 otherwise.
 */
export function cseqShift(ownRoutes: readonly NameAddr[], fromTag: string | null | undefined): number {
  for (const r of ownRoutes) {
    if (!r.uri.isSip) continue;
    const shift = r.uri.param('cseq');
    if (typeof shift !== 'string' || !/^[1-9][0-9]{0,2}$/.test(shift)) continue;
    // compared as written (escaped): a route entry is untrusted input, nothing is decoded
    if (fromTag && r.uri.param('ftag') === encodeURIComponent(fromTag)) return Number(shift);
  }
  return 0;
}
