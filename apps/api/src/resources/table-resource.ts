/**
 * A Resource over one table whose API fields are its columns: list with filters and
 * paging, get, create, replace, delete. Custom semantics go into `prepare` (checks and
 * transformations before a write) and `scope` (rows a principal may see).
 */
import type { Knex } from '@ngcp/db';
import { apiError } from '../errors.js';
import { DATE_TIME, ID, object, type JsonSchema } from '../http/schemas.js';
import type { Ctx, Item, ListQuery, Page, Resource } from './resource.js';
import { iso } from './resource.js';

export interface Column {
  schema: JsonSchema;
  /** output only (not in create/replace bodies) */
  readOnly?: boolean;
  /** input only, never selected or returned (secrets); absent on replace = unchanged. `prepare` must turn it into real columns. */
  writeOnly?: boolean;
  /** must be given on create and replace */
  required?: boolean;
  /** value when absent on create/replace (otherwise null) */
  default?: unknown;
  /** stored as 0/1 */
  bool?: boolean;
  /** date/time column */
  date?: boolean;
  /** list filter: exact match, or `*` wildcards (like) */
  filter?: 'eq' | 'like';
  sortable?: boolean;
}

export interface TableSpec<T extends Item> extends Omit<Resource<T>, 'itemSchema' | 'createSchema' | 'replaceSchema' | 'list' | 'get' | 'create' | 'replace' | 'remove' | 'filters' | 'sortable'> {
  table: string;
  columns: Record<string, Column>;
  /** filters that are not plain column matches */
  extraFilters?: Record<string, { schema: JsonSchema; apply(qb: Knex.QueryBuilder, value: unknown): void }>;
  /** restrict rows to what the principal may see */
  scope?(ctx: Ctx, qb: Knex.QueryBuilder): void;
  /** checks before a delete; throw ApiError to refuse */
  beforeDelete?(ctx: Ctx, current: T): Promise<void> | void;
  /** checks/transformations before insert/update; throw ApiError to refuse */
  prepare?(ctx: Ctx, data: Record<string, unknown>, current?: T): Promise<void> | void;
  readOnly?: boolean;
  deletable?: boolean;
  defaultOrder?: string;
}

const AUTO: Record<string, Column> = {
  id: { schema: ID, readOnly: true, filter: 'eq', sortable: true },
};
const STAMPS: Record<string, Column> = {
  created_at: { schema: DATE_TIME, readOnly: true, date: true, sortable: true },
  updated_at: { schema: DATE_TIME, readOnly: true, date: true, sortable: true },
};

/** `a*b` → LIKE 'a%b' (with % and _ escaped); no `*` → equality. */
export function applyFilter(qb: Knex.QueryBuilder, column: string, kind: 'eq' | 'like', value: unknown): void {
  if (kind === 'like' && typeof value === 'string' && value.includes('*')) {
    qb.where(column, 'like', value.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%'));
  } else qb.where(column, value as Knex.Value);
}

export function tableResource<T extends Item>(spec: TableSpec<T>, withTimestamps = true): Resource<T> {
  const columns: Record<string, Column> = { ...AUTO, ...spec.columns, ...(withTimestamps ? STAMPS : {}) };
  const all = Object.keys(columns);
  const names = all.filter((n) => !columns[n]!.writeOnly);
  const writable = all.filter((n) => !columns[n]!.readOnly);
  const itemSchema = object(Object.fromEntries(names.map((n) => [n, columns[n]!.schema])), names);
  const bodySchema = object(
    Object.fromEntries(writable.map((n) => [n, columns[n]!.default !== undefined ? { ...columns[n]!.schema, default: columns[n]!.default } : columns[n]!.schema])),
    writable.filter((n) => columns[n]!.required),
  );
  const createRequired = writable.filter((n) => columns[n]!.required || (columns[n]!.writeOnly && columns[n]!.required !== false));
  const createSchema = { ...bodySchema, required: createRequired };
  const replaceSchema = { ...bodySchema, required: writable.filter((n) => columns[n]!.required && !columns[n]!.writeOnly) };
  const filters: Record<string, JsonSchema> = {};
  for (const n of names) {
    const c = columns[n]!;
    if (c.filter) filters[n] = c.filter === 'like' ? { type: 'string', description: `${n}; * matches anything` } : c.schema;
  }
  for (const [k, f] of Object.entries(spec.extraFilters ?? {})) filters[k] = f.schema;
  const sortable = names.filter((n) => columns[n]!.sortable);

  const toItem = (row: Record<string, unknown>): T => {
    const out: Record<string, unknown> = {};
    for (const n of names) {
      const c = columns[n]!;
      const v = row[n];
      out[n] = c.bool ? Boolean(v) : c.date ? iso(v as Date) : v === undefined ? null : v;
    }
    return out as T;
  };
  const fromBody = (body: Record<string, unknown>): Record<string, unknown> => {
    const data: Record<string, unknown> = {};
    for (const n of writable) {
      if (body[n] !== undefined) data[n] = body[n];
      else if (!columns[n]!.writeOnly) data[n] = columns[n]!.default ?? null;
    }
    return data;
  };
  const base = (c: Ctx): Knex.QueryBuilder => {
    const qb = c.db(spec.table);
    spec.scope?.(c, qb);
    return qb;
  };
  const get = async (c: Ctx, id: T['id']): Promise<T | undefined> => {
    const row = await base(c).where(`${spec.table}.id`, id).first(names.map((n) => `${spec.table}.${n}`));
    return row ? toItem(row) : undefined;
  };

  const res: Resource<T> = {
    ...spec,
    itemSchema,
    filters,
    sortable,
    async list(c: Ctx, q: ListQuery): Promise<Page<T>> {
      const qb = base(c);
      for (const [k, v] of Object.entries(q.filters)) {
        const col = columns[k];
        if (col?.filter && v !== undefined) applyFilter(qb, `${spec.table}.${k}`, col.filter, v);
        else if (v !== undefined) spec.extraFilters?.[k]?.apply(qb, v);
      }
      const [count] = q.count === false ? [{ n: -1 }] : await qb.clone().clearSelect().count({ n: '*' });
      const key = `${spec.table}.${q.order_by ?? spec.defaultOrder ?? 'id'}`;
      const id = `${spec.table}.id`;
      if (q.after) {
        const { value, id: lastId } = q.after;
        const cmp = q.order_by_direction === 'asc' ? '>' : '<';
        // a date column comes back as an ISO string: compare as the stored type
        const v = columns[q.order_by ?? spec.defaultOrder ?? 'id']?.date && typeof value === 'string' ? new Date(value) : value;
        if (key === id) qb.where(id, cmp, lastId as number);
        else qb.where((w: Knex.QueryBuilder) => w.where(key, cmp, v as string).orWhere((e: Knex.QueryBuilder) => e.where(key, v as string).andWhere(id, cmp, lastId as number)));
      }
      qb.select(names.map((n) => `${spec.table}.${n}`)).orderBy(key, q.order_by_direction);
      // rows with equal sort values keep one order from page to page
      if (key !== id) qb.orderBy(id, q.order_by_direction);
      const rows = await qb.limit(q.rows).offset(q.after ? 0 : (q.page - 1) * q.rows);
      return { total: Number(count?.n ?? 0), items: rows.map(toItem) };
    },
    get,
  };
  if (!spec.readOnly) {
    res.createSchema = createSchema;
    res.replaceSchema = replaceSchema;
    res.create = async (c, body) => {
      const data = fromBody(body);
      await spec.prepare?.(c, data);
      const [id] = await c.db(spec.table).insert(data);
      const item = await get(c, id as T['id']);
      if (!item) throw apiError('NGCP_API_INTERNAL', 'created object vanished');
      return item;
    };
    res.replace = async (c, id, body, current) => {
      const data = fromBody(body);
      await spec.prepare?.(c, data, current);
      await c.db(spec.table).where('id', id).update(data);
      return (await get(c, id))!;
    };
  }
  if (spec.deletable !== false && !spec.readOnly) {
    res.remove = async (c, id, current) => {
      await spec.beforeDelete?.(c, current);
      await c.db(spec.table).where('id', id).delete();
    };
  }
  return res;
}
