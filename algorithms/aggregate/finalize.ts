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

/** The grid 2^-bits as a ratio num/den of integers (a grid coarser than 1, bits < 0, multiplies instead). */
function gridRatio(bits: number): [bigint, bigint] {
  return bits >= 0 ? [1n, 1n << BigInt(bits)] : [1n << BigInt(-bits), 1n];
}

/**
 * Exact sum, mean and sample variance from grid-integer sufficient statistics. A grid may be coarser than 1 (mode none
 * puts Σx² of bounds past 2^30.5 on one, so that one row fits 2^61 units: common/job/privacy-plan.ts).
 */
export function momentStats(m: MomentPartial): MomentStats {
  // Σv·a/b and Σq·c/d are the sums in value units.
  const [a, b] = gridRatio(m.scaleBits);
  const [c, d] = gridRatio(m.sqScaleBits);
  const n = m.n;
  const sum = ratioToNumber(m.sum * a, b);
  const mean = n > 0n ? ratioToNumber(m.sum * a, n * b) : null;
  // var = (n Σq c/d − (Σv a/b)²) / (n (n − 1)), over one common denominator so the numerator is exact.
  const variance = n > 1n ? ratioToNumber(n * m.sumSq * c * b * b - m.sum * m.sum * a * a * d, n * (n - 1n) * d * b * b) : null;
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
        // Mode none: buckets withheld at an agent (1 … k − 1 persons, or complementary) are left out, so the quantiles
        // are of the values in buckets of at least k persons, a function of what could be released as a histogram
        // (red team 30, F1: quantiles at (i + 0.5)/n listed every value of a k-person group); none left: null.
        const complete = m.bins.every((b) => b !== null);
        const kept = m.bins.map((b) => b ?? 0n);
        values[spec.field] = kept.some((b) => b > 0n) ? exactQuantiles(kept, spec.candidates, spec.quantiles) : null;
        // Rows whose value is missing fall in no bucket (a withheld bucket makes the count unknown: left out).
        if (complete) values[`${spec.field}_missing`] = Number(g.count - m.bins.reduce<bigint>((a, b) => a + (b ?? 0n), 0n));
      } else if (spec.fn === 'histogram') {
        if (m.kind !== 'histogram') throw new TypeError(`measure ${i}: expected a histogram partial`);
        values[spec.field] = m.bins.map((b) => (b === null ? null : Number(b)));
      } else {
        if (m.kind !== 'moments') throw new TypeError(`measure ${i}: expected a moments partial`);
        const s = momentStats(m);
        values[spec.field] = spec.fn === 'sum' ? s.sum : spec.fn === 'mean' ? s.mean : s.variance;
        // n counts the values present; rows with a missing value are reported, never read as the lower bound.
        // (A sum's n is not carried by every transport — secure vectors omit it — so only means and variances.)
        if (spec.fn !== 'sum') {
          values[`${spec.field}_n`] = s.n;
          values[`${spec.field}_missing`] = Number(g.count - m.n);
        }
      }
    });
    rows.push({ key: g.key, values });
  }
  return { rows, suppressed };
}

/**
 * Exact quantiles at the resolution of the public candidates (the lower quantile on the grid): for each q, the
 * smallest candidate c_j with #{x < c_{j+1}} ≥ ⌈q·n⌉ (at least 1), i.e. the candidate whose bucket [c_j, c_{j+1})
 * holds the ⌈q·n⌉-th smallest value. A constant column answers its value for every q. (The closest-rank utility of
 * the DP mechanism is ambiguous there: 20 values of 50 put rank 0 and rank 20 equally far from 10.)
 * `buckets` has candidates.length + 1 entries: x < c_0, then [c_{j−1}, c_j), then x ≥ c_last.
 */
export function exactQuantiles(buckets: readonly bigint[], candidates: readonly number[], quantiles: readonly number[]): (number | null)[] {
  if (buckets.length !== candidates.length + 1) throw new RangeError(`exactQuantiles: ${buckets.length} buckets for ${candidates.length} candidates (expected candidates + 1)`);
  const n = buckets.reduce((a, b) => a + b, 0n);
  if (n === 0n) return quantiles.map(() => null);
  // below[j] = #{x < c_{j+1}} = buckets[0] + … + buckets[j + 1] (all values for the last candidate).
  const below: bigint[] = [];
  let acc = buckets[0]!;
  for (let j = 0; j < candidates.length; j++) {
    acc += buckets[j + 1]!;
    below.push(acc);
  }
  return quantiles.map((q) => {
    // ⌈q·n⌉ with a guard against q·n landing a rounding error above an integer (0.1 · 30 = 3.0000000000000004).
    const target = BigInt(Math.max(1, Math.ceil(q * Number(n) - 1e-9 * Number(n))));
    const j = below.findIndex((b) => b >= target);
    return candidates[j < 0 ? candidates.length - 1 : j]!;
  });
}
