/**
 * ajv errors as config issues: each names the key path and says the problem in words an
 * operator understands (`must be <= 65535 (got 70000)`, `unknown key`). Shared by the
 * node config (`loadConfig`) and each daemon's own file (`@ngcp/daemon`).
 */
import { isIP } from 'node:net';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { ConfigIssue } from './errors.js';
import { formatKeyPath, fromJsonPointer, type KeyPath } from './keypath.js';

/** The ajv setup of every config schema: all errors, strict, `format: 'ip'` known. */
export function createConfigAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  ajv.addFormat('ip', { type: 'string', validate: (s: string) => isIP(s) !== 0 });
  // an address or a network: 10.0.0.0/8, 2001:db8::/32
  ajv.addFormat('ip-or-cidr', { type: 'string', validate: (s: string) => isIpOrCidr(s) });
  return ajv;
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** An ajv error as (key path, human message). */
export function translateAjvError(e: ErrorObject, data: unknown): { path: KeyPath; message: string } {
  const path = fromJsonPointer(e.instancePath);
  let value: unknown = data;
  for (const seg of path) value = (value as Record<string | number, unknown> | undefined)?.[seg];
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(p.additionalProperty)], message: 'unknown key' };
    case 'required':
      return { path: [...path, String(p.missingProperty)], message: 'missing (required)' };
    case 'type':
      return { path, message: `must be ${String(p.type).replace(',', ' or ')} (got ${describeValue(value)})` };
    case 'format':
      return { path, message: `must be an IP address${p.format === 'ip-or-cidr' ? ' or a network (10.0.0.0/8)' : ''} (got ${describeValue(value)})` };
    case 'enum':
      return { path, message: `must be one of ${(p.allowedValues as unknown[]).join(', ')} (got ${describeValue(value)})` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${String(p.comparison)} ${String(p.limit)} (got ${describeValue(value)})` };
    case 'pattern':
      if (value === '@generate') return { path, message: 'is still the @generate placeholder: run `ngcpcfg init` to generate it' };
      return { path, message: `has a bad format (got ${describeValue(value)})` };
    case 'minLength':
      return { path, message: Number(p.limit) === 1 ? 'must not be empty' : `must be at least ${String(p.limit)} characters long` };
    case 'propertyNames':
      return { path, message: `has a bad key name ${describeValue(p.propertyName)}` };
    case 'uniqueItems':
      return { path, message: 'must not list the same item twice' };
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

export function schemaIssues(fn: ValidateFunction, data: unknown, where: (path: KeyPath, message: string) => ConfigIssue): ConfigIssue[] {
  if (fn(data)) return [];
  const seen = new Set<string>();
  const out: ConfigIssue[] = [];
  for (const e of fn.errors ?? []) {
    // propertyNames also reports the nested pattern error; keep the clearer one
    if (e.keyword === 'pattern' && e.propertyName !== undefined) continue;
    const t = translateAjvError(e, data);
    const key = `${formatKeyPath(t.path)}|${t.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(where(t.path, t.message));
  }
  return out;
}


export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object') {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** An IPv4/IPv6 address, or a network in CIDR notation whose prefix fits its family. */
export function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIP(s) !== 0;
  const fam = isIP(s.slice(0, slash));
  const len = s.slice(slash + 1);
  return fam !== 0 && /^\d{1,3}$/.test(len) && Number(len) <= (fam === 4 ? 32 : 128);
}
