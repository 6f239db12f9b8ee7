/**
 * The Via branch the proxy puts on a request it forwards inside a dialog (re-INVITE, UPDATE,
 * BYE, ACK for a 2xx, …): not random but a keyed hash of what identifies the request as it
 * was received — Request-URI, Call-ID, From and To tags, CSeq number, the Route entries and
 * the Via of the previous hop (branch and sent-by) — the recipe RFC 3261 §16.11 gives
 * stateless proxies. A retransmission gets the branch the original got, whichever node of
 * the pair forwards it: after a takeover the new node's copy of a re-INVITE the old node
 * forwarded is a retransmission of the same client transaction for the next hop (the lb
 * hashes our Via into its own branch, so the callee sees the very same Via stack), the
 * callee's one 200 answers both, and the new node's client transaction takes it
 * (docs/takeover.md "re-INVITE pending"). With a random branch the callee saw a second
 * INVITE in the dialog, a new transaction, while the first still waited for its answer.
 *
 * The method is left out on purpose, as in the lb's branch (apps/lb/src/routing/loop.ts):
 * the only requests that share the previous hop's branch and the CSeq number with an
 * INVITE are its CANCEL and the ACK for its error response, and both must carry the
 * INVITE's branch. The key is `auth.nonce_secret`, the same on both nodes (rendered from
 * credentials.sip_nonce_secret), with a label of its own.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { SipRequest } from '@ngcp/sip';
import { MAGIC_COOKIE } from '@ngcp/sip';

const PREFIX = `${MAGIC_COOKIE}px`;

/** The key as a KeyObject, made once (a string key is copied into a new one by every createHmac). */
let keyCache: { key: string; obj: KeyObject } | undefined;
function keyObject(key: string): KeyObject {
  if (keyCache?.key !== key) keyCache = { key, obj: createSecretKey(Buffer.from(key, 'utf8')) };
  return keyCache.obj;
}

/** `z9hG4bKpx<hash>`: the same for every copy of `req` (as received, before we touch it) on either node. */
export function dialogBranch(req: SipRequest, key: string): string {
  const top = req.topVia();
  const text = `ngcp-proxy-branch\n${req.uri}\n${req.callId()}\n${req.from().tag ?? ''}\n${req.to().tag ?? ''}\n${req.cseq().seq}\n` +
    `${req.elements('route').join(',')}\n${top ? `${top.branch ?? ''}|${top.sentBy}` : ''}`;
  return PREFIX + createHmac('sha1', keyObject(key)).update(text).digest('hex').slice(0, 24);
}
