/** Resellers, domains, customers, subscribers, numbers; API users, tokens and the journal. */
import type { Knex } from 'knex';
import { createTable, fk, innodb, STATUS, timestamps, unique } from './helpers.js';

export const name = '0001-core';

export async function up(knex: Knex): Promise<void> {
  await createTable(knex, 'resellers', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('name', 127).notNullable();
    t.enu('status', [...STATUS]).notNullable().defaultTo('active');
    timestamps(t);
    unique(t, 'resellers', 'name', ['name']);
  });

  await createTable(knex, 'domains', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('domain', 127).notNullable();
    t.string('description', 255).nullable();
    timestamps(t);
    unique(t, 'domains', 'domain', ['domain']);
  });

  await createTable(knex, 'customers', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'customers', 'reseller_id', 'resellers.id', { nullable: true });
    t.string('external_id', 255).nullable();
    t.string('name', 255).notNullable();
    t.string('email', 255).nullable();
    t.enu('status', [...STATUS]).notNullable().defaultTo('active');
    // concurrent-call limits for all the customer's subscribers together; NULL = unlimited
    t.integer('concurrent_max').unsigned().nullable();
    t.integer('concurrent_max_out').unsigned().nullable();
    timestamps(t);
    unique(t, 'customers', 'external_id', ['external_id']);
  });

  await createTable(knex, 'subscribers', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.specificType('uuid', 'CHAR(36)').notNullable();
    fk(t, 'subscribers', 'domain_id', 'domains.id');
    fk(t, 'subscribers', 'customer_id', 'customers.id', { nullable: true });
    t.string('username', 127).notNullable();
    // digest HA1 only, never the SIP password (realm = domain)
    t.specificType('ha1_md5', 'CHAR(32)').notNullable();
    t.specificType('ha1_sha256', 'CHAR(64)').notNullable();
    // web/API password of the subscriber: scrypt$N$r$p$salt$hash
    t.string('webpassword_hash', 255).nullable();
    t.string('display_name', 255).nullable();
    t.string('external_id', 255).nullable().index('ix_subscribers_external_id');
    t.enu('status', [...STATUS]).notNullable().defaultTo('active');
    timestamps(t);
    unique(t, 'subscribers', 'uuid', ['uuid']);
    unique(t, 'subscribers', 'username', ['domain_id', 'username']);
  });

  await createTable(knex, 'numbers', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('e164', 32).notNullable(); // digits only: country code + national number
    fk(t, 'numbers', 'subscriber_id', 'subscribers.id', { nullable: true, onDelete: 'CASCADE' });
    t.boolean('is_primary').notNullable().defaultTo(false);
    // at most one primary number per subscriber, enforced by the database
    t.specificType('primary_subscriber_id', 'INT UNSIGNED AS (IF(is_primary, subscriber_id, NULL)) PERSISTENT');
    timestamps(t);
    unique(t, 'numbers', 'e164', ['e164']);
    unique(t, 'numbers', 'is_primary', ['primary_subscriber_id']);
  });

  await createTable(knex, 'api_users', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('login', 127).notNullable();
    t.string('password_hash', 255).notNullable();
    t.enu('role', ['admin', 'reseller', 'subscriber']).notNullable();
    fk(t, 'api_users', 'reseller_id', 'resellers.id', { nullable: true, onDelete: 'CASCADE' });
    fk(t, 'api_users', 'subscriber_id', 'subscribers.id', { nullable: true, onDelete: 'CASCADE' });
    t.boolean('is_active').notNullable().defaultTo(true);
    timestamps(t);
    unique(t, 'api_users', 'login', ['login']);
  });

  await createTable(knex, 'api_tokens', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'api_tokens', 'api_user_id', 'api_users.id', { onDelete: 'CASCADE' });
    t.specificType('token_hash', 'CHAR(64)').notNullable(); // sha256 of the token
    t.string('name', 127).nullable();
    t.specificType('expires_at', 'DATETIME(3) NULL');
    t.specificType('created_at', 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
    unique(t, 'api_tokens', 'token', ['token_hash']);
  });

  // every change made through the API; no foreign keys, so it outlives what it describes
  await createTable(knex, 'journal', (t) => {
    innodb(t);
    t.bigIncrements('id').unsigned().primary();
    t.specificType('created_at', 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
    t.integer('api_user_id').unsigned().nullable();
    t.string('login', 255).notNullable();
    t.string('role', 16).notNullable();
    t.string('remote_addr', 64).nullable();
    t.string('entity', 64).notNullable();
    t.string('entity_id', 255).notNullable();
    t.enu('op', ['create', 'update', 'delete']).notNullable();
    t.text('content', 'longtext').nullable(); // JSON of the object after the change (before, for delete)
    t.index(['entity', 'entity_id'], 'ix_journal_entity');
    t.index(['created_at'], 'ix_journal_created_at');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['journal', 'api_tokens', 'api_users', 'numbers', 'subscribers', 'customers', 'domains', 'resellers']) {
    await knex.schema.dropTableIfExists(table);
  }
}
