/** Changing one key of a YAML config file, keeping its comments and layout. */
import { isScalar, parse, parseDocument, stringify } from 'yaml';
import type { KeyPath } from './keypath.js';

/** Returns the new text of `text` with `path` set to `value` (maps created as needed). */
export function setKeyInYaml(text: string, path: KeyPath, value: unknown): string {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new Error(`does not parse: ${doc.errors[0]!.message.split('\n')[0]}`);
  // an existing scalar replaced by a scalar: change just those characters, so the rest
  // of the file (comments, their alignment) stays byte for byte
  const node = doc.getIn(path, true);
  if (isScalar(node) && node.range && (value === null || typeof value !== 'object')) {
    const repl = stringify(value).trimEnd();
    if (!repl.includes('\n')) return text.slice(0, node.range[0]) + repl + text.slice(node.range[1]);
  }
  if (doc.contents === null) doc.contents = doc.createNode({}) as never;
  doc.setIn(path, value);
  return doc.toString();
}

/** A command-line value read as YAML (`5061`, `true`, `[a, b]`, `"text"`); plain text if it does not parse. */
export function parseValue(raw: string): unknown {
  try {
    return parse(raw) as unknown;
  } catch {
    return raw;
  }
}

export function toYaml(value: unknown): string {
  return stringify(value);
}
