/** Routes for a declared Resource. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { insertJournal, type Knex } from '@ngcp/db';
import { apiError, unsupportedMediaType, validationError, type FieldError } from '../errors.js';
import { applyPatch, deepEqual, PatchError, PATCH_SCHEMA, type PatchOp } from '../http/json-patch.js';
import { idParams, listOf, pagingQuery, type JsonSchema } from '../http/schemas.js';
import { ajvFieldErrors } from '../http/validation.js';
import type { Services } from '../services.js';
import type { Ctx, Item, ListQuery, Op, Resource } from './resource.js';

const ERROR_REF = { $ref: 'ApiError#' };
const errorResponses = (...codes: number[]): Record<number, JsonSchema> => Object.fromEntries(codes.map((c) => [c, ERROR_REF]));
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

export function registerResource<T extends Item>(app: FastifyInstance, services: Services, r: Resource<T>): void {
  const base = `/api/${r.name}`;
  const itemRef = { $ref: `${r.schemaId}#` };
  app.addSchema({ $id: r.schemaId, ...r.itemSchema });
  const tags = [r.name];
  const { max_rows: maxRows, default_rows: defaultRows } = services.config.paging;
  const security: { [scheme: string]: string[] }[] = [{ basicAuth: [] }, { bearerAuth: [] }];
  const allowedCollection: string[] = [];
  const allowedItem: string[] = [];

  // run as the route's onRequest hook (after authentication, before body parsing and validation):
  // a role that may never do this gets 403, not the 400/415/422 of the body it sent
  const guard = (op: Op) => (req: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    const roles = r.roles[op] ?? [];
    if (!roles.includes(req.principal!.role)) done(apiError('NGCP_API_FORBIDDEN', `${req.principal!.role} may not ${op} ${r.name}`));
    else done();
  };
  const ctx = (req: FastifyRequest, db: Knex = services.db): Ctx => ({ db, principal: req.principal!, services, req });

  const loadOr404 = async (c: Ctx, id: T['id']): Promise<T> => {
    const cur = await r.get!(c, id);
    if (!cur) throw apiError('NGCP_API_NOT_FOUND', `${r.entity} ${id} not found`);
    return cur;
  };

  /** Run a write in one transaction with its journal entry; notify after the commit. */
  const write = async (req: FastifyRequest, op: 'create' | 'update' | 'delete', fn: (c: Ctx) => Promise<T>): Promise<T> => {
    const item = await services.db.transaction(async (trx) => {
      const c = ctx(req, trx);
      const res = await fn(c);
      if (r.journal !== false) {
        await insertJournal(
          trx, { apiUserId: c.principal.apiUserId ?? null, login: c.principal.login, role: c.principal.role, remoteAddr: req.ip },
          { entity: r.entity, entityId: res.id, op, content: r.journalContent ? r.journalContent(res) : res },
        );
      }
      return res;
    });
    services.metrics.writes[op]++;
    if (r.notify) services.notifier.publish(r.entity, item.id, op);
    r.afterWrite?.(services, op, item);
    return item;
  };

  if (r.list) {
    allowedCollection.push('GET');
    app.get(base, {
      schema: {
        tags, summary: `List ${r.name}`, description: r.description, security,
        querystring: pagingQuery(maxRows, defaultRows, r.filters ?? {}, r.sortable ?? []),
        response: { 200: listOf(itemRef), ...errorResponses(401, 403, 422) },
      },
      onRequest: guard('list'),
      handler: async (req) => {
        const { page, rows, order_by, order_by_direction, ...filters } = req.query as Record<string, unknown>;
        const q: ListQuery = { page: page as number, rows: rows as number, order_by_direction: (order_by_direction as 'asc' | 'desc') ?? 'asc', filters };
        if (typeof order_by === 'string') q.order_by = order_by;
        const res = await r.list!(ctx(req), q);
        return { total_count: res.total, page: q.page, rows: q.rows, items: res.items };
      },
    });
  }

  const params = idParams(r.idSchema);
  if (r.get) {
    allowedItem.push('GET');
    app.get(`${base}/:id`, {
      schema: { tags, summary: `Get one of ${r.name}`, security, params, response: { 200: itemRef, ...errorResponses(401, 403, 404) } },
      onRequest: guard('get'),
      handler: async (req) => loadOr404(ctx(req), (req.params as { id: T['id'] }).id),
    });
  }

  if (r.create && r.createSchema) {
    allowedCollection.push('POST');
    app.post(base, {
      schema: { tags, summary: `Create one of ${r.name}`, security, body: r.createSchema, response: { 201: itemRef, ...errorResponses(401, 403, 409, 422) } },
      onRequest: guard('create'),
      handler: async (req, reply) => {
        const item = await write(req, 'create', (c) => r.create!(c, req.body as Record<string, unknown>));
        reply.code(201).header('location', `${base}/${encodeURIComponent(String(item.id))}`);
        return item;
      },
    });
  }

  if (r.replace && r.replaceSchema && r.get) {
    allowedItem.push('PUT', 'PATCH');
    const replaceSchema = r.replaceSchema;
    // item fields that are not in the PUT body: PATCH may test them but not change them
    const writableKeys = new Set(Object.keys((replaceSchema.properties as Record<string, unknown>) ?? {}));
    const readOnlyKeys = new Set(Object.keys((r.itemSchema.properties as Record<string, unknown>) ?? {}).filter((k) => !writableKeys.has(k)));
    app.put(`${base}/:id`, {
      schema: { tags, summary: `Replace one of ${r.name}`, security, params, body: replaceSchema, response: { 200: itemRef, ...errorResponses(401, 403, 404, 409, 422) } },
      onRequest: guard('update'),
      handler: async (req) => {
        const id = (req.params as { id: T['id'] }).id;
        return write(req, 'update', async (c) => r.replace!(c, id, req.body as Record<string, unknown>, await loadOr404(c, id)));
      },
    });
    // a resource with a plain-JSON PATCH (patchJson) takes both content types, each with its own body schema
    const patchJson = r.patchJson;
    const isPlainJson = (req: FastifyRequest): boolean => /^application\/json\s*(;|$)/i.test(String(req.headers['content-type'] ?? ''));
    app.patch(`${base}/:id`, {
      schema: {
        tags, summary: `Patch one of ${r.name} (RFC 6902${patchJson ? '; or a plain JSON change' : ''})`, security, params,
        ...(patchJson
          ? { body: { content: { 'application/json-patch+json': { schema: PATCH_SCHEMA }, 'application/json': { schema: patchJson.schema } } } }
          : { consumes: ['application/json-patch+json'], body: PATCH_SCHEMA }),
        response: { 200: itemRef, ...errorResponses(401, 403, 404, 409, 415, 422) },
      },
      onRequest: guard('update'),
      preValidation: async (req) => {
        if (patchJson && isPlainJson(req)) return;
        if (!String(req.headers['content-type'] ?? '').startsWith('application/json-patch+json')) {
          throw unsupportedMediaType('PATCH', req.headers['content-type']);
        }
      },
      handler: async (req) => {
        const id = (req.params as { id: T['id'] }).id;
        if (patchJson && isPlainJson(req)) {
          return write(req, 'update', async (c) => patchJson.apply(c, id, req.body as Record<string, unknown>, await loadOr404(c, id)));
        }
        const validate = req.compileValidationSchema(replaceSchema, 'body');
        return write(req, 'update', async (c) => {
          const current = await loadOr404(c, id);
          let patched: Record<string, unknown>;
          try {
            patched = applyPatch(current as Record<string, unknown>, req.body as PatchOp[]);
          } catch (err) {
            if (!(err instanceof PatchError)) throw err;
            throw apiError(err.kind === 'test_failed' ? 'NGCP_API_PATCH_TEST_FAILED' : 'NGCP_API_PATCH_INVALID', err.message);
          }
          if (patched === null || typeof patched !== 'object' || Array.isArray(patched)) throw apiError('NGCP_API_PATCH_INVALID', 'the result must be an object');
          // read-only fields may be tested but not changed; then only writable ones are kept
          const body: Record<string, unknown> = {};
          const readOnly: FieldError[] = [];
          for (const [k, v] of Object.entries(patched)) {
            if (!readOnlyKeys.has(k)) body[k] = v;
            else if (!deepEqual(v, (current as Record<string, unknown>)[k])) readOnly.push({ field: k, message: 'is read-only' });
          }
          if (readOnly.length) throw validationError(readOnly);
          if (!validate(body)) throw validationError(ajvFieldErrors(validate.errors ?? []));
          return r.replace!(c, id, body, current);
        });
      },
    });
  }

  if (r.remove && r.get) {
    allowedItem.push('DELETE');
    app.delete(`${base}/:id`, {
      schema: { tags, summary: `Delete one of ${r.name}`, security, params, response: { 204: { type: 'null', description: 'deleted' }, ...errorResponses(401, 403, 404, 409) } },
      onRequest: guard('delete'),
      handler: async (req, reply) => {
        const id = (req.params as { id: T['id'] }).id;
        await write(req, 'delete', async (c) => {
          const current = await loadOr404(c, id);
          await r.remove!(c, id, current);
          return current;
        });
        reply.code(204);
      },
    });
  }

  registerMethodNotAllowed(app, base, allowedCollection);
  registerMethodNotAllowed(app, `${base}/:id`, allowedItem);
}

/** 405 with `Allow` for the methods a path does not support (instead of a bare 404). */
export function registerMethodNotAllowed(app: FastifyInstance, url: string, allowed: readonly string[]): void {
  const missing = METHODS.filter((m) => !allowed.includes(m));
  if (missing.length === 0 || allowed.length === 0) return;
  app.route({
    method: [...missing],
    url,
    schema: { hide: true },
    handler: async (_req: FastifyRequest, _reply: FastifyReply) => {
      throw apiError('NGCP_API_METHOD_NOT_ALLOWED', undefined, { headers: { allow: allowed.join(', ') } });
    },
  });
}
