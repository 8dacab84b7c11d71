/**
 * The Kaplan–Meier kind's noise in central-dp and local-dp, and how its release states it: the built-in cell plan
 * (common/job/cell-privacy.ts: the budget split equally over the two blocks — persons initially at risk per stratum,
 * and the event/censoring endpoints; discrete Laplace at ε when the job states ε alone, else a discrete Gaussian at
 * the job's ρ, each calibrated to L1 = L2² = 1 per person times the sites a person may be at) as the kind's noise plan
 * on the seam (common/kinds/kind-noise-plan.ts), so the draws, the charge and the statement are the built-in kind's. Pure.
 */
import * as dp from '../../algorithms/dp/index.js';
import { planCellPrivacy, type CellPrivacyPlan } from '../../common/job/cell-privacy.js';
import { cellBlocks } from '../../common/job/cohort-jobs.js';
import { describeGuarantee, summariseMechanisms } from '../../common/job/guarantee.js';
import { isFilledLinkage } from '../../common/job/linkage.js';
import { DEFAULT_JOB_DELTA } from '../../common/job/spec.js';
import type { KindNoisePlan } from '../../common/kinds/index.js';
import type { KmSpec } from './spec.js';

/** The built-in plan of a DP survival job. @throws FedmeshError INVALID_JOB naming `privacy` */
export function kmCellPlan(spec: KmSpec): CellPrivacyPlan {
  return planCellPrivacy(spec, cellBlocks(spec));
}

/** The plan as the seam's kind noise plan: one sampler per block, in layout order. */
export function kmNoisePlan(spec: KmSpec): KindNoisePlan {
  const plan = kmCellPlan(spec);
  if (!plan.cost) throw new RangeError('kmNoisePlan: mode none has no noise plan');
  return {
    cost: plan.cost,
    blocks: plan.blocks.map((b) => {
      const noise = b.noise;
      return noise ? { sample: (rng: Parameters<typeof noise.sample>[0]) => noise.sample(rng), std: noise.info.std } : undefined;
    }),
  };
}

/**
 * The privacy block and the first note of a central-dp or local-dp release, worded as the built-in kind words them.
 * @param answered agents whose (noisy, local-dp) counts were summed
 * @returns the std of each block's released entries, in layout order
 */
export function kmDpStatement(spec: KmSpec, answered: number): { privacy: Record<string, unknown>; note: string; blockStd: number[] } {
  const mode = spec.privacy.mode as 'central-dp' | 'local-dp';
  const plan = kmCellPlan(spec);
  const cost = plan.cost!;
  const delta = spec.privacy.delta && spec.privacy.delta > 0 ? spec.privacy.delta : DEFAULT_JOB_DELTA;
  const mechanisms = plan.blocks.filter((b) => b.noise).map((b) => ({ block: b.block.name, sensitivity: { l1: b.block.l1, l2: Math.sqrt(b.block.l2Sq) }, noise: b.noise!.info }));
  const spent = { rho: cost.rho, epsilon: Number.isFinite(cost.epsilon) ? cost.epsilon : dp.epsilonAtDelta(cost, delta), delta: Number.isFinite(cost.epsilon) ? cost.delta : delta };
  const root = mode === 'local-dp' ? Math.sqrt(answered) : 1;
  return {
    // Persons are counted once per cell: k = 1 by construction.
    privacy: {
      mode,
      spent,
      budgetSplit: plan.budgetSplit,
      maxRowsPerPerson: 1,
      mechanisms,
      guarantee: describeGuarantee({ mode, maxRowsPerPerson: 1, maxSitesPerPerson: spec.privacy.maxSitesPerPerson ?? 1, ...(isFilledLinkage(spec.privacy.linkage) ? { linkageSites: spec.privacy.linkage.sites.length } : {}), mechanism: summariseMechanisms(mechanisms), spent }),
    },
    note: `${mode}: counts of distinct persons with noise; <name>_std is the noise standard deviation${mode === 'local-dp' ? ` (per-agent noise × √${answered})` : ''}; entries (not person-bounded) are not released`,
    blockStd: plan.blocks.map((b) => (b.noise ? b.noise.info.std * root : 0)),
  };
}
