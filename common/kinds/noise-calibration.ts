/**
 * What every privacy mode over the statistics vector shares: the per-block noise record, the job's ρ and its even
 * split over rounds and noisy blocks, the per-person L2 sensitivity of a block (times the sites a person may be
 * at), and the exact integer noise on a power-of-two grid. The modes themselves are privacy-modes.ts (none,
 * central-dp) and agent-noise-modes.ts (local-dp, distributed-dp).
 */
import { costFromRho, createDiscreteGaussianSampler, fromGrid, gridForNoiseStd, gridOfExponent, rationalFromNumber, rhoForEpsilonDelta, snapToGrid, type Grid, type PrivacyCost } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { FedmeshError } from '../errors.js';
import type { KindJobCommon } from './kind.js';
import type { StatBlock, StatLayout, StatVector } from './stat-layout.js';

/** The noise one block of one round gets (all public: derived from the layout, the job's budget and n). */
export interface BlockNoise {
  /** Standard deviation of the noise in the block's released sum, value units (0: none). */
  readonly std: number;
  /** The fixed-point grid (2^gridExponent) noisy values live on; meaningful when a σ² below is > 0. */
  readonly gridExponent: number;
  /** Variance of the discrete Gaussian the coordinator adds, grid units (central-dp; else 0). */
  readonly sigma2Grid: number;
  /** Variance of the discrete Gaussian each agent adds, grid units (local-dp: the full amount; distributed-dp: a share). */
  readonly agentSigma2Grid: number;
}

/** Public facts about a round a mode may need besides the layout. */
export interface RoundNoiseContext {
  /**
   * Agents whose vectors the round sums (distributed-dp sizes the shares with it; local-dp states the sum's noise
   * with it). At an agent: the attested participant count of the secure round.
   */
  readonly agents: number;
}

/**
 * A privacy mode as a module over the statistics vector, whatever the kind: what the job costs (charged once, up
 * front), and the noise at the agent and at the coordinator for each round.
 */
export interface PrivacyModeDef {
  readonly name: string;
  /** The whole job's cost over `maxRounds`, or undefined when nothing is charged. @throws FedmeshError INVALID_JOB */
  cost(job: KindJobCommon): PrivacyCost | undefined;
  /**
   * Per block of this round's layout. @throws FedmeshError INVALID_JOB when a block cannot be released under the
   * mode, or the mode needs `ctx` and has none
   */
  roundNoise(job: KindJobCommon, layout: StatLayout, ctx?: RoundNoiseContext): BlockNoise[];
  /** At the agent, on its own vector before the secure sum (local and distributed modes); identity otherwise. */
  atAgent(v: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector;
  /** At the coordinator, on the round's sum (central mode); identity otherwise. */
  atCoordinator(sum: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng): StatVector;
}

export const NO_NOISE: BlockNoise = Object.freeze({ std: 0, gridExponent: 0, sigma2Grid: 0, agentSigma2Grid: 0 });

/** ρ of the whole job, from its stated (ε, δ) or ρ. @throws FedmeshError INVALID_JOB */
export function jobRho(job: KindJobCommon): number {
  const { epsilon, delta, rho } = job.privacy;
  if (rho !== undefined) return rho;
  if (epsilon === undefined || delta === undefined) throw new FedmeshError('INVALID_JOB', `privacy: ${job.privacy.mode} needs epsilon and delta, or rho`, { field: 'privacy' });
  return rhoForEpsilonDelta(epsilon, delta);
}

/**
 * The job's cost (the whole job, all rounds), charged once at admission and once per agent: plain ρ-zCDP, ρ as stated
 * or derived from the stated (ε, δ). Not `{ρ, ε, δ}`: a cost's δ means "δ-approximately ρ-zCDP" and adds up, so
 * a discrete Gaussian job charged its δ on top of its ρ, and one (ε, 1e-6) job used up a budget of δ = 1e-6
 * (red team 29, F2). The job's (ε, δ) is still what its result states (coordinator/rounds/kind-guarantee.ts).
 * A kind that states both ρ and its own (ε, δ) (train's local DP-SGD: a tighter ε from its RDP account, and the
 * unamplified ρ) keeps both: a cost cannot say "ρ-zCDP, and (ε, δ)-DP by another account", so its ρ is counted as
 * δ-approximate, which is sound and only makes its conversion more conservative.
 */
export function statedCost(job: KindJobCommon): PrivacyCost {
  const { epsilon, delta, rho } = job.privacy;
  if (rho !== undefined && epsilon !== undefined && delta !== undefined) return { rho, epsilon, delta };
  return costFromRho(jobRho(job));
}

/** Sites a person may be at (≥ 1). */
export function sitesOf(job: KindJobCommon): number {
  const m = job.privacy.maxSitesPerPerson ?? 1;
  if (!Number.isInteger(m) || m < 1) throw new FedmeshError('INVALID_JOB', `privacy.maxSitesPerPerson: must be an integer >= 1, got ${m}`, { field: 'privacy.maxSitesPerPerson' });
  return m;
}

/**
 * A block's per-person L2 sensitivity: the declared one times the sites a person may be at (a person at m sites
 * moves m agents' vectors, so the sum by m times as much). 0: public, no noise and no budget.
 * @throws FedmeshError INVALID_JOB for an exact-only block
 */
export function blockL2(job: KindJobCommon, b: StatBlock): number {
  if (b.sensitivity === 'exact-only') {
    throw new FedmeshError('INVALID_JOB', `privacy.mode: block ${b.name} of kind ${job.kind} has no bounded sensitivity and cannot be released under ${job.privacy.mode}`, { field: 'privacy.mode' });
  }
  return Math.sqrt(b.sensitivity.l2Sq) * sitesOf(job);
}

/** ρ per noisy block per round: the job's ρ split evenly over `maxRounds` and the round's noisy blocks (zCDP adds). */
export function rhoPerBlock(job: KindJobCommon, layout: StatLayout): number {
  const noisy = layout.blocks.filter(isNoisy).length;
  return jobRho(job) / job.maxRounds / Math.max(1, noisy);
}

const isNoisy = (b: StatBlock): boolean => b.sensitivity === 'exact-only' || b.sensitivity.l2Sq > 0;

/**
 * ρ of one noisy block per round: the job's ρ split evenly over `maxRounds`, then over the round's noisy blocks in
 * proportion to their `rhoShare` (default 1: the even split of {@link rhoPerBlock}). The shares of a round add up to
 * its ρ, so the job still costs exactly its stated ρ (zCDP adds, Bun & Steinke 2016, Lemma 2.3).
 */
export function rhoOfBlock(job: KindJobCommon, layout: StatLayout, b: StatBlock): number {
  const total = layout.blocks.filter(isNoisy).reduce((a, x) => a + (x.rhoShare ?? 1), 0);
  return ((jobRho(job) / job.maxRounds) * (b.rhoShare ?? 1)) / Math.max(1, total);
}

/**
 * The grid a noisy block lives on and its L2 sensitivity in grid units, widened by √length grid steps for the
 * snapping of each entry (not for a block whose entries are exact on its declared grid) (Mironov 2012: integer noise on a power-of-two grid, never floating-point noise).
 */
export function gridAndL2(b: StatBlock, l2: number, std0: number): { grid: Grid; l2Grid: number } {
  const grid = b.gridExponent !== undefined ? gridOfExponent(b.gridExponent) : gridForNoiseStd(std0);
  // Values declared exact on their grid (counts) are not moved by snapping: nothing to widen for.
  return { grid, l2Grid: l2 / grid.size + (b.exactOnGrid && b.gridExponent !== undefined ? 0 : Math.sqrt(b.length)) };
}

/** Adds discrete Gaussian noise of the chosen variance to each block where it is > 0, on its grid. */
export function addGridNoise(v: StatVector, noise: readonly BlockNoise[], layout: StatLayout, rng: Rng, sigma2: (n: BlockNoise) => number): StatVector {
  const out = new Float64Array(v.values.length);
  let at = 0;
  for (const [i, b] of layout.blocks.entries()) {
    const n = noise[i]!;
    const s2 = sigma2(n);
    if (s2 === 0) {
      out.set(v.values.subarray(at, at + b.length), at);
      at += b.length;
      continue;
    }
    const grid = gridOfExponent(n.gridExponent);
    const sampler = createDiscreteGaussianSampler(rationalFromNumber(s2));
    for (let j = 0; j < b.length; j++, at++) out[at] = fromGrid(snapToGrid(v.values[at]!, grid) + sampler.sample(rng), grid);
  }
  return { values: out };
}

export const identityVector = (v: StatVector): StatVector => v;

/** The privacy part of a compiled job from a parsed spec's `privacy` (the fields the modes read, nothing else). */
export function kindPrivacyOf(p: { mode: string; epsilon?: number; delta?: number; rho?: number; tolerated?: number; maxSitesPerPerson?: number }): KindJobCommon['privacy'] {
  return {
    mode: p.mode as KindJobCommon['privacy']['mode'],
    ...(p.epsilon !== undefined ? { epsilon: p.epsilon } : {}),
    ...(p.delta !== undefined ? { delta: p.delta } : {}),
    ...(p.rho !== undefined ? { rho: p.rho } : {}),
    ...(p.tolerated !== undefined ? { tolerated: p.tolerated } : {}),
    ...(p.maxSitesPerPerson !== undefined && p.maxSitesPerPerson !== 1 ? { maxSitesPerPerson: p.maxSitesPerPerson } : {}),
  };
}
