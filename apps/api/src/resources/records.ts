/** Read-mostly records: CDRs (written by the mediator), the journal. (Voicemails: voicemails.ts.) */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Knex } from '@ngcp/db';
import { CALL_STATUSES, CALL_TYPES } from '@ngcp/db';
import { apiError } from '../errors.js';
import { DATE_TIME, ID, nullable, object } from '../http/schemas.js';
import type { Services } from '../services.js';
import { iso, ROLES, type Ctx, type Item, type Resource } from './resource.js';
import { scopeCustomerColumn, scopeSubscriberColumn } from './scope.js';
import { tableResource } from './table-resource.js';

const S = { type: 'string' } as const;
const NID = nullable(ID);

export const cdrs = tableResource({
  name: 'cdrs', entity: 'cdr', schemaId: 'Cdr', table: 'cdrs', readOnly: true,
  description: 'Call detail records, written by the mediator. Read-only. A subscriber sees calls it made or received; a reseller those of its customers.',
  columns: {
    call_id: { schema: S, filter: 'eq' },
    source_subscriber_id: { schema: NID, filter: 'eq' }, source_customer_id: { schema: NID, filter: 'eq' },
    source_user: { schema: S }, source_domain: { schema: S }, source_cli: { schema: S, filter: 'like' }, source_ip: { schema: S },
    source_peer_id: { schema: NID },
    destination_subscriber_id: { schema: NID, filter: 'eq' }, destination_customer_id: { schema: NID, filter: 'eq' },
    destination_user: { schema: S }, destination_domain: { schema: S }, destination_user_in: { schema: S, filter: 'like' },
    destination_peer_id: { schema: NID },
    call_type: { schema: { type: 'string', enum: [...CALL_TYPES] }, filter: 'eq' },
    call_status: { schema: { type: 'string', enum: [...CALL_STATUSES] }, filter: 'eq' },
    call_code: { schema: S, filter: 'eq' },
    init_time: { schema: DATE_TIME, date: true, sortable: true },
    start_time: { schema: nullable(DATE_TIME), date: true },
    duration: { schema: { type: 'number', description: 'seconds, millisecond precision' }, sortable: true },
  },
  extraFilters: {
    subscriber_id: { schema: { ...ID, description: 'calls from or to this subscriber' }, apply: (qb, v) => qb.where((w: Knex.QueryBuilder) => w.where('cdrs.source_subscriber_id', v as number).orWhere('cdrs.destination_subscriber_id', v as number)) },
    customer_id: { schema: { ...ID, description: 'calls from or to this customer' }, apply: (qb, v) => qb.where((w: Knex.QueryBuilder) => w.where('cdrs.source_customer_id', v as number).orWhere('cdrs.destination_customer_id', v as number)) },
    start: { schema: { ...DATE_TIME, description: 'init_time ≥ start' }, apply: (qb, v) => qb.where('cdrs.init_time', '>=', new Date(v as string)) },
    end: { schema: { ...DATE_TIME, description: 'init_time < end' }, apply: (qb, v) => qb.where('cdrs.init_time', '<', new Date(v as string)) },
  },
  roles: { list: ROLES.all, get: ROLES.all },
  journal: false,
  defaultOrder: 'init_time',
  scope(c, qb) {
    if (c.principal.role === 'admin') return;
    qb.where((w: Knex.QueryBuilder) => {
      w.where((a: Knex.QueryBuilder) => (c.principal.role === 'subscriber' ? scopeSubscriberColumn(c, a, 'cdrs.source_subscriber_id') : scopeCustomerColumn(c, a, 'cdrs.source_customer_id')))
        .orWhere((b: Knex.QueryBuilder) => (c.principal.role === 'subscriber' ? scopeSubscriberColumn(c, b, 'cdrs.destination_subscriber_id') : scopeCustomerColumn(c, b, 'cdrs.destination_customer_id')));
    });
  },
}, false);

/** One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break. */
function csvField(v: unknown): string {
  const s = v == null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * GET /api/cdrs/export.csv — the CDRs the list would return (same filters, same scope for
 * the caller's role), all pages, oldest first, as CSV with a header row; at most `limit` rows.
 * Streamed page by page (paging.max_rows per query, keyset on (init_time, id), so a CDR the
 * mediator writes meanwhile neither repeats nor hides a row), one page in memory at a time.
 */
export function registerCdrExport(app: FastifyInstance, services: Services): void {
  const { max_rows: maxRows } = services.config.paging;
  const columns = Object.keys((cdrs.itemSchema.properties as Record<string, unknown>) ?? {});
  app.get('/api/cdrs/export.csv', {
    schema: {
      tags: ['cdrs'], summary: 'CDRs as CSV (RFC 4180, header row), with the filters of GET /api/cdrs, oldest first',
      querystring: { type: 'object', additionalProperties: false, properties: { ...(cdrs.filters ?? {}), limit: { type: 'integer', minimum: 1, maximum: 10_000_000, default: 1_000_000, description: 'rows at most' } } },
      response: { 200: { description: 'text/csv', content: { 'text/csv': { schema: { type: 'string' } } } }, 401: { $ref: 'ApiError#' }, 403: { $ref: 'ApiError#' }, 422: { $ref: 'ApiError#' } },
    },
    handler: async (req, reply) => {
      if (!(cdrs.roles.list ?? []).includes(req.principal!.role)) throw apiError('NGCP_API_FORBIDDEN', `${req.principal!.role} may not list cdrs`);
      const c: Ctx = { db: services.db, principal: req.principal!, services, req };
      const { limit, ...filters } = req.query as Record<string, unknown> & { limit: number };
      async function* lines(): AsyncGenerator<string> {
        yield `${columns.join(',')}\r\n`;
        let sent = 0;
        let after: { value: unknown; id: number | string } | undefined;
        while (sent < limit) {
          const rows = Math.min(maxRows, limit - sent);
          // keyset paging on (init_time, id): a CDR written during the export shifts no page
          const res = await cdrs.list!(c, { page: 1, rows, order_by: 'init_time', order_by_direction: 'asc', filters, after, count: false });
          if (res.items.length === 0) break;
          yield res.items.map((it) => `${columns.map((k) => csvField((it as unknown as Record<string, unknown>)[k])).join(',')}\r\n`).join('');
          sent += res.items.length;
          const last = res.items.at(-1)!;
          after = { value: last.init_time, id: last.id };
          if (res.items.length < rows) break;
        }
      }
      return reply.type('text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="cdrs.csv"').send(Readable.from(lines()));
    },
  });
}

/* ---- journal ----------------------------------------------------------------------- */

interface JournalEntry extends Item { id: number; created_at: string; api_user_id: number | null; login: string; role: string; remote_addr: string | null; entity: string; entity_id: string; op: string; content: unknown }

const J_ITEM = object(
  {
    id: ID, created_at: DATE_TIME, api_user_id: NID, login: S, role: S, remote_addr: nullable(S), entity: S, entity_id: S,
    op: { type: 'string', enum: ['create', 'update', 'delete'] }, content: { description: 'the object after the change (before it, for delete)' },
  },
  ['id', 'created_at', 'api_user_id', 'login', 'role', 'remote_addr', 'entity', 'entity_id', 'op', 'content'],
);
const jItem = (r: Record<string, unknown>): JournalEntry => ({
  id: r.id as number, created_at: iso(r.created_at as Date)!, api_user_id: (r.api_user_id as number | null) ?? null, login: r.login as string,
  role: r.role as string, remote_addr: (r.remote_addr as string | null) ?? null, entity: r.entity as string, entity_id: r.entity_id as string,
  op: r.op as string, content: r.content ? JSON.parse(r.content as string) : null,
});

export const journal: Resource<JournalEntry> = {
  name: 'journal',
  entity: 'journal',
  schemaId: 'JournalEntry',
  description: 'Audit journal: every change made through the API, who made it and from where. Read-only, admin only.',
  itemSchema: J_ITEM,
  filters: { entity: S, entity_id: S, op: { type: 'string', enum: ['create', 'update', 'delete'] }, login: S, api_user_id: ID, start: DATE_TIME, end: DATE_TIME },
  sortable: ['id', 'created_at'],
  roles: { list: ROLES.admin, get: ROLES.admin },
  journal: false,
  async list(c, q) {
    const qb = c.db('journal');
    const f = q.filters;
    for (const k of ['entity', 'entity_id', 'op', 'login', 'api_user_id'] as const) if (f[k] !== undefined) qb.where(k, f[k] as string);
    if (f.start !== undefined) qb.where('created_at', '>=', new Date(f.start as string));
    if (f.end !== undefined) qb.where('created_at', '<', new Date(f.end as string));
    const [count] = await qb.clone().count({ n: '*' });
    const rows = await qb.orderBy(q.order_by ?? 'id', q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows);
    return { total: Number(count?.n ?? 0), items: rows.map(jItem) };
  },
  async get(c, id) {
    const r = await c.db('journal').where('id', id).first();
    return r ? jItem(r) : undefined;
  },
};
