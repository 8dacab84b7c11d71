import type { Rng } from '../rng.js';
import { rhoDistributedDiscreteGaussian } from './accounting/distributed-gaussian.js';
import type { PrivacyCost } from './accounting/privacy-cost.js';
import { rationalFromNumber, roundUpToSignificantBits, toNumber, type Rational } from './rational.js';
import { createDiscreteGaussianSampler } from './sampling/discrete-gaussian.js';

/**
 * Noise shares for `distributed-dp`: each of n agents adds an independent discrete Gaussian share to its integer
 * (grid-unit) aggregate before secure aggregation, so that only the noisy sum is ever seen.
 *
 * Tolerance: if at most `tolerated` agents drop out (their share is missing) or collude with the coordinator
 * (their share is known and can be subtracted), at least m = n − tolerated honest shares remain. Each share has
 * parameter σᵢ² chosen so that m shares alone give the target ρ under the bound of Kairouz, Liu & Steinke 2021,
 * Prop. 14 (see `rhoDistributedDiscreteGaussian`); extra honest shares only add independent noise
 * (post-processing), so the charge with m shares is valid whenever ≥ m honest agents contributed.
 */
export interface DistributedNoiseOptions {
  /** Number of agents n. */
  readonly agents: number;
  /** Agents that may drop out or collude, in total (< n). @default 0 */
  readonly tolerated?: number;
  /** L2 sensitivity of the summed query in grid units (an integer-valued query). */
  readonly l2Sensitivity: number;
  /** Number of coordinates the query has (d in the KLS bound). @default 1 */
  readonly dimension?: number;
  /** Target zCDP parameter for the released sum. */
  readonly rho: number;
}

export interface DistributedNoisePlan {
  readonly agents: number;
  readonly tolerated: number;
  /** m = agents − tolerated: the honest shares the guarantee relies on. */
  readonly minHonestShares: number;
  /** σᵢ² of each share (grid units), exact. */
  readonly shareSigma2: Rational;
  readonly shareSigma2Value: number;
  /** Variance of the noise left with m honest shares, ≈ m·σᵢ² (≥ the central σ² for the same ρ). */
  readonly minTotalVariance: number;
  /** The charge: ρ from KLS 2021 Prop. 14 with m shares; ≤ the requested rho. */
  readonly rho: number;
  readonly cost: PrivacyCost;
}

/**
 * Plans the shares. σᵢ² starts at Δ²/(2ρ·m) (the central variance divided among m) and is raised by bisection until
 * the KLS bound with m shares is ≤ ρ; it is never below 1/4. Rounded up to 20 significant bits.
 * @throws RangeError naming the bad option
 */
export function planDistributedNoise(options: DistributedNoiseOptions): DistributedNoisePlan {
  const { agents, l2Sensitivity: l2, rho } = options;
  const tolerated = options.tolerated ?? 0;
  const dimension = options.dimension ?? 1;
  if (!Number.isInteger(agents) || agents < 1) throw new RangeError(`agents must be an integer >= 1, got ${agents}`);
  if (!Number.isInteger(tolerated) || tolerated < 0 || tolerated >= agents) throw new RangeError(`tolerated must be an integer in [0, agents), got ${tolerated}`);
  if (!(l2 > 0) || !Number.isFinite(l2)) throw new RangeError(`l2Sensitivity must be a finite number > 0, got ${l2}`);
  if (!(rho > 0) || !Number.isFinite(rho)) throw new RangeError(`rho must be a finite number > 0, got ${rho}`);
  if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be an integer >= 1, got ${dimension}`);
  const m = agents - tolerated;
  const charge = (s2: number): number => rhoDistributedDiscreteGaussian(l2, s2, m, dimension);
  let lo = Math.max(0.25, (l2 * l2) / (2 * rho * m));
  let hi = lo;
  if (charge(lo) > rho) {
    while (charge(hi) > rho) {
      lo = hi;
      hi *= 2;
      if (!Number.isFinite(hi)) throw new RangeError('rho is too small for a finite share variance');
    }
    for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
      const mid = (lo + hi) / 2;
      if (charge(mid) <= rho) hi = mid;
      else lo = mid;
    }
  }
  const shareSigma2 = roundUpToSignificantBits(rationalFromNumber(hi), 20);
  const s2 = toNumber(shareSigma2);
  const charged = Math.min(rho, charge(s2));
  return {
    agents,
    tolerated,
    minHonestShares: m,
    shareSigma2,
    shareSigma2Value: s2,
    minTotalVariance: m * s2,
    rho: charged,
    cost: { rho: charged, epsilon: Infinity, delta: 0 },
  };
}

/** One agent's noise share (grid units) for a scalar aggregate. */
export function sampleNoiseShare(plan: DistributedNoisePlan, rng: Rng): bigint {
  return createDiscreteGaussianSampler(plan.shareSigma2).sample(rng);
}

/** One agent's noise shares for a d-dimensional aggregate (independent per coordinate). */
export function sampleNoiseShares(plan: DistributedNoisePlan, dimension: number, rng: Rng): bigint[] {
  if (!Number.isInteger(dimension) || dimension < 1) throw new RangeError(`dimension must be an integer >= 1, got ${dimension}`);
  const sampler = createDiscreteGaussianSampler(plan.shareSigma2);
  return Array.from({ length: dimension }, () => sampler.sample(rng));
}
