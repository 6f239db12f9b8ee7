/**
 * Outbound registration to peering servers (issue #11, docs/routing.md "Outbound registration
 * to peers"): the proxy's registration agent (active node only) REGISTERs the platform at
 * servers that need it, with the server's digest credentials (0007).
 * - `register_enable`: 0 = no registration (default).
 * - `register_expires_s`: the Expires asked for (default 600; the server may grant less).
 * - `register_user`: the AoR's user; NULL = `auth_username`.
 * - `register_domain`: the AoR's domain (and the REGISTER's Request-URI); NULL = `auth_realm`,
 *   else the server's host.
 * - `register_contact_user`: the user part of the Contact (what the peer calls back); NULL =
 *   the AoR's user.
 * The live state is not here: Redis `peerreg:<server id>` (packages/db/REDIS.md).
 */
import type { Knex } from 'knex';

export const name = '0009-peer-register';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE peering_servers ADD COLUMN register_enable TINYINT(1) NOT NULL DEFAULT 0 AFTER auth_realm, '
      + 'ADD COLUMN register_expires_s INT UNSIGNED NOT NULL DEFAULT 600 AFTER register_enable, '
      + 'ADD COLUMN register_user VARCHAR(127) NULL AFTER register_expires_s, '
      + 'ADD COLUMN register_domain VARCHAR(255) NULL AFTER register_user, '
      + 'ADD COLUMN register_contact_user VARCHAR(127) NULL AFTER register_domain',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE peering_servers DROP COLUMN register_contact_user, DROP COLUMN register_domain, DROP COLUMN register_user, DROP COLUMN register_expires_s, DROP COLUMN register_enable',
  );
}
