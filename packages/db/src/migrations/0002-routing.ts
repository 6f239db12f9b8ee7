/** Rewrite rules, NCOS levels, peering (groups, servers, rules) and call forwards. */
import type { Knex } from 'knex';
import { createTable, fk, innodb, timestamps, unique } from './helpers.js';

export const name = '0002-routing';

export async function up(knex: Knex): Promise<void> {
  await createTable(knex, 'rewrite_rule_sets', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('name', 127).notNullable();
    t.string('description', 255).nullable();
    timestamps(t);
    unique(t, 'rewrite_rule_sets', 'name', ['name']);
  });

  // ordered regex match/replace per (direction, field); ECMAScript syntax, `$1` in replacements
  await createTable(knex, 'rewrite_rules', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'rewrite_rules', 'set_id', 'rewrite_rule_sets.id', { onDelete: 'CASCADE' });
    t.enu('direction', ['in', 'out']).notNullable();
    t.enu('field', ['caller', 'callee']).notNullable();
    t.string('match_pattern', 255).notNullable();
    t.string('replace_pattern', 255).notNullable();
    t.string('description', 255).nullable();
    t.integer('priority').notNullable().defaultTo(50);
    t.boolean('enabled').notNullable().defaultTo(true);
    timestamps(t);
    t.index(['set_id', 'direction', 'field', 'priority'], 'ix_rewrite_rules_order');
  });

  await createTable(knex, 'ncos_levels', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('level', 127).notNullable();
    t.string('description', 255).nullable();
    // applies when no pattern matches the callee
    t.enu('default_action', ['allow', 'deny']).notNullable().defaultTo('allow');
    timestamps(t);
    unique(t, 'ncos_levels', 'level', ['level']);
  });

  // the longest matching prefix decides
  await createTable(knex, 'ncos_patterns', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'ncos_patterns', 'level_id', 'ncos_levels.id', { onDelete: 'CASCADE' });
    t.string('prefix', 32).notNullable();
    t.enu('action', ['allow', 'deny']).notNullable();
    t.string('description', 255).nullable();
    unique(t, 'ncos_patterns', 'prefix', ['level_id', 'prefix']);
  });

  await createTable(knex, 'peering_groups', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('name', 127).notNullable();
    t.tinyint('priority').unsigned().notNullable().defaultTo(1); // 1 = tried first
    t.string('description', 255).nullable();
    timestamps(t);
    unique(t, 'peering_groups', 'name', ['name']);
  });

  await createTable(knex, 'peering_servers', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'peering_servers', 'group_id', 'peering_groups.id', { onDelete: 'CASCADE' });
    t.string('name', 127).notNullable();
    t.string('host', 255).notNullable();
    t.integer('port').unsigned().notNullable().defaultTo(5060);
    t.enu('transport', ['udp', 'tcp', 'tls']).notNullable().defaultTo('udp');
    t.integer('weight').unsigned().notNullable().defaultTo(1);
    t.boolean('probe').notNullable().defaultTo(false); // OPTIONS pings by the proxy
    t.boolean('enabled').notNullable().defaultTo(true);
    timestamps(t);
    unique(t, 'peering_servers', 'host', ['group_id', 'host', 'port', 'transport']);
  });

  // a call goes to a group when the callee starts with callee_prefix and the caller matches caller_pattern
  await createTable(knex, 'peering_rules', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'peering_rules', 'group_id', 'peering_groups.id', { onDelete: 'CASCADE' });
    t.string('callee_prefix', 64).notNullable().defaultTo('');
    t.string('caller_pattern', 255).nullable();
    t.string('callee_pattern', 255).nullable();
    t.string('description', 255).nullable();
    t.boolean('enabled').notNullable().defaultTo(true);
    timestamps(t);
    t.index(['callee_prefix'], 'ix_peering_rules_callee_prefix');
  });

  await createTable(knex, 'call_forwards', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'call_forwards', 'subscriber_id', 'subscribers.id', { onDelete: 'CASCADE' });
    t.enu('type', ['cfu', 'cfb', 'cfna', 'cft']).notNullable();
    t.smallint('position').unsigned().notNullable().defaultTo(0);
    t.enu('destination_type', ['number', 'voicemail', 'uri']).notNullable();
    t.string('destination', 255).nullable(); // NULL for voicemail
    t.smallint('ring_timeout').unsigned().nullable(); // seconds before CFT/CFNA applies
    t.boolean('enabled').notNullable().defaultTo(true);
    timestamps(t);
    unique(t, 'call_forwards', 'position', ['subscriber_id', 'type', 'position']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['call_forwards', 'peering_rules', 'peering_servers', 'peering_groups', 'ncos_patterns', 'ncos_levels', 'rewrite_rules', 'rewrite_rule_sets']) {
    await knex.schema.dropTableIfExists(table);
  }
}
