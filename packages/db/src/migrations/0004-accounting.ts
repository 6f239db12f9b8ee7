/** Accounting records (start/stop, written by the proxy), CDRs (by the mediator), voicemail. */
import type { Knex } from 'knex';
import { createTable, fk, innodb, timestamps, unique } from './helpers.js';

export const name = '0004-accounting';

export const CALL_TYPES = ['call', 'cfu', 'cfb', 'cft', 'cfna'] as const;
export const CALL_STATUSES = ['ok', 'busy', 'noanswer', 'cancel', 'offline', 'timeout', 'other'] as const;
export const VOICEMAIL_FOLDERS = ['INBOX', 'Old', 'Work', 'Family', 'Friends', 'Cheers'] as const;

export async function up(knex: Knex): Promise<void> {
  // one row per accounted SIP event (INVITE 200 = start, BYE = stop, failed INVITE = missed)
  await createTable(knex, 'acc', (t) => {
    innodb(t);
    t.bigIncrements('id').unsigned().primary();
    t.string('method', 16).notNullable();
    t.string('callid', 255).notNullable();
    t.string('from_tag', 128).notNullable().defaultTo('');
    t.string('to_tag', 128).notNullable().defaultTo('');
    t.specificType('sip_code', 'CHAR(3)').notNullable();
    t.string('sip_reason', 128).notNullable().defaultTo('');
    t.specificType('time', 'DATETIME(3) NOT NULL');
    t.string('src_user', 127).nullable();
    t.string('src_domain', 127).nullable();
    t.string('src_ip', 64).nullable();
    t.string('dst_user', 127).nullable();
    t.string('dst_domain', 127).nullable();
    t.string('dst_ouser', 127).nullable(); // the callee as dialled, before rewriting
    t.integer('src_subscriber_id').unsigned().nullable();
    t.integer('dst_subscriber_id').unsigned().nullable();
    t.integer('peering_server_id').unsigned().nullable();
    t.enu('call_type', [...CALL_TYPES]).notNullable().defaultTo('call');
    t.boolean('mediated').notNullable().defaultTo(false);
    t.index(['callid'], 'ix_acc_callid');
    t.index(['mediated', 'time'], 'ix_acc_mediated');
  });

  // no foreign keys: a CDR outlives the subscriber/peer it names
  await createTable(knex, 'cdrs', (t) => {
    innodb(t);
    t.bigIncrements('id').unsigned().primary();
    t.string('call_id', 255).notNullable();
    t.integer('source_subscriber_id').unsigned().nullable();
    t.integer('source_customer_id').unsigned().nullable();
    t.string('source_user', 127).notNullable().defaultTo('');
    t.string('source_domain', 127).notNullable().defaultTo('');
    t.string('source_cli', 64).notNullable().defaultTo('');
    t.string('source_ip', 64).notNullable().defaultTo('');
    t.integer('source_peer_id').unsigned().nullable();
    t.integer('destination_subscriber_id').unsigned().nullable();
    t.integer('destination_customer_id').unsigned().nullable();
    t.string('destination_user', 127).notNullable().defaultTo('');
    t.string('destination_domain', 127).notNullable().defaultTo('');
    t.string('destination_user_in', 127).notNullable().defaultTo('');
    t.integer('destination_peer_id').unsigned().nullable();
    t.enu('call_type', [...CALL_TYPES]).notNullable().defaultTo('call');
    t.enu('call_status', [...CALL_STATUSES]).notNullable();
    t.specificType('call_code', 'CHAR(3)').notNullable();
    t.specificType('init_time', 'DATETIME(3) NOT NULL');
    t.specificType('start_time', 'DATETIME(3) NULL');
    t.decimal('duration', 13, 3).notNullable().defaultTo(0);
    t.index(['init_time'], 'ix_cdrs_init_time');
    t.index(['source_subscriber_id', 'init_time'], 'ix_cdrs_source');
    t.index(['destination_subscriber_id', 'init_time'], 'ix_cdrs_destination');
    t.index(['call_id'], 'ix_cdrs_call_id');
  });

  await createTable(knex, 'voicemail_boxes', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'voicemail_boxes', 'subscriber_id', 'subscribers.id', { onDelete: 'CASCADE' });
    t.string('pin_hash', 255).nullable(); // scrypt, like web passwords
    t.string('email', 255).nullable();
    t.boolean('attach').notNullable().defaultTo(true);
    t.boolean('delete_after_email').notNullable().defaultTo(false);
    timestamps(t);
    unique(t, 'voicemail_boxes', 'subscriber_id', ['subscriber_id']);
  });

  await createTable(knex, 'voicemail_messages', (t) => {
    innodb(t);
    t.increments('id').unsigned().primary();
    fk(t, 'voicemail_messages', 'box_id', 'voicemail_boxes.id', { onDelete: 'CASCADE' });
    t.enu('folder', [...VOICEMAIL_FOLDERS]).notNullable().defaultTo('INBOX');
    t.string('caller', 255).notNullable().defaultTo('');
    t.integer('duration').unsigned().notNullable().defaultTo(0); // seconds
    t.specificType('received_at', 'DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)');
    t.boolean('is_read').notNullable().defaultTo(false);
    t.string('audio_format', 16).notNullable().defaultTo('wav');
    t.specificType('audio', 'MEDIUMBLOB NULL');
    t.index(['box_id', 'folder'], 'ix_voicemail_messages_box');
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['voicemail_messages', 'voicemail_boxes', 'cdrs', 'acc']) await knex.schema.dropTableIfExists(table);
}
