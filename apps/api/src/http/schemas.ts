/** JSON Schema fragments shared by the resources (one place per resource builds on these). */

export type JsonSchema = Record<string, unknown>;

export const nullable = (s: JsonSchema): JsonSchema => {
  const t = s.type;
  if (typeof t === 'string') return { ...s, type: [t, 'null'], ...(Array.isArray(s.enum) ? { enum: [...s.enum, null] } : {}) };
  return { anyOf: [s, { type: 'null' }] };
};

export const ID = { type: 'integer', minimum: 1, maximum: 4294967295 } as const;
export const DATE_TIME = { type: 'string', format: 'date-time' } as const;
/** digits only, country code first, 2–15 digits; a leading '+' is accepted and dropped */
export const E164 = { type: 'string', pattern: '^\\+?[1-9][0-9]{1,14}$', description: 'E.164 number (digits, optional leading +)' } as const;
/** a DNS name or an IPv4 address */
export const DOMAIN_NAME = {
  type: 'string',
  minLength: 1,
  maxLength: 127,
  pattern: '^(?=.{1,127}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$',
} as const;
/** SIP user part: unreserved characters and a few safe marks */
export const SIP_USERNAME = { type: 'string', minLength: 1, maxLength: 127, pattern: "^[A-Za-z0-9_.!~*'()&=+$,;?/-]+$" } as const;
export const STATUS = { type: 'string', enum: ['active', 'locked', 'terminated'] } as const;
export const SECRET = (min = 6) => ({ type: 'string', minLength: min, maxLength: 255, writeOnly: true }) as const;
export const REGEX = { type: 'string', minLength: 1, maxLength: 255, description: 'ECMAScript regular expression' } as const;

export const idParams = (idSchema: JsonSchema = ID): JsonSchema => ({
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: idSchema },
});

export function pagingQuery(maxRows: number, defaultRows: number, filters: Record<string, JsonSchema>, sortable: readonly string[]): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      page: { type: 'integer', minimum: 1, default: 1, description: 'page number, from 1' },
      rows: { type: 'integer', minimum: 1, maximum: maxRows, default: defaultRows, description: 'items per page' },
      ...(sortable.length
        ? {
            order_by: { type: 'string', enum: [...sortable] },
            order_by_direction: { type: 'string', enum: ['asc', 'desc'], default: 'asc' },
          }
        : {}),
      ...filters,
    },
  };
}

export const listOf = (itemRef: JsonSchema): JsonSchema => ({
  type: 'object',
  required: ['total_count', 'page', 'rows', 'items'],
  properties: {
    total_count: { type: 'integer', description: 'all matching objects, on every page' },
    page: { type: 'integer' },
    rows: { type: 'integer' },
    items: { type: 'array', items: itemRef },
  },
});

/** Object schema: every property listed, `required` as given, nothing else allowed. */
export function object(properties: Record<string, JsonSchema>, required: readonly string[] = [], extra: JsonSchema = {}): JsonSchema {
  return { type: 'object', additionalProperties: false, required: [...required], properties, ...extra };
}
