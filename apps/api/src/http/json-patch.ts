/**
 * JSON Patch (RFC 6902) over JSON Pointers (RFC 6901): add, remove, replace, move, copy,
 * test. Pure: the input document is not modified. Errors say which operation failed.
 */

export type PatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; from: string; path: string };

export class PatchError extends Error {
  constructor(readonly kind: 'invalid' | 'test_failed', readonly index: number, message: string) {
    super(`operation ${index}: ${message}`);
    this.name = 'PatchError';
  }
}

/** RFC 6901 §3/§4: "" is the whole document; "/a~1b/~0c" → ['a/b', '~c']. */
export function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw new Error(`"${p}" is not a JSON Pointer`);
  return p.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return typeof v === 'object' && v !== null;
}

function arrayIndex(token: string, length: number, allowEnd: boolean): number {
  if (allowEnd && token === '-') return length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new Error(`"${token}" is not an array index`);
  const i = Number(token);
  if (i > length || (!allowEnd && i === length)) throw new Error(`index ${i} is out of range`);
  return i;
}

function get(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(t, cur.length, false)];
    else if (isContainer(cur) && Object.hasOwn(cur, t)) cur = (cur as Record<string, unknown>)[t];
    else throw new Error(`path does not exist`);
  }
  return cur;
}

/** Parent container and last token; the parent must exist. */
function parentOf(doc: unknown, tokens: string[]): [Container, string] {
  const parent = get(doc, tokens.slice(0, -1));
  if (!isContainer(parent)) throw new Error('parent is not an object or array');
  return [parent, tokens[tokens.length - 1]!];
}

function add(doc: unknown, tokens: string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const [parent, key] = parentOf(doc, tokens);
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, true), 0, value);
  else parent[key] = value;
  return doc;
}

function remove(doc: unknown, tokens: string[]): unknown {
  if (tokens.length === 0) throw new Error('cannot remove the whole document');
  const [parent, key] = parentOf(doc, tokens);
  if (Array.isArray(parent)) parent.splice(arrayIndex(key, parent.length, false), 1);
  else if (Object.hasOwn(parent, key)) delete parent[key];
  else throw new Error('path does not exist');
  return doc;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b as object, k) && deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

const clone = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));

/** Apply all operations in order (atomically: on error nothing of it is returned). */
export function applyPatch<T = unknown>(document: T, ops: readonly PatchOp[]): T {
  let doc: unknown = clone(document);
  ops.forEach((op, i) => {
    try {
      const path = parsePointer(op.path);
      switch (op.op) {
        case 'add':
          doc = add(doc, path, clone(op.value));
          break;
        case 'remove':
          doc = remove(doc, path);
          break;
        case 'replace':
          get(doc, path); // must exist (RFC 6902 §4.3)
          doc = path.length === 0 ? clone(op.value) : add(remove(doc, path), path, clone(op.value));
          break;
        case 'move': {
          const from = parsePointer(op.from);
          if (op.path.startsWith(`${op.from}/`)) throw new Error('cannot move a value into one of its children');
          const v = get(doc, from);
          doc = add(remove(doc, from), path, v);
          break;
        }
        case 'copy':
          doc = add(doc, path, clone(get(doc, parsePointer(op.from))));
          break;
        case 'test': {
          let actual: unknown;
          try {
            actual = get(doc, path);
          } catch (err) {
            throw new PatchError('test_failed', i, `test of ${op.path}: ${(err as Error).message}`);
          }
          if (!deepEqual(actual, op.value)) throw new PatchError('test_failed', i, `test of ${op.path} failed`);
          break;
        }
        default:
          throw new Error(`unknown op "${(op as { op: string }).op}"`);
      }
    } catch (err) {
      if (err instanceof PatchError) throw err;
      throw new PatchError('invalid', i, `${op.op} ${op.path}: ${(err as Error).message}`);
    }
  });
  return doc as T;
}

/** JSON Schema of a patch document (request body of every PATCH). */
export const PATCH_SCHEMA = {
  type: 'array',
  description: 'JSON Patch (RFC 6902), Content-Type application/json-patch+json',
  minItems: 1,
  maxItems: 500,
  items: {
    type: 'object',
    required: ['op', 'path'],
    additionalProperties: false,
    properties: {
      op: { type: 'string', enum: ['add', 'remove', 'replace', 'move', 'copy', 'test'] },
      path: { type: 'string' },
      from: { type: 'string' },
      value: {},
    },
    allOf: [
      { if: { properties: { op: { enum: ['add', 'replace', 'test'] } } }, then: { required: ['value'] } },
      { if: { properties: { op: { enum: ['move', 'copy'] } } }, then: { required: ['from'] } },
    ],
  },
} as const;
