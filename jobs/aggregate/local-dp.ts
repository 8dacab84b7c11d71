/**
 * The statistics vector of a local-dp aggregate job (public, from the spec alone): per public group combination, in
 * combination order, each measure's noised statistics — a histogram's bins; a sum's Σx; a mean's n and Σx; a
 * variance's n, Σx and Σx² — then the group's count when a count is asked. Every entry is an integer in its
 * statistic's grid units (counts: persons' rows; sums: the plan's fixed-point grid), and each statistic is one block
 * with the built-in plan's exact sampler, so the seam's local-dp draws the built-in noise, draw for draw: the same
 * samplers in the same order from one buffered stream per agent (node-agent/jobs/aggregate.ts drew them so). Pure.
 */
import { keyId, type GroupPartial, type KeyValue, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import type { CalibratedNoise } from '../../algorithms/dp/index.js';
import { measureField, publicGroupCombos, type AggregateJob, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';

/** One noised statistic of one group: a block of the layout. */
export interface LocalStat {
  readonly combo: number;
  /** The measure's index; -1 for the group's row count. */
  readonly measure: number;
  readonly stat: 'count' | 'bins' | 'n' | 'sum' | 'sumSq';
  readonly length: number;
  readonly noise: CalibratedNoise;
  readonly name: string;
}

/** The job's public group combinations. @throws FedmeshError INVALID_JOB without public keys (the plan refuses first) */
export function localCombos(job: AggregateJob): KeyValue[][] {
  const combos = publicGroupCombos(job);
  if (!combos) throw new FedmeshError('INVALID_JOB', 'groupKeys: local-dp needs public group keys', { field: 'groupKeys' });
  return combos;
}

/** The blocks of a local-dp job, in vector (and draw) order. */
export function localStats(job: AggregateJob, plan: AggregatePrivacyPlan): LocalStat[] {
  const measures = plan.dp!.measures;
  const count = measures.find((m) => m.fn === 'count');
  const out: LocalStat[] = [];
  localCombos(job).forEach((_, combo) => {
    const add = (measure: number, stat: LocalStat['stat'], length: number, noise: CalibratedNoise): void => {
      out.push({ combo, measure, stat, length, noise, name: `g${combo}.${measure < 0 ? 'count' : `${measureField(job.measures[measure]!)}.${stat}`}` });
    };
    measures.forEach((mp, i) => {
      const l = plan.layout[i]!;
      if (mp.fn === 'histogram' && l.kind === 'histogram') add(i, 'bins', l.bins, mp.noise);
      else if (mp.fn === 'sum') add(i, 'sum', 1, mp.plan.noise);
      else if (mp.fn === 'mean' || mp.fn === 'variance') {
        add(i, 'n', 1, mp.plan.countNoise);
        add(i, 'sum', 1, mp.plan.sumNoise);
        if (mp.plan.sumSquaresNoise) add(i, 'sumSq', 1, mp.plan.sumSquaresNoise);
      } else if (mp.fn === 'quantile') throw new FedmeshError('INVALID_JOB', `measures[${i}]: quantile needs central-dp`, { field: `measures[${i}]` });
    });
    if (count && count.fn === 'count') add(-1, 'count', 1, count.noise);
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
function read(g: GroupPartial, s: LocalStat): bigint[] {
  if (s.stat === 'count') return [g.count];
  const m = g.measures[s.measure]!;
  if (s.stat === 'bins') return m.kind === 'histogram' ? m.bins.map((b) => b ?? 0n) : [];
  return m.kind === 'moments' ? [m[s.stat]] : [];
}

/**
 * An agent's exact statistics as the vector: the public combinations in order (a combination without rows is
 * zeros). An entry beyond ±(2^53 − 1) grid units is projected onto that bound (the vector is doubles; a projection
 * keeps the sensitivity, and refusing on data would answer a yes/no about it).
 */
export function toVector(job: AggregateJob, plan: AggregatePrivacyPlan, stats: readonly LocalStat[], groups: readonly GroupPartial[]): Float64Array {
  const combos = localCombos(job);
  const byKey = new Map(groups.map((g) => [keyId(g.key), g]));
  const out = new Float64Array(stats.reduce((n, s) => n + s.length, 0));
  const cap = BigInt(Number.MAX_SAFE_INTEGER);
  let at = 0;
  for (const s of stats) {
    const key = combos[s.combo]!;
    const g = byKey.get(keyId(key)) ?? emptyPartial(key, plan);
    const v = read(g, s);
    for (let j = 0; j < s.length; j++) {
      const x = v[j] ?? 0n;
      out[at++] = Number(x > cap ? cap : x < -cap ? -cap : x);
    }
  }
  return out;
}

/** The released (summed, noisy) vector as the groups the built-in release reads. */
export function fromVector(job: AggregateJob, plan: AggregatePrivacyPlan, stats: readonly LocalStat[], values: readonly number[]): GroupPartial[] {
  const groups = localCombos(job).map((key) => {
    const g = emptyPartial(key, plan);
    return { ...g, measures: g.measures.map((m) => (m.kind === 'histogram' ? { ...m, bins: [...m.bins] } : { ...m })) };
  });
  let at = 0;
  for (const s of stats) {
    const v = values.slice(at, at + s.length).map((x) => BigInt(Math.round(x)));
    at += s.length;
    const g = groups[s.combo]!;
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
