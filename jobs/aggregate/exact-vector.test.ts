/**
 * Mode none on the seam (exact-vector.ts): exact sums in limbs whatever their size, each agent's withholding carried
 * as flags, and the release the built-in path gives (exact-release.ts). End to end, bit for bit through the mesh,
 * test/golden/aggregate.golden.test.ts pins the three mode-none cases with public groups.
 */
import { describe, expect, it } from 'vitest';
import type { GroupPartial, MomentPartial } from '../../algorithms/aggregate/index.js';
import { checkAgentVector, checkLayout, compileKindJob, layoutLength, type RoundRecord } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { aggregateKind, aggregatePrivacyPlan } from './index.js';
import { exactLayout, fromExactVector, MAX_LIMB, toExactVector, type AgentExactRelease } from './exact-vector.js';
import { withheldMeasureKey } from './exact-release.js';

const spec = {
  kind: 'aggregate',
  product: 'person',
  groupBy: ['gender_concept_id'],
  groupKeys: { gender_concept_id: [8507, 8532, 0] },
  measures: [{ fn: 'count' }, { fn: 'sum', column: 'x', bounds: [-1e6, 1e6] }, { fn: 'variance', column: 'x', bounds: [-1e6, 1e6] }, { fn: 'histogram', column: 'x', bins: [-1e6, 0, 1e6] }],
  privacy: { mode: 'none' },
};
const job = compileKindJob(aggregateKind, spec);
const plan = aggregatePrivacyPlan(job.spec);
const layout = aggregateKind.layout(job, 0);

/** The plan's grids: 2^-16 for Σx and, the bounds being ±10^6, 2^-21 for Σx² (one row within 2^61 grid units). */
const SQ = (plan.layout[1] as { sqScaleBits: number }).sqScaleBits;
function moments(n: bigint, sum: bigint, sumSq: bigint): MomentPartial {
  return { kind: 'moments', n, sum, sumSq, scaleBits: 16, sqScaleBits: SQ };
}
function group(key: number, count: bigint, sum: bigint, sumSq: bigint, bins: (bigint | null)[]): GroupPartial {
  return { key: [key], count, measures: [{ kind: 'count' }, moments(count, sum, sumSq), moments(count, sum, sumSq), { kind: 'histogram', bins }], suppressedBy: [] };
}
function sum(vectors: readonly Float64Array[]): number[] {
  return Array.from(vectors[0]!, (_, i) => vectors.reduce((a, v) => a + v[i]!, 0));
}

describe('aggregate in mode none on the kind seam', () => {
  it('lays out each statistic in limbs with each group\'s flags, within bounds an agent cannot leave', () => {
    checkLayout(layout);
    expect(layout.blocks.map((b) => b.name).slice(0, 9)).toEqual(['g0.count', 'g0.sum_x.n', 'g0.sum_x.sum', 'g0.sum_x.sumSq', 'g0.variance_x.n', 'g0.variance_x.sum', 'g0.variance_x.sumSq', 'g0.histogram_x.bins', 'g0.withheld']);
    // count and n: 2 limbs; sums: 5; bins: 2 limbs each; flags: one per measure and per bin.
    expect(layout.blocks.slice(0, 9).map((b) => b.length)).toEqual([2, 2, 5, 5, 2, 5, 5, 4, 6]);
    // No count of withheld groups leaves an agent (it would tell a small public group from an empty one).
    expect(layout.blocks.at(-1)).toMatchObject({ name: 'g2.withheld', length: 6, perAgent: { lo: 0, hi: 1 } });
    expect(layout.blocks.every((b) => b.sensitivity === 'exact-only' && b.release === 'additive')).toBe(true);
    expect(exactLayout(job.spec, plan)).toEqual(layout.blocks);
  });

  it('sums exactly beyond 2^53, negative sums included; a plain double sum does not (control)', () => {
    const big = (1n << 100n) + 12345n;
    const a: AgentExactRelease = { groups: [group(8507, 3n, -((1n << 70n) + 1n), big, [1n, 2n])], withheldMeasures: [] };
    const b: AgentExactRelease = { groups: [group(8507, 5n, (1n << 60n) + 7n, big + 1n, [2n, 3n])], withheldMeasures: [] };
    const c: AgentExactRelease = { groups: [group(8507, 1n, 3n, 1n, [0n, 1n])], withheldMeasures: [] };
    const vectors = [a, b, c].map((r) => toExactVector(job.spec, plan, r));
    for (const v of vectors) checkAgentVector(layout, { values: v }, 'a');
    expect(vectors[0]!.length).toBe(layoutLength(layout));
    const { combined } = fromExactVector(job.spec, plan, sum(vectors), 3);
    expect(combined).toHaveLength(1);
    const g = combined[0]!;
    expect(g.count).toBe(9n);
    const m = g.measures[2] as MomentPartial;
    expect(m.sum).toBe(-((1n << 70n) + 1n) + (1n << 60n) + 7n + 3n);
    expect(m.sumSq).toBe(2n * big + 2n);
    expect(g.measures[3]).toEqual({ kind: 'histogram', bins: [3n, 6n] });
    // Negative control: the same sums in one double per entry lose the low bits.
    expect(BigInt(Number(-((1n << 70n) + 1n)) + Number((1n << 60n) + 7n) + 3)).not.toBe(m.sum);
  });

  it('shifts an agent\'s moments from its column type\'s grid (2^0 for integers) onto the plan\'s, exactly', () => {
    // An integer column: the agent's query sums on 2^0 (Σx², not Σx²·2^32, fits a SQL engine's BIGINT per row).
    const coarse = (n: bigint, s: bigint, q: bigint): MomentPartial => ({ kind: 'moments', n, sum: s, sumSq: q, scaleBits: 0, sqScaleBits: 0 });
    const g: GroupPartial = { key: [8507], count: 2n, measures: [{ kind: 'count' }, coarse(2n, 3n, 5n), coarse(2n, -3n, 5n), { kind: 'histogram', bins: [1n, 1n] }], suppressedBy: [] };
    const { combined } = fromExactVector(job.spec, plan, toExactVector(job.spec, plan, { groups: [g], withheldMeasures: [] }), 1);
    expect(SQ).toBe(21);
    expect(combined[0]!.measures[1]).toEqual(moments(2n, 3n << 16n, 5n << BigInt(SQ)));
    expect(combined[0]!.measures[2]).toEqual(moments(2n, -3n << 16n, 5n << BigInt(SQ)));
  });

  it('matches an agent\'s group to its public combination by value as text (a VARCHAR column, numeric groupKeys)', () => {
    const zip = compileKindJob(aggregateKind, { kind: 'aggregate', product: 'p', groupBy: ['zip'], groupKeys: { zip: [12345, 23456] }, measures: [{ fn: 'count' }], privacy: { mode: 'none' } });
    const zplan = aggregatePrivacyPlan(zip.spec);
    const agent: GroupPartial = { key: ['12345'], count: 10n, measures: [{ kind: 'count' }], suppressedBy: [] };
    const { combined } = fromExactVector(zip.spec, zplan, toExactVector(zip.spec, zplan, { groups: [agent], withheldMeasures: [] }), 1);
    // (before red team 45, M1: matched by JSON, the released group went out as zeros and vanished)
    expect(combined.map((g) => [g.key, g.count])).toEqual([[[12345], 10n]]);
    // Two values that are one group as text are refused when the job compiles, naming groupKeys.
    let err: unknown;
    try {
      compileKindJob(aggregateKind, { ...zip.spec, groupKeys: { zip: [1, '1'] } });
    } catch (e) {
      err = e;
    }
    expect(isFedmeshError(err) && [err.code, err.field]).toEqual(['INVALID_JOB', 'groupKeys']);
  });

  it('refuses an exact statistic beyond its limbs rather than clamping it', () => {
    const over: AgentExactRelease = { groups: [group(8507, 1n, 1n << 170n, 0n, [0n, 0n])], withheldMeasures: [] };
    let err: unknown;
    try {
      toExactVector(job.spec, plan, over);
    } catch (e) {
      err = e;
    }
    expect(isFedmeshError(err) && err.code).toBe('RESOURCE_EXHAUSTED');
    // A limb outside the public bound is refused on the agent's vector (checkAgentVector), never summed.
    const v = toExactVector(job.spec, plan, { groups: [], withheldMeasures: [] });
    v[0] = MAX_LIMB + 1;
    expect(() => checkAgentVector(layout, { values: v }, 'rogue')).toThrow(/g0\.count\[0\] outside its public bounds/);
  });

  it('carries each agent\'s withholding: a withheld measure and bin are null, a withheld group sums the others, a group nobody released is absent', () => {
    // Agent a: releases 8507 with its sum withheld and its second bin withheld; withholds 8532 (not sent).
    const a: AgentExactRelease = { groups: [group(8507, 10n, 100n << 16n, 5n, [4n, null])], withheldMeasures: [[0, 1]] };
    // Agent b: releases 8507 and 8532.
    const b: AgentExactRelease = { groups: [group(8507, 6n, 50n << 16n, 7n, [6n, 0n]), group(8532, 8n, 30n << 16n, 9n, [8n, 0n])], withheldMeasures: [] };
    const va = toExactVector(job.spec, plan, a);
    const vb = toExactVector(job.spec, plan, b);
    const { combined, withheld } = fromExactVector(job.spec, plan, sum([va, vb]), 2);
    expect(combined.map((g) => g.key)).toEqual([[8507], [8532]]);
    expect(withheld).toEqual(new Set([withheldMeasureKey([8507], 1)]));
    const g = combined.find((x) => x.key[0] === 8507)!;
    expect(g.count).toBe(16n);
    // The withheld sum left a as zeros: only b's is in the sum (the release shows it null anyway).
    expect((g.measures[1] as MomentPartial).sum).toBe(50n << 16n);
    expect((g.measures[2] as MomentPartial).sum).toBe(150n << 16n);
    expect(g.measures[3]).toEqual({ kind: 'histogram', bins: [10n, null] });
    expect(combined.find((x) => x.key[0] === 8532)!.count).toBe(8n);

    // The release through the kind: the built-in shape (exact-release.ts), without counts of withheld groups.
    const rec: RoundRecord<null> = { round: 0, input: null, answered: ['a', 'b'], released: sum([va, vb]), noiseStd: layout.blocks.map(() => 0) };
    const out = aggregateKind.release(job, [rec], { converged: true, minCellSize: { a: 5, b: 3, c: 9 } });
    expect(out.privacy).toEqual({ mode: 'none', minCellSize: { a: 5, b: 3 }, cellSize: 'distinct persons', exact: true });
    expect(out.notes[0]).toMatch(/a public group absent from the rows had fewer persons than that, or none, at every agent: which is not said/);
    const row = out.rows.find((r) => r.gender_concept_id === 8507)!;
    expect(row.count).toBe(16);
    expect(row.sum_x).toBeNull();
    expect(row.variance_x).not.toBeNull();
    expect(row.histogram_x).toEqual([10, null]);
    expect(out.rows.find((r) => r.gender_concept_id === 8532)!.sum_x).toBe(30);
    expect(out.rows.some((r) => r.gender_concept_id === 0)).toBe(false);
  });

  it('checks each agent\'s account against its registration: the unit it counted and its published minimum cell size', () => {
    const agent = { products: [{ name: 'person', privacyUnit: 'person_id' }], policy: { minCellSize: 5 } };
    expect(aggregateKind.replyMismatch!(job, { cellSize: 'persons', minCellSize: 5 }, agent)).toBeUndefined();
    expect(aggregateKind.replyMismatch!(job, { cellSize: 'rows', minCellSize: 5 }, agent)).toMatch(/rows.*not to persons/);
    expect(aggregateKind.replyMismatch!(job, { cellSize: 'persons', minCellSize: 2 }, agent)).toMatch(/minimum cell size 2, not the 5/);
    expect(aggregateKind.replyMismatch!(job, { cellSize: 'persons', minCellSize: 5 }, undefined)).toMatch(/registration is not known/);
  });
});
