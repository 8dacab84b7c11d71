/**
 * Did-you-mean suggestions for names a researcher types (products, columns). Pure; bounded: names are compared
 * only up to 64 characters and against at most 10,000 candidates, so a hostile name cannot make it slow.
 */
const MAX_NAME = 64;
const MAX_CANDIDATES = 10_000;

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const s = a.slice(0, MAX_NAME).toLowerCase();
  const t = b.slice(0, MAX_NAME).toLowerCase();
  const d: number[][] = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++) {
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[s.length]![t.length]!;
}

/**
 * The candidates closest to `input` (ties kept, in the order given) if within a distance of a third of the
 * input's length (at least 1, at most 3); empty when nothing is close or `input` is itself a candidate.
 */
export function closestNames(input: string, candidates: readonly string[]): string[] {
  // Nothing sensible is suggested for a name longer than any we compare.
  if (input.length > MAX_NAME) return [];
  const pool = candidates.slice(0, MAX_CANDIDATES);
  if (pool.includes(input)) return [];
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  let best = Infinity;
  let found: string[] = [];
  for (const c of pool) {
    if (Math.abs(c.length - input.length) > limit) continue;
    const dist = editDistance(input, c);
    if (dist > limit || dist > best) continue;
    if (dist < best) {
      best = dist;
      found = [];
    }
    if (!found.includes(c)) found.push(c);
  }
  return found.slice(0, 3);
}

/** ` (did you mean "a"?)`, ` (did you mean "a" or "b"?)`, or '' when nothing is close. */
export function didYouMean(input: string, candidates: readonly string[]): string {
  const near = closestNames(input, candidates);
  if (near.length === 0) return '';
  return ` (did you mean ${near.map((n) => JSON.stringify(n)).join(' or ')}?)`;
}
