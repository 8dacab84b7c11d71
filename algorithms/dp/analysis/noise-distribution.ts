import { smallestIntegerSatisfying } from './integer-search.js';
import { normalCdf, normalTail, Z_975 } from './special-functions.js';

/**
 * Closed forms of the two integer noise distributions, in floating point, for REPORTING (std, 95% intervals),
 * threshold calibration and the statistical tests. Nothing here draws a sample.
 *
 * Discrete Laplace with scale t: P(x) = (1−r)/(1+r) · r^|x|, r = e^(−1/t).
 * Discrete Gaussian with parameter σ²: P(x) = exp(−x²/(2σ²)) / Σ_y exp(−y²/(2σ²)). For σ ≥ 3 the normaliser equals
 * √(2π)·σ and the variance equals σ² to double precision (Poisson summation: the error is below e^(−2π²σ²)).
 */

/** Below this σ, Gaussian quantities are summed term by term. */
const GAUSS_SUM_BELOW_SIGMA = 3;

function laplaceR(t: number): { r: number; oneMinusR: number } {
  return { r: Math.exp(-1 / t), oneMinusR: -Math.expm1(-1 / t) };
}

export function discreteLaplacePmf(t: number, x: number): number {
  const { r, oneMinusR } = laplaceR(t);
  return (oneMinusR / (1 + r)) * Math.exp(-Math.abs(x) / t);
}

/** P(X ≤ x) for integer x. */
export function discreteLaplaceCdf(t: number, x: number): number {
  const { r } = laplaceR(t);
  if (x >= 0) return 1 - Math.exp(-(x + 1) / t) / (1 + r);
  return Math.exp(x / t) / (1 + r);
}

/** P(X ≥ m) = r^m / (1 + r) for integer m ≥ 0. */
export function discreteLaplaceTail(t: number, m: number): number {
  const { r } = laplaceR(t);
  return Math.exp(-Math.max(0, m) / t) / (1 + r);
}

export function discreteLaplaceVariance(t: number): number {
  const { r, oneMinusR } = laplaceR(t);
  return (2 * r) / (oneMinusR * oneMinusR);
}

export function discreteLaplaceMeanAbs(t: number): number {
  const { r, oneMinusR } = laplaceR(t);
  return (2 * r) / (oneMinusR * (1 + r));
}

/** E[X⁴] = 2(1−r)/(1+r) · r(1+11r+11r²+r³)/(1−r)⁵. */
export function discreteLaplaceFourthMoment(t: number): number {
  const { r, oneMinusR } = laplaceR(t);
  return ((2 * r * (1 + 11 * r + 11 * r * r + r * r * r)) / (1 + r)) / oneMinusR ** 4;
}

/** Smallest integer m ≥ 0 with P(|X| ≤ m) ≥ 0.95, where P(|X| > m) = 2r^(m+1)/(1+r). */
export function discreteLaplaceCi95HalfWidth(t: number): number {
  const { r } = laplaceR(t);
  const over = (m: number): number => (2 * Math.exp(-(m + 1) / t)) / (1 + r);
  const guess = t * Math.log(40 / (1 + r)) - 1;
  // Bounded search (≤ MAX_INTEGER_SEARCH_STEPS evaluations): a ±1 loop from a float guess never ends above 2^53.
  return smallestIntegerSatisfying((m) => over(m) <= 0.05, 0, Number.isFinite(guess) ? guess : 0);
}

function gaussTerms(sigma2: number, fn: (x: number, w: number) => number): { z: number; s: number } {
  const sigma = Math.sqrt(sigma2);
  const lim = Math.ceil(40 * sigma) + 2;
  let z = 0;
  let s = 0;
  for (let x = -lim; x <= lim; x++) {
    const w = Math.exp(-(x * x) / (2 * sigma2));
    z += w;
    s += fn(x, w);
  }
  return { z, s };
}

function gaussNormaliser(sigma2: number): number {
  const sigma = Math.sqrt(sigma2);
  if (sigma >= GAUSS_SUM_BELOW_SIGMA) return Math.sqrt(2 * Math.PI) * sigma;
  return gaussTerms(sigma2, () => 0).z;
}

export function discreteGaussianPmf(sigma2: number, x: number): number {
  return Math.exp(-(x * x) / (2 * sigma2)) / gaussNormaliser(sigma2);
}

/**
 * P(a ≤ X ≤ b) for integers a ≤ b. Summed exactly for small σ or short intervals; otherwise the normal integral
 * over [a − ½, b + ½] (midpoint rule; relative error about 1/(24σ²)).
 */
export function discreteGaussianIntervalMass(sigma2: number, a: number, b: number): number {
  const sigma = Math.sqrt(sigma2);
  if (sigma < 1000 || b - a < 200) {
    const z = gaussNormaliser(sigma2);
    const lo = Math.max(a, -Math.ceil(40 * sigma) - 2);
    const hi = Math.min(b, Math.ceil(40 * sigma) + 2);
    let s = 0;
    for (let x = lo; x <= hi; x++) s += Math.exp(-(x * x) / (2 * sigma2));
    return s / z;
  }
  const upper = Number.isFinite(b) ? normalCdf((b + 0.5) / sigma) : 1;
  const lower = Number.isFinite(a) ? normalCdf((a - 0.5) / sigma) : 0;
  return upper - lower;
}

export function discreteGaussianVariance(sigma2: number): number {
  if (Math.sqrt(sigma2) >= GAUSS_SUM_BELOW_SIGMA) return sigma2;
  const { z, s } = gaussTerms(sigma2, (x, w) => x * x * w);
  return s / z;
}

export function discreteGaussianMeanAbs(sigma2: number): number {
  if (Math.sqrt(sigma2) >= GAUSS_SUM_BELOW_SIGMA) return Math.sqrt(sigma2) * Math.sqrt(2 / Math.PI);
  const { z, s } = gaussTerms(sigma2, (x, w) => Math.abs(x) * w);
  return s / z;
}

export function discreteGaussianFourthMoment(sigma2: number): number {
  if (Math.sqrt(sigma2) >= GAUSS_SUM_BELOW_SIGMA) return 3 * sigma2 * sigma2;
  const { z, s } = gaussTerms(sigma2, (x, w) => x ** 4 * w);
  return s / z;
}

/**
 * Smallest integer m ≥ 0 with P(|X| ≤ m) ≥ 0.95: summed for σ ≤ 10⁴, otherwise ⌈1.96σ − ½⌉ (the discrete mass
 * of [−m, m] equals the normal mass of [−m−½, m+½] to within about 1/(24σ²)).
 */
export function discreteGaussianCi95HalfWidth(sigma2: number): number {
  const sigma = Math.sqrt(sigma2);
  if (sigma > 1e4) return Math.max(0, Math.ceil(Z_975 * sigma - 0.5));
  const z = gaussNormaliser(sigma2);
  let mass = 1 / z;
  let m = 0;
  while (mass < 0.95) {
    m++;
    mass += (2 * Math.exp(-(m * m) / (2 * sigma2))) / z;
  }
  return m;
}

/**
 * An upper bound on P(X ≥ m) for m ≥ 1: P(X ≥ m) ≤ P(N(0, σ²) ≥ m − 1). Proof: the normaliser Σ_y e^(−y²/2σ²) is
 * at least √(2π)σ (Poisson summation), and for x ≥ 1, e^(−x²/2σ²) ≤ ∫_{x−1}^{x} e^(−y²/2σ²) dy.
 */
export function discreteGaussianTailBound(sigma2: number, m: number): number {
  if (m < 1) return 1;
  return normalTail((m - 1) / Math.sqrt(sigma2));
}
