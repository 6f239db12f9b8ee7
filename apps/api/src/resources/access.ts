/** /api/apiusers (admin) and /api/tokens (an API user's own bearer tokens). */
import { hashPassword, hashToken, newToken } from '@ngcp/db';
import { apiError, validationError } from '../errors.js';
import { DATE_TIME, ID, nullable, object, SECRET } from '../http/schemas.js';
import { iso, ROLES, type Ctx, type Item, type Resource } from './resource.js';
import { tableResource } from './table-resource.js';

export interface ApiUser extends Item { id: number; login: string; role: string; reseller_id: number | null; subscriber_id: number | null; is_active: boolean; created_at: string; updated_at: string }

export const apiUsers = tableResource<ApiUser>({
  name: 'apiusers', entity: 'api_user', schemaId: 'ApiUser', table: 'api_users',
  description: 'Accounts of the API: role admin (everything), reseller (its customers; needs reseller_id), subscriber (one subscriber; needs subscriber_id). The password is write-only (scrypt).',
  columns: {
    login: { schema: { type: 'string', minLength: 1, maxLength: 127, pattern: '^[^:\\s]+$' }, required: true, filter: 'like', sortable: true },
    password: { schema: SECRET(8), writeOnly: true },
    role: { schema: { type: 'string', enum: ['admin', 'reseller', 'subscriber'] }, required: true, filter: 'eq' },
    reseller_id: { schema: nullable(ID), filter: 'eq' },
    subscriber_id: { schema: nullable(ID), filter: 'eq' },
    is_active: { schema: { type: 'boolean' }, bool: true, default: true, filter: 'eq' },
  },
  roles: { list: ROLES.admin, get: ROLES.admin, create: ROLES.admin, update: ROLES.admin, delete: ROLES.admin },
  async prepare(c, data, current) {
    if (data.role === 'reseller' && data.reseller_id == null) throw validationError([{ field: 'reseller_id', message: 'is required for role reseller' }]);
    if (data.role === 'subscriber' && data.subscriber_id == null) throw validationError([{ field: 'subscriber_id', message: 'is required for role subscriber' }]);
    if (data.role !== 'reseller') data.reseller_id = null;
    if (data.role !== 'subscriber') data.subscriber_id = null;
    if (current && current.id === c.principal.apiUserId && (data.role !== 'admin' || data.is_active === false)) {
      throw apiError('NGCP_API_FORBIDDEN', 'you cannot demote or deactivate yourself');
    }
    if (typeof data.password === 'string') data.password_hash = await hashPassword(data.password);
    delete data.password;
  },
  beforeDelete(c, current) {
    if (current.id === c.principal.apiUserId) throw apiError('NGCP_API_FORBIDDEN', 'you cannot delete yourself');
  },
  afterWrite(services) {
    services.auth.invalidate();
  },
});

export interface Token extends Item { id: number; api_user_id: number; name: string | null; expires_at: string | null; created_at: string; token?: string }

const TOKEN_ITEM = object(
  {
    id: ID, api_user_id: ID, name: nullable({ type: 'string' }), expires_at: nullable(DATE_TIME), created_at: DATE_TIME,
    token: { type: 'string', description: 'the bearer token — only in the answer to POST; store it, it cannot be read again' },
  },
  ['id', 'api_user_id', 'name', 'expires_at', 'created_at'],
);
const TOKEN_BODY = object({
  name: nullable({ type: 'string', maxLength: 127 }),
  expires_in: nullable({ type: 'integer', minimum: 60, maximum: 31_536_000, description: 'seconds; default auth.token_ttl_s; null = never' }),
}, []);

const tokenItem = (r: Record<string, unknown>): Token => ({
  id: r.id as number, api_user_id: r.api_user_id as number, name: (r.name as string | null) ?? null, expires_at: iso(r.expires_at as Date | null), created_at: iso(r.created_at as Date)!,
});

function own(c: Ctx): number {
  if (c.principal.apiUserId === undefined) throw apiError('NGCP_API_FORBIDDEN', 'only API users have tokens');
  return c.principal.apiUserId;
}

export const tokens: Resource<Token> = {
  name: 'tokens',
  entity: 'api_token',
  schemaId: 'Token',
  description: 'Bearer tokens of the calling API user (`Authorization: Bearer <token>`). Only a hash is stored.',
  itemSchema: TOKEN_ITEM,
  createSchema: TOKEN_BODY,
  sortable: ['id'],
  roles: { list: ROLES.all, get: ROLES.all, create: ROLES.all, delete: ROLES.all },
  journalContent: ({ token: _t, ...rest }) => rest,
  async list(c, q) {
    const qb = c.db('api_tokens').where('api_user_id', own(c));
    const [count] = await qb.clone().count({ n: '*' });
    const rows = await qb.orderBy('id', q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows);
    return { total: Number(count?.n ?? 0), items: rows.map(tokenItem) };
  },
  async get(c, id) {
    const r = await c.db('api_tokens').where({ id, api_user_id: own(c) }).first();
    return r ? tokenItem(r) : undefined;
  },
  async create(c, body) {
    const userId = own(c);
    const token = newToken();
    const ttl = body.expires_in === undefined ? c.services.config.auth.token_ttl_s : (body.expires_in as number | null);
    const [id] = (await c.db('api_tokens').insert({
      api_user_id: userId, token_hash: hashToken(token), name: body.name ?? null,
      expires_at: ttl ? new Date(Date.now() + ttl * 1000) : null,
    })) as [number];
    const r = await c.db('api_tokens').where('id', id).first();
    return { ...tokenItem(r), token };
  },
  async remove(c, id) {
    await c.db('api_tokens').where({ id, api_user_id: own(c) }).delete();
  },
  afterWrite(services, op) {
    if (op === 'delete') services.auth.invalidate();
  },
};
