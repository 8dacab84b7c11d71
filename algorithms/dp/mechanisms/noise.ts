import type { Rng } from '../../rng.js';
import type { PrivacyCost } from '../accounting/privacy-cost.js';
import {
  discreteGaussianCi95HalfWidth,
  discreteGaussianVariance,
  discreteLaplaceCi95HalfWidth,
  discreteLaplaceVariance,
} from '../analysis/noise-distribution.js';
import { div, rational, rationalFromNumber, roundUpToSignificantBits, toNumber, type Rational } from '../rational.js';
import { createDiscreteGaussianSampler } from '../sampling/discrete-gaussian.js';
import { createDiscreteLaplaceSampler } from '../sampling/discrete-laplace.js';
import type { DpBudget, NoiseInfo } from './types.js';

/** Noise parameters are rounded UP to this many significant bits (more noise, never less; keeps sampling fast). */
export const NOISE_PARAMETER_BITS = 20;

/** Integer noise calibrated to a budget and a sensitivity in grid units. */
export interface CalibratedNoise {
  readonly parameter: Rational;
  readonly info: NoiseInfo;
  /** Half-width (grid units) of the 95% interval of the noise. */
  readonly ci95HalfWidth: number;
  readonly cost: PrivacyCost;
  sample(rng: Rng): bigint;
}

const ONE_PLUS_ULPS = 1 + 2 ** -48;

/**
 * Validates a DpBudget, naming the field.
 * @throws TypeError if it is not an object with exactly one of rho / epsilon; RangeError if the value is not > 0
 */
export function checkBudget(budget: DpBudget, name = 'budget'): void {
  if (budget === null || typeof budget !== 'object') throw new TypeError(`${name} must be { rho } or { epsilon }`);
  const hasRho = budget.rho !== undefined;
  const hasEps = budget.epsilon !== undefined;
  if (hasRho === hasEps) throw new TypeError(`${name} must have exactly one of rho or epsilon`);
  const v = hasRho ? budget.rho : budget.epsilon;
  if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`${name}.${hasRho ? 'rho' : 'epsilon'} must be a finite number > 0, got ${String(v)}`);
  }
}

/**
 * Calibrates integer noise: discrete Gaussian with σ² ≥ Δ₂²/(2ρ), or discrete Laplace with scale t ≥ Δ₁/ε, both
 * rounded up to NOISE_PARAMETER_BITS significant bits. The cost reported is that of the rounded (larger) noise,
 * so it never exceeds the budget. Terminates in bounded time for every double budget: exact rational steps are
 * linear in the ≤ 2,100 bits of a double's expansion and `isqrt` takes ≤ 15 Newton steps; the 95% interval is a
 * bounded search (see `smallestIntegerSatisfying`).
 * @throws RangeError if a sensitivity is not ≥ 1 grid unit, or the noise parameter would exceed the double range
 */
export function calibrateNoise(budget: DpBudget, sensitivity: { l1: bigint; l2Squared: bigint }, name = 'budget'): CalibratedNoise {
  checkBudget(budget, name);
  if (sensitivity.l1 < 1n || sensitivity.l2Squared < 1n) throw new RangeError('sensitivity must be at least one grid unit');
  if (budget.rho !== undefined) {
    const rho = rationalFromNumber(budget.rho, `${name}.rho`);
    const target = div(rational(sensitivity.l2Squared), rational(2n * rho.num, rho.den));
    const sigma2 = roundUpToSignificantBits(target, NOISE_PARAMETER_BITS);
    const s2 = toNumber(sigma2);
    // Past the double range nothing downstream (intervals, reports) is meaningful: refuse rather than overflow.
    if (!Number.isFinite(s2)) throw new RangeError(`${name}.rho is too small: the noise variance exceeds the double range`);
    const l2Sq = Number(sensitivity.l2Squared);
    const rhoActual = Math.min(budget.rho, (l2Sq / (2 * s2)) * ONE_PLUS_ULPS);
    const sampler = createDiscreteGaussianSampler(sigma2);
    const std = Math.sqrt(discreteGaussianVariance(s2));
    return {
      parameter: sigma2,
      info: { distribution: 'discrete-gaussian', parameter: s2, sensitivity: Math.sqrt(l2Sq), std },
      ci95HalfWidth: discreteGaussianCi95HalfWidth(s2),
      cost: { rho: rhoActual, epsilon: Infinity, delta: 0 },
      sample: (rng) => sampler.sample(rng),
    };
  }
  const eps = rationalFromNumber(budget.epsilon, `${name}.epsilon`);
  const target = div(rational(sensitivity.l1), eps);
  const scale = roundUpToSignificantBits(target, NOISE_PARAMETER_BITS);
  const t = toNumber(scale);
  if (!Number.isFinite(t)) throw new RangeError(`${name}.epsilon is too small: the noise scale exceeds the double range`);
  const l1 = Number(sensitivity.l1);
  const epsActual = Math.min(budget.epsilon, (l1 / t) * ONE_PLUS_ULPS);
  const sampler = createDiscreteLaplaceSampler(scale);
  return {
    parameter: scale,
    info: { distribution: 'discrete-laplace', parameter: t, sensitivity: l1, std: Math.sqrt(discreteLaplaceVariance(t)) },
    ci95HalfWidth: discreteLaplaceCi95HalfWidth(t),
    cost: { rho: (epsActual * epsActual) / 2, epsilon: epsActual, delta: 0 },
    sample: (rng) => sampler.sample(rng),
  };
}

/** Splits a budget into parts with the given weights (weights need not sum to 1; they are normalised). */
export function splitBudget(budget: DpBudget, weights: readonly number[], name = 'budget'): DpBudget[] {
  checkBudget(budget, name);
  let total = 0;
  for (const [i, w] of weights.entries()) {
    if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`split[${i}] must be a finite number > 0, got ${w}`);
    total += w;
  }
  // Each part is rounded down a hair so the parts never add up to more than the whole.
  const shrink = 1 - 2 ** -40;
  return weights.map((w) =>
    budget.rho !== undefined ? { rho: ((budget.rho * w) / total) * shrink } : { epsilon: ((budget.epsilon * w) / total) * shrink },
  );
}

/** Continuous-scale estimate of the noise std for sensitivity Δ (real units), used only to choose a grid. */
export function approximateNoiseStd(budget: DpBudget, sensitivity: number): number {
  checkBudget(budget);
  return budget.rho !== undefined ? sensitivity / Math.sqrt(2 * budget.rho) : (Math.SQRT2 * sensitivity) / budget.epsilon;
}
