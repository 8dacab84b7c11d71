/**
 * distributed-dp with secagg on the seam (public groups): the statistics the built-in plan noises (vector.ts
 * `aggregateStats`: a count's rows, a histogram's bins, a sum's Σx, a mean's n and Σx, a variance's n, Σx and Σx², on
 * the plan's grids), one block per statistic ACROSS every public combination (its length: groups, or groups × bins).
 * Each block carries the built-in plan's calibration: its L2 sensitivity over all groups (a person's rows, bounded by
 * maxRowsPerPerson, may fall in several groups) and, as its `rhoShare`, the ρ the built-in plan gives that statistic,
 * so the seam's distributed-dp (common/kinds/agent-noise-modes.ts: discrete Gaussian shares, Kairouz, Liu & Steinke
 * 2021) gives each block the built-in plan's ρ and dimension, not an even split over groups × statistics. Each agent
 * projects its statistic onto its public per-agent bound (`statisticClip`: secureMaxRows × the per-row bound, within
 * ±2^52 grid units) before its share is added, never refused on a value. The release is the built-in one's
 * post-processing (`distributedRows`, common/secure/secure-release.ts) with each block's stated noise. Pure.
 */
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import { DEFAULT_JOB_DELTA, describeGuarantee, isFilledLinkage, measureField, type AggregateJob, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import { NOISE_MARGIN_STDS, roundShares, statedCost, type RoundRecord, type StatBlock, type CompiledKindJob } from '../../common/kinds/index.js';
import * as dp from '../../algorithms/dp/index.js';
import { clippingNote, distributedRows, statisticClip, type NoisyStatistic } from '../../common/secure/index.js';
import { aggregateStats, fromVector, publicCombos, toVector, type AggregateStat } from './vector.js';
import { comboKey, type KeyMatcher } from './group-match.js';

/**
 * The largest magnitude of an agent's entry (grid units): 2^52, exact in a double with room for its noise share. Not
 * central-dp's 2^43 (vector.ts), which keeps a plain sum of 1 024 agents exact before the coordinator's noise: here the
 * secure sum is exact in its ring and rounding the decoded noisy total is post-processing (red team 49: 2^43 clipped
 * Σx of a site with a few hundred thousand rows, far below secureMaxRows).
 */
export const MAX_DISTRIBUTED_ENTRY = 2 ** 52;

const STAT_KIND: Record<string, NoisyStatistic> = { count: 'rows', bins: 'bin', n: 'n', sum: 'sum', sumSq: 'sumSq' };

/** One group's statistics (the same for every combination), in vector order. */
function groupStats(job: AggregateJob, plan: AggregatePrivacyPlan): AggregateStat[] {
  const stats = aggregateStats(job, plan).filter((s) => s.combo === 0);
  for (const s of stats) {
    if (s.stat === 'buckets' || 'select' in s.noise) throw new FedmeshError('INVALID_JOB', `measures[${s.measure}].fn: quantile needs mode central-dp (or none); distributed-dp is not supported for quantiles`, { field: `measures[${s.measure}].fn` });
    if (s.noise.info.distribution !== 'discrete-gaussian') {
      throw new FedmeshError('INVALID_JOB', `privacy: distributed-dp adds discrete Gaussian shares: give delta > 0 or rho (a pure-epsilon budget selects Laplace noise) (measures[${Math.max(0, s.measure)}])`, { field: 'privacy' });
    }
  }
  return stats;
}

function blockName(s: AggregateStat): string {
  return s.name.replace(/^g0\./, '');
}

/**
 * The public layout: one block per statistic across the combinations.
 * @throws FedmeshError INVALID_JOB for a quantile or a pure-ε budget (shares are discrete Gaussian)
 */
export function distributedLayout(job: AggregateJob, plan: AggregatePrivacyPlan, maxRowsPerAgent: number): StatBlock[] {
  const combos = publicCombos(job).length;
  const sites = plan.maxSitesPerPerson;
  const stats = groupStats(job, plan);
  // The seam splits ρ in proportion to the shares (noise-calibration.ts `rhoOfBlock`), dividing by their total or 1,
  // whichever is larger: the shares are the built-in ρ per statistic scaled so the largest is 1.
  const largest = Math.max(...stats.map((s) => (s.noise as dp.CalibratedNoise).cost.rho));
  return stats.map((s) => {
    const noise = s.noise as dp.CalibratedNoise;
    const [lo, hi] = statisticClip(s.measure < 0 ? undefined : plan.layout[s.measure], STAT_KIND[s.stat]!, maxRowsPerAgent);
    const cap = (x: bigint): number => Math.max(-MAX_DISTRIBUTED_ENTRY, Math.min(MAX_DISTRIBUTED_ENTRY, Number(x)));
    // The plan's sensitivity has the sites factor in it already; the seam multiplies by it again (blockL2).
    const l2 = noise.info.sensitivity / sites;
    return {
      name: blockName(s),
      length: combos * s.length,
      perAgent: { lo: cap(lo), hi: cap(hi) },
      sensitivity: { l1: l2, l2Sq: l2 * l2 },
      gridExponent: 0,
      exactOnGrid: true,
      release: 'additive' as const,
      rhoShare: noise.cost.rho / largest,
    };
  });
}

/** Block-major order of the combination-major vector (vector.ts): for each statistic, every combination's entries. */
function permutation(job: AggregateJob, plan: AggregatePrivacyPlan): number[] {
  const stats = aggregateStats(job, plan);
  const template = groupStats(job, plan);
  const starts: number[] = [];
  let at = 0;
  for (const s of stats) {
    starts.push(at);
    at += s.length;
  }
  const order: number[] = [];
  template.forEach((_, k) => {
    stats.forEach((s, i) => {
      if (i % template.length !== k) return;
      for (let j = 0; j < s.length; j++) order.push(starts[i]! + j);
    });
  });
  return order;
}

/** An agent's exact statistics as the distributed-dp vector (every public combination; zeros where it has no rows). */
export function toDistributedVector(job: AggregateJob, plan: AggregatePrivacyPlan, groups: readonly GroupPartial[], keyOf: KeyMatcher = comboKey): Float64Array {
  const byCombo = toVector(job, plan, aggregateStats(job, plan), groups, keyOf, MAX_DISTRIBUTED_ENTRY);
  return Float64Array.from(permutation(job, plan), (i) => byCombo[i]!);
}

/** The released (noisy) vector as one partial per public combination. */
export function fromDistributedVector(job: AggregateJob, plan: AggregatePrivacyPlan, values: ArrayLike<number>): GroupPartial[] {
  const order = permutation(job, plan);
  if (values.length !== order.length) throw new FedmeshError('INTERNAL', `distributed-dp: the released vector has ${values.length} entries, the layout ${order.length}`);
  const byCombo = new Array<number>(order.length);
  order.forEach((from, to) => {
    byCombo[from] = values[to]!;
  });
  return fromVector(job, plan, aggregateStats(job, plan), byCombo);
}

/** The release: the built-in post-processing with each block's stated noise, and the seam's statement of the shares. */
export function releaseDistributed(job: CompiledKindJob<AggregateJob>, plan: AggregatePrivacyPlan, last: RoundRecord, maxRowsPerAgent: number): { columns: string[]; rows: Record<string, unknown>[]; privacy: Record<string, unknown>; notes: string[] } {
  const spec = job.spec;
  const template = groupStats(spec, plan);
  const blockOf = (i: number, s: NoisyStatistic): number => template.findIndex((t) => (t.measure === i || (s === 'rows' && t.measure < 0)) && STAT_KIND[t.stat] === s);
  const shares = roundShares(job, last);
  // The round states its noise for the n agents asked; c contributed (a dropout under a quorum).
  const sd = (i: number, s: NoisyStatistic): number => {
    const b = blockOf(i, s);
    return b < 0 ? NaN : (last.noiseStd[b] ?? NaN) * shares.stdScale;
  };
  const totals = fromDistributedVector(spec, plan, last.released);
  const { rows, notes } = distributedRows(spec, plan, totals, sd);
  const { contributors, agents, tolerated, minHonestShares } = shares;
  const cost = statedCost(job);
  // (ε at the job's δ, or the default δ a ρ-only job is stated at, as the built-in statement gives it)
  const delta = spec.privacy.delta !== undefined && spec.privacy.delta > 0 ? spec.privacy.delta : DEFAULT_JOB_DELTA;
  const epsilon = dp.epsilonAtDelta(cost, delta);
  const blocks = distributedLayout(spec, plan, maxRowsPerAgent);
  const mechanisms = blocks.map((b, k) => ({ block: b.name, distribution: 'discrete-gaussian', sensitivity: { l2: Math.sqrt((b.sensitivity as { l2Sq: number }).l2Sq) * plan.maxSitesPerPerson }, totalStd: (last.noiseStd[k] ?? NaN) * shares.stdScale }));
  // Blocks whose public bound passes what an agent's entry may hold (2^52 grid units): projected there, not only
  // beyond secureMaxRows rows (red team 49). The layout's bounds say which: capped at exactly that.
  const capped = blocks.filter((b) => b.perAgent.hi === MAX_DISTRIBUTED_ENTRY || b.perAgent.lo === -MAX_DISTRIBUTED_ENTRY);
  return {
    columns: [...spec.groupBy, ...spec.measures.map((m) => measureField(m)).flatMap((f) => [f, `${f}_std`])],
    rows,
    privacy: {
      mode: 'distributed-dp',
      secure: job.secure,
      requested: plan.dp!.requested,
      spent: { rho: cost.rho, epsilon, delta },
      agents,
      tolerated,
      minHonestShares,
      contributors,
      maxRowsPerPerson: plan.maxRowsPerPerson,
      budgetSplit: `${plan.dp!.budgetSplit}; each statistic's share of ρ as the built-in plan gives it, over ${blocks.length} blocks: ${blocks.map((b) => b.name).join(', ')}`,
      mechanisms,
      secureMaxRows: maxRowsPerAgent,
      guarantee: describeGuarantee({
        mode: 'distributed-dp',
        secure: job.secure as 'secagg',
        maxRowsPerPerson: plan.maxRowsPerPerson,
        maxSitesPerPerson: plan.maxSitesPerPerson,
        ...(isFilledLinkage(spec.privacy.linkage) ? { linkageSites: spec.privacy.linkage.sites.length } : {}),
        mechanism: 'discrete-gaussian noise shares, one per agent, summed inside secure aggregation',
        spent: { rho: cost.rho, epsilon, delta },
        agents,
        tolerated,
      }),
    },
    notes: [
      `distributed-dp with ${job.secure}: each of ${contributors} contributing agents added a discrete Gaussian share before masking; only the noisy sum was ever decoded. <name>_std is the std of the summed shares, <name>_ci95 its normal-approximation 95% interval`,
      `each share sized so that any ${minHonestShares} honest agents' shares alone give each statistic its ρ (n = ${agents}, tolerating ${tolerated} dropped or colluding agents in all${agents > contributors ? `; ${agents - contributors} dropped, so up to ${Math.max(0, tolerated - (agents - contributors))} more may collude` : ''}; Kairouz, Liu & Steinke 2021, Prop. 14)`,
      `each person contributes at most ${plan.maxRowsPerPerson} row(s), chosen at the agent by a keyed hash; values clamped to the declared bounds and snapped to a power-of-two grid before integer noise (contribution bounding bias: persons with more rows weigh less than in the exact all-rows answer; this bias is not in _std or _ci95)`,
      'means and variances: noisy count floored at 1, clamped to the bounds; std by the delta method',
      clippingNote(maxRowsPerAgent, 'rows', 'distributed-dp', `${NOISE_MARGIN_STDS} share σ of it (exceeded with probability below 1e-32 per entry)`),
      ...(capped.length > 0 ? [`${capped.map((b) => b.name).join(', ')}: an agent's statistic is also projected onto ±2^52 grid units (what its vector entry holds exactly), which binds before secureMaxRows rows`] : []),
      ...notes,
    ],
  };
}
