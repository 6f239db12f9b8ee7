/**
 * The fields between the proxy and the sbc (docs/sbc.md). Both are internal (`X-NGCP-`): the
 * proxy removes every `X-NGCP-` field from what it forwards and sets these on the A leg only.
 */

/** The sbc profile of the call (apps/sbc: `PROFILE_HEADER`). */
export const SBC_PROFILE_FIELD = 'X-NGCP-SBC-Profile';

/** Who the caller of the A leg is: `sub` (the From AoR, authenticated) or `peer:<peering_servers.id>`; the sbc carries it to the B leg. */
export const SBC_CALLER_FIELD = 'X-NGCP-Caller';
