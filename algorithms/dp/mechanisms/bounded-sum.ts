import type { Rng } from '../../rng.js';
import { fromGrid, gridForNoiseStd, rowBoundInGridUnits, sumOnGrid, type Grid } from '../grid.js';
import { checkBounds, describeGrid, toInteger, toPositiveInt } from './common.js';
import { approximateNoiseStd, calibrateNoise, type CalibratedNoise } from './noise.js';
import type { DpBudget, NoisyRelease } from './types.js';

export interface BoundedSumOptions {
  /** Declared bounds; every row is clamped to [lower, upper] before summing. */
  readonly lower: number;
  readonly upper: number;
  /** Maximum rows per person, k. @default 1 */
  readonly maxRowsPerPerson?: bigint | number;
  readonly budget: DpBudget;
  /** Grid = largest power of two ≤ noise std / 2^gridBitsBelowNoise. @default 24 */
  readonly gridBitsBelowNoise?: number;
}

/**
 * A bounded-sum plan: the grid every row is snapped to, and the noise. It depends only on public parameters, so an
 * agent and the coordinator derive the same plan independently.
 */
export interface BoundedSumPlan {
  readonly lower: number;
  readonly upper: number;
  readonly grid: Grid;
  /** Per-row bound in grid units, max(|⌊lower/g⌋|, |⌈upper/g⌉|). */
  readonly rowBound: bigint;
  /** Sensitivity in grid units: k × rowBound (add/remove one person). */
  readonly sensitivity: bigint;
  readonly noise: CalibratedNoise;
}

/** @throws RangeError/TypeError naming the bad field */
export function planBoundedSum(options: BoundedSumOptions): BoundedSumPlan {
  const { lower, upper } = options;
  checkBounds(lower, upper);
  const k = toPositiveInt(options.maxRowsPerPerson, 'maxRowsPerPerson');
  const realSensitivity = Number(k) * Math.max(Math.abs(lower), Math.abs(upper));
  const grid = gridForNoiseStd(approximateNoiseStd(options.budget, realSensitivity), options.gridBitsBelowNoise);
  const rowBound = rowBoundInGridUnits(lower, upper, grid);
  const sensitivity = k * rowBound;
  const noise = calibrateNoise(options.budget, { l1: sensitivity, l2Squared: sensitivity * sensitivity });
  return { lower, upper, grid, rowBound, sensitivity, noise };
}

/** The exact aggregate for a plan: Σ of rows clamped and snapped to the plan's grid. */
export function boundedSumAggregate(values: Iterable<number>, plan: BoundedSumPlan): bigint {
  return sumOnGrid(values, plan.lower, plan.upper, plan.grid);
}

/**
 * Releases (sum + Z)·g. The value is an exact multiple of the grid whatever the inputs' low bits.
 * @throws RangeError if sumOnGrid is not an integer
 */
export function releaseBoundedSum(plan: BoundedSumPlan, sumInGridUnits: bigint | number, rng: Rng): NoisyRelease {
  const s = toInteger(sumInGridUnits, 'sumInGridUnits');
  const noisy = s + plan.noise.sample(rng);
  const g = plan.grid.size;
  const h = plan.noise.ci95HalfWidth;
  return {
    value: fromGrid(noisy, plan.grid),
    std: plan.noise.info.std * g,
    ci95: [fromGrid(noisy - BigInt(h), plan.grid), fromGrid(noisy + BigInt(h), plan.grid)],
    grid: g,
    rho: plan.noise.cost.rho,
    cost: plan.noise.cost,
    noise: plan.noise.info,
    postProcessing: [describeGrid(plan.grid)],
  };
}
