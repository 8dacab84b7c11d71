/**
 * The statistics vector of a DP aggregate job on the seam (public, from the spec alone): per public group combination,
 * in combination order, each noised statistic as one block — a histogram's bins; a sum's Σx; a mean's n and Σx; a
 * variance's n, Σx and Σx²; the group's count for a count measure. Every entry is an integer in its statistic's grid
 * units (counts: rows; sums: the plan's fixed-point grid), and each block gets the built-in plan's exact sampler, so the
 * seam draws the built-in noise, draw for draw, in the built-in order: local-dp, each agent, the count after the other
 * measures (node-agent/jobs/aggregate.ts drew them so); central-dp, the coordinator, the count at its measure's place
 * (release.ts `releaseCentral` draws so). Pure.
 */
import { type GroupPartial, type KeyValue, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import * as dp from '../../algorithms/dp/index.js';
import type { CalibratedNoise } from '../../algorithms/dp/index.js';
import type { Rng } from '../../algorithms/rng.js';
import { measureField, publicGroupCombos, type AggregateJob, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import { comboKey, type KeyMatcher } from './group-match.js';

/** One noised statistic of one group: a block of the layout. */
export interface AggregateStat {
  readonly combo: number;
  /** The measure's index; -1 for the group's row count. */
  readonly measure: number;
  /** `buckets`: a quantile's bucket counts in, the candidates its permute-and-flip chose out (central-dp). */
  readonly stat: 'count' | 'bins' | 'n' | 'sum' | 'sumSq' | 'buckets';
  readonly length: number;
  /** A block's exact sampler; for `buckets`, the quantile's selection instead. */
  readonly noise: CalibratedNoise | QuantileSelection;
  readonly name: string;
}

/**
 * A quantile measure's release at the coordinator (central-dp): permute-and-flip over the public candidates, on the
 * group's exact summed bucket counts, drawn where the built-in release drew it. `sensitivity` is one person's largest
 * change to a bucket count (rows per person × sites per person), for the layout.
 */
export interface QuantileSelection {
  readonly sensitivity: number;
  select(buckets: readonly bigint[], rng: Rng): number[];
}

/** The job's public group combinations. @throws FedmeshError INVALID_JOB without public keys (the plan refuses first) */
export function publicCombos(job: AggregateJob): KeyValue[][] {
  const combos = publicGroupCombos(job);
  if (!combos) throw new FedmeshError('INVALID_JOB', `groupKeys: ${job.privacy.mode} on the kind seam needs public group keys`, { field: 'groupKeys' });
  return combos;
}

/** The blocks of a DP job, in vector (and draw) order. */
export function aggregateStats(job: AggregateJob, plan: AggregatePrivacyPlan): AggregateStat[] {
  const measures = plan.dp!.measures;
  const countLast = job.privacy.mode === 'local-dp';
  const out: AggregateStat[] = [];
  publicCombos(job).forEach((_, combo) => {
    const add = (measure: number, stat: AggregateStat['stat'], length: number, noise: AggregateStat['noise']): void => {
      out.push({ combo, measure, stat, length, noise, name: `g${combo}.${measure < 0 ? 'count' : `${measureField(job.measures[measure]!)}.${stat}`}` });
    };
    measures.forEach((mp, i) => {
      const l = plan.layout[i]!;
      if (mp.fn === 'count') {
        if (!countLast) add(-1, 'count', 1, mp.noise);
      } else if (mp.fn === 'histogram' && l.kind === 'histogram') add(i, 'bins', l.bins, mp.noise);
      else if (mp.fn === 'sum') add(i, 'sum', 1, mp.plan.noise);
      else if (mp.fn === 'mean' || mp.fn === 'variance') {
        add(i, 'n', 1, mp.plan.countNoise);
        add(i, 'sum', 1, mp.plan.sumNoise);
        if (mp.plan.sumSquaresNoise) add(i, 'sumSq', 1, mp.plan.sumSquaresNoise);
      } else if (mp.fn === 'quantile' && l.kind === 'histogram') {
        // The bucket counts in (candidates + 1), one chosen candidate index per quantile out: room for both.
        const quantiles = (job.measures[i] as { quantiles: number[] }).quantiles;
        const k = plan.maxRowsPerPerson * plan.maxSitesPerPerson;
        const select = (buckets: readonly bigint[], rng: Rng): number[] =>
          // Each agent's buckets are ≥ 0 (the layout's bound, checked on its own reply): the sum is; clamped all the same,
          // so no sum can make the selection throw (a failure would be a yes/no about the exact counts).
          dp.releaseQuantiles({ candidates: mp.candidates, bucketCounts: buckets.slice(0, l.bins).map((b) => (b < 0n ? 0n : b)), quantiles, maxRowsPerPerson: k, budget: mp.budget }, rng).results.map((r) => r.candidateIndex);
        add(i, 'buckets', Math.max(l.bins, quantiles.length), { sensitivity: k, select });
      }
    });
    const count = measures.find((m) => m.fn === 'count');
    if (countLast && count && count.fn === 'count') add(-1, 'count', 1, count.noise);
  });
  return out;
}

/** A group with every statistic zero (a combination this agent has no rows of). */
export function emptyPartial(key: KeyValue[], plan: AggregatePrivacyPlan): GroupPartial {
  return {
    key,
    count: 0n,
    measures: plan.layout.map((l): MeasurePartial => (l.kind === 'moments' ? { kind: 'moments', n: 0n, sum: 0n, sumSq: 0n, scaleBits: l.scaleBits, sqScaleBits: l.sqScaleBits } : l.kind === 'histogram' ? { kind: 'histogram', bins: Array<bigint | null>(l.bins).fill(0n) } : { kind: 'count' })),
    suppressedBy: [],
  };
}

/** The integers of one statistic of a group (exact at an agent, or the released sum). */
function read(g: GroupPartial, s: AggregateStat): bigint[] {
  if (s.stat === 'count') return [g.count];
  const m = g.measures[s.measure]!;
  if (s.stat === 'bins' || s.stat === 'buckets') return m.kind === 'histogram' ? m.bins.map((b) => b ?? 0n) : [];
  return m.kind === 'moments' ? [m[s.stat]] : [];
}

/**
 * The largest magnitude of one agent's entry, in grid units: 2^43, so that the coordinator's sum of up to 1 024 agents
 * stays below 2^53, where doubles are exact integers (a sum past it would round, and the noise would be calibrated to a
 * sensitivity the rounding no longer keeps).
 */
export const MAX_AGENT_ENTRY = 2 ** 43;

/**
 * An agent's exact statistics as the vector: the public combinations in order (a combination without rows is
 * zeros). An entry beyond ±`maxEntry` grid units (MAX_AGENT_ENTRY unless given) is projected onto that bound (a projection keeps the
 * sensitivity, and refusing on data would answer a yes/no about it).
 */
export function toVector(job: AggregateJob, plan: AggregatePrivacyPlan, stats: readonly AggregateStat[], groups: readonly GroupPartial[], keyOf: KeyMatcher = comboKey, maxEntry = MAX_AGENT_ENTRY): Float64Array {
  const combos = publicCombos(job);
  // Matched as the SQL matched them, by the key columns' types (group-match.ts).
  const byKey = new Map(groups.map((g) => [keyOf(g.key), g]));
  const out = new Float64Array(stats.reduce((n, s) => n + s.length, 0));
  const cap = BigInt(maxEntry);
  let at = 0;
  for (const s of stats) {
    const key = combos[s.combo]!;
    const g = byKey.get(keyOf(key)) ?? emptyPartial(key, plan);
    const v = read(g, s);
    for (let j = 0; j < s.length; j++) {
      const x = v[j] ?? 0n;
      out[at++] = Number(x > cap ? cap : x < -cap ? -cap : x);
    }
  }
  return out;
}

/** Each group's quantile selections from the released vector: `chosen.get(combo)?.get(measure)`, candidate indexes. */
export type ChosenQuantiles = Map<number, Map<number, number[]>>;

/**
 * The released (summed, noisy) vector as the groups the built-in release reads, and the candidates chosen for each
 * quantile (into `chosen`; a quantile's bins stay zero: its exact buckets never leave the coordinator's round).
 */
export function fromVector(job: AggregateJob, plan: AggregatePrivacyPlan, stats: readonly AggregateStat[], values: readonly number[], chosen?: ChosenQuantiles): GroupPartial[] {
  const groups = publicCombos(job).map((key) => {
    const g = emptyPartial(key, plan);
    return { ...g, measures: g.measures.map((m) => (m.kind === 'histogram' ? { ...m, bins: [...m.bins] } : { ...m })) };
  });
  let at = 0;
  for (const s of stats) {
    const v = values.slice(at, at + s.length).map((x) => BigInt(Math.round(x)));
    at += s.length;
    const g = groups[s.combo]!;
    if (s.stat === 'buckets') {
      const quantiles = (job.measures[s.measure] as { quantiles: number[] }).quantiles.length;
      // Candidate indexes, as the selection stored them: anything else is a damaged round record, never rounded into one.
      const raw = values.slice(at - s.length, at - s.length + quantiles);
      if (!raw.every((x) => Number.isInteger(x))) throw new RangeError(`block ${s.name}: the stored selection is not candidate indexes`);
      if (!chosen?.has(s.combo)) chosen?.set(s.combo, new Map());
      chosen?.get(s.combo)!.set(s.measure, v.slice(0, quantiles).map(Number));
      continue;
    }
    if (s.stat === 'count') {
      g.count = v[0]!;
      continue;
    }
    const m = g.measures[s.measure]!;
    if (s.stat === 'bins' && m.kind === 'histogram') m.bins = v;
    else if (m.kind === 'moments' && s.stat !== 'bins') m[s.stat] = v[0]!;
  }
  return groups;
}
