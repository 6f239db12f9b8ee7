/**
 * Every error the API answers with comes from this one table: a stable code, an HTTP
 * status and a default message. The body is always `ApiErrorBody` (see `ERROR_SCHEMA`).
 */

export const ERRORS = {
  NGCP_API_BAD_REQUEST: { status: 400, message: 'malformed request' },
  NGCP_API_UNAUTHORIZED: { status: 401, message: 'authentication required' },
  NGCP_API_BAD_CREDENTIALS: { status: 401, message: 'invalid credentials' },
  NGCP_API_FORBIDDEN: { status: 403, message: 'not allowed for your role' },
  NGCP_API_NOT_FOUND: { status: 404, message: 'no such object' },
  NGCP_API_ROUTE_NOT_FOUND: { status: 404, message: 'no such resource' },
  NGCP_API_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed on this resource' },
  NGCP_API_CONFLICT: { status: 409, message: 'conflicts with an existing object' },
  NGCP_API_IN_USE: { status: 409, message: 'still referenced by other objects' },
  NGCP_API_PATCH_TEST_FAILED: { status: 409, message: 'a JSON Patch test operation failed' },
  NGCP_API_PAYLOAD_TOO_LARGE: { status: 413, message: 'request body too large' },
  NGCP_API_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'unsupported content type: send Content-Type application/json (PATCH: application/json-patch+json)' },
  NGCP_API_VALIDATION: { status: 422, message: 'invalid input' },
  NGCP_API_PATCH_INVALID: { status: 422, message: 'invalid JSON Patch' },
  NGCP_API_TOO_MANY_ATTEMPTS: { status: 429, message: 'too many failed logins; try again later' },
  NGCP_API_INTERNAL: { status: 500, message: 'internal error' },
  NGCP_API_UNAVAILABLE: { status: 503, message: 'a backend (database or Redis) is unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface FieldError {
  /** API field name (JSON Pointer-ish path without the leading '/', e.g. `domain` or `patterns/0/prefix`) */
  field: string;
  message: string;
}

export interface ApiErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
  fields?: FieldError[];
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Payload Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Entity', 429: 'Too Many Requests',
  500: 'Internal Server Error', 503: 'Service Unavailable',
};

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly fields: FieldError[] | undefined;
  /** extra response headers (Retry-After, Allow, WWW-Authenticate) */
  readonly headers: Record<string, string>;

  constructor(code: ErrorCode, message?: string, opts: { fields?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(message ?? ERRORS[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ApiError';
    this.code = code;
    this.statusCode = ERRORS[code].status;
    this.fields = opts.fields;
    this.headers = opts.headers ?? {};
  }

  toBody(): ApiErrorBody {
    const body: ApiErrorBody = { statusCode: this.statusCode, code: this.code, error: REASONS[this.statusCode] ?? 'Error', message: this.message };
    if (this.fields?.length) body.fields = this.fields;
    return body;
  }
}

export const apiError = (code: ErrorCode, message?: string, opts?: ConstructorParameters<typeof ApiError>[2]): ApiError => new ApiError(code, message, opts);

/** The Content-Type a request body must have, by method (PATCH is RFC 6902 JSON Patch). */
export const BODY_MEDIA_TYPES: Readonly<Record<string, string>> = { PATCH: 'application/json-patch+json' };
export const DEFAULT_BODY_MEDIA_TYPE = 'application/json';

/**
 * A 415 that says what the method takes and what it got; a PATCH answer also carries
 * `Accept-Patch` (RFC 5789 §3.1).
 */
export function unsupportedMediaType(method: string, got: string | undefined): ApiError {
  const m = method.toUpperCase();
  const want = BODY_MEDIA_TYPES[m] ?? DEFAULT_BODY_MEDIA_TYPE;
  const sent = got?.trim() ? `Content-Type ${got.trim()}` : 'no Content-Type';
  const what = m === 'PATCH' ? ' (a JSON Patch, RFC 6902)' : '';
  return new ApiError('NGCP_API_UNSUPPORTED_MEDIA_TYPE', `${m} takes a body of Content-Type ${want}${what}; the request had ${sent}`, {
    headers: m === 'PATCH' ? { 'accept-patch': want } : {},
  });
}

/** A 422 naming one or more fields. */
export function validationError(fields: FieldError[], message?: string): ApiError {
  return new ApiError('NGCP_API_VALIDATION', message ?? fields.map((f) => `${f.field}: ${f.message}`).join('; '), { fields });
}

/** The JSON Schema of every error body (also in the OpenAPI document). */
export const ERROR_SCHEMA = {
  $id: 'ApiError',
  type: 'object',
  description: 'Every error has this shape; `code` is stable, `fields` names each failing input field.',
  required: ['statusCode', 'code', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    code: { type: 'string', enum: Object.keys(ERRORS) },
    error: { type: 'string' },
    message: { type: 'string' },
    fields: {
      type: 'array',
      items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
    },
  },
} as const;

interface SqlError { code?: string; errno?: number; sqlMessage?: string }

/**
 * MariaDB errors that are the client's fault, mapped by the key naming convention of
 * @ngcp/db (`uq_<table>_<field>`, `fk_<table>_<column>`). Anything else → undefined.
 */
export function fromDbError(err: unknown): ApiError | undefined {
  const e = err as SqlError;
  if (!e || typeof e.code !== 'string' || typeof e.sqlMessage !== 'string') return undefined;
  switch (e.code) {
    case 'ER_DUP_ENTRY': {
      const key = /for key '(?:[\w]+\.)?uq_([a-z_]+?)_([a-z0-9_]+)'/.exec(e.sqlMessage);
      const field = key ? fieldOfKey(key[1]!, key[2]!) : 'id';
      return new ApiError('NGCP_API_CONFLICT', `${field}: already exists`, { fields: [{ field, message: 'already exists' }], cause: err });
    }
    case 'ER_NO_REFERENCED_ROW_2':
    case 'ER_NO_REFERENCED_ROW': {
      const m = /FOREIGN KEY \(`(\w+)`\)/.exec(e.sqlMessage);
      const field = m?.[1] ?? 'reference';
      return new ApiError('NGCP_API_VALIDATION', `${field}: does not exist`, { fields: [{ field, message: 'does not exist' }], cause: err });
    }
    case 'ER_ROW_IS_REFERENCED_2':
    case 'ER_ROW_IS_REFERENCED': {
      const m = /a foreign key constraint fails \(`[^`]+`\.`([a-z_]+)`/.exec(e.sqlMessage);
      return new ApiError('NGCP_API_IN_USE', `still referenced by ${m?.[1] ?? 'other objects'}`, { cause: err });
    }
    case 'ER_DATA_TOO_LONG':
    case 'ER_WARN_DATA_OUT_OF_RANGE':
    case 'ER_TRUNCATED_WRONG_VALUE_FOR_FIELD': {
      const m = /column '(\w+)'/i.exec(e.sqlMessage);
      const field = m?.[1] ?? 'input';
      return new ApiError('NGCP_API_VALIDATION', `${field}: out of range`, { fields: [{ field, message: 'out of range' }], cause: err });
    }
    default:
      return undefined;
  }
}

/** Known tables whose unique key name does not split at the first '_' of the field. */
const MULTIWORD_TABLES = [
  'api_users', 'api_tokens', 'rewrite_rule_sets', 'rewrite_rules', 'ncos_levels', 'ncos_patterns', 'peering_groups',
  'peering_servers', 'peering_rules', 'call_forwards', 'preference_defs', 'voicemail_boxes', 'voicemail_messages',
  'domain_preferences', 'customer_preferences', 'subscriber_preferences', 'peer_preferences', 'billing_profiles', 'billing_fees',
];

function fieldOfKey(a: string, b: string): string {
  // the regex split `uq_<table>_<field>` lazily; re-split using the known table names
  const full = `${a}_${b}`;
  for (const t of MULTIWORD_TABLES) if (full.startsWith(`${t}_`)) return full.slice(t.length + 1);
  return b;
}
