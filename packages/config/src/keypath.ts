/**
 * Key paths: `lb.sip_port`, `hosts.sp1.interfaces.eth0.shared_ip[0]` (a numeric
 * segment after a dot, `pingnodes.0`, means the same as `[0]`).
 */
export type KeyPath = (string | number)[];

export function parseKeyPath(s: string): KeyPath {
  const out: KeyPath = [];
  for (const part of s.split('.')) {
    if (part === '') throw new Error(`bad key path '${s}'`);
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) throw new Error(`bad key path '${s}'`);
    if (m[1]) out.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(idx[1]));
  }
  return out;
}

export function formatKeyPath(p: readonly (string | number)[]): string {
  let s = '';
  for (const seg of p) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${seg}` : seg;
  return s;
}

/** JSON pointer (ajv `instancePath`) → key path. */
export function fromJsonPointer(ptr: string): KeyPath {
  if (!ptr) return [];
  return ptr
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

export function getIn(value: unknown, path: KeyPath): { found: boolean; value: unknown } {
  let cur: unknown = value;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return { found: false, value: undefined };
    const rec = cur as Record<string | number, unknown>;
    if (!Object.prototype.hasOwnProperty.call(rec, seg)) return { found: false, value: undefined };
    cur = rec[seg];
  }
  return { found: true, value: cur };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
