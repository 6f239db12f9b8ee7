/**
 * Validation: ajv (fastify's) with every error reported (`allErrors`), no silent removal
 * of unknown properties, and NO type coercion — a JSON body must carry the right types.
 * Query strings and path parameters are text, so `coerceParams` converts them by the
 * route's schema just before validation.
 */
import type { FastifyRequest } from 'fastify';
import type { FieldError } from '../errors.js';

export const AJV_OPTIONS = {
  customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false, useDefaults: true, strict: false },
} as const;

interface AjvError { instancePath: string; keyword: string; message?: string; params: Record<string, unknown> }

const unescape = (s: string) => s.replace(/~1/g, '/').replace(/~0/g, '~');

/** ajv errors → `{field, message}` with API field names (`patterns/0/prefix`). */
export function ajvFieldErrors(errors: readonly AjvError[]): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword === 'if' || e.keyword === 'anyOf' || e.keyword === 'oneOf') continue;
    const path = e.instancePath.split('/').slice(1).map(unescape).join('/');
    const join = (k: unknown) => (path ? `${path}/${String(k)}` : String(k));
    let fe: FieldError;
    if (e.keyword === 'required') fe = { field: join(e.params.missingProperty), message: 'is required' };
    else if (e.keyword === 'additionalProperties') fe = { field: join(e.params.additionalProperty), message: 'is not allowed' };
    else fe = { field: path || '(body)', message: e.message ?? e.keyword };
    const key = `${fe.field}\u0000${fe.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(fe);
    }
  }
  return out;
}

function typesOf(schema: unknown): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const t = (schema as { type?: unknown }).type;
  return Array.isArray(t) ? (t as string[]) : typeof t === 'string' ? [t] : [];
}

function coerce(value: unknown, schema: unknown): unknown {
  if (typeof value !== 'string') return value;
  const types = typesOf(schema);
  if ((types.includes('integer') || types.includes('number')) && /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(value)) return Number(value);
  if (types.includes('boolean')) {
    if (value === 'true' || value === '1') return true;
    if (value === 'false' || value === '0') return false;
  }
  if (types.includes('null') && value === '') return null;
  return value;
}

function coerceObject(obj: unknown, schema: unknown): void {
  if (!obj || typeof obj !== 'object' || !schema || typeof schema !== 'object') return;
  const props = (schema as { properties?: Record<string, unknown> }).properties;
  if (!props) return;
  const o = obj as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (props[k] !== undefined) o[k] = coerce(v, props[k]);
  }
}

/** preValidation hook: query string and params values to the types their schema declares. */
export function coerceParams(req: FastifyRequest, _reply: unknown, done: () => void): void {
  const schema = req.routeOptions.schema;
  if (schema) {
    coerceObject(req.query, schema.querystring);
    coerceObject(req.params, schema.params);
  }
  done();
}
