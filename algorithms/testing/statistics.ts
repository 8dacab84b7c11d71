/**
 * Statistics helpers for TESTS: χ² goodness of fit (p-value from `algorithms/stats`), and binning of integer samples
 * by the quantiles of a reference CDF.
 */

import { chiSquareSf } from '../stats/index.js';

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
  bins: number;
}

/**
 * χ² goodness of fit of samples against a distribution given by its CDF at bin edges. `edges` are increasing
 * reals e_1 < … < e_{B−1}; bins are (−∞, e_1], (e_1, e_2], …, (e_{B−1}, ∞).
 */
export function chiSquareFromEdges(samples: Float64Array | number[], edges: number[], cdf: (x: number) => number): ChiSquareResult {
  const counts = new Float64Array(edges.length + 1);
  for (const x of samples) {
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x <= edges[mid]!) hi = mid;
      else lo = mid + 1;
    }
    counts[lo]! += 1;
  }
  const n = samples.length;
  let stat = 0;
  let prev = 0;
  for (let i = 0; i <= edges.length; i++) {
    const c = i < edges.length ? cdf(edges[i]!) : 1;
    const expected = (c - prev) * n;
    prev = c;
    const diff = counts[i]! - expected;
    stat += (diff * diff) / expected;
  }
  return { statistic: stat, df: edges.length, pValue: chiSquareSf(stat, edges.length), bins: edges.length + 1 };
}

/**
 * Integer bin edges at the 1/B, …, (B−1)/B quantiles of an integer distribution with CDF `cdf` (P(X ≤ x)),
 * deduplicated, found by bisection over [−range, range].
 */
export function integerQuantileEdges(cdf: (x: number) => number, bins: number, range: number): number[] {
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const p = i / bins;
    let lo = -range;
    let hi = range;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (cdf(mid) >= p) hi = mid;
      else lo = mid + 1;
    }
    if (edges.length === 0 || lo > edges[edges.length - 1]!) edges.push(lo);
  }
  // Drop a last edge whose upper bin would be (numerically) empty.
  while (edges.length > 0 && 1 - cdf(edges[edges.length - 1]!) < 1e-9) edges.pop();
  return edges;
}
