/**
 * The branch of a request the lb forwards, and loop detection from it (RFC 3261 §16.6
 * step 8, §16.3 step 4): the first part of the branch is a hash of what identifies the
 * request as forwarded (Request-URI, Call-ID, From and To tags, CSeq number, and the Via
 * below ours); the part after the dot tells the attempts apart (failover). A request
 * that comes back with a Via of ours whose hash equals the one computed for it now has
 * looped (482); a spiral (the Request-URI changed on the way) has not.
 */
import { createHash } from 'node:crypto';
import type { SipRequest, Via } from '@ngcp/sip';
import { MAGIC_COOKIE } from '@ngcp/sip';

const PREFIX = `${MAGIC_COOKIE}lb`;

function loopHash(req: SipRequest, below: Via | undefined, secret: string): string {
  const h = createHash('sha1');
  h.update(secret).update('\n').update(req.uri).update('\n').update(req.callId()).update('\n');
  h.update(req.from().tag ?? '').update('\n').update(req.to().tag ?? '').update('\n').update(String(req.cseq().seq)).update('\n');
  if (below) h.update(below.branch ?? '').update('|').update(below.sentBy);
  return h.digest('hex').slice(0, 20);
}

/**
 * The branch for the lb's Via on `req` (whose top Via is still the previous hop's):
 * `z9hG4bKlb<hash>.<attempt>`. The same for retransmissions of the same attempt.
 */
export function forwardBranch(req: SipRequest, secret: string, attempt: number | string): string {
  return `${PREFIX}${loopHash(req, req.topVia(), secret)}.${attempt}`;
}

/** Whether `req` carries a Via of ours with the branch it would get now: a loop (§16.3 step 4). */
export function isLoop(req: SipRequest, isOwnVia: (via: Via) => boolean, secret: string): boolean {
  const vias = req.vias();
  for (let i = 0; i < vias.length; i++) {
    const v = vias[i]!;
    const b = v.branch;
    if (b === undefined || !b.startsWith(PREFIX) || !isOwnVia(v)) continue;
    const dot = b.indexOf('.', PREFIX.length);
    const hash = b.slice(PREFIX.length, dot < 0 ? undefined : dot);
    if (hash === loopHash(req, vias[i + 1], secret)) return true;
  }
  return false;
}
