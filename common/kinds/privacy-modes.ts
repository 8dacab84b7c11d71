import type { PrivacyCost } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import type { KindJobCommon } from './kind.js';
import { addGridNoise, blockL2, gridAndL2, identityVector, NO_NOISE, rhoOfBlock, statedCost, type BlockNoise, type PrivacyModeDef } from './noise-calibration.js';
import { DISTRIBUTED_DP_MODE, LOCAL_DP_MODE } from './agent-noise-modes.js';
import type { StatLayout, StatVector } from './stat-layout.js';

export type { BlockNoise, PrivacyModeDef, RoundNoiseContext } from './noise-calibration.js';
export { LOCAL_DP_MODE, DISTRIBUTED_DP_MODE };

/** Mode none: exact sums, nothing charged. Domain policy decides where it is allowed. */
export const NONE_MODE: PrivacyModeDef = Object.freeze({
  name: 'none',
  cost: () => undefined,
  roundNoise: (_job: KindJobCommon, layout: StatLayout) => layout.blocks.map(() => NO_NOISE),
  atAgent: identityVector,
  atCoordinator: identityVector,
});

/**
 * Central DP: the coordinator adds discrete Gaussian noise to each released block of each round. The job's ρ (from
 * its (ε, δ)) is split evenly over `maxRounds` rounds and over the round's blocks; zCDP composes by adding ρ
 * (Bun & Steinke 2016, Lemma 2.3), so the whole job costs exactly ρ, charged once at admission. Blocks with
 * sensitivity 0 (public by construction) get no noise and no share. A block's σ² is
 * Δ₂²/(2ρ_block) (Canonne, Kamath, Steinke 2020, Thm. 4); its sum is snapped to a power-of-two grid 2^-24 below
 * the noise (Mironov 2012) and Δ₂ is widened by √length grid steps to cover the snapping of each entry.
 */
export const CENTRAL_DP_MODE: PrivacyModeDef = Object.freeze({
  name: 'central-dp',
  cost: (job: KindJobCommon): PrivacyCost => statedCost(job),
  roundNoise(job: KindJobCommon, layout: StatLayout): BlockNoise[] {
    return layout.blocks.map((b) => {
      const l2 = blockL2(job, b);
      // A block no person can change is public already: released as it is, with none of the budget.
      if (l2 === 0) return NO_NOISE;
      const rhoBlock = rhoOfBlock(job, layout, b);
      const { grid, l2Grid } = gridAndL2(b, l2, l2 / Math.sqrt(2 * rhoBlock));
      const sigma2Grid = (l2Grid * l2Grid) / (2 * rhoBlock);
      return { std: Math.sqrt(sigma2Grid) * grid.size, gridExponent: grid.exponent, sigma2Grid, agentSigma2Grid: 0 };
    });
  },
  atAgent: identityVector,
  atCoordinator: (sum: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector => addGridNoise(sum, noise, layout, rng, (n) => n.sigma2Grid),
});

/** The module for a job's mode. */
export function privacyModeOf(job: KindJobCommon): PrivacyModeDef {
  switch (job.privacy.mode) {
    case 'central-dp':
      return CENTRAL_DP_MODE;
    case 'local-dp':
      return LOCAL_DP_MODE;
    case 'distributed-dp':
      return DISTRIBUTED_DP_MODE;
    default:
      return NONE_MODE;
  }
}
