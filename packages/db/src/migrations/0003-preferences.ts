/**
 * Preferences: a definitions table says each preference's type and at which levels
 * (domain, customer, subscriber, peer) it may be set; one value table per level.
 * Values are stored as strings (booleans as '0'/'1'); a preference with max_occur 0
 * may have many values (a list), with max_occur 1 at most one.
 */
import type { Knex } from 'knex';
import { createTable, fk, innodb } from './helpers.js';

export const name = '0003-preferences';

interface Def {
  attribute: string;
  data_type: 'boolean' | 'int' | 'string' | 'enum';
  levels: ('dom' | 'cust' | 'sub' | 'peer')[];
  description: string;
  max_occur?: number;
  enum_values?: string[];
  ref_table?: string;
}

/** The preferences the platform ships with (migration snapshot; admins may add more via the API). */
export const BUILTIN_PREFERENCES: readonly Def[] = [
  { attribute: 'ncos_id', data_type: 'int', levels: ['dom', 'cust', 'sub'], ref_table: 'ncos_levels', description: 'NCOS level (outbound call restrictions)' },
  { attribute: 'adm_ncos_id', data_type: 'int', levels: ['sub'], ref_table: 'ncos_levels', description: 'NCOS level set by the operator; the subscriber cannot change it' },
  { attribute: 'rewrite_rule_set_id', data_type: 'int', levels: ['dom', 'sub', 'peer'], ref_table: 'rewrite_rule_sets', description: 'rewrite rule set for caller/callee numbers' },
  { attribute: 'concurrent_max', data_type: 'int', levels: ['sub'], description: 'maximum concurrent calls of the subscriber' },
  { attribute: 'concurrent_max_out', data_type: 'int', levels: ['sub'], description: 'maximum concurrent outgoing calls of the subscriber' },
  { attribute: 'block_in_mode', data_type: 'enum', levels: ['dom', 'sub'], enum_values: ['blacklist', 'whitelist'], description: 'block_in_list: numbers to reject (blacklist) or the only ones to accept (whitelist)' },
  { attribute: 'block_in_list', data_type: 'string', levels: ['dom', 'sub'], max_occur: 0, description: 'inbound block list: caller patterns (digits, * as wildcard suffix)' },
  { attribute: 'block_in_clir', data_type: 'boolean', levels: ['dom', 'sub'], description: 'reject anonymous (CLIR) inbound calls' },
  { attribute: 'block_out_mode', data_type: 'enum', levels: ['dom', 'sub'], enum_values: ['blacklist', 'whitelist'], description: 'block_out_list semantics' },
  { attribute: 'block_out_list', data_type: 'string', levels: ['dom', 'sub'], max_occur: 0, description: 'outbound block list: callee patterns' },
  { attribute: 'clir', data_type: 'boolean', levels: ['sub'], description: 'hide the own number on outbound calls' },
  { attribute: 'cli', data_type: 'string', levels: ['sub'], description: 'network-provided calling line identity (E.164)' },
  { attribute: 'user_cli', data_type: 'string', levels: ['sub'], description: 'user-provided calling line identity (E.164)' },
  { attribute: 'ringtimeout', data_type: 'int', levels: ['dom', 'sub'], description: 'seconds to ring before a call counts as not answered' },
  { attribute: 'allowed_ips', data_type: 'string', levels: ['dom', 'sub'], max_occur: 0, description: 'source addresses/CIDRs the subscriber may call from' },
  { attribute: 'lock', data_type: 'enum', levels: ['cust', 'sub'], enum_values: ['none', 'foreign', 'outgoing', 'incoming', 'global'], description: 'lock level' },
  { attribute: 'nat_sipping', data_type: 'boolean', levels: ['dom', 'sub'], description: 'send NAT keep-alive OPTIONS to the registered contact' },
  { attribute: 'force_outbound_calls_to_peer', data_type: 'boolean', levels: ['dom', 'sub'], description: 'route calls to local numbers via the peers too' },
  { attribute: 'max_call_duration', data_type: 'int', levels: ['dom', 'sub', 'peer'], description: 'call-length limit in seconds, enforced by the sbc' },
  { attribute: 'sst_enable', data_type: 'boolean', levels: ['dom', 'sub', 'peer'], description: 'SIP session timers (RFC 4028) on the sbc' },
  { attribute: 'sst_expires', data_type: 'int', levels: ['dom', 'sub', 'peer'], description: 'session timer interval in seconds' },
  { attribute: 'e164_to_ruri', data_type: 'boolean', levels: ['peer'], description: 'put the E.164 number into the Request-URI towards this peer' },
  { attribute: 'prepaid', data_type: 'boolean', levels: ['cust', 'sub'], description: 'calls are prepaid (checked by the sbc)' },
  { attribute: 'language', data_type: 'enum', levels: ['dom', 'sub'], enum_values: ['en', 'de', 'fr', 'it', 'es'], description: 'language of announcements and voicemail prompts' },
];

const LEVEL_TABLES = [
  { table: 'domain_preferences', owner: 'domain_id', references: 'domains.id' },
  { table: 'customer_preferences', owner: 'customer_id', references: 'customers.id' },
  { table: 'subscriber_preferences', owner: 'subscriber_id', references: 'subscribers.id' },
  { table: 'peer_preferences', owner: 'peering_server_id', references: 'peering_servers.id' },
] as const;

export async function up(knex: Knex): Promise<void> {
  await createTable(knex, 'preference_defs', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    t.string('attribute', 64).notNullable();
    t.string('description', 255).nullable();
    t.enu('data_type', ['boolean', 'int', 'string', 'enum']).notNullable();
    t.text('enum_values').nullable(); // JSON array of strings for data_type enum
    t.tinyint('max_occur').unsigned().notNullable().defaultTo(1); // 0 = list
    t.boolean('dom_pref').notNullable().defaultTo(false);
    t.boolean('cust_pref').notNullable().defaultTo(false);
    t.boolean('sub_pref').notNullable().defaultTo(false);
    t.boolean('peer_pref').notNullable().defaultTo(false);
    t.string('ref_table', 64).nullable(); // int values must be ids in this table
    t.unique(['attribute'], { indexName: 'uq_preference_defs_attribute' });
  });

  for (const { table, owner, references } of LEVEL_TABLES) {
    await createTable(knex, table, (t) => {
      innodb(t);
      t.increments('id').unsigned().primary();
      fk(t, table, owner, references, { onDelete: 'CASCADE' });
      fk(t, table, 'attribute_id', 'preference_defs.id', { onDelete: 'CASCADE' });
      t.string('value', 255).notNullable();
      t.index([owner, 'attribute_id'], `ix_${table}_owner`);
    });
  }

  await knex('preference_defs').insert(
    BUILTIN_PREFERENCES.map((d) => ({
      attribute: d.attribute,
      description: d.description,
      data_type: d.data_type,
      enum_values: d.enum_values ? JSON.stringify(d.enum_values) : null,
      max_occur: d.max_occur ?? 1,
      dom_pref: d.levels.includes('dom'),
      cust_pref: d.levels.includes('cust'),
      sub_pref: d.levels.includes('sub'),
      peer_pref: d.levels.includes('peer'),
      ref_table: d.ref_table ?? null,
    })),
  );
}

export async function down(knex: Knex): Promise<void> {
  for (const { table } of [...LEVEL_TABLES].reverse()) await knex.schema.dropTableIfExists(table);
  await knex.schema.dropTableIfExists('preference_defs');
}
