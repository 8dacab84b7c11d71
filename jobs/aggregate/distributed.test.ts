/**
 * distributed-dp with secagg on the seam (distributed.ts): one block per statistic across the public groups, each
 * with the built-in plan's sensitivity and ρ, so the seam's shares have the built-in path's noise (its calibration,
 * common/secure/distributed-noise.ts, is the reference here); the vector's order and its inverse; the refusals.
 * End to end: test/golden/aggregate.golden.test.ts (the two distributed-dp/secagg cases) and
 * test/integration/secure-secagg.test.ts (the released noise has the stated std, chi-square).
 */
import { describe, expect, it } from 'vitest';
import type { GroupPartial, MomentPartial } from '../../algorithms/aggregate/index.js';
import { noiseDistribution } from '../../algorithms/dp/index.js';
import { checkLayout, compileKindJob, kindPrivacyModeOf, type RoundRecord } from '../../common/kinds/index.js';
import { DEFAULT_SECURE_MAX_ROWS, planSecureNoise, statisticClip } from '../../common/secure/index.js';
import { aggregateKind, aggregatePrivacyPlan } from './index.js';
import { distributedLayout, fromDistributedVector, MAX_DISTRIBUTED_ENTRY, toDistributedVector } from './distributed.js';

const spec = {
  kind: 'aggregate',
  product: 'person',
  groupBy: ['gender_concept_id'],
  groupKeys: { gender_concept_id: [8507, 8532, 0] },
  measures: [{ fn: 'count' }, { fn: 'sum', column: 'x', bounds: [0, 100] }, { fn: 'variance', column: 'x', bounds: [0, 100] }, { fn: 'histogram', column: 'x', bins: [0, 50, 100] }],
  privacy: { mode: 'distributed-dp', rho: 0.5, maxRowsPerPerson: 2 },
  secure: 'secagg',
};
const job = compileKindJob(aggregateKind, spec);
const plan = aggregatePrivacyPlan(job.spec);
const layout = aggregateKind.layout(job, 0);

describe('aggregate in distributed-dp with secagg on the kind seam', () => {
  it('lays out one block per statistic across the groups, bounded by secureMaxRows × the per-row bound', () => {
    checkLayout(layout);
    expect(layout.blocks.map((b) => [b.name, b.length])).toEqual([
      ['count', 3],
      ['sum_x.sum', 3],
      ['variance_x.n', 3],
      ['variance_x.sum', 3],
      ['variance_x.sumSq', 3],
      ['histogram_x.bins', 6],
    ]);
    const [lo, hi] = statisticClip(plan.layout[1], 'sum', DEFAULT_SECURE_MAX_ROWS);
    // Past 2^43 grid units (central-dp's per-agent cap, vector.ts, which clipped Σx of a few hundred thousand rows
    // here: red team 49), within 2^52 (MAX_DISTRIBUTED_ENTRY).
    expect(Number(hi)).toBeGreaterThan(2 ** 43);
    expect(layout.blocks[1]!.perAgent).toEqual({ lo: Number(lo), hi: Number(hi) });
    // Wide bounds: the DP grids follow the noise, so even ±10^9 stays within 2^52 at 2^24 rows.
    const wide = compileKindJob(aggregateKind, { ...spec, measures: [{ fn: 'variance', column: 'x', bounds: [-1e9, 1e9] }] });
    expect(Math.max(...aggregateKind.layout(wide, 0).blocks.map((b) => b.perAgent.hi))).toBeLessThan(MAX_DISTRIBUTED_ENTRY);
    expect(layout.blocks[2]!.perAgent).toEqual({ lo: 0, hi: DEFAULT_SECURE_MAX_ROWS });
    expect(distributedLayout(job.spec, plan, DEFAULT_SECURE_MAX_ROWS)).toEqual(layout.blocks);
    // (counts: secureMaxRows rows)
    expect(layout.blocks[0]!.perAgent).toEqual({ lo: 0, hi: DEFAULT_SECURE_MAX_ROWS });
  });

  it('gives each statistic the built-in path\'s noise (its KLS shares to 1e-5); an even split over the blocks does not (control)', () => {
    for (const [agents, tolerated] of [[3, 0], [4, 1], [10, 3]] as const) {
      const j = compileKindJob(aggregateKind, { ...spec, privacy: { ...spec.privacy, tolerated } });
      const noise = kindPrivacyModeOf(aggregateKind, j).roundNoise(j, layout, { agents });
      const builtIn = planSecureNoise(j.spec, plan, agents);
      const reference = [builtIn.measures[0]!.shares.rows!, builtIn.measures[1]!.shares.sum!, builtIn.measures[2]!.shares.n!, builtIn.measures[2]!.shares.sum!, builtIn.measures[2]!.shares.sumSq!, builtIn.measures[3]!.shares.bin!];
      reference.forEach((r, k) => {
        // (the std of n discrete Gaussian draws, as the built-in release states it: common/secure/secure-release.ts)
        const std = Math.sqrt(agents * noiseDistribution.discreteGaussianVariance(r.plan.shareSigma2Value));
        expect(Math.abs(noise[k]!.std - std) / std).toBeLessThan(1e-5);
      });
      // Control: without the built-in ρ per statistic (the seam's even split), the count's noise differs.
      const even = { blocks: layout.blocks.map((b) => ({ ...b, rhoShare: undefined })) };
      const evenStd = kindPrivacyModeOf(aggregateKind, j).roundNoise(j, even, { agents })[0]!.std;
      expect(Math.abs(evenStd - noise[0]!.std) / noise[0]!.std).toBeGreaterThan(0.05);
    }
  });

  it('orders an agent\'s statistics block by block and reads the released vector back group by group', () => {
    const m = (n: bigint, sum: bigint, sumSq: bigint): MomentPartial => ({ kind: 'moments', n, sum, sumSq, scaleBits: 0, sqScaleBits: 0 });
    const g = (key: number, c: bigint): GroupPartial => ({ key: [key], count: c, measures: [{ kind: 'count' }, m(c, 10n * c, 0n), m(c, 20n * c, 30n * c), { kind: 'histogram', bins: [c, 2n * c] }], suppressedBy: [] });
    const v = toDistributedVector(job.spec, plan, [g(8507, 1n), g(0, 3n)]);
    // count block: 8507, 8532, 0; then sum_x.sum for the three groups; …
    expect(Array.from(v.slice(0, 6))).toEqual([1, 0, 3, 10, 0, 30]);
    expect(Array.from(v.slice(-6))).toEqual([1, 2, 0, 0, 3, 6]);
    const back = fromDistributedVector(job.spec, plan, Array.from(v));
    expect(back.map((x) => x.count)).toEqual([1n, 0n, 3n]);
    expect((back[2]!.measures[2] as MomentPartial).sumSq).toBe(90n);
    expect((back[0]!.measures[3] as { bins: bigint[] }).bins).toEqual([1n, 2n]);
  });

  it('states the shares for the n agents asked when one dropped: n, t(n), the contributors, each std for c of n shares (red team 49)', () => {
    const j = compileKindJob(aggregateKind, { ...spec, privacy: { ...spec.privacy, tolerated: 3 } });
    const noise = kindPrivacyModeOf(aggregateKind, j).roundNoise(j, layout, { agents: 4 });
    const released = Array.from(toDistributedVector(j.spec, plan, []));
    const record = { round: 0, input: null, answered: ['a', 'b', 'c'], missed: ['d'], released, noiseStd: noise.map((n) => n.std), federation: 4 } as RoundRecord<null>;
    // (tolerated 3 is valid for the 4 agents the shares were sized for; read against the 3 contributors it threw)
    const r = aggregateKind.release(j, [record], { converged: true });
    expect(r.privacy).toMatchObject({ agents: 4, tolerated: 3, minHonestShares: 1, contributors: 3 });
    expect(r.rows[0]!.count_std).toBeCloseTo(noise[0]!.std * Math.sqrt(3 / 4), 12);
    expect(r.notes.join(' ')).toMatch(/n = 4, tolerating 3 dropped or colluding agents in all; 1 dropped, so up to 2 more may collude/);
    // Control: no dropout states the round's noise as it is.
    const all = aggregateKind.release(j, [{ ...record, answered: ['a', 'b', 'c', 'd'], missed: undefined } as unknown as RoundRecord<null>], { converged: true });
    expect(all.rows[0]!.count_std).toBe(noise[0]!.std);
    expect(all.privacy).toMatchObject({ agents: 4, contributors: 4 });
  });

  it('refuses what discrete Gaussian shares cannot noise: a quantile, a pure-epsilon budget', () => {
    expect(() => compileKindJob(aggregateKind, { ...spec, measures: [{ fn: 'quantile', column: 'x', bounds: [0, 100], quantiles: [0.5] }] })).toThrow(/quantile needs mode central-dp/);
    expect(() => compileKindJob(aggregateKind, { ...spec, privacy: { mode: 'distributed-dp', epsilon: 1 } })).toThrow(/distributed-dp adds discrete Gaussian shares: give delta > 0 or rho/);
    // Control: (ε, δ) calibrates a discrete Gaussian.
    expect(() => compileKindJob(aggregateKind, { ...spec, privacy: { mode: 'distributed-dp', epsilon: 1, delta: 1e-6 } })).not.toThrow();
  });
});
