import * as dp from '../../algorithms/dp/index.js';
import type { MomentPartial } from '../../algorithms/aggregate/index.js';

/**
 * Mean or variance from statistics that already carry noise (local-dp sums of agents' noisy statistics, or a secure
 * distributed-dp total), given the standard deviation of the noise in each statistic (grid units). Post-processing:
 * the noisy count is floored at 1, the mean clamped to the bounds, the variance to [0, h²]; std by the delta method.
 */
export function noisyMoments(field: string, fn: 'mean' | 'variance', plan: dp.MeanVariancePlan, m: MomentPartial, sd: { count: number; sum: number; sumSq: number }): Record<string, unknown> {
  const c = Math.max(1, Number(m.n));
  const sdC = sd.count;
  // The noisy number of values present (NULLs excluded) is the count statistic the mean already paid for.
  const nValues = { [`${field}_n`]: Number(m.n), [`${field}_n_std`]: sdC };
  const sum = dp.fromGrid(m.sum, plan.sumGrid);
  const sdS = sd.sum * plan.sumGrid.size;
  const mu = sum / c;
  if (fn === 'mean') {
    const v = Math.min(plan.upper, Math.max(plan.lower, plan.center + mu));
    const s = Math.sqrt(sdS * sdS + mu * mu * sdC * sdC) / c;
    return { [field]: v, [`${field}_std`]: s, [`${field}_ci95`]: [Math.max(plan.lower, v - dp.Z_975 * s), Math.min(plan.upper, v + dp.Z_975 * s)], ...nValues };
  }
  const h2 = plan.halfWidth * plan.halfWidth;
  const sq = dp.fromGrid(m.sumSq, plan.sumSquaresGrid!);
  const sdQ = sd.sumSq * plan.sumSquaresGrid!.size;
  const v = Math.min(h2, Math.max(0, sq / c - mu * mu));
  const dC = -sq / (c * c) + (2 * sum * sum) / (c * c * c);
  const s = Math.sqrt((sdQ / c) ** 2 + ((2 * mu * sdS) / c) ** 2 + (dC * sdC) ** 2);
  return { [field]: v, [`${field}_std`]: s, [`${field}_ci95`]: [Math.max(0, v - dp.Z_975 * s), Math.min(h2, v + dp.Z_975 * s)], ...nValues };
}
