/**
 * One YAML file of the config dir: its data, and where each key is (line/column) so
 * that every error can name the line.
 */
import { readFileSync } from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './errors.js';
import { formatKeyPath, type KeyPath } from './keypath.js';

export interface YamlSource {
  /** Name relative to the config dir, e.g. `config.yml`. */
  file: string;
  data: Record<string, unknown>;
  /** 1-based line and column of a key path (the key itself), or of its nearest present ancestor. */
  locate(path: KeyPath): { line: number; col: number } | undefined;
  doc: Document;
}

export type ParseResult = { ok: true; source: YamlSource } | { ok: false; issues: ConfigIssue[] };

export function parseYamlText(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, strict: true });
  const issues: ConfigIssue[] = [];
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    issues.push({ file, line: pos?.line, col: pos?.col, path: '', message: `YAML syntax: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}` });
  }
  if (issues.length) return { ok: false, issues };
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    return { ok: false, issues: [{ file, line: 1, path: '', message: 'the top level must be a mapping of keys' }] };
  }
  const pos = (offset: number | undefined): { line: number; col: number } | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset);

  const locate = (path: KeyPath): { line: number; col: number } | undefined => {
    let node: unknown = doc.contents;
    let best = isNode(node) ? pos(node.range?.[0]) : undefined;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (!pair) break;
        const k = pair.key as Node | undefined;
        best = pos(k?.range?.[0]) ?? best;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        if (!isNode(item)) break;
        best = pos(item.range?.[0]) ?? best;
        node = item;
      } else {
        break;
      }
    }
    return best;
  };
  return { ok: true, source: { file, data: (data ?? {}) as Record<string, unknown>, locate, doc } };
}

function isNode(v: unknown): v is Node {
  return v !== null && typeof v === 'object' && 'range' in (v as object);
}

export function readYamlFile(path: string, file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { ok: false, issues: [{ file, path: '', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` }] };
  }
  return parseYamlText(file, text);
}

export function issueAt(src: YamlSource, path: KeyPath, message: string): ConfigIssue {
  const p = src.locate(path);
  return { file: src.file, line: p?.line, col: p?.col, path: formatKeyPath(path), message };
}
