/**
 * Rewrite rules (sip:provider's rewrite rule sets): ordered regex match/replace on the
 * caller or callee number, per direction. A set is compiled once (every pattern one
 * RegExp) and kept until `ngcp:changes` says it changed; a rule whose pattern does not
 * compile is skipped with one log line (the API refuses such a rule with 422, so it can
 * only come from a row written around the API).
 *
 * Semantics (the same as `applyRewriteRules` in @ngcp/db): the enabled rules of one
 * (direction, field) run in priority order (lower first, then id); every rule that matches
 * rewrites the value in turn (`String.prototype.replace`, first match, `$1`… in the
 * replacement). Numbers are in the stored E.164 form (digits, no `+`) on the platform side:
 * `in` rules normalise towards it, `out` rules format away from it.
 *
 * Exported through the package index so the peering code can apply a peer's set outbound.
 */
export type RewriteDirection = 'in' | 'out';
export type RewriteField = 'caller' | 'callee';

export interface RewriteRuleSpec {
  id?: number;
  direction: RewriteDirection;
  field: RewriteField;
  match: string;
  replace: string;
  priority: number;
}

export interface SkippedRule { id?: number; match: string; error: string }

interface CompiledRule { re: RegExp; replace: string }

export class RewriteSet {
  /** rules by `${direction}:${field}`, in evaluation order */
  private readonly rules = new Map<string, CompiledRule[]>();
  readonly skipped: readonly SkippedRule[];

  constructor(readonly id: number, specs: readonly RewriteRuleSpec[]) {
    const skipped: SkippedRule[] = [];
    const ordered = [...specs].sort((a, b) => a.priority - b.priority || (a.id ?? 0) - (b.id ?? 0));
    for (const s of ordered) {
      let re: RegExp;
      try {
        re = new RegExp(s.match);
      } catch (err) {
        skipped.push({ ...(s.id !== undefined ? { id: s.id } : {}), match: s.match, error: (err as Error).message });
        continue;
      }
      const key = `${s.direction}:${s.field}`;
      let list = this.rules.get(key);
      if (!list) this.rules.set(key, (list = []));
      list.push({ re, replace: s.replace });
    }
    this.skipped = skipped;
  }

  /** The value after every matching rule of (direction, field) rewrote it in turn. */
  apply(direction: RewriteDirection, field: RewriteField, value: string): string {
    const list = this.rules.get(`${direction}:${field}`);
    if (!list) return value;
    let v = value;
    for (const r of list) {
      // no 'g'/'y' flag: test() keeps no state between calls
      if (r.re.test(v)) v = v.replace(r.re, r.replace);
    }
    return v;
  }

  /** Number of compiled rules (all directions and fields). */
  get size(): number {
    let n = 0;
    for (const l of this.rules.values()) n += l.length;
    return n;
  }
}

/** Compile a set; `onSkip` hears about each rule that does not compile (it is left out). */
export function compileRewriteSet(id: number, specs: readonly RewriteRuleSpec[], onSkip?: (rule: SkippedRule) => void): RewriteSet {
  const set = new RewriteSet(id, specs);
  if (onSkip) for (const s of set.skipped) onSkip(s);
  return set;
}

/** Apply a set when there is one (no set: the value unchanged). */
export function rewrite(set: RewriteSet | undefined, direction: RewriteDirection, field: RewriteField, value: string): string {
  return set ? set.apply(direction, field, value) : value;
}
