/**
 * The `voicemail` call type (issue #11 "CDRs": call type on-net, off-net, forwarded, voicemail):
 * `acc.call_type` and `cdrs.call_type` take `voicemail` besides the forward types of 0004.
 * The proxy writes it for every call whose callee is a voicebox — a deposit (a forward to
 * voicemail, whatever forward led there) and a retrieval (the voicemail number) — and the
 * mediator copies it (docs/routing.md "Voicemail", apps/mediator/README.md "Call type").
 *
 * Up changes no row: a record written before keeps its type (`call` or the forward); such a
 * voicemail call is still the one with `dst_domain` / `destination_domain` = `voicebox.local`,
 * and the mediator gives the CDR of an acc row of that domain the type `voicemail` anyway.
 *
 * Down maps every `voicemail` row of both tables back to `call` before the enum shrinks (the
 * value would otherwise be refused or, without strict mode, become ''): what a retrieval was
 * before this migration; a deposit's forward type (`cfu` …) was never written and is not
 * guessed. The rows stay recognisable by their `voicebox.local` domain.
 */
import type { Knex } from 'knex';
import { CALL_TYPES as CALL_TYPES_0004 } from './0004-accounting.js';

export const name = '0010-call-type-voicemail';

/** The call types of `acc` and `cdrs` from this migration on (the one list the code uses). */
export const CALL_TYPES = [...CALL_TYPES_0004, 'voicemail'] as const;

/** The callee domain of a voicemail call in acc and the CDRs (sip:provider's marker of voicemail CDRs). */
export const VOICEBOX_DOMAIN = 'voicebox.local';

const enumOf = (values: readonly string[]): string => `ENUM(${values.map((v) => `'${v}'`).join(', ')}) NOT NULL DEFAULT 'call'`;

export async function up(knex: Knex): Promise<void> {
  // a value added at the end of an ENUM: MariaDB changes only the table's metadata (no copy)
  for (const table of ['acc', 'cdrs']) await knex.raw(`ALTER TABLE ${table} MODIFY COLUMN call_type ${enumOf(CALL_TYPES)}`);
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['acc', 'cdrs']) {
    await knex(table).where('call_type', 'voicemail').update({ call_type: 'call' });
    await knex.raw(`ALTER TABLE ${table} MODIFY COLUMN call_type ${enumOf(CALL_TYPES_0004)}`);
  }
}
