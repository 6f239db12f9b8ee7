/**
 * The fields between the proxy and the sbc (docs/sbc.md). Both are internal (`X-NGCP-`): the
 * proxy removes every `X-NGCP-` field from what it forwards and sets these on the A leg only.
 */

/** The sbc profile of the call (apps/sbc: `PROFILE_HEADER`). */
export const SBC_PROFILE_FIELD = 'X-NGCP-SBC-Profile';

/** Who the caller of the A leg is: `sub` (the From AoR, authenticated) or `peer:<peering_servers.id>`; the sbc carries it to the B leg. */
export const SBC_CALLER_FIELD = 'X-NGCP-Caller';

/** The A leg's Call-ID, set by the sbc on the B leg: the call's accounting and CDR are keyed by it (docs/sbc.md). */
export const SBC_A_CALL_ID_FIELD = 'X-NGCP-A-Call-ID';

/** A Call-ID as the acc table keeps it (RFC 3261 `word` characters, at most 255): the field's value, or undefined. */
export function callIdField(v: string | undefined): string | undefined {
  const t = v?.trim();
  return t && t.length <= 255 && /^[\x21-\x7e]+$/.test(t) ? t : undefined;
}
