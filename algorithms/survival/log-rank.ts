/** The k-sample log-rank (Mantel–Haenszel) test from per-bin counts pooled over agents. */
import { chiSquareSf } from '../stats/index.js';
import { prepareStratum } from './counts.js';
import type { CountPostProcessingOptions, StratumCounts } from './counts.js';
import { solveLinear } from './solve-linear.js';

/** Result of {@link logRankTest}. Per-stratum arrays follow the input order (dropped strata included). */
export interface LogRankResult {
  /** (O − E)ᵀ V⁻¹ (O − E) over all retained strata but the last; null when it cannot be computed. */
  statistic: number | null;
  /** Retained strata − 1. */
  df: number;
  /** Upper-tail χ² probability on `df` degrees of freedom; null with `statistic`. */
  pValue: number | null;
  labels: (string | undefined)[];
  /** Observed events per stratum, Σ_i d_ki. */
  observed: number[];
  /** Expected events under the null, Σ_i n_ki d_i / n_i. */
  expected: number[];
  /**
   * Hypergeometric covariance of O − E, Σ_i (n_ki/n_i)(δ_kl − n_li/n_i) d_i (n_i − d_i)/(n_i − 1), with the
   * tie correction (n_i − d_i)/(n_i − 1); bins with n_i ≤ 1 add nothing.
   */
  covariance: number[][];
  /** Indices of strata nobody was ever at risk in, left out of the test. */
  droppedStrata: number[];
  /** Post-processing per stratum and anything else the reader should know. */
  notes: string[];
}

/**
 * Log-rank test of equal survival across k ≥ 2 strata, from per-bin counts on one shared time grid (each
 * stratum's counts summed over agents; noisy counts are post-processed as in {@link prepareStratum}).
 * The statistic is χ² on k − 1 degrees of freedom under the null; for k = 2 it is (O₁ − E₁)² / V₁₁.
 *
 * @throws TypeError / RangeError naming the offending stratum and field, fewer than 2 strata, or strata on
 *   different time grids
 */
export function logRankTest(strata: readonly StratumCounts[], options: CountPostProcessingOptions = {}): LogRankResult {
  if (!Array.isArray(strata as unknown)) throw new TypeError('strata must be an array');
  if (strata.length < 2) throw new RangeError(`strata must have at least 2 entries, got ${strata.length}`);
  const prepared = strata.map((s, k) => prepareStratum(`strata[${k}]`, s, options));
  const first = prepared[0]!;
  const m = first.times.length;
  prepared.forEach((p, k) => {
    if (p.times.length !== m || p.times.some((t, i) => t !== first.times[i])) {
      throw new RangeError(`strata[${k}].times differs from strata[0].times: all strata must share one time grid`);
    }
  });
  const notes: string[] = [];
  prepared.forEach((p, k) => p.notes.forEach((n) => notes.push(`strata[${k}]: ${n}`)));
  const kAll = prepared.length;
  const droppedStrata = [...Array(kAll).keys()].filter((k) => prepared[k]!.atRisk.every((n) => n === 0));
  const kept = [...Array(kAll).keys()].filter((k) => !droppedStrata.includes(k));
  if (droppedStrata.length > 0) notes.push(`strata with nobody at risk dropped: ${droppedStrata.join(', ')}`);

  const observed = prepared.map((p) => p.events.reduce((a, b) => a + b, 0));
  const expected = new Array<number>(kAll).fill(0);
  const covariance = Array.from({ length: kAll }, () => new Array<number>(kAll).fill(0));
  for (let i = 0; i < m; i++) {
    let n = 0;
    let d = 0;
    for (const k of kept) {
      n += prepared[k]!.atRisk[i]!;
      d += prepared[k]!.events[i]!;
    }
    if (n <= 0 || d <= 0) continue;
    for (const k of kept) expected[k] = expected[k]! + (prepared[k]!.atRisk[i]! * d) / n;
    if (n <= 1) continue;
    const spread = (d * (n - d)) / (n - 1);
    for (const k of kept) {
      const pk = prepared[k]!.atRisk[i]! / n;
      for (const l of kept) {
        const pl = prepared[l]!.atRisk[i]! / n;
        covariance[k]![l] = covariance[k]![l]! + pk * ((k === l ? 1 : 0) - pl) * spread;
      }
    }
  }
  const labels = prepared.map((p) => p.label);
  const base = { labels, observed, expected, covariance, droppedStrata };
  const df = kept.length - 1;
  if (kept.length < 2) {
    notes.push('fewer than 2 strata with anyone at risk: no test');
    return { ...base, statistic: null, df: 0, pValue: null, notes };
  }
  // O − E sums to 0 over strata, so one stratum (the last retained) is left out to make V invertible.
  const idx = kept.slice(0, -1);
  const u = idx.map((k) => observed[k]! - expected[k]!);
  const v = idx.map((k) => idx.map((l) => covariance[k]![l]!));
  const x = solveLinear(v, u);
  if (x === null) {
    notes.push('log-rank covariance matrix is singular (no events where strata overlap): no test');
    return { ...base, statistic: null, df, pValue: null, notes };
  }
  const statistic = Math.max(0, u.reduce((s, ui, j) => s + ui * x[j]!, 0));
  return { ...base, statistic, df, pValue: chiSquareSf(statistic, df), notes };
}
