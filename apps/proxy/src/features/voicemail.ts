/**
 * Voicemail routing (docs/routing.md "Voicemail"): the pure parts of the proxy's side of the
 * contract with the app-server (apps/appserver/README.md).
 *
 *   deposit    a forward (CFU/CFB/CFT/CFNA) to voicemail → `sip:vm-deposit.<box owner's subscriber id>@<app-server>`
 *   retrieve   a local subscriber dialling the voicemail number (as dialled, before its rewrite
 *              rules) → `sip:vm-retrieve.<its own subscriber id>@<app-server>`
 *   MWI        an out-of-dialog NOTIFY with `Event: message-summary` (RFC 3842) from the
 *              app-server's address (anyone else: 403) to a local AoR → every registered
 *              contact, in parallel; 200 when a device took it, else the best final (404: none)
 *
 * The accounting records of a voicemail call name the box as the callee: `dst_user`
 * `vm-deposit.<id>` / `vm-retrieve.<id>`, `dst_domain` `voicebox.local` (sip:provider's marker of
 * voicemail CDRs), `dst_subscriber_id` the box owner, `dst_ouser` the callee as dialled; `call_type`
 * `voicemail` (migration 0010), for a deposit (whatever forward led there) and a retrieval alike.
 */
import { VOICEBOX_DOMAIN } from '@ngcp/db';
import type { SipRequest, Uri } from '@ngcp/sip';
import { selectBestResponse } from '../routing/best-response.js';
import { appserverUri } from './announcements.js';
import { unescapeUser } from './vsc.js';

export type VoicemailKind = 'deposit' | 'retrieve';

/** The callee domain of voicemail calls in `call:<id>` and acc (sip:provider's `voicebox.local`; @ngcp/db's constant). */
export { VOICEBOX_DOMAIN };

/** The app-server's user part for a box: `vm-deposit.<id>` / `vm-retrieve.<id>`. */
export function voicemailUser(kind: VoicemailKind, subscriberId: number): string {
  return `vm-${kind}.${subscriberId}`;
}

/** `sip:vm-<kind>.<subscriber id>@<app-server>`. */
export function voicemailUri(kind: VoicemailKind, subscriberId: number, at: { address: string; port: number }): string {
  return appserverUri(voicemailUser(kind, subscriberId), at);
}

/** Is the dialled Request-URI user (`%2A`/`%23` escapes understood) the voicemail number? */
export function isVoicemailNumber(rawUser: string | null | undefined, number: string): boolean {
  if (!rawUser || number === '') return false;
  return unescapeUser(rawUser) === number;
}

/** The event package of an Event header value (`message-summary;id=1` → `message-summary`), lower case. */
export function eventPackage(value: string | undefined): string | undefined {
  const v = value?.split(';')[0]?.trim().toLowerCase();
  return v ? v : undefined;
}

/** An out-of-dialog NOTIFY of the message-summary package (RFC 3842): the MWI the proxy relays. */
export function isMwiNotify(req: SipRequest): boolean {
  return req.method === 'NOTIFY' && req.to().tag === undefined && eventPackage(req.get('event')) === 'message-summary';
}

/** What the proxy does with an MWI NOTIFY before looking at the location. */
export type MwiAdmission =
  | { ok: true; aor: string }
  | { ok: false; status: number; reason: string; result: 'forbidden' | 'bad-target' };

/**
 * Only the app-server may send MWI (a client must never light another subscriber's lamp), and
 * only to a `sip:user@domain` AoR.
 */
export function admitMwi(fromAppserver: boolean, ruri: Uri): MwiAdmission {
  if (!fromAppserver) return { ok: false, status: 403, reason: 'MWI Accepted From The App-Server Only', result: 'forbidden' };
  if (!ruri.isSip || !ruri.user) return { ok: false, status: 404, reason: 'Not A Subscriber', result: 'bad-target' };
  return { ok: true, aor: `${ruri.user}@${ruri.hostname}` };
}

/**
 * The answer the app-server gets once every device answered: the index of the branch whose
 * response is relayed (a 2xx when one answered 2xx, else the best final, RFC 3261 §16.7) and
 * its status; undefined when no branch was sent (the caller answers 404).
 */
export function mwiFinal(statuses: readonly number[]): { index: number; status: number } | undefined {
  const ok = statuses.findIndex((s) => s >= 200 && s < 300);
  if (ok >= 0) return { index: ok, status: statuses[ok]! };
  return selectBestResponse(statuses);
}
