/**
 * A REST resource is declared once — schemas, roles, and up to five operations — and
 * `registerResource` turns it into routes (GET list/item, POST, PUT, PATCH, DELETE), with
 * authorisation, validation, paging, the journal, change notifications and the OpenAPI entry.
 */
import type { FastifyRequest } from 'fastify';
import type { Knex } from '@ngcp/db';
import type { Principal, Role } from '../auth/principal.js';
import type { JsonSchema } from '../http/schemas.js';
import type { Services } from '../services.js';

export type Op = 'list' | 'get' | 'create' | 'update' | 'delete';

export interface Ctx {
  /** the connection, or the transaction during a write */
  db: Knex;
  principal: Principal;
  services: Services;
  req: FastifyRequest;
}

export interface ListQuery {
  page: number;
  rows: number;
  order_by?: string;
  order_by_direction: 'asc' | 'desc';
  /** the resource's own filter parameters, as given */
  filters: Record<string, unknown>;
  /**
   * Keyset paging (export): only rows after this (order_by value, id) in the list's order;
   * `page` is then ignored. Unlike an OFFSET, a row written meanwhile shifts nothing.
   */
  after?: { value: unknown; id: number | string };
  /** false: skip counting the total (`total` is then -1) */
  count?: boolean;
}

export interface Page<T> { total: number; items: T[] }

export type Item = { id: number | string } & Record<string, unknown>;

export interface Resource<T extends Item = Item> {
  /** URL segment under /api/ */
  name: string;
  /** singular name in the journal and in change notifications */
  entity: string;
  /** OpenAPI component name of the item */
  schemaId: string;
  description: string;
  itemSchema: JsonSchema;
  /** POST body */
  createSchema?: JsonSchema;
  /** PUT body; PATCH results are validated against it too */
  replaceSchema?: JsonSchema;
  /** list filters (query parameters besides page/rows/order_by) */
  filters?: Record<string, JsonSchema>;
  sortable?: readonly string[];
  idSchema?: JsonSchema;
  roles: Partial<Record<Op, readonly Role[]>>;
  /** publish changes on ngcp:changes (things the SIP daemons cache) */
  notify?: boolean;
  /** default true */
  journal?: boolean;
  list?(ctx: Ctx, q: ListQuery): Promise<Page<T>>;
  get?(ctx: Ctx, id: T['id']): Promise<T | undefined>;
  create?(ctx: Ctx, body: Record<string, unknown>): Promise<T>;
  replace?(ctx: Ctx, id: T['id'], body: Record<string, unknown>, current: T): Promise<T>;
  remove?(ctx: Ctx, id: T['id'], current: T): Promise<void>;
  /**
   * PATCH with a plain JSON body (`application/json`, validated against `schema`) besides
   * RFC 6902 (`application/json-patch+json`): a change that is not a new document, e.g. a
   * top-up that must add to the stored value atomically. Runs like every write (transaction, journal).
   */
  patchJson?: { schema: JsonSchema; apply(ctx: Ctx, id: T['id'], body: Record<string, unknown>, current: T): Promise<T> };
  /** after a committed write (e.g. clear the auth cache) */
  afterWrite?(services: Services, op: 'create' | 'update' | 'delete', item: T): void;
  /** journal content for an item (default: the item itself) */
  journalContent?(item: T): unknown;
}

export const ROLES = {
  admin: ['admin'],
  adminReseller: ['admin', 'reseller'],
  all: ['admin', 'reseller', 'subscriber'],
} as const satisfies Record<string, readonly Role[]>;

/** One page of a per-owner document list: the total, then the rows of the page ordered by `orderColumn`, as items. */
export async function pageOf<R, T>(qb: Knex.QueryBuilder, q: ListQuery, orderColumn: string, toItem: (row: R) => T): Promise<Page<T>> {
  const [count] = await qb.clone().clearSelect().count({ n: '*' });
  const rows = (await qb.orderBy(orderColumn, q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows)) as R[];
  return { total: Number((count as { n?: unknown } | undefined)?.n ?? 0), items: rows.map(toItem) };
}

/** Rows → API: 0/1 flags to booleans, dates to ISO strings. */
export function iso(d: Date | string | null | undefined): string | null {
  if (d == null) return null;
  // MariaDB's DATETIME(3) text in UTC (execute with dateStrings): 'YYYY-MM-DD HH:MM:SS.fff'
  if (typeof d === 'string' && d.length === 23 && d.charCodeAt(10) === 32) return `${d.slice(0, 10)}T${d.slice(11)}Z`;
  return (d instanceof Date ? d : new Date(d)).toISOString();
}
