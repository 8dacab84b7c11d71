import type { Rng } from '../../rng.js';
import { addCosts, type PrivacyCost } from '../accounting/privacy-cost.js';
import { Z_975 } from '../analysis/special-functions.js';
import { clampAndSnap, fromGrid, gridForNoiseStd, gridRange, type Grid } from '../grid.js';
import { checkBounds, toCount, toInteger, toPositiveInt } from './common.js';
import { approximateNoiseStd, calibrateNoise, splitBudget, type CalibratedNoise } from './noise.js';
import type { DpBudget, NoisyRelease } from './types.js';

/**
 * Bounded mean and variance from noisy sufficient statistics (count, centred sum, centred sum of squares).
 * Rows are clamped to [lower, upper] and centred at m = (lower + upper)/2, so each centred value lies in [−h, h],
 * h = (upper − lower)/2, and each centred square in [0, h²]. Each statistic gets its own share of the budget and its
 * own grid; the releases are post-processing of the three noisy statistics.
 *
 * Default budget split (stated in the output): mean → count 1/2, sum 1/2; mean-variance → 1/3 each.
 *
 * Accounting: the whole plan costs `plan.cost` once. The mean, variance and count releases are post-processing of
 * the same noisy statistics, so each carries the plan's total cost: charge it once, not once per release.
 */
export interface MeanVarianceOptions {
  readonly lower: number;
  readonly upper: number;
  /** @default 1 */
  readonly maxRowsPerPerson?: bigint | number;
  readonly budget: DpBudget;
  /** Which statistics to release. @default 'mean' */
  readonly statistic?: 'mean' | 'mean-variance';
  /** Relative budget weights [count, sum] or [count, sum, sumSquares]. */
  readonly split?: readonly number[];
  /** @default 24 */
  readonly gridBitsBelowNoise?: number;
}

export interface MeanVariancePlan {
  readonly lower: number;
  readonly upper: number;
  readonly center: number;
  readonly halfWidth: number;
  readonly statistic: 'mean' | 'mean-variance';
  /** Normalised budget fractions actually used, in the order count, sum[, sumSquares]. */
  readonly split: readonly number[];
  readonly sumGrid: Grid;
  readonly sumSquaresGrid?: Grid;
  readonly countNoise: CalibratedNoise;
  readonly sumNoise: CalibratedNoise;
  readonly sumSquaresNoise?: CalibratedNoise;
  readonly cost: PrivacyCost;
}

/** The exact aggregates an agent computes for a plan (all bigint, in grid units). */
export interface MeanVarianceStatistics {
  readonly count: bigint | number;
  readonly sum: bigint | number;
  readonly sumSquares?: bigint | number;
}

export interface MeanVarianceRelease {
  readonly mean: NoisyRelease;
  readonly variance?: NoisyRelease;
  readonly count: NoisyRelease;
  /** The budget split, e.g. { count: 0.5, sum: 0.5 }. */
  readonly budgetSplit: Readonly<Record<string, number>>;
  readonly cost: PrivacyCost;
}

/** @throws RangeError/TypeError naming the bad field */
export function planMeanVariance(options: MeanVarianceOptions): MeanVariancePlan {
  const { lower, upper } = options;
  checkBounds(lower, upper);
  const statistic = options.statistic ?? 'mean';
  if (statistic !== 'mean' && statistic !== 'mean-variance') throw new RangeError(`statistic must be 'mean' or 'mean-variance', got ${String(statistic)}`);
  const parts = statistic === 'mean' ? 2 : 3;
  const weights = options.split ?? Array.from({ length: parts }, () => 1);
  if (weights.length !== parts) throw new RangeError(`split must have ${parts} weights for statistic '${statistic}'`);
  const budgets = splitBudget(options.budget, weights, 'budget');
  const total = weights.reduce((a, b) => a + b, 0);
  const k = toPositiveInt(options.maxRowsPerPerson, 'maxRowsPerPerson');
  const center = lower / 2 + upper / 2;
  const halfWidth = upper / 2 - lower / 2;

  const countNoise = calibrateNoise(budgets[0]!, { l1: k, l2Squared: k * k }, 'budget (count share)');

  const sumGrid = gridForNoiseStd(approximateNoiseStd(budgets[1]!, Number(k) * halfWidth), options.gridBitsBelowNoise);
  const sumRow = gridRange(-halfWidth, halfWidth, sumGrid).hi;
  const sumSens = k * sumRow;
  const sumNoise = calibrateNoise(budgets[1]!, { l1: sumSens, l2Squared: sumSens * sumSens }, 'budget (sum share)');

  let sumSquaresGrid: Grid | undefined;
  let sumSquaresNoise: CalibratedNoise | undefined;
  if (statistic === 'mean-variance') {
    const h2 = halfWidth * halfWidth;
    sumSquaresGrid = gridForNoiseStd(approximateNoiseStd(budgets[2]!, Number(k) * h2), options.gridBitsBelowNoise);
    const sqSens = k * gridRange(0, h2, sumSquaresGrid).hi;
    sumSquaresNoise = calibrateNoise(budgets[2]!, { l1: sqSens, l2Squared: sqSens * sqSens }, 'budget (sumSquares share)');
  }
  const costs = [countNoise.cost, sumNoise.cost, ...(sumSquaresNoise ? [sumSquaresNoise.cost] : [])];
  return {
    lower,
    upper,
    center,
    halfWidth,
    statistic,
    split: weights.map((w) => w / total),
    sumGrid,
    ...(sumSquaresGrid ? { sumSquaresGrid } : {}),
    countNoise,
    sumNoise,
    ...(sumSquaresNoise ? { sumSquaresNoise } : {}),
    cost: addCosts(...costs),
  };
}

/** Computes the exact statistics of a plan from raw rows (clamp, centre, snap, sum exactly). */
export function meanVarianceAggregate(values: Iterable<number>, plan: MeanVariancePlan): { count: bigint; sum: bigint; sumSquares?: bigint } {
  const { lower, upper, center, halfWidth } = plan;
  let count = 0n;
  let sum = 0n;
  let sq = 0n;
  let i = 0;
  for (const x of values) {
    if (typeof x !== 'number' || Number.isNaN(x)) throw new RangeError(`values[${i}] must be a number, got ${String(x)}`);
    const c = (x < lower ? lower : x > upper ? upper : x) - center;
    count++;
    sum += clampAndSnap(c, -halfWidth, halfWidth, plan.sumGrid);
    if (plan.sumSquaresGrid) sq += clampAndSnap(c * c, 0, halfWidth * halfWidth, plan.sumSquaresGrid);
    i++;
  }
  return plan.sumSquaresGrid ? { count, sum, sumSquares: sq } : { count, sum };
}

function ciAround(v: number, std: number, lo: number, hi: number): [number, number] {
  return [Math.max(lo, v - Z_975 * std), Math.min(hi, v + Z_975 * std)];
}

/**
 * Releases the mean (and variance) from the noisy statistics. Post-processing, stated in each release: the noisy
 * count is floored at 1 before dividing; the mean is clamped to [lower, upper]; the variance to [0, h²]. The std and
 * 95% intervals of mean and variance are delta-method approximations evaluated at the noisy estimates.
 * @throws RangeError/TypeError naming the bad field
 */
export function releaseMeanVariance(plan: MeanVariancePlan, stats: MeanVarianceStatistics, rng: Rng): MeanVarianceRelease {
  const count = toCount(stats.count, 'stats.count');
  const sum = toInteger(stats.sum, 'stats.sum');
  const noisyCount = Number(count + plan.countNoise.sample(rng));
  const noisySumK = sum + plan.sumNoise.sample(rng);
  const noisySum = fromGrid(noisySumK, plan.sumGrid); // centred
  const c = Math.max(1, noisyCount);
  const sdC = plan.countNoise.info.std;
  const sdS = plan.sumNoise.info.std * plan.sumGrid.size;
  const muC = noisySum / c;
  const mean = Math.min(plan.upper, Math.max(plan.lower, plan.center + muC));
  const meanStd = Math.sqrt(sdS * sdS + muC * muC * sdC * sdC) / c;
  const countH = plan.countNoise.ci95HalfWidth;
  const countRelease: NoisyRelease = {
    value: noisyCount,
    std: sdC,
    ci95: [noisyCount - countH, noisyCount + countH],
    rho: plan.countNoise.cost.rho,
    cost: plan.countNoise.cost,
    noise: plan.countNoise.info,
    postProcessing: [],
  };
  const common = ['noisy count floored at 1 before dividing', 'std and ci95 are delta-method approximations at the noisy estimates'];
  const meanRelease: NoisyRelease = {
    value: mean,
    std: meanStd,
    ci95: ciAround(mean, meanStd, plan.lower, plan.upper),
    rho: plan.cost.rho,
    cost: plan.cost,
    noise: plan.sumNoise.info,
    postProcessing: [...common, `mean = ${plan.center} + noisy centred sum / count, clamped to [${plan.lower}, ${plan.upper}]`],
  };
  const budgetSplit: Record<string, number> =
    plan.statistic === 'mean'
      ? { count: plan.split[0]!, sum: plan.split[1]! }
      : { count: plan.split[0]!, sum: plan.split[1]!, sumSquares: plan.split[2]! };
  if (plan.statistic === 'mean' || !plan.sumSquaresNoise || !plan.sumSquaresGrid) {
    return { mean: meanRelease, count: countRelease, budgetSplit, cost: plan.cost };
  }
  if (stats.sumSquares === undefined) throw new RangeError('stats.sumSquares is required for statistic mean-variance');
  const sq = toInteger(stats.sumSquares, 'stats.sumSquares');
  const noisySq = fromGrid(sq + plan.sumSquaresNoise.sample(rng), plan.sumSquaresGrid);
  const h2 = plan.halfWidth * plan.halfWidth;
  const variance = Math.min(h2, Math.max(0, noisySq / c - muC * muC));
  const sdQ = plan.sumSquaresNoise.info.std * plan.sumSquaresGrid.size;
  const dC = -noisySq / (c * c) + (2 * noisySum * noisySum) / (c * c * c);
  const varStd = Math.sqrt((sdQ / c) ** 2 + ((2 * muC * sdS) / c) ** 2 + (dC * sdC) ** 2);
  const varianceRelease: NoisyRelease = {
    value: variance,
    std: varStd,
    ci95: ciAround(variance, varStd, 0, h2),
    rho: plan.cost.rho,
    cost: plan.cost,
    noise: plan.sumSquaresNoise.info,
    postProcessing: [...common, `variance = noisy Σ(x−m)²/count − (noisy Σ(x−m)/count)², clamped to [0, ${h2}]`],
  };
  return { mean: meanRelease, variance: varianceRelease, count: countRelease, budgetSplit, cost: plan.cost };
}

