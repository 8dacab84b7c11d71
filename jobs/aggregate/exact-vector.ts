/**
 * The statistics vector of a mode-none aggregate job on the seam (public, from the spec alone), with each agent's
 * small cells already withheld at its source (node-agent/disclosure/exact-aggregate.ts decides; the agent step sends
 * only what it releases). Per public group combination, in combination order:
 *
 * - one block per exact statistic — the group's row count; a histogram's or a quantile's bins; a moment measure's n,
 *   Σx and Σx² on the plan's fixed-point grid — each entry in 32-bit limbs (below);
 * - `g<c>.withheld`: 0/1 flags, one per measure (the agent withheld the measure: a sum, mean or variance with its _n
 *   and _missing, or a quantile's _missing) and one per bin of each histogram or quantile (the bin is withheld). The
 *   summed flags say whether any agent withheld it, which is all the release needs: such a measure or bin is null.
 *
 * A withheld group, measure or bin is sent as zeros, so a group's values sum only the agents that released it, as on
 * the built-in path; a group no agent released sums to a count of 0 and is absent from the result. How many groups an
 * agent withheld does not leave it: with public keys it would tell a group of 1 … k − 1 persons from an empty one (one
 * combination and a narrow filter make it a yes/no about a few persons: red team 45); the built-in path, whose groups
 * come from the data, still states it.
 *
 * Why limbs: mode none releases exact sums (Σx² of a real column on the 2^-32 grid passes 2^53 after a few rows), and
 * the seam adds vectors of doubles, exact for integers below 2^53 only. Each entry x is sent as L limbs
 * sign(x)·⌊|x| / 2^(32i)⌋ mod 2^32, each below 2^32 in magnitude, so the coordinator's sum of up to 2^20 agents is exact
 * in every limb, and Σ_i (limb sum i)·2^(32i) is the exact sum. Counts take 2 limbs (below 2^64), sums 5 (below 2^160:
 * DuckDB's HUGEINT of an integer column on the 2^0 grid, moved onto the plan's 2^-16 and 2^-32 grids). Pure.
 *
 * The grids: the plan here reads no column type (the coordinator compiles from the spec alone), so its moments are
 * on 2^-16 (Σx) and 2^-32 (Σx²) for every column. The agent's query runs on the grid of its column's type, as the
 * built-in path's did (an integer column on 2^0: a SQL engine's BIGINT per row holds x², not x²·2^32 — on PostgreSQL
 * the finer grid failed on any |x| > 46 341, a refusal that depended on the data: red team 45, H2), and its exact
 * sums are shifted onto the plan's grid here, which moves no value.
 */
import { compareKeys, rescaleMoments, type GroupPartial, type KeyValue, type MeasurePartial } from '../../algorithms/aggregate/index.js';
import { measureField, type AggregateJob, type AggregatePrivacyPlan } from '../../common/job/index.js';
import { FedmeshError } from '../../common/errors.js';
import type { StatBlock } from '../../common/kinds/index.js';
import { emptyPartial, publicCombos } from './vector.js';
import { comboKey, type KeyMatcher } from './group-match.js';
import { withheldMeasureKey } from './exact-release.js';

const LIMB_BITS = 32n;
const LIMB = 1n << LIMB_BITS;
/** The largest magnitude of one limb. */
export const MAX_LIMB = 2 ** 32 - 1;
/** Most agents whose limbs add up exactly in doubles: 2^20 · (2^32 − 1) < 2^53. */
const MAX_SUMMED_AGENTS = 2 ** 20;

/** One exact statistic of one group: a block of `entries × limbs` numbers. */
export interface ExactStat {
  readonly combo: number;
  /** The measure's index; -1 for the group's row count. */
  readonly measure: number;
  readonly stat: 'count' | 'bins' | 'n' | 'sum' | 'sumSq';
  readonly entries: number;
  readonly limbs: 2 | 5;
  readonly name: string;
}

/** One group's flags: one per measure, then one per bin of each histogram-like measure, in measure order. */
function flagCount(plan: AggregatePrivacyPlan): number {
  return plan.layout.reduce((n, l) => n + 1 + (l.kind === 'histogram' ? l.bins : 0), 0);
}

/** The exact statistics, in vector order (each combination's flags block follows its statistics). */
export function exactStats(job: AggregateJob, plan: AggregatePrivacyPlan): ExactStat[] {
  const out: ExactStat[] = [];
  publicCombos(job).forEach((_, combo) => {
    const add = (measure: number, stat: ExactStat['stat'], entries: number): void => {
      out.push({ combo, measure, stat, entries, limbs: stat === 'sum' || stat === 'sumSq' ? 5 : 2, name: `g${combo}.${measure < 0 ? 'count' : `${measureField(job.measures[measure]!)}.${stat}`}` });
    };
    add(-1, 'count', 1);
    plan.layout.forEach((l, i) => {
      if (l.kind === 'histogram') add(i, 'bins', l.bins);
      else if (l.kind === 'moments') {
        add(i, 'n', 1);
        add(i, 'sum', 1);
        add(i, 'sumSq', 1);
      }
    });
  });
  return out;
}

/** The public layout of a mode-none job: no block can be released under DP (the kind's DP modes have their own). */
export function exactLayout(job: AggregateJob, plan: AggregatePrivacyPlan): StatBlock[] {
  const stats = exactStats(job, plan);
  const flags = flagCount(plan);
  const exact = { sensitivity: 'exact-only' as const, gridExponent: 0, exactOnGrid: true, release: 'additive' as const };
  const blocks: StatBlock[] = [];
  const combos = publicCombos(job).length;
  for (let c = 0, at = 0; c < combos; c++) {
    for (; at < stats.length && stats[at]!.combo === c; at++) {
      const s = stats[at]!;
      blocks.push({ name: s.name, length: s.entries * s.limbs, perAgent: { lo: s.stat === 'sum' ? -MAX_LIMB : 0, hi: MAX_LIMB }, ...exact });
    }
    blocks.push({ name: `g${c}.withheld`, length: flags, perAgent: { lo: 0, hi: 1 }, ...exact });
  }
  return blocks;
}

/** x as `limbs` signed 32-bit limbs, least significant first. @throws FedmeshError RESOURCE_EXHAUSTED beyond 2^(32·limbs) */
function toLimbs(x: bigint, limbs: number, name: string): number[] {
  const neg = x < 0n;
  let m = neg ? -x : x;
  const out: number[] = [];
  for (let i = 0; i < limbs; i++, m >>= LIMB_BITS) out.push((neg ? -1 : 1) * Number(m % LIMB) || 0);
  // (unreachable for DuckDB's BIGINT counts and HUGEINT sums; a refusal in mode none, never a silent clamp)
  if (m !== 0n) throw new FedmeshError('RESOURCE_EXHAUSTED', `${name}: an exact statistic of this agent exceeds 2^${Number(LIMB_BITS) * limbs}`, { field: 'measures' });
  return out;
}

function fromLimbs(sums: ArrayLike<number>, at: number, limbs: number, name: string): bigint {
  let x = 0n;
  for (let i = limbs - 1; i >= 0; i--) {
    const v = sums[at + i]!;
    if (!Number.isSafeInteger(v)) throw new RangeError(`block ${name}: a limb sum is not an exact integer`);
    x = (x << LIMB_BITS) + BigInt(v);
  }
  return x;
}

/**
 * One exact statistic of an agent's group on the plan's grid: the row count, a histogram's bins (a withheld bin as 0),
 * or a moment, shifted from the agent's grid (its column's type) onto the plan's (module comment). Also read by the
 * secure mode-none vector (secure-exact.ts).
 */
export function statValues(g: GroupPartial, measure: number, stat: ExactStat['stat'], plan: AggregatePrivacyPlan): bigint[] {
  if (stat === 'count') return [g.count];
  const m = g.measures[measure]!;
  if (stat === 'bins') return m.kind === 'histogram' ? m.bins.map((b) => b ?? 0n) : [];
  const l = plan.layout[measure]!;
  return m.kind === 'moments' && l.kind === 'moments' ? [rescaleMoments(m, l.scaleBits, l.sqScaleBits)[stat]] : [];
}

/** What this agent releases in mode none (node-agent/disclosure/exact-aggregate.ts `ExactRelease`, the parts read here). */
export interface AgentExactRelease {
  readonly groups: readonly GroupPartial[];
  /** [index in `groups`, measure index] pairs withheld. */
  readonly withheldMeasures: readonly (readonly [number, number])[];
}

/**
 * An agent's released statistics as the mode-none vector (see the module comment). `plan` is the job's (no column
 * types); the agent's moments may be on a coarser grid (its column's type) and are shifted onto it. `keyOf`: how the
 * agent's groups match the public combinations (group-match.ts `keyMatcher`, from the columns' types).
 */
export function toExactVector(job: AggregateJob, plan: AggregatePrivacyPlan, release: AgentExactRelease, keyOf: KeyMatcher = comboKey): Float64Array {
  const stats = exactStats(job, plan);
  const combos = publicCombos(job);
  const flags = flagCount(plan);
  // Matched as the SQL matched them, by the key columns' types (group-match.ts): the agent's key carries the column's
  // value, the combination the spec's.
  const byKey = new Map(release.groups.map((g, i) => [keyOf(g.key), i]));
  const withheld = new Set(release.withheldMeasures.map(([g, m]) => `${g}:${m}`));
  const out: number[] = [];
  let at = 0;
  for (let c = 0; c < combos.length; c++) {
    const gi = byKey.get(keyOf(combos[c]!));
    const g = gi === undefined ? emptyPartial(combos[c]!, plan) : release.groups[gi]!;
    const measureWithheld = (i: number): boolean => gi !== undefined && withheld.has(`${gi}:${i}`);
    for (; at < stats.length && stats[at]!.combo === c; at++) {
      const s = stats[at]!;
      // A withheld sum, mean or variance leaves as zeros (the release shows it null); a quantile's buckets still count.
      const zero = s.stat !== 'count' && s.stat !== 'bins' && measureWithheld(s.measure);
      const v = statValues(g, s.measure, s.stat, plan);
      for (let j = 0; j < s.entries; j++) out.push(...toLimbs(zero ? 0n : (v[j] ?? 0n), s.limbs, s.name));
    }
    plan.layout.forEach((_, i) => out.push(measureWithheld(i) ? 1 : 0));
    const start = out.length - plan.layout.length;
    plan.layout.forEach((l, i) => {
      if (l.kind !== 'histogram') return;
      const m = g.measures[i]!;
      for (let b = 0; b < l.bins; b++) out.push(m.kind === 'histogram' && m.bins[b] === null ? 1 : 0);
    });
    if (out.length - start !== flags) throw new RangeError('toExactVector: flags do not match the layout');
  }
  return Float64Array.from(out);
}

/** The agents' summed mode-none vector as the combined groups and the (group, measure) pairs some agent withheld. */
export function fromExactVector(job: AggregateJob, plan: AggregatePrivacyPlan, values: ArrayLike<number>, agents: number): { combined: GroupPartial[]; withheld: Set<string> } {
  if (agents > MAX_SUMMED_AGENTS) throw new RangeError(`fromExactVector: limb sums of more than ${MAX_SUMMED_AGENTS} agents are not exact`);
  const stats = exactStats(job, plan);
  const combos = publicCombos(job);
  const withheld = new Set<string>();
  const combined: GroupPartial[] = [];
  let at = 0;
  let si = 0;
  for (let c = 0; c < combos.length; c++) {
    const key: KeyValue[] = combos[c]!;
    const g = emptyPartial(key, plan);
    const measures: MeasurePartial[] = g.measures.map((m) => (m.kind === 'histogram' ? { ...m, bins: [...m.bins] } : { ...m }));
    for (; si < stats.length && stats[si]!.combo === c; si++) {
      const s = stats[si]!;
      const v = Array.from({ length: s.entries }, (_, j) => fromLimbs(values, at + j * s.limbs, s.limbs, s.name));
      at += s.entries * s.limbs;
      if (s.stat === 'count') g.count = v[0]!;
      else {
        const m = measures[s.measure]!;
        if (s.stat === 'bins' && m.kind === 'histogram') m.bins = v;
        else if (m.kind === 'moments' && s.stat !== 'bins') m[s.stat] = v[0]!;
      }
    }
    plan.layout.forEach((_, i) => {
      if (values[at++]! > 0) withheld.add(withheldMeasureKey(key, i));
    });
    plan.layout.forEach((l, i) => {
      if (l.kind !== 'histogram') return;
      const m = measures[i]!;
      for (let b = 0; b < l.bins; b++) if (values[at++]! > 0 && m.kind === 'histogram') m.bins[b] = null;
    });
    // A group no agent released (each released group holds at least one row) is absent, as on the built-in path.
    if (g.count > 0n) combined.push({ ...g, measures });
  }
  return { combined: combined.sort((a, b) => compareKeys(a.key, b.key)), withheld };
}
