import * as dp from '../../algorithms/dp/index.js';
import { invalidJob } from '../errors.js';
import type { CellBlock } from './cohort-jobs.js';
import { jobBudget } from './privacy-plan.js';
import type { CellJob } from './spec.js';

export interface CellPrivacyPlan {
  /** Per block (same order as the blocks): the noise, absent for blocks not released in DP modes. */
  blocks: { block: CellBlock; noise?: dp.CalibratedNoise }[];
  cost?: dp.PrivacyCost;
  budgetSplit?: string;
}

/**
 * Noise for each released block of a cohort-level job: the budget is split equally over the DP-safe blocks and each
 * block's noise is calibrated to how much one person can change it (L1 for Laplace, L2 for Gaussian).
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function planCellPrivacy(job: CellJob, blocks: readonly CellBlock[]): CellPrivacyPlan {
  if (job.privacy.mode === 'none') return { blocks: blocks.map((block) => ({ block })) };
  const released = blocks.filter((b) => b.dpSafe);
  const sites = job.privacy.maxSitesPerPerson ?? 1;
  const budget = jobBudget(job.privacy);
  let shares: dp.DpBudget[];
  try {
    shares = dp.splitBudget(budget, released.map(() => 1));
  } catch (e) {
    throw invalidJob('privacy', (e as Error).message);
  }
  let j = 0;
  const out = blocks.map((block) => {
    if (!block.dpSafe) return { block };
    try {
      // A person at up to m sites is counted at each: every cell they touch moves by up to m.
      const noise = dp.calibrateNoise(shares[j++]!, { l1: BigInt(block.l1 * sites), l2Squared: BigInt(block.l2Sq * sites * sites) });
      return { block, noise };
    } catch (e) {
      // A RangeError here is a refusal of the job's parameters, not a server fault: never INTERNAL.
      throw invalidJob('privacy', (e as Error).message);
    }
  });
  return {
    blocks: out,
    cost: dp.addCosts(...out.flatMap((b) => (b.noise ? [b.noise.cost] : []))),
    budgetSplit: `equal shares over ${released.length} block(s): ${released.map((b) => b.name).join(', ')}`,
  };
}
