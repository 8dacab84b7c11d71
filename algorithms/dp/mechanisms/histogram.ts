import type { Rng } from '../../rng.js';
import type { PrivacyCost } from '../accounting/privacy-cost.js';
import { toCount, toPositiveInt } from './common.js';
import { calibrateNoise } from './noise.js';
import type { DpBudget, NoiseInfo } from './types.js';

export interface HistogramInput {
  /** Exact counts over PUBLIC bins (every declared bin, including empty ones, in a fixed order). */
  readonly counts: readonly (bigint | number)[];
  /** Maximum number of bins one person contributes to (L0). @default 1 */
  readonly maxBinsPerPerson?: bigint | number;
  /** Maximum rows of one person in one bin (L∞). @default 1 */
  readonly maxRowsPerBin?: bigint | number;
  readonly budget: DpBudget;
  /** Clamp each released count at 0 (post-processing). @default false */
  readonly clampToNonNegative?: boolean;
}

export interface HistogramRelease {
  readonly values: number[];
  /** Noise std per bin (the same for all bins). */
  readonly std: number;
  readonly ci95: [number, number][];
  readonly rho: number;
  readonly cost: PrivacyCost;
  readonly noise: NoiseInfo;
  readonly postProcessing: readonly string[];
}

/**
 * Noisy histogram over public bins: independent noise per bin. Sensitivity: L1 = L0·L∞ (Laplace), L2 = √L0·L∞
 * (Gaussian; ρ = L2²/(2σ²) by composition over the bins a person touches).
 * @throws RangeError/TypeError naming the bad field
 */
export function releaseHistogram(input: HistogramInput, rng: Rng): HistogramRelease {
  if (!Array.isArray(input.counts)) throw new TypeError('counts must be an array');
  const counts = input.counts.map((c, i) => toCount(c, `counts[${i}]`));
  const l0 = toPositiveInt(input.maxBinsPerPerson, 'maxBinsPerPerson');
  const linf = toPositiveInt(input.maxRowsPerBin, 'maxRowsPerBin');
  const noise = calibrateNoise(input.budget, { l1: l0 * linf, l2Squared: l0 * linf * linf });
  const h = noise.ci95HalfWidth;
  const clamp = input.clampToNonNegative === true;
  const values: number[] = [];
  const ci95: [number, number][] = [];
  for (const c of counts) {
    const noisy = Number(c + noise.sample(rng));
    values.push(clamp ? Math.max(0, noisy) : noisy);
    ci95.push(clamp ? [Math.max(0, noisy - h), Math.max(0, noisy + h)] : [noisy - h, noisy + h]);
  }
  return {
    values,
    std: noise.info.std,
    ci95,
    rho: noise.cost.rho,
    cost: noise.cost,
    noise: noise.info,
    postProcessing: clamp ? ['each count clamped at 0; the std is that of the unclamped noise'] : [],
  };
}
