/**
 * The statistics vector of a mode-none aggregate job inside a secure sum (secagg) on the seam: public, from the spec
 * and its per-agent row bound alone. Per public group combination, in combination order, the statistics the exact
 * release reads (common/secure/vector-layout.ts `measureStatistics`, as the built-in secure path sends them): the
 * row count; a histogram's or a quantile's bins; a sum's Σx, a mean's n and Σx, a variance's n, Σx and Σx² on the
 * plan's fixed-point grid. Nothing is withheld per agent (inside the sum the agent never sees the totals): the
 * release applies the minimum cell size to the totals (common/secure/secure-release.ts), and the agent refuses the
 * parts of a measure that cannot be withheld alone (node-agent/disclosure/exact-aggregate.ts `refuseSmallEdges`).
 *
 * Each statistic is clipped at the agent to its public per-agent bound (`statisticClip`: secureMaxRows × its per-row
 * bound), never refused on a value. The seam sums doubles, exact below 2^53 only, and Σx² of a few rows on the
 * 2^-32 grid passes that, so a statistic whose bound passes 2^32 − 1 is sent as 32-bit limbs
 * sign(x)·⌊|x| / 2^(32j)⌋ mod 2^32, one block per limb with its own public bound (the top limb's is the bound
 * shifted down), so the secure ring carries no more digits than the bound needs. The limbs are marked as the digits
 * of one integer (StatBlock.digit): the SecAgg sum adds each statistic whole and returns its total's canonical
 * digits, never a limb's own sum over the agents (which would show how their values carry between limbs); each
 * digit is exact in a double for up to 2^20 agents, and Σ_j (digit j)·2^(32j) is the exact total. Pure.
 */
import type { GroupPartial, KeyValue } from '../../algorithms/aggregate/index.js';
import { measureField, type AggregateJob, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { StatBlock } from '../../common/kinds/index.js';
import { measureStatistics, statisticClip, type NoisyStatistic } from '../../common/secure/index.js';
import { emptyPartial, publicCombos } from './vector.js';
import { statValues } from './exact-vector.js';
import { comboKey, type KeyMatcher } from './group-match.js';

const LIMB_BITS = 32n;
const LIMB = 1n << LIMB_BITS;
const MAX_LIMB = LIMB - 1n;

/** One statistic of one group: `entries` values (a histogram's bins, else 1), each in `limbs` limbs. */
export interface SecureExactStat {
  readonly combo: number;
  /** The measure's index; -1 for the group's row count. */
  readonly measure: number;
  readonly kind: NoisyStatistic;
  readonly entries: number;
  /** The public per-agent bounds each value is clipped to (grid units). */
  readonly clipLo: bigint;
  readonly clipHi: bigint;
  readonly limbs: number;
  readonly name: string;
}

/** 32-bit limbs a magnitude up to `bound` needs. */
function limbsOfBound(bound: bigint): number {
  let limbs = 1;
  for (let top = MAX_LIMB; bound > top; top = (top << LIMB_BITS) | MAX_LIMB) limbs++;
  return limbs;
}

/**
 * The statistics in vector order.
 * @param maxRowsPerAgent the job's secureMaxRows (or the default): the per-agent bound every statistic is clipped to
 */
export function secureExactStats(job: AggregateJob, plan: AggregatePrivacyPlan, maxRowsPerAgent: number): SecureExactStat[] {
  const perGroup: Omit<SecureExactStat, 'combo' | 'name'>[] = [];
  const labels: string[] = [];
  const add = (measure: number, kind: NoisyStatistic, entries: number): void => {
    const [clipLo, clipHi] = statisticClip(measure < 0 ? undefined : plan.layout[measure], kind, maxRowsPerAgent);
    const bound = -clipLo > clipHi ? -clipLo : clipHi;
    perGroup.push({ measure, kind, entries, clipLo, clipHi, limbs: limbsOfBound(bound) });
    labels.push(measure < 0 ? 'count' : `${measureField(job.measures[measure]!)}.${kind}`);
  };
  add(-1, 'rows', 1);
  job.measures.forEach((_, i) => {
    for (const s of measureStatistics(job, plan, i)) add(i, s.kind, s.bins);
  });
  return publicCombos(job).flatMap((_, combo) => perGroup.map((s, j) => ({ ...s, combo, name: `g${combo}.${labels[j]}` })));
}

/** The public bounds of limb `j` of a statistic (the top limb: the bound shifted down; the others: a full limb). */
function limbBounds(s: SecureExactStat, j: number): { lo: number; hi: number } {
  if (j < s.limbs - 1) return { lo: s.clipLo < 0n ? -Number(MAX_LIMB) : 0, hi: Number(MAX_LIMB) };
  const shift = LIMB_BITS * BigInt(s.limbs - 1);
  return { lo: s.clipLo < 0n ? -Number(-s.clipLo >> shift) : 0, hi: Number(s.clipHi >> shift) };
}

/** The public layout: one block per statistic (per limb of a statistic in limbs), exact sums only. */
export function secureExactLayout(job: AggregateJob, plan: AggregatePrivacyPlan, maxRowsPerAgent: number): StatBlock[] {
  return secureExactStats(job, plan, maxRowsPerAgent).flatMap((s) =>
    Array.from({ length: s.limbs }, (_, j): StatBlock => ({
      name: s.limbs === 1 ? s.name : `${s.name}.limb${j}`,
      length: s.entries,
      perAgent: limbBounds(s, j),
      sensitivity: 'exact-only',
      gridExponent: 0,
      exactOnGrid: true,
      release: 'additive',
      // Digits of one integer: the SecAgg sum adds it whole, so no limb's own sum is unmasked (stat-layout.ts).
      ...(s.limbs > 1 ? { digit: { index: j, of: s.limbs } } : {}),
    })),
  );
}

/** The exact-vector's statistic of each secure statistic (their names differ: rows and bin are count and bins). */
const EXACT_STAT = { rows: 'count', bin: 'bins', n: 'n', sum: 'sum', sumSq: 'sumSq' } as const;

/**
 * An agent's exact statistics as the secure vector: every public combination (zeros where this agent has no rows),
 * each statistic clipped to its public bound, never refused on a value (a refusal would answer whether this agent
 * holds more than secureMaxRows rows somewhere). `keyOf`: how the agent's groups match the public combinations
 * (group-match.ts `keyMatcher`, from the columns' types).
 */
export function toSecureExactVector(job: AggregateJob, plan: AggregatePrivacyPlan, groups: readonly GroupPartial[], maxRowsPerAgent: number, keyOf: KeyMatcher = comboKey): Float64Array {
  const stats = secureExactStats(job, plan, maxRowsPerAgent);
  const combos = publicCombos(job);
  const byKey = new Map(groups.map((g) => [keyOf(g.key), g]));
  const out: number[] = [];
  for (const s of stats) {
    const key = combos[s.combo]!;
    const g = byKey.get(keyOf(key)) ?? emptyPartial(key, plan);
    const values = statValues(g, s.measure, EXACT_STAT[s.kind], plan).map((v) => (v < s.clipLo ? s.clipLo : v > s.clipHi ? s.clipHi : v));
    for (let j = 0; j < s.limbs; j++) {
      const shift = LIMB_BITS * BigInt(j);
      for (let e = 0; e < s.entries; e++) {
        const v = values[e] ?? 0n;
        // The top limb keeps every higher bit (none: the value is within the bound the limbs were sized for).
        const shifted = (v < 0n ? -v : v) >> shift;
        const limb = j === s.limbs - 1 ? shifted : shifted % LIMB;
        out.push((v < 0n ? -1 : 1) * Number(limb) || 0);
      }
    }
  }
  return Float64Array.from(out);
}

/** The agents' summed secure vector as one exact partial per public combination, on the plan's grids. */
export function fromSecureExactVector(job: AggregateJob, plan: AggregatePrivacyPlan, values: ArrayLike<number>, maxRowsPerAgent: number): GroupPartial[] {
  // Every digit is an exact double: the plan refused, before any agent computed, a sum whose top digit could pass
  // 2^53 (common/kinds/secure-vector.ts); a value that is not one is a bug, never rounded into a release.
  const stats = secureExactStats(job, plan, maxRowsPerAgent);
  const totals = publicCombos(job).map((key: KeyValue[]) => emptyPartial(key, plan));
  let at = 0;
  for (const s of stats) {
    const sums = Array.from({ length: s.entries }, () => 0n);
    for (let j = 0; j < s.limbs; j++) {
      for (let e = 0; e < s.entries; e++) {
        const v = values[at++];
        if (v === undefined || !Number.isSafeInteger(v)) throw new FedmeshError('INTERNAL', `block ${s.name}: a limb sum is not an exact integer`);
        sums[e]! += BigInt(v) << (LIMB_BITS * BigInt(j));
      }
    }
    const g = totals[s.combo]!;
    if (s.kind === 'rows') g.count = sums[0]!;
    else {
      const m = g.measures[s.measure]!;
      if (s.kind === 'bin' && m.kind === 'histogram') m.bins = sums;
      else if (m.kind === 'moments' && s.kind !== 'bin') m[s.kind] = sums[0]!;
    }
  }
  if (at !== values.length) throw new FedmeshError('INTERNAL', `secure sum has ${values.length} entries, the layout ${at}`);
  return totals;
}
