/**
 * Statistics helpers for TESTS: χ² goodness of fit with a p-value from the regularised incomplete gamma function
 * (Numerical Recipes style series / continued fraction, written here), and binning of integer samples by the
 * quantiles of a reference CDF.
 */

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), accurate to ~1e-15 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0]!;
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularised upper incomplete gamma Q(a, x). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lg = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return 1 - sum * Math.exp(-x + a * Math.log(x) - lg);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return Math.exp(-x + a * Math.log(x) - lg) * h;
}

/** Survival function of the χ² distribution with df degrees of freedom. */
export function chiSquareSurvival(stat: number, df: number): number {
  return gammaQ(df / 2, stat / 2);
}

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
  return { statistic: stat, df: edges.length, pValue: chiSquareSurvival(stat, edges.length), bins: edges.length + 1 };
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
