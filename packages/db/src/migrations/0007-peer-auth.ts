/**
 * Digest credentials per peering server (issue #11): the proxy answers a 401/407 of that
 * server with them (docs/routing.md "Authentication towards peers").
 * - `auth_username`, `auth_password`: NULL = the server is not answered. The password is
 *   kept as given: the platform is the client here and needs it for whatever realm and
 *   algorithm the peer's challenge names (an HA1 is bound to one realm). It is the one
 *   secret column read back, by the proxy only; the API never returns it.
 * - `auth_realm`: NULL = any realm; else only challenges of that realm are answered.
 */
import type { Knex } from 'knex';

export const name = '0007-peer-auth';

export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    'ALTER TABLE peering_servers ADD COLUMN auth_username VARCHAR(127) NULL AFTER enabled, ADD COLUMN auth_password VARCHAR(255) NULL AFTER auth_username, ADD COLUMN auth_realm VARCHAR(255) NULL AFTER auth_password',
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('ALTER TABLE peering_servers DROP COLUMN auth_realm, DROP COLUMN auth_password, DROP COLUMN auth_username');
}
