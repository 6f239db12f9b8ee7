/**
 * What the mediator (apps/mediator) needs to turn accounting records into CDRs:
 * - `acc.init_time`: when the INVITE arrived (the CDR's init_time; the start record's own
 *   `time` is the answer). NULL on rows written before: the mediator then uses `time`.
 * - index (mediated, kind, id): the mediator's work queue — the records that complete a call
 *   (stop, failure) not yet mediated, oldest first — and the open starts it closes as leftovers.
 * - `cdrs.call_id` unique: one CDR per call, whatever happens (a mediator restarted between
 *   writing a CDR and marking its records, two mediators at once): a second INSERT is a no-op.
 */
import type { Knex } from 'knex';

export const name = '0006-mediation';

export async function up(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE acc ADD COLUMN init_time DATETIME(3) NULL AFTER time, ADD INDEX ix_acc_queue (mediated, kind, id)');
  await knex.raw('ALTER TABLE cdrs DROP INDEX ix_cdrs_call_id, ADD UNIQUE KEY uq_cdrs_call_id (call_id)');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE cdrs DROP INDEX uq_cdrs_call_id, ADD INDEX ix_cdrs_call_id (call_id)');
  await knex.raw('ALTER TABLE acc DROP INDEX ix_acc_queue, DROP COLUMN init_time');
}
