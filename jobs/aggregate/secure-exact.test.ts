/**
 * Mode none inside a secure sum on the seam (secure-exact.ts): each statistic clipped to its public per-agent bound,
 * sent in as few 32-bit limbs as the bound needs, summed exactly through the seam's SecAgg encoding, and released
 * with the minimum cell size applied to the totals. End to end through the mesh, test/golden/aggregate.golden.test.ts
 * pins the three none/secagg cases (every released value as on the built-in secure path).
 */
import { describe, expect, it } from 'vitest';
import type { GroupPartial, MomentPartial } from '../../algorithms/aggregate/index.js';
import { compileSecAggRoundConfig, ringAddInPlaceCarry } from '../../algorithms/secagg/index.js';
import { checkAgentVector, checkLayout, compileKindJob, decodeSecureVector, encodeSecureVector, NONE_MODE, planSecureVector, secAggElements, type CompiledKindJob, type RoundRecord } from '../../common/kinds/index.js';
import { secAggCarryRing, secAggLimbRing } from '../../common/secure/index.js';
import { aggregateKind, aggregatePrivacyPlan } from './index.js';
import { fromSecureExactVector, secureExactLayout, secureExactStats, toSecureExactVector } from './secure-exact.js';

const S = 1 << 24;
const spec = {
  kind: 'aggregate',
  product: 'person',
  groupBy: ['gender_concept_id'],
  groupKeys: { gender_concept_id: [8507, 8532] },
  measures: [{ fn: 'count' }, { fn: 'sum', column: 'x', bounds: [-1e6, 1e6] }, { fn: 'variance', column: 'x', bounds: [-1e6, 1e6] }, { fn: 'histogram', column: 'x', bins: [-1e6, 0, 1e6] }],
  privacy: { mode: 'none' },
  secure: 'secagg',
};
const job = compileKindJob(aggregateKind, spec);
const plan = aggregatePrivacyPlan(job.spec);
const layout = aggregateKind.layout(job, 0);
const SQ = (plan.layout[1] as { sqScaleBits: number }).sqScaleBits;

function moments(n: bigint, sum: bigint, sumSq: bigint): MomentPartial {
  return { kind: 'moments', n, sum, sumSq, scaleBits: 16, sqScaleBits: SQ };
}
function group(key: number, count: bigint, sum: bigint, sumSq: bigint, bins: bigint[]): GroupPartial {
  return { key: [key], count, measures: [{ kind: 'count' }, moments(count, sum, sumSq), moments(count, sum, sumSq), { kind: 'histogram', bins }], suppressedBy: [] };
}
/** Adds limb vectors limb by limb in Z_2^32 (the digit ring: what the seam did before the carry ring). */
function addMod32(vs: readonly Uint32Array[]): number[] {
  return Array.from(vs[0]!, (_, i) => vs.reduce((a, v) => (a + v[i]!) >>> 0, 0));
}
/**
 * The agents' vectors summed as the seam's SecAgg sums them (the carry ring: each statistic one integer, its limbs
 * carrying) and decoded, as the coordinator reads them.
 */
function secureSum(vectors: readonly Float64Array[]): Float64Array {
  const n = vectors.length;
  const noise = NONE_MODE.roundNoise(job as CompiledKindJob, layout);
  const sp = planSecureVector(layout, noise, secAggCarryRing(), n, 'aggregate');
  const { carry } = compileSecAggRoundConfig({ roundId: 'r', threshold: 2, vectorLength: sp.vectorLength, elements: secAggElements(sp), participants: ['x', 'y', 'z'].map((id) => ({ id, identityPublicKey: new Uint8Array(32) })) });
  const sum = new Uint32Array(sp.vectorLength);
  for (const values of vectors) ringAddInPlaceCarry(sum, encodeSecureVector(sp, { values }, false) as Uint32Array, carry);
  return decodeSecureVector(sp, sum).values;
}

describe('aggregate in mode none inside a secure sum on the kind seam', () => {
  it('lays out the statistics the exact release reads, each in as many 32-bit limbs as its public bound needs', () => {
    checkLayout(layout);
    expect(layout.blocks.map((b) => b.name).slice(0, 8)).toEqual(['g0.count', 'g0.sum_x.sum.limb0', 'g0.sum_x.sum.limb1', 'g0.variance_x.n', 'g0.variance_x.sum.limb0', 'g0.variance_x.sum.limb1', 'g0.variance_x.sumSq.limb0', 'g0.variance_x.sumSq.limb1']);
    // The count, n and bins are within secureMaxRows: one limb, bounded by it.
    expect(layout.blocks[0]).toMatchObject({ length: 1, perAgent: { lo: 0, hi: S } });
    expect(layout.blocks.find((b) => b.name === 'g0.histogram_x.bin')).toMatchObject({ length: 2, perAgent: { lo: 0, hi: S } });
    // Σx on 2^-16 of ±10^6 for 2^24 rows: about ±2^60 → a full signed low limb and a top limb of the bound shifted down.
    const clip = secureExactStats(job.spec, plan, S).find((s) => s.name === 'g0.sum_x.sum')!;
    expect(layout.blocks[1]!.perAgent).toEqual({ lo: -(2 ** 32 - 1), hi: 2 ** 32 - 1 });
    expect(layout.blocks[2]!.perAgent).toEqual({ lo: -Number(-clip.clipLo >> 32n), hi: Number(clip.clipHi >> 32n) });
    expect(layout.blocks[2]!.perAgent.hi).toBeLessThan(2 ** 29);
    // A sum sends no n and no Σx² (the release does not read them, so the coordinator does not see their totals).
    expect(layout.blocks.some((b) => b.name.startsWith('g0.sum_x.n') || b.name.startsWith('g0.sum_x.sumSq'))).toBe(false);
    expect(secureExactLayout(job.spec, plan, S)).toEqual(layout.blocks);
  });

  it('sums exactly beyond 2^53 through the SecAgg encoding, negative sums included; a double sum does not (control)', () => {
    const big = (1n << 70n) + 12345n;
    const agents = [group(8507, 3n, -((1n << 57n) + 1n), big, [1n, 2n]), group(8507, 5n, (1n << 56n) + 7n, big + 1n, [2n, 3n]), group(8507, 1n, 3n, 1n, [0n, 1n])];
    const vectors = agents.map((g) => toSecureExactVector(job.spec, plan, [g], S));
    for (const v of vectors) checkAgentVector(layout, { values: v }, 'a');
    const [total, other] = fromSecureExactVector(job.spec, plan, secureSum(vectors), S);
    expect(total!.count).toBe(9n);
    const m = total!.measures[2] as MomentPartial;
    expect(m.sum).toBe(-((1n << 57n) + 1n) + (1n << 56n) + 7n + 3n);
    expect(m.sumSq).toBe(2n * big + 2n);
    expect((total!.measures[3] as { bins: bigint[] }).bins).toEqual([3n, 6n]);
    expect(other!.count).toBe(0n);
    // Control: the same totals added as doubles lose the low bits.
    expect(BigInt(Number(big) * 2 + 2)).not.toBe(2n * big + 2n);
  });

  it("is refused at submission when a total's top digit could pass 2^53 (read back as a double); 2^20 agents pass (control)", () => {
    const noise = NONE_MODE.roundNoise(job as CompiledKindJob, layout);
    expect(() => planSecureVector(layout, noise, secAggCarryRing(), 2 ** 26, 'aggregate')).toThrow(/secure: block g0\.sum_x\.sum\.limb0 of kind aggregate cannot be summed under secagg: .*a top digit past 2\^53/);
    expect(() => planSecureVector(layout, noise, secAggCarryRing(), 2 ** 20, 'aggregate')).not.toThrow();
  });

  it('only each total is unmasked: agents whose values carry between limbs and agents whose do not, with equal totals, give the coordinator the same vector; control: limbs summed apart tell them apart', () => {
    const low = (1n << 32n) - 1n;
    // Σx on 2^-16: agent values (grid units) 2^32 − 1, 2^32 − 1, 2 (total 2^33) against 2^32, 2^32, 0.
    const carrying = [low, low, 2n].map((x) => toSecureExactVector(job.spec, plan, [group(8507, 1n, x, 0n, [0n, 1n])], S));
    const plainer = [1n << 32n, 1n << 32n, 0n].map((x) => toSecureExactVector(job.spec, plan, [group(8507, 1n, x, 0n, [0n, 1n])], S));
    expect(Array.from(secureSum(carrying))).toEqual(Array.from(secureSum(plainer)));
    expect((fromSecureExactVector(job.spec, plan, secureSum(carrying), S)[0]!.measures[1] as MomentPartial).sum).toBe(1n << 33n);
    const noise = NONE_MODE.roundNoise(job as CompiledKindJob, layout);
    // Control: the same limbs as blocks of their own (no digit marks), summed limb by limb as before.
    const apartLayout = { blocks: layout.blocks.map(({ digit: _digit, ...b }) => b) };
    const digitRing = planSecureVector(apartLayout, noise, secAggLimbRing(3), 3, 'aggregate');
    const apart = (vs: Float64Array[]): number[] => Array.from(decodeSecureVector(digitRing, addMod32(vs.map((values) => encodeSecureVector(digitRing, { values }, false) as Uint32Array))).values);
    expect(apart(carrying)).not.toEqual(apart(plainer));
  });

  it('clips each statistic to its public per-agent bound instead of refusing; within the bound nothing moves (control)', () => {
    const over = group(8532, BigInt(S) + 10n, 0n, 0n, [BigInt(S) + 1n, 0n]);
    const within = group(8532, BigInt(S) - 1n, 0n, 0n, [BigInt(S) - 1n, 0n]);
    const [, clipped] = fromSecureExactVector(job.spec, plan, secureSum([toSecureExactVector(job.spec, plan, [over], S)]), S);
    expect(clipped!.count).toBe(BigInt(S));
    expect((clipped!.measures[3] as { bins: bigint[] }).bins).toEqual([BigInt(S), 0n]);
    const [, kept] = fromSecureExactVector(job.spec, plan, secureSum([toSecureExactVector(job.spec, plan, [within], S)]), S);
    expect(kept!.count).toBe(BigInt(S) - 1n);
  });

  it('releases with the minimum cell size on the totals, the largest any contributor published', () => {
    // Every value 1: Σx = n on 2^-16, Σx² = n on Σx²'s grid.
    const ones = (key: number, n: bigint, bins: bigint[]): GroupPartial => group(key, n, n << 16n, n << BigInt(SQ), bins);
    const agents = [ones(8507, 3n, [1n, 2n]), ones(8507, 4n, [0n, 4n]), ones(8532, 2n, [2n, 0n])];
    const released = secureSum(agents.map((g) => toSecureExactVector(job.spec, plan, [g], S)));
    const record = { round: 0, answered: ['a', 'b', 'c'], missing: [], released, noiseStd: layout.blocks.map(() => 0) } as unknown as RoundRecord<null>;
    const result = aggregateKind.release(job, [record], { converged: true, minCellSize: { a: 2, b: 5, c: 3 } });
    // Group 8507: 7 rows ≥ 5; its bin of 1 row is below 5, and the other bin (6) would give it back as the count
    // minus 6, so the complementary rule withholds that one too.
    expect(result.rows).toEqual([expect.objectContaining({ gender_concept_id: 8507, count: 7, sum_x: 7, variance_x: 0, variance_x_n: 7, histogram_x: [null, null] })]);
    // Group 8532: 2 rows in total, below 5: suppressed, whatever each agent's own threshold.
    expect(result.suppressed).toEqual([{ group: { gender_concept_id: 8532 }, suppressedBy: ['minCellSize'] }]);
    expect(result.privacy).toMatchObject({ mode: 'none', secure: 'secagg', minCellSize: 5, contributors: 3, secureMaxRows: S });
    // An answering agent whose published size is not known (a resumed job, the agent away): nothing is released, never
    // a guessed threshold (red team 48: it counted as 1 and the group of 2 above was released).
    expect(() => aggregateKind.release(job, [record], { converged: true, minCellSize: { a: 2, c: 3 } })).toThrow(/result not released: the minimum cell size b published is not known/);
  });
});
