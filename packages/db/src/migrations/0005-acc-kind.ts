/**
 * Idempotent accounting (issue 9, state that survives a takeover): `acc.kind` says what a
 * row records — `start` (INVITE answered), `stop` (BYE answered), `failure` (INVITE
 * answered with a final non-2xx) — and a unique key (callid, kind) makes a second write
 * of the same event a no-op, so both nodes of the pair (or a retry after a lost answer)
 * writing the same start or stop leave one row.
 */
import type { Knex } from 'knex';

export const name = '0005-acc-kind';

export const ACC_KINDS = ['start', 'stop', 'failure'] as const;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE acc ADD COLUMN kind ENUM(${ACC_KINDS.map((k) => `'${k}'`).join(', ')}) NULL AFTER method`);
  // rows written before: derive the kind from method and status; keep the first of any duplicates
  await knex.raw(`UPDATE acc SET kind = CASE WHEN method = 'BYE' THEN 'stop' WHEN method = 'INVITE' AND sip_code LIKE '2%' THEN 'start' ELSE 'failure' END`);
  await knex.raw(`DELETE a FROM acc a JOIN acc b ON a.callid = b.callid AND a.kind = b.kind AND a.id > b.id`);
  await knex.raw(`ALTER TABLE acc MODIFY COLUMN kind ENUM(${ACC_KINDS.map((k) => `'${k}'`).join(', ')}) NOT NULL, ADD UNIQUE KEY uq_acc_callid_kind (callid, kind)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE acc DROP INDEX uq_acc_callid_kind, DROP COLUMN kind');
}
