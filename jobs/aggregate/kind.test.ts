/**
 * The aggregate kind on the seam (local-dp with plain sums): which specs it takes, its public layout, the vector's
 * round trip, and the noise plan: the built-in plan's samplers in the built-in order. End to end, draw for draw,
 * test/golden/aggregate.golden.test.ts pins both local-dp cases through the real mesh.
 */
import { describe, expect, it } from 'vitest';
import type { GroupPartial } from '../../algorithms/aggregate/index.js';
import { asBufferedRng } from '../../algorithms/dp/index.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { checkAgentVector, checkLayout, compileKindJob, kindPrivacyModeOf, layoutLength } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { aggregateKind, aggregatePrivacyPlan } from './index.js';
import { aggregateStats, fromVector, MAX_AGENT_ENTRY, toVector } from './vector.js';
import { seamRunsAggregate } from './spec.js';

const spec = {
  kind: 'aggregate',
  product: 'person',
  groupBy: ['gender_concept_id'],
  groupKeys: { gender_concept_id: [8507, 8532] },
  measures: [{ fn: 'count' }, { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'variance', column: 'year_of_birth', bounds: [1900, 2030] }, { fn: 'histogram', column: 'year_of_birth', bins: [1900, 1950, 2030] }],
  privacy: { mode: 'local-dp', epsilon: 2 },
};

describe('aggregate on the kind seam', () => {
  it('routes local-dp, and central-dp and none with public groups, with plain sums to the seam; the rest keeps the built-in path', () => {
    expect(seamRunsAggregate(spec)).toBe(true);
    const central = { ...spec, privacy: { mode: 'central-dp', epsilon: 1 } };
    expect(seamRunsAggregate(central)).toBe(true);
    // The parser's default mode counts as central-dp.
    expect(seamRunsAggregate({ ...spec, privacy: undefined })).toBe(true);
    expect(seamRunsAggregate({ ...spec, privacy: { epsilon: 3, delta: 1e-6 } })).toBe(true);
    expect(seamRunsAggregate({ ...central, groupBy: [], groupKeys: undefined })).toBe(true);
    // Mode none with public groups (exact-vector.ts); without them it keeps the built-in path.
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'none' } })).toBe(true);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'none' }, groupKeys: undefined })).toBe(false);
    // Still built-in: data-derived groups, the secure sums and distributed-dp.
    expect(seamRunsAggregate({ ...central, groupKeys: undefined })).toBe(false);
    // A quantile too: its permute-and-flip runs in the coordinator's round (vector.ts).
    expect(seamRunsAggregate({ ...central, measures: [{ fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2030], quantiles: [0.5] }] })).toBe(true);
    expect(seamRunsAggregate({ ...spec, secure: 'he' })).toBe(false);
    expect(seamRunsAggregate({ ...spec, secure: 'secagg' })).toBe(false);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'distributed-dp', epsilon: 1 } })).toBe(false);
    // Mode none with secagg and public groups runs on the seam (secure-exact.ts); with HE, or data-derived groups, not.
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'none' }, secure: 'secagg' })).toBe(true);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'none' }, secure: 'he' })).toBe(false);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'none' }, secure: 'secagg', groupKeys: undefined })).toBe(false);
    // distributed-dp with secagg and public groups too (distributed.ts); without a secure sum it keeps the built-in refusal.
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'secagg' })).toBe(true);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'secagg', groupKeys: undefined })).toBe(false);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'he' })).toBe(false);
    expect(seamRunsAggregate({ ...spec, privacy: { mode: 'central-dp', epsilon: 1 }, secure: 'secagg' })).toBe(false);
    for (const raw of [null, 'x', [], { privacy: null }]) expect(seamRunsAggregate(raw)).toBe(false);
    // A narrower mode list (the switch a port goes by) leaves central-dp to the built-in path.
    expect(seamRunsAggregate(central, ['local-dp'])).toBe(false);
    // The coordinator reads the researcher's spec and an agent the parsed one: they must choose alike.
    for (const raw of [central, { ...spec, privacy: { epsilon: 3 } }, { ...spec, privacy: undefined }, { ...spec, privacy: { mode: 'none' } }, { ...spec, privacy: { mode: 'none' }, secure: 'secagg' }, { ...spec, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'secagg' }, { ...spec, privacy: { mode: 'distributed-dp', rho: 1 }, secure: 'secagg', groupBy: null, groupKeys: undefined }, { ...central, groupKeys: undefined }, spec]) {
      expect(seamRunsAggregate(JSON.parse(JSON.stringify(aggregateKind.parse(raw))))).toBe(seamRunsAggregate(raw));
    }
  });

  it('central-dp: the count is drawn at its measure\'s place, as releaseCentral draws it; local-dp: after the other measures', () => {
    const central = compileKindJob(aggregateKind, { ...spec, privacy: { mode: 'central-dp', epsilon: 1 } });
    const names = aggregateKind.layout(central, 0).blocks.map((b) => b.name);
    expect(names.slice(0, 6)).toEqual(['g0.count', 'g0.sum_year_of_birth.sum', 'g0.variance_year_of_birth.n', 'g0.variance_year_of_birth.sum', 'g0.variance_year_of_birth.sumSq', 'g0.histogram_year_of_birth.bins']);
    const local = aggregateKind.layout(compileKindJob(aggregateKind, spec), 0).blocks.map((b) => b.name);
    expect(local[5]).toBe('g0.count');
  });

  it('lays out per group each noised statistic, in the built-in draw order, within the public bounds', () => {
    const job = compileKindJob(aggregateKind, spec);
    const layout = aggregateKind.layout(job, 0);
    checkLayout(layout);
    // Per group: sum (1), variance n, Σx, Σx² (3), histogram (2 bins), count (1).
    expect(layout.blocks.map((b) => b.name.split('.').slice(1).join('.') || b.name)).toEqual([...Array(2)].flatMap(() => ['sum_year_of_birth.sum', 'variance_year_of_birth.n', 'variance_year_of_birth.sum', 'variance_year_of_birth.sumSq', 'histogram_year_of_birth.bins', 'count']));
    expect(layoutLength(layout)).toBe(2 * 7);
    // The charge is the built-in plan's cost.
    expect(kindPrivacyModeOf(aggregateKind, job).cost(job)).toEqual(aggregatePrivacyPlan(job.spec).dp!.cost);
  });

  it('refuses at compile what local-dp cannot run, naming the field', () => {
    const refused = (raw: unknown): string | undefined => {
      try {
        compileKindJob(aggregateKind, raw);
      } catch (e) {
        if (isFedmeshError(e)) return e.field;
        throw e;
      }
      return undefined;
    };
    expect(refused({ ...spec, groupKeys: undefined })).toBe('groupKeys');
    // Found by the fuzzer: 9 997 groups × a 700-bin histogram is past the seam's vector bound: RESOURCE_EXHAUSTED, not internal.
    const many = { ...spec, groupKeys: { gender_concept_id: Array.from({ length: 9997 }, (_, i) => i) }, measures: [{ fn: 'histogram', column: 'year_of_birth', bins: Array.from({ length: 701 }, (_, i) => i) }] };
    expect(refused(many)).toBe('groupKeys');
    expect(() => compileKindJob(aggregateKind, many)).toThrow(expect.objectContaining({ code: "RESOURCE_EXHAUSTED", message: expect.stringMatching(/more than the 4194304 a round carries/) }));
    expect(refused({ ...spec, measures: [{ fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2030], quantiles: [0.5] }] })).toMatch(/^measures/);
    expect(refused(spec)).toBeUndefined();
  });

  it('the vector round-trips the groups exactly; a combination without rows is zeros; beyond 2^43 grid units it is projected', () => {
    const job = compileKindJob(aggregateKind, spec);
    const plan = aggregatePrivacyPlan(job.spec);
    const stats = aggregateStats(job.spec, plan);
    const l = plan.layout[1]!;
    const scale = l.kind === 'moments' ? l.scaleBits : 0;
    const group: GroupPartial = {
      key: [8532],
      count: 7n,
      measures: [{ kind: 'count' }, { kind: 'moments', n: 7n, sum: 13_000n, sumSq: 0n, scaleBits: scale, sqScaleBits: 2 * scale }, { kind: 'moments', n: 6n, sum: 11_000n, sumSq: 2n ** 60n, scaleBits: scale, sqScaleBits: 2 * scale }, { kind: 'histogram', bins: [2n, 5n] }],
      suppressedBy: [],
    };
    const v = toVector(job.spec, plan, stats, [group]);
    const back = fromVector(job.spec, plan, stats, Array.from(v));
    expect(back[0]!.count).toBe(0n);
    expect(back[1]!.count).toBe(7n);
    expect(back[1]!.measures[1]).toMatchObject({ sum: 13_000n });
    expect(back[1]!.measures[2]).toMatchObject({ n: 6n, sum: 11_000n, sumSq: BigInt(MAX_AGENT_ENTRY) });
    expect(back[1]!.measures[3]).toMatchObject({ bins: [2n, 5n] });
  });

  it('an agent draws the built-in samplers in the built-in order (combination, measure, statistic, then the count)', () => {
    const job = compileKindJob(aggregateKind, spec);
    const plan = aggregatePrivacyPlan(job.spec);
    const stats = aggregateStats(job.spec, plan);
    const layout = aggregateKind.layout(job, 0);
    const zero = { values: new Float64Array(layoutLength(layout)) };
    const mode = kindPrivacyModeOf(aggregateKind, job);
    const noisy = mode.atAgent(zero, mode.roundNoise(job, layout), layout, createSeededRng(7));
    // Reference: the plan's own samplers, one buffered stream, in the order the built-in agent drew them.
    const r = asBufferedRng(createSeededRng(7));
    const ref: number[] = [];
    for (const s of stats) for (let j = 0; j < s.length; j++) ref.push('sample' in s.noise ? Number(s.noise.sample(r)) : NaN);
    expect(Array.from(noisy.values)).toEqual(ref);
    // Negative control: another seed draws other noise.
    expect(Array.from(mode.atAgent(zero, mode.roundNoise(job, layout), layout, createSeededRng(8)).values)).not.toEqual(ref);
  });

  it('central-dp quantile: counts may not be negative at an agent, and the selection never fails on the summed buckets (red team 43)', () => {
    const central = { kind: 'aggregate', product: 'person', measures: [{ fn: 'count' }, { fn: 'quantile', column: 'year_of_birth', bounds: [1900, 2030], candidates: 3, quantiles: [0.5] }, { fn: 'sum', column: 'year_of_birth', bounds: [1900, 2030] }], privacy: { mode: 'central-dp', epsilon: 1 } };
    const job = compileKindJob(aggregateKind, central);
    const layout = aggregateKind.layout(job, 0);
    const byStat = new Map(layout.blocks.map((b) => [b.name.split('.').pop()!, b]));
    expect(byStat.get('count')!.perAgent.lo).toBe(0);
    expect(byStat.get('buckets')!.perAgent.lo).toBe(0);
    // Control: a sum of centred values may be negative.
    expect(byStat.get('sum')!.perAgent.lo).toBe(-MAX_AGENT_ENTRY);
    // local-dp: an honest agent's counts carry its Laplace noise, with no public margin: not bounded below (red team 44).
    const local = compileKindJob(aggregateKind, { ...central, measures: [{ fn: 'count' }], privacy: { mode: 'local-dp', epsilon: 1 } });
    expect(aggregateKind.layout(local, 0).blocks[0]!.perAgent.lo).toBe(-MAX_AGENT_ENTRY);
    // An agent's reply with a negative bucket (to cancel the other sites' counts) is refused on its own vector.
    const honest = Float64Array.from([10, 4, 3, 2, 1, 0]);
    expect(() => checkAgentVector(layout, { values: honest }, 'a1')).not.toThrow();
    expect(() => checkAgentVector(layout, { values: Float64Array.from([10, -11, 3, 2, 1, 0]) }, 'rogue')).toThrow(/rogue sent block g0.quantile_year_of_birth.buckets\[0\] outside its public bounds \[0,/);
    // The selection itself clamps a negative sum (whatever reached it) instead of failing.
    const mode = kindPrivacyModeOf(aggregateKind, job);
    const noise = mode.roundNoise(job, layout);
    const out = mode.atCoordinator({ values: Float64Array.from([10, -11, 3, 2, 1, 0]) }, noise, layout, createSeededRng(3));
    expect(Number.isInteger(out.values[1])).toBe(true);
    expect(out.values[1]).toBeGreaterThanOrEqual(0);
    expect(out.values[1]).toBeLessThan(3);
    // A damaged stored selection (a fraction, not a candidate index) fails the release instead of being rounded into one.
    const plan = aggregatePrivacyPlan(job.spec);
    const stats = aggregateStats(job.spec, plan);
    expect(() => fromVector(job.spec, plan, stats, [10, 1, 0, 0, 0, 5], new Map())).not.toThrow();
    expect(() => fromVector(job.spec, plan, stats, [10, 1.4, 0, 0, 0, 5], new Map())).toThrow(/not candidate indexes/);
  });
});
