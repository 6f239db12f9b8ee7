/**
 * Schema migrations. The list is compiled in (no directory scanning), so the same code
 * runs from src/ under vitest and from dist/ in production.
 */
import type { Knex } from 'knex';
import * as m0001 from './migrations/0001-core.js';
import * as m0002 from './migrations/0002-routing.js';
import * as m0003 from './migrations/0003-preferences.js';
import * as m0004 from './migrations/0004-accounting.js';
import * as m0005 from './migrations/0005-acc-kind.js';
import * as m0006 from './migrations/0006-mediation.js';
import * as m0007 from './migrations/0007-peer-auth.js';
import * as m0008 from './migrations/0008-prepaid.js';
import * as m0009 from './migrations/0009-peer-register.js';
import * as m0010 from './migrations/0010-call-type-voicemail.js';
import * as m0011 from './migrations/0011-prepaid-reservations.js';

export interface Migration {
  name: string;
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** In order. Never edit one that has shipped: add a new one. */
export const MIGRATIONS: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0008, m0009, m0010, m0011];

const source: Knex.MigrationSource<Migration> = {
  getMigrations: async () => [...MIGRATIONS],
  getMigrationName: (m) => m.name,
  getMigration: async (m) => m,
};

const settings: Knex.MigratorConfig = { migrationSource: source, tableName: 'knex_migrations', disableTransactions: true };

export interface MigrateResult {
  batch: number;
  /** names of the migrations applied (latest) or reverted (rollback) */
  names: string[];
}

export const migrate = {
  /** Apply every pending migration. */
  async latest(db: Knex): Promise<MigrateResult> {
    const [batch, names] = (await db.migrate.latest(settings)) as [number, string[]];
    return { batch, names };
  },
  /** Revert the last batch, or everything with `{ all: true }`. */
  async rollback(db: Knex, opts: { all?: boolean } = {}): Promise<MigrateResult> {
    const [batch, names] = (await db.migrate.rollback(settings, opts.all ?? false)) as [number, string[]];
    return { batch, names };
  },
  /** Revert exactly one migration (the newest applied). */
  async down(db: Knex): Promise<MigrateResult> {
    const res = (await db.migrate.down(settings)) as [number, string[]];
    return { batch: res[0], names: res[1] };
  },
  /** Names applied and pending. */
  async status(db: Knex): Promise<{ applied: string[]; pending: string[] }> {
    const [done, pending] = (await db.migrate.list(settings)) as [{ name: string }[], Migration[]];
    return { applied: done.map((d) => d.name), pending: pending.map((p) => p.name) };
  },
};
