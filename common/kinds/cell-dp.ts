/**
 * The noise of a ported cell kind (contingency, survival Kaplan–Meier, cohort, characterize: person counts in public
 * cells) in central-dp and local-dp, and how its release states it: the built-in cell plan (common/job/cell-privacy.ts:
 * the budget split equally over the blocks released under DP; discrete Laplace at ε when the job states ε alone, else
 * a discrete Gaussian at the job's ρ, each calibrated to the block's L1 / L2² per person times the sites a person may
 * be at) as the kind's noise plan on the seam (kind-noise-plan.ts), so the draws, the charge and the statement are
 * the built-in kinds', draw for draw. The blocks are the DP-safe ones, in the built-in order. Pure.
 */
import * as dp from '../../algorithms/dp/index.js';
import { planCellPrivacy, type CellPrivacyPlan, cellBlocks, type CellBlock, describeGuarantee, summariseMechanisms, isFilledLinkage, DEFAULT_JOB_DELTA, type CellJob } from '../job/index.js';
import type { KindNoisePlan } from './kind.js';

/** The built-in plan of a DP cell job. @throws FedmeshError INVALID_JOB naming `privacy` */
export function cellDpPlan(spec: CellJob, ruleNames: readonly string[] = []): CellPrivacyPlan {
  return planCellPrivacy(spec, cellBlocks(spec, ruleNames));
}

/** The blocks a cell kind releases in the DP modes (those a person changes by a bounded amount), in order. */
export function dpSafeBlocks(spec: CellJob, ruleNames: readonly string[] = []): CellBlock[] {
  return cellBlocks(spec, ruleNames).filter((b) => b.dpSafe);
}

/** The plan as the seam's kind noise plan: one sampler per DP-safe block, in layout order. */
export function cellNoisePlan(spec: CellJob, ruleNames: readonly string[] = []): KindNoisePlan {
  const plan = cellDpPlan(spec, ruleNames);
  if (!plan.cost) throw new RangeError('cellNoisePlan: mode none has no noise plan');
  return {
    cost: plan.cost,
    blocks: plan.blocks.filter((b) => b.block.dpSafe).map((b) => {
      const noise = b.noise!;
      return { sample: (rng: Parameters<typeof noise.sample>[0]) => noise.sample(rng), std: noise.info.std };
    }),
  };
}

/**
 * The privacy block and the first note of a central-dp or local-dp release, worded as the built-in kinds word them.
 * @param answered agents whose (noisy, local-dp) counts were summed
 * @returns also the std of each DP-safe block's released entries, in layout order
 */
export function cellDpStatement(spec: CellJob, answered: number, ruleNames: readonly string[] = []): { privacy: Record<string, unknown>; note: string; blockStd: number[] } {
  const mode = spec.privacy.mode as 'central-dp' | 'local-dp';
  const plan = cellDpPlan(spec, ruleNames);
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
    blockStd: plan.blocks.filter((b) => b.block.dpSafe).map((b) => b.noise!.info.std * root),
  };
}
