/**
 * Choosing the response a forking proxy sends upstream when no branch answered 2xx
 * (RFC 3261 §16.7 step 6): a 6xx if there is one, else the lowest class; within a
 * class the responses that let the caller act (§16.7: 401, 407, 415, 420, 484) first,
 * then 486 Busy Here, then the earliest. A selected 503 becomes 500 (§16.7 step 6).
 */
export const PREFERRED = [401, 407, 415, 420, 484, 486] as const;

export function selectBestResponse(statuses: readonly number[]): { index: number; status: number } | undefined {
  if (statuses.length === 0) return undefined;
  const global = statuses.findIndex((s) => s >= 600);
  if (global >= 0) return { index: global, status: statuses[global]! };
  let cls = 7;
  for (const s of statuses) cls = Math.min(cls, Math.floor(s / 100));
  const inClass = statuses.map((s, i) => ({ s, i })).filter((x) => Math.floor(x.s / 100) === cls);
  let best = inClass[0]!;
  const rank = (s: number): number => {
    const p = PREFERRED.indexOf(s as (typeof PREFERRED)[number]);
    if (p >= 0) return p;
    // a timeout or an unreachable branch says less than a real answer
    if (s === 408 || s === 503 || s === 480) return PREFERRED.length + 2;
    return PREFERRED.length;
  };
  for (const x of inClass) if (rank(x.s) < rank(best.s)) best = x;
  return { index: best.i, status: best.s === 503 ? 500 : best.s };
}
