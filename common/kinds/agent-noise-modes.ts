/**
 * The privacy modes whose noise goes in at the agents, as modules over the statistics vector (any kind):
 *
 * - **local-dp**: each agent adds the full noise a central release would get (σ² = Δ₂²/(2ρ_block) per block) to
 *   its own vector, so each agent's vector alone is ρ-zCDP and the coordinator may see it. The sum of n agents
 *   carries n times the central variance: the price of trusting nobody.
 * - **distributed-dp**: each agent adds a discrete Gaussian *share* (Kairouz, Liu & Steinke 2021) sized so that
 *   the shares of any m = n − tolerated honest agents alone give the block its ρ (KLS Prop. 14, via
 *   algorithms/dp's planDistributedNoise, as the built-in kinds use it). Only the noisy sum is ever seen, which
 *   needs a secure sum (secagg or he): the coordinator refuses distributed-dp with plain sums. Tolerance, stated as
 *   the built-in kinds do: up to `tolerated` agents (default ⌊(n − 1)/3⌋) may drop out or collude with the
 *   coordinator (their shares known and subtracted) and the released sum still carries ρ; the secure sum refuses
 *   to release with fewer than m contributors.
 *
 * Both split the job's ρ evenly over `maxRounds` and the round's noisy blocks like central-dp, so a job costs its
 * stated ρ once (charged up front at the coordinator and once per job id at each agent). Values are snapped to
 * the block's power-of-two grid before integer noise is added, so what leaves an agent is an exact multiple of
 * the grid the secure sum encodes without rounding.
 */
import { noiseDistribution, planDistributedNoise, type PrivacyCost } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { FedmeshError } from '../errors.js';
import type { KindJobCommon } from './kind.js';
import { addGridNoise, blockL2, gridAndL2, identityVector, NO_NOISE, rhoOfBlock, statedCost, type BlockNoise, type PrivacyModeDef, type RoundNoiseContext } from './noise-calibration.js';
import type { StatLayout, StatVector } from './stat-layout.js';

/** Default tolerance of distributed-dp: ⌊(n − 1)/3⌋ agents may drop out or collude (as common/secure). */
export function defaultToleratedAgents(agents: number): number {
  return Math.floor((agents - 1) / 3);
}

/** The agents that may fail or collude in a distributed-dp job of n agents. @throws FedmeshError INVALID_JOB */
export function toleratedAgents(job: KindJobCommon, agents: number): number {
  const t = job.privacy.tolerated ?? defaultToleratedAgents(agents);
  if (!Number.isInteger(t) || t < 0 || t >= agents) throw new FedmeshError('INVALID_JOB', `privacy.tolerated: must be an integer in [0, ${agents - 1}] for ${agents} agents, got ${t}`, { field: 'privacy.tolerated' });
  return t;
}

function needAgents(job: KindJobCommon, ctx: RoundNoiseContext | undefined): number {
  const n = ctx?.agents;
  if (n === undefined || !Number.isSafeInteger(n) || n < 1) throw new FedmeshError('INVALID_JOB', `privacy.mode: ${job.privacy.mode} needs the round's number of agents`, { field: 'privacy.mode' });
  return n;
}

const atAgentNoise = (v: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector => addGridNoise(v, noise, layout, rng, (n) => n.agentSigma2Grid);

export const LOCAL_DP_MODE: PrivacyModeDef = Object.freeze({
  name: 'local-dp',
  cost: (job: KindJobCommon): PrivacyCost => statedCost(job),
  roundNoise(job: KindJobCommon, layout: StatLayout, ctx?: RoundNoiseContext): BlockNoise[] {
    // The agent's noise does not depend on n; the stated noise of the sum does (n = 1 at an agent on its own).
    const n = ctx?.agents ?? 1;
    return layout.blocks.map((b) => {
      const l2 = blockL2(job, b);
      if (l2 === 0) return NO_NOISE;
      const rhoBlock = rhoOfBlock(job, layout, b);
      const { grid, l2Grid } = gridAndL2(b, l2, l2 / Math.sqrt(2 * rhoBlock));
      const agentSigma2Grid = (l2Grid * l2Grid) / (2 * rhoBlock);
      return { std: Math.sqrt(n * agentSigma2Grid) * grid.size, gridExponent: grid.exponent, sigma2Grid: 0, agentSigma2Grid };
    });
  },
  atAgent: atAgentNoise,
  atCoordinator: identityVector,
});

export const DISTRIBUTED_DP_MODE: PrivacyModeDef = Object.freeze({
  name: 'distributed-dp',
  // The shares' KLS charge is ≤ the requested ρ per block, so the stated ρ bounds the job's cost.
  cost: (job: KindJobCommon): PrivacyCost => statedCost(job),
  roundNoise(job: KindJobCommon, layout: StatLayout, ctx?: RoundNoiseContext): BlockNoise[] {
    const n = needAgents(job, ctx);
    const tolerated = toleratedAgents(job, n);
    return layout.blocks.map((b) => {
      const l2 = blockL2(job, b);
      if (l2 === 0) return NO_NOISE;
      const rhoBlock = rhoOfBlock(job, layout, b);
      // The grid is the central one: the shares together carry at least the central noise.
      const { grid, l2Grid } = gridAndL2(b, l2, l2 / Math.sqrt(2 * rhoBlock));
      let s2: number;
      try {
        s2 = planDistributedNoise({ agents: n, tolerated, l2Sensitivity: l2Grid, dimension: b.length, rho: rhoBlock }).shareSigma2Value;
      } catch (e) {
        throw new FedmeshError('INVALID_JOB', `privacy: block ${b.name}: ${(e as Error).message}`, { field: 'privacy' });
      }
      // The std of n shares is that of the discrete Gaussian each draws, not its parameter σ² (red team 49: up to 4 %
      // more for σ² near 0.25, where shares of a small ρ over many agents are), as the built-in secure path states it.
      return { std: Math.sqrt(n * noiseDistribution.discreteGaussianVariance(s2)) * grid.size, gridExponent: grid.exponent, sigma2Grid: 0, agentSigma2Grid: s2 };
    });
  },
  atAgent: atAgentNoise,
  atCoordinator: identityVector,
});
