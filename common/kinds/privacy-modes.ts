import { fromGrid, gridForNoiseStd, gridOfExponent, snapToGrid, createDiscreteGaussianSampler, rationalFromNumber, rhoForEpsilonDelta, type PrivacyCost } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { FedmeshError } from '../errors.js';
import type { KindJobCommon } from './kind.js';
import type { StatLayout, StatVector } from './stat-layout.js';

/** The noise one block of one round gets (all public: derived from the layout and the job's budget). */
export interface BlockNoise {
  /** Standard deviation of the noise in value units (0: none). */
  readonly std: number;
  /** The fixed-point grid (2^gridExponent) the block's sum is snapped to before integer noise is added. */
  readonly gridExponent: number;
  /** Variance of the discrete Gaussian in grid units (0: none). */
  readonly sigma2Grid: number;
}

/**
 * A privacy mode as a module over the statistics vector, whatever the kind: what the job costs (charged once, up
 * front), and the noise at the agent and at the coordinator for each round.
 */
export interface PrivacyModeDef {
  readonly name: string;
  /** The whole job's cost over `maxRounds`, or undefined when nothing is charged. @throws FedmeshError INVALID_JOB */
  cost(job: KindJobCommon): PrivacyCost | undefined;
  /** Per block of this round's layout. @throws FedmeshError INVALID_JOB when a block cannot be released under it */
  roundNoise(job: KindJobCommon, layout: StatLayout): BlockNoise[];
  /** At the agent, before the secure sum (local and distributed modes); identity here. */
  atAgent(v: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector;
  /** At the coordinator, on the round's sum (central mode). */
  atCoordinator(sum: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector;
}

const identity = (v: StatVector): StatVector => v;

/** Mode none: exact sums, nothing charged. Domain policy decides where it is allowed. */
export const NONE_MODE: PrivacyModeDef = Object.freeze({
  name: 'none',
  cost: () => undefined,
  roundNoise: (_job: KindJobCommon, layout: StatLayout) => layout.blocks.map(() => ({ std: 0, gridExponent: 0, sigma2Grid: 0 })),
  atAgent: identity,
  atCoordinator: identity,
});

/** ρ of the whole job in central-dp, from its stated (ε, δ). */
function jobRho(job: KindJobCommon): number {
  const { epsilon, delta } = job.privacy;
  if (epsilon === undefined || delta === undefined) throw new FedmeshError('INVALID_JOB', 'privacy: central-dp needs epsilon and delta', { field: 'privacy' });
  return rhoForEpsilonDelta(epsilon, delta);
}

/**
 * Central DP: the coordinator adds discrete Gaussian noise to each released block of each round. The job's ρ (from
 * its (ε, δ)) is split evenly over `maxRounds` rounds and over the round's blocks; zCDP composes by adding ρ
 * (Bun & Steinke 2016, Lemma 2.3), so the whole job costs exactly ρ, charged once at admission. A block's σ² is
 * Δ₂²/(2ρ_block) (Canonne, Kamath, Steinke 2020, Thm. 4); its sum is snapped to a power-of-two grid 2^-24 below
 * the noise (Mironov 2012) and Δ₂ is widened by √length grid steps to cover the snapping of each entry.
 */
export const CENTRAL_DP_MODE: PrivacyModeDef = Object.freeze({
  name: 'central-dp',
  cost(job: KindJobCommon): PrivacyCost {
    return { rho: jobRho(job), epsilon: job.privacy.epsilon!, delta: job.privacy.delta! };
  },
  roundNoise(job: KindJobCommon, layout: StatLayout): BlockNoise[] {
    const rhoBlock = jobRho(job) / job.maxRounds / layout.blocks.length;
    return layout.blocks.map((b) => {
      if (b.sensitivity === 'exact-only') throw new FedmeshError('INVALID_JOB', `privacy.mode: block ${b.name} of kind ${job.kind} has no bounded sensitivity and cannot be released under central-dp`, { field: 'privacy.mode' });
      const l2 = Math.sqrt(b.sensitivity.l2Sq);
      const std0 = l2 / Math.sqrt(2 * rhoBlock);
      const grid = b.gridExponent !== undefined ? gridOfExponent(b.gridExponent) : gridForNoiseStd(std0);
      const l2Grid = l2 / grid.size + Math.sqrt(b.length);
      const sigma2Grid = (l2Grid * l2Grid) / (2 * rhoBlock);
      return { std: Math.sqrt(sigma2Grid) * grid.size, gridExponent: grid.exponent, sigma2Grid };
    });
  },
  atAgent: identity,
  atCoordinator(sum: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector {
    const out = new Float64Array(sum.values.length);
    let at = 0;
    for (const [i, b] of layout.blocks.entries()) {
      const n = noise[i]!;
      const grid = gridOfExponent(n.gridExponent);
      const sampler = createDiscreteGaussianSampler(rationalFromNumber(n.sigma2Grid));
      for (let j = 0; j < b.length; j++, at++) out[at] = fromGrid(snapToGrid(sum.values[at]!, grid) + sampler.sample(rng), grid);
    }
    return { values: out };
  },
});

/** The module for a job's mode. */
export function privacyModeOf(job: KindJobCommon): PrivacyModeDef {
  return job.privacy.mode === 'central-dp' ? CENTRAL_DP_MODE : NONE_MODE;
}
