/**
 * Durable prepaid reservations (issue #11, docs/sbc.md "Prepaid", "Reservations that cannot
 * leak"): one row per prepaid call holding money on its customer's balance, written in the
 * same transaction as `customer_balances.reserved` (the first quota at the INVITE, each next
 * quota) and deleted by the transaction that settles the call. A row whose call is not live
 * any more (a sbc that died while it rang, a call whose Redis state expired) is closed by the
 * sbc's sweep after `sbc.prepaid.stale_after_s`.
 * - `call_id`: the sbc's call id (as `prepaid_charges.call_id`).
 * - `held`: units reserved for the call; `granted`: talk time (s from the answer) they pay.
 * - `destination`, `price_per_minute`, `first_interval`, `next_interval`: the fee the call is
 *   rated with (a swept call is charged with it, whatever the fee table says by then).
 * - `answered_at`: NULL while ringing; `updated_at`: the sbc's time of the last write (the
 *   INVITE, the answer, the last quota granted) — the last time the call was seen live.
 */
import type { Knex } from 'knex';
import { createTable, innodb } from './helpers.js';

export const name = '0011-prepaid-reservations';

export async function up(knex: Knex): Promise<void> {
  await createTable(knex, 'prepaid_reservations', (t) => {
    innodb(t);
    t.string('call_id', 64).primary();
    t.integer('customer_id').unsigned().notNullable();
    t.bigInteger('held').notNullable();
    t.integer('granted').unsigned().notNullable();
    t.string('destination', 32).notNullable();
    t.bigInteger('price_per_minute').notNullable();
    t.integer('first_interval').unsigned().notNullable();
    t.integer('next_interval').unsigned().notNullable();
    t.specificType('created_at', 'DATETIME(3) NOT NULL');
    t.specificType('answered_at', 'DATETIME(3) NULL');
    t.specificType('updated_at', 'DATETIME(3) NOT NULL');
    t.index(['updated_at'], 'ix_prepaid_reservations_updated_at');
    t.foreign('customer_id', 'fk_prepaid_reservations_customer_id').references('customers.id').onDelete('CASCADE');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('prepaid_reservations');
}
