/**
 * Templates: `templates/<target path>.eta`, mirroring the target tree (e.g.
 * `templates/etc/ngcp/lb.yml.eta` renders `<root>/etc/ngcp/lb.yml`). Each starts with
 * a YAML front matter that declares what to do when its output changes:
 *
 *   ---
 *   services: { lb: restart }     # service name → restart | reload
 *   mode: "0600"                  # optional file mode (default 0644)
 *   ---
 *
 * The body is Eta (`<%= %>` raw, no HTML escaping; `it` is the TemplateContext).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Eta } from 'eta';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from './errors.js';

export type ServiceAction = 'restart' | 'reload';

export interface TemplateFile {
  /** Target path relative to the node root, e.g. `etc/ngcp/lb.yml`. */
  target: string;
  /** Where the template is (absolute). */
  source: string;
  services: Record<string, ServiceAction>;
  mode: number;
  body: string;
}

const FRONT = /^---\r?\n([\s\S]*?)\r?\n---\r?\n/;

export function parseTemplate(source: string, target: string, text: string): TemplateFile {
  const m = FRONT.exec(text);
  const bad = (message: string): never => {
    throw new ConfigError('CONFIG_TEMPLATE', [{ file: source, line: 1, path: '', message }]);
  };
  if (!m) return bad('missing front matter (--- services: {…} ---)');
  let meta: unknown;
  try {
    meta = parseYaml(m[1]!);
  } catch (e) {
    return bad(`front matter: ${(e as Error).message.split('\n')[0]}`);
  }
  const rec = (meta ?? {}) as Record<string, unknown>;
  for (const k of Object.keys(rec)) if (k !== 'services' && k !== 'mode') bad(`front matter: unknown key ${k}`);
  const services: Record<string, ServiceAction> = {};
  const s = rec.services ?? {};
  if (typeof s !== 'object' || s === null || Array.isArray(s)) bad('front matter: services must be a map name → restart|reload');
  for (const [name, action] of Object.entries(s as Record<string, unknown>)) {
    if (action !== 'restart' && action !== 'reload') bad(`front matter: services.${name} must be restart or reload`);
    services[name] = action as ServiceAction;
  }
  const mode = rec.mode === undefined ? 0o644 : parseInt(String(rec.mode), 8);
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o777) bad('front matter: mode must be octal like "0600"');
  return { target, source, services, mode, body: text.slice(m[0].length) };
}

function walk(dir: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (n.endsWith('.eta')) out.push(p);
  }
  return out;
}

/**
 * All templates of `dirs`, later dirs overriding earlier ones path by path (the
 * shipped templates, then a node's own `<config dir>/templates`).
 */
export function loadTemplates(dirs: string[]): TemplateFile[] {
  const byTarget = new Map<string, TemplateFile>();
  for (const dir of dirs) {
    for (const p of walk(dir)) {
      const target = relative(dir, p).split(sep).join('/').replace(/\.eta$/, '');
      byTarget.set(target, parseTemplate(p, target, readFileSync(p, 'utf8')));
    }
  }
  return [...byTarget.values()].sort((a, b) => a.target.localeCompare(b.target));
}

const eta = new Eta({ autoEscape: false, autoTrim: false, useWith: false, varName: 'it', cache: false });

export function renderTemplate(t: TemplateFile, context: object): string {
  try {
    return eta.renderString(t.body, context);
  } catch (e) {
    throw new ConfigError('CONFIG_TEMPLATE', [{ file: t.source, path: '', message: (e as Error).message.split('\n').slice(0, 3).join(' ') }], { cause: e });
  }
}
