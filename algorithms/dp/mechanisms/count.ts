import type { Rng } from '../../rng.js';
import { toCount, toPositiveInt } from './common.js';
import { calibrateNoise } from './noise.js';
import type { DpBudget, NoisyRelease } from './types.js';

export interface CountInput {
  /** Exact count of rows (after contribution bounding). */
  readonly count: bigint | number;
  /** Maximum rows per person, k: the sensitivity of the count. @default 1 */
  readonly maxRowsPerPerson?: bigint | number;
  readonly budget: DpBudget;
  /** Clamp the released count at 0 (post-processing). @default false */
  readonly clampToNonNegative?: boolean;
}

/**
 * Noisy count: count + Z with Z discrete Gaussian (σ² = k²/(2ρ), rounded up) or discrete Laplace (t = k/ε, rounded
 * up). Sensitivity k = maxRowsPerPerson under add/remove-one-person.
 * @throws RangeError/TypeError naming the bad field
 */
export function releaseCount(input: CountInput, rng: Rng): NoisyRelease {
  const count = toCount(input.count, 'count');
  const k = toPositiveInt(input.maxRowsPerPerson, 'maxRowsPerPerson');
  const noise = calibrateNoise(input.budget, { l1: k, l2Squared: k * k });
  const noisy = Number(count + noise.sample(rng));
  const h = noise.ci95HalfWidth;
  const postProcessing: string[] = [];
  let value = noisy;
  let ci95: [number, number] = [noisy - h, noisy + h];
  if (input.clampToNonNegative === true) {
    value = Math.max(0, noisy);
    ci95 = [Math.max(0, ci95[0]), Math.max(0, ci95[1])];
    postProcessing.push('clamped at 0 (a count cannot be negative); the std is that of the unclamped noise');
  }
  return { value, std: noise.info.std, ci95, rho: noise.cost.rho, cost: noise.cost, noise: noise.info, postProcessing };
}
