/**
 * What crosses from one leg to the other (pure): the header whitelist of a profile, the
 * fields the B2BUA always builds itself, the platform's internal fields that never leave,
 * and the profile the proxy named for a call.
 */
import type { SipRequest, SipResponse } from '@ngcp/sip';
import { headerKey, prettyName } from '@ngcp/sip';

/** The header the proxy puts on an INVITE it hands to the sbc: the profile to apply (docs/sbc.md). */
export const PROFILE_HEADER = 'X-NGCP-SBC-Profile';

/**
 * Fields each leg has of its own, built by the B2BUA: never copied, whatever a profile
 * lists. Require/Proxy-Require/RSeq/RAck belong to extensions the B2BUA does not relay
 * end to end (100rel), Authorization to the hop that challenged.
 */
export const OWN_FIELDS: ReadonlySet<string> = new Set([
  'via', 'route', 'record-route', 'contact', 'from', 'to', 'call-id', 'cseq', 'max-forwards', 'content-length', 'content-type',
  'path', 'require', 'proxy-require', 'rseq', 'rack', 'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate',
  'refer-to', 'referred-by', 'replaces', 'service-route',
]);

/**
 * The one internal field that crosses, from the A leg's INVITE into the B leg's only: who the
 * proxy found the caller to be (`sub`, `peer:<id>`). The B leg goes to the proxy, which reads
 * it there and removes every `X-NGCP-` field from what it forwards (docs/sbc.md).
 */
export const CALLER_FIELD = 'X-NGCP-Caller';

/**
 * The A leg's Call-ID, on the B leg's INVITE only: the proxy accounts the call (acc, CDR) and
 * lists it (`caller_call_id`) under the Call-ID the caller's phone knows. The proxy removes it,
 * as every `X-NGCP-` field, before anything leaves the platform.
 */
export const A_CALL_ID_FIELD = 'X-NGCP-A-Call-ID';

/**
 * The A leg INVITE's `X-NGCP-Caller` fields and its Call-ID, for the B leg's INVITE — only when
 * the A leg came from the proxy (it set `X-NGCP-Caller`): the B leg then goes back to it, which
 * removes them. A B leg that would go anywhere else carries nothing internal.
 */
export function proxyContextFields(a: SipRequest): Array<[string, string]> {
  const callers = a.getAll(CALLER_FIELD);
  if (callers.length === 0) return [];
  return [...callers.map((v): [string, string] => [CALLER_FIELD, v]), [A_CALL_ID_FIELD, a.callId()]];
}

/** The platform's own fields (`X-NGCP-…`, `P-NGCP-…`): internal, they never leave through the sbc. */
export function isInternalField(key: string): boolean {
  return key.startsWith('x-ngcp-') || key.startsWith('p-ngcp-');
}

/** Option tags of extensions the B2BUA does not relay (PRACK needs RSeq/RAck of each leg). */
const DROPPED_OPTION_TAGS = new Set(['100rel']);

/** The whitelist of a profile as header keys (compact forms → long names, lower case). */
export function whitelist(names: readonly string[]): Set<string> {
  return new Set(names.map((n) => headerKey(n)));
}

/** Whether a field of one leg may be copied into the other under `allowed`. */
export function passes(key: string, allowed: ReadonlySet<string>): boolean {
  return allowed.has(key) && !OWN_FIELDS.has(key) && !isInternalField(key);
}

/**
 * The fields of `msg` to copy into the other leg, in order, as [name, value] (compact names
 * written long). `Supported` loses the option tags the B2BUA does not relay; a field left
 * empty is dropped.
 */
export function copiedFields(msg: SipRequest | SipResponse, allowed: ReadonlySet<string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const h of msg.headers) {
    if (!passes(h.key, allowed)) continue;
    let value = h.value;
    if (h.key === 'supported') {
      value = value.split(',').map((t) => t.trim()).filter((t) => t.length > 0 && !DROPPED_OPTION_TAGS.has(t.toLowerCase())).join(', ');
      if (value.length === 0) continue;
    }
    out.push([h.name.length === 1 ? prettyName(h.key) : h.name, value]);
  }
  return out;
}

/** The profile the proxy named (the header's value, trimmed); undefined when it named none. */
export function requestedProfile(req: SipRequest): string | undefined {
  const v = req.get(PROFILE_HEADER)?.trim();
  return v ? v : undefined;
}
