/**
 * Pure call-restriction decisions: NCOS (longest prefix decides, else the level's default),
 * block lists (blacklist / whitelist of number patterns) and which preference level wins.
 * Numbers are compared in the stored E.164 form (digits, no `+`).
 */
export interface NcosLevelSpec {
  id: number;
  level: string;
  defaultAction: 'allow' | 'deny';
  patterns: readonly { prefix: string; action: 'allow' | 'deny' }[];
}

/** The E.164 digits of a number as dialled or stored: a leading `+` dropped, nothing else changed. */
export function e164(n: string): string {
  return n.startsWith('+') ? n.slice(1) : n;
}

/** May a caller at this NCOS level call `number`? The longest matching prefix decides, else the default. */
export function ncosAllows(level: NcosLevelSpec, number: string): boolean {
  const n = e164(number);
  let best: { prefix: string; action: 'allow' | 'deny' } | undefined;
  for (const p of level.patterns) {
    const prefix = e164(p.prefix);
    if (n.startsWith(prefix) && (!best || prefix.length > e164(best.prefix).length)) best = p;
  }
  return (best?.action ?? level.defaultAction) === 'allow';
}

/**
 * One block-list pattern as a matcher: digits (a leading `+` ignored), `*` matches any run of
 * characters (`4312*` = every number starting 4312), `?` exactly one; anything else literal.
 * The whole number must match.
 */
export function blockPattern(pattern: string): (number: string) => boolean {
  const p = e164(pattern.trim());
  if (!/[*?]/.test(p)) return (n) => e164(n) === p;
  const src = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${src}$`);
  return (n) => re.test(e164(n));
}

export type BlockMode = 'blacklist' | 'whitelist';

/**
 * Is `number` blocked by a list in a mode? Blacklist (the default): blocked when a pattern
 * matches. Whitelist: blocked unless one matches. A list without entries blocks nothing in
 * either mode (a mode alone changes nothing). An unknown number (`undefined`) matches no pattern.
 */
export function blockedBy(mode: BlockMode | undefined, list: readonly string[] | undefined, number: string | undefined): boolean {
  if (!list || list.length === 0) return false;
  const hit = number !== undefined && number.length > 0 && list.some((p) => blockPattern(p)(number));
  return (mode ?? 'blacklist') === 'whitelist' ? !hit : hit;
}

/** RFC 3326 Reason header value for a refusal of ours. */
export function reasonHeader(status: number, text: string): string {
  return `SIP;cause=${status};text="${text.replace(/["\\]/g, '')}"`;
}
