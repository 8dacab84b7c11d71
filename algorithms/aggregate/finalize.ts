import type { GroupPartial, KeyValue, MomentPartial } from './partial.js';

/** Correctly rounded enough for release: num/den as a double, computed from exact integers. */
export function ratioToNumber(num: bigint, den: bigint): number {
  if (den === 0n) throw new RangeError('ratioToNumber: denominator is zero');
  if (den < 0n) {
    num = -num;
    den = -den;
  }
  const q = num / den;
  const r = num - q * den;
  // Integer part exactly, fractional part with ~2^-64 relative precision: enough for a double.
  const frac = Number((r << 64n) / den) / 2 ** 64;
  return Number(q) + frac;
}

export interface MomentStats {
  n: number;
  sum: number;
  mean: number | null;
  /** Sample variance (n − 1 denominator); null below two values. */
  variance: number | null;
}

/** Exact sum, mean and sample variance from grid-integer sufficient statistics. */
export function momentStats(m: MomentPartial): MomentStats {
  if (m.scaleBits < 0 || m.sqScaleBits < 0) throw new RangeError('momentStats: exact statistics use non-negative grid scales');
  const scale = 1n << BigInt(m.scaleBits);
  const sqScale = 1n << BigInt(m.sqScaleBits);
  const n = m.n;
  const sum = ratioToNumber(m.sum, scale);
  const mean = n > 0n ? ratioToNumber(m.sum, n * scale) : null;
  // var = (n Σq/sqScale − (Σv/scale)²) / (n (n − 1)), over one common denominator so the numerator is exact.
  const variance = n > 1n ? ratioToNumber(n * m.sumSq * scale * scale - m.sum * m.sum * sqScale, n * (n - 1n) * sqScale * scale * scale) : null;
  return { n: Number(n), sum, mean, variance };
}

export interface ReleasedGroup {
  key: KeyValue[];
  values: Record<string, number | (number | null)[] | null>;
}

export type ExactMeasureSpec =
  | { fn: 'count'; field: string }
  | { fn: 'sum' | 'mean' | 'variance'; field: string }
  | { fn: 'histogram'; field: string }
  | { fn: 'quantile'; field: string; quantiles: readonly number[]; candidates: readonly number[] };

/** Turns combined partials into released values (mode `none`: exact). Suppressed groups are returned apart. */
export function finalizeExact(
  groups: readonly GroupPartial[],
  measures: readonly ExactMeasureSpec[],
): { rows: ReleasedGroup[]; suppressed: { key: KeyValue[]; suppressedBy: string[] }[] } {
  const rows: ReleasedGroup[] = [];
  const suppressed: { key: KeyValue[]; suppressedBy: string[] }[] = [];
  for (const g of groups) {
    if (g.suppressedBy.length > 0) {
      suppressed.push({ key: g.key, suppressedBy: [...g.suppressedBy].sort() });
      continue;
    }
    const values: ReleasedGroup['values'] = {};
    measures.forEach((spec, i) => {
      const m = g.measures[i];
      if (!m) throw new TypeError(`group ${JSON.stringify(g.key)}: missing measure ${i}`);
      if (spec.fn === 'count') {
        values[spec.field] = Number(g.count);
      } else if (spec.fn === 'quantile') {
        if (m.kind !== 'histogram') throw new TypeError(`measure ${i}: expected bucket counts`);
        values[spec.field] = exactQuantiles(m.bins.map((b) => b ?? 0n), spec.candidates, spec.quantiles);
      } else if (spec.fn === 'histogram') {
        if (m.kind !== 'histogram') throw new TypeError(`measure ${i}: expected a histogram partial`);
        values[spec.field] = m.bins.map((b) => (b === null ? null : Number(b)));
      } else {
        if (m.kind !== 'moments') throw new TypeError(`measure ${i}: expected a moments partial`);
        const s = momentStats(m);
        values[spec.field] = spec.fn === 'sum' ? s.sum : spec.fn === 'mean' ? s.mean : s.variance;
      }
    });
    rows.push({ key: g.key, values });
  }
  return { rows, suppressed };
}

/**
 * Exact quantiles at the resolution of the public candidates: for each q, the candidate c_j whose rank
 * #{x < c_j} is closest to q·n (ties to the smaller candidate) — the same utility the DP mechanism uses.
 */
export function exactQuantiles(buckets: readonly bigint[], candidates: readonly number[], quantiles: readonly number[]): (number | null)[] {
  const n = buckets.reduce((a, b) => a + b, 0n);
  if (n === 0n) return quantiles.map(() => null);
  const ranks: bigint[] = [];
  let acc = 0n;
  for (let j = 0; j < candidates.length; j++) {
    acc += buckets[j]!;
    ranks.push(acc);
  }
  return quantiles.map((q) => {
    let best = 0;
    let bestD = Infinity;
    ranks.forEach((r, j) => {
      const d = Math.abs(Number(r) - q * Number(n));
      if (d < bestD) {
        bestD = d;
        best = j;
      }
    });
    return candidates[best]!;
  });
}
