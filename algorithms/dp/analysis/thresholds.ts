import { discreteGaussianTailBound, discreteLaplaceTail } from './noise-distribution.js';
import { smallestIntegerSatisfying } from './integer-search.js';
import { normalTailInverse } from './special-functions.js';

/**
 * Thresholds for DP partition selection (keep a group only if its noisy distinct-person count reaches τ), after
 * Korolova et al. 2009 and Wilson et al. 2020 ("Differentially Private SQL with Bounded User Contribution", Sec. 3,
 * Laplace thresholding). A person touches at most k partitions; a partition that exists only because of that person
 * has true count 1 and is released with probability P(1 + Z ≥ τ) = P(Z ≥ τ − 1). We choose τ so that
 * k · P(Z ≥ τ − 1) ≤ δ, which is the δ of approximate zCDP charged by the mechanism.
 */

function checkArgs(k: number, delta: number, noise: number, name: string): void {
  if (!(noise > 0) || !Number.isFinite(noise)) throw new RangeError(`${name} must be a finite number > 0, got ${noise}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`maxPartitionsPerPerson must be an integer >= 1, got ${k}`);
  if (!(delta > 0 && delta < 1)) throw new RangeError(`delta must be in (0, 1), got ${delta}`);
}

/** Smallest integer τ ≥ 2 with k · P(DLap(t) ≥ τ − 1) ≤ δ (exact tail r^m/(1+r)). Also returns the achieved δ. */
export function laplacePartitionThreshold(scale: number, k: number, delta: number): { threshold: number; delta: number } {
  checkArgs(k, delta, scale, 'scale');
  const r = Math.exp(-1 / scale);
  const guess = scale * Math.log(k / (delta * (1 + r)));
  // Bounded search (≤ MAX_INTEGER_SEARCH_STEPS tail evaluations), not ±1 steps from a float guess.
  const m = smallestIntegerSatisfying((x) => k * discreteLaplaceTail(scale, x) <= delta, 1, Number.isFinite(guess) ? guess : 1);
  return { threshold: m + 1, delta: k * discreteLaplaceTail(scale, m) };
}

/**
 * Smallest integer τ ≥ 2 with k · B(τ − 1) ≤ δ, where B(m) = P(N(0, σ²) ≥ m − 1) ≥ P(DGauss(σ²) ≥ m) is the tail
 * bound of `discreteGaussianTailBound`. Also returns the bound on δ achieved.
 */
export function gaussianPartitionThreshold(sigma2: number, k: number, delta: number): { threshold: number; delta: number } {
  checkArgs(k, delta, sigma2, 'sigma2');
  const sigma = Math.sqrt(sigma2);
  const guess = 1 + sigma * normalTailInverse(delta / k);
  // Bounded search (≤ MAX_INTEGER_SEARCH_STEPS tail evaluations), not ±1 steps from a float guess.
  const m = smallestIntegerSatisfying((x) => k * discreteGaussianTailBound(sigma2, x) <= delta, 1, Number.isFinite(guess) ? guess : 1);
  return { threshold: m + 1, delta: k * discreteGaussianTailBound(sigma2, m) };
}

/**
 * Rank-error bound of permute-and-flip / the exponential mechanism over m candidates: with probability ≥ 1 − β, the
 * chosen candidate's utility is within (2Δ/ε)·ln(m/β) of the best (each worse candidate passes its own coin with
 * probability ≤ exp(−ε·gap/(2Δ)); union bound).
 */
export function selectionErrorBound(sensitivity: number, epsilon: number, candidates: number, beta = 0.05): number {
  return ((2 * sensitivity) / epsilon) * Math.log(candidates / beta);
}
