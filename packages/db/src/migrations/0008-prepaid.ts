/**
 * Prepaid (issue #11): billing profiles with their fees, the customers' prepaid flag and
 * billing profile, their balances and the charges the sbc made (docs/sbc.md "Prepaid").
 *
 * Money is never a float: every amount is a BIGINT of **units**, 1/10000 of the profile's
 * currency (1.50 EUR = 15000), read and written as integers.
 * - `billing_profiles`: name (unique), currency (ISO 4217 code).
 * - `billing_fees`: per profile and destination prefix (digits; '' = any destination; the
 *   longest prefix of the callee's number wins): price per minute (units), first and next
 *   interval (s) — 60/60 bills whole minutes, 1/1 seconds.
 * - `customers.billing_profile_id` (NULL = none), `customers.prepaid` (default false).
 * - `customer_balances`: cash balance and the amount reserved by calls in progress
 *   (credit-control style: a call reserves its quota before it may talk).
 * - `prepaid_charges`: one row per call settled, keyed by the sbc's call id: the charge
 *   and the release of its reservation happen once, in the transaction that inserts it.
 */
import type { Knex } from 'knex';
import { createTable, fk, innodb, timestamps, unique } from './helpers.js';

export const name = '0008-prepaid';

export async function up(knex: Knex): Promise<void> {
  await createTable(knex, 'billing_profiles', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('name', 127).notNullable();
    t.specificType('currency', 'CHAR(3)').notNullable().defaultTo('EUR');
    t.string('description', 255).nullable();
    timestamps(t);
    unique(t, 'billing_profiles', 'name', ['name']);
  });
  await createTable(knex, 'billing_fees', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'billing_fees', 'billing_profile_id', 'billing_profiles.id', { onDelete: 'CASCADE' });
    t.string('destination', 32).notNullable().defaultTo('');
    t.bigInteger('price_per_minute').notNullable().defaultTo(0);
    t.integer('first_interval').unsigned().notNullable().defaultTo(60);
    t.integer('next_interval').unsigned().notNullable().defaultTo(60);
    timestamps(t);
    unique(t, 'billing_fees', 'destination', ['billing_profile_id', 'destination']);
  });
  await knex.raw(
    'ALTER TABLE customers ADD COLUMN billing_profile_id INT UNSIGNED NULL AFTER concurrent_max_out, ADD COLUMN prepaid TINYINT(1) NOT NULL DEFAULT 0 AFTER billing_profile_id, ' +
    'ADD CONSTRAINT fk_customers_billing_profile_id FOREIGN KEY (billing_profile_id) REFERENCES billing_profiles (id) ON DELETE RESTRICT',
  );
  await createTable(knex, 'customer_balances', (t) => {
    innodb(t);
    t.integer('customer_id').unsigned().primary();
    t.bigInteger('cash_balance').notNullable().defaultTo(0);
    t.bigInteger('reserved').notNullable().defaultTo(0);
    t.specificType('updated_at', 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)');
    t.foreign('customer_id', 'fk_customer_balances_customer_id').references('customers.id').onDelete('CASCADE');
  });
  await createTable(knex, 'prepaid_charges', (t) => {
    innodb(t);
    t.string('call_id', 64).primary();
    // no foreign key: the record outlives its customer (as acc/cdrs do)
    t.integer('customer_id').unsigned().notNullable().index('ix_prepaid_charges_customer_id');
    t.integer('seconds').unsigned().notNullable();
    t.bigInteger('amount').notNullable();
    t.bigInteger('released').notNullable();
    t.specificType('created_at', 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('prepaid_charges');
  await knex.schema.dropTable('customer_balances');
  await knex.raw('ALTER TABLE customers DROP FOREIGN KEY fk_customers_billing_profile_id, DROP COLUMN prepaid, DROP COLUMN billing_profile_id');
  await knex.schema.dropTable('billing_fees');
  await knex.schema.dropTable('billing_profiles');
}
