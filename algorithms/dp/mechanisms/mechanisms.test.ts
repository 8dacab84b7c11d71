import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../testing/seeded-rng.js';
import { epsilonAtDelta } from '../accounting/privacy-cost.js';
import { boundedSumAggregate, planBoundedSum, releaseBoundedSum } from './bounded-sum.js';
import { releaseCount } from './count.js';
import { releaseHistogram } from './histogram.js';
import { meanVarianceAggregate, planMeanVariance, releaseMeanVariance } from './mean-variance.js';
import { selectPartitions } from './partition-selection.js';
import { quantileBuckets, quantileCandidates, releaseQuantiles } from './quantile.js';

describe('count', () => {
  it('Gaussian: std ≈ k/√(2ρ), cost ≤ budget, CI contains the value', () => {
    const r = releaseCount({ count: 100n, maxRowsPerPerson: 3, budget: { rho: 0.5 } }, createSeededRng(1));
    expect(r.rho).toBeLessThanOrEqual(0.5);
    expect(r.rho).toBeGreaterThan(0.4999);
    expect(r.std).toBeCloseTo(3, 3);
    expect(r.ci95[0]).toBeLessThan(r.value);
    expect(r.ci95[1] - r.value).toBe(6); // smallest m with P(|Z| ≤ m) ≥ 0.95 for σ = 3
    expect(r.noise.distribution).toBe('discrete-gaussian');
  });
  it('Laplace: pure ε, cost.epsilon ≤ ε', () => {
    const r = releaseCount({ count: 5, budget: { epsilon: 1 }, clampToNonNegative: true }, createSeededRng(2));
    expect(r.cost.epsilon).toBeLessThanOrEqual(1);
    expect(r.value).toBeGreaterThanOrEqual(0);
    expect(r.postProcessing.length).toBe(1);
  });
  it('empirical coverage of ci95 is ≥ 95% (2000 releases, tolerance 1.5 points)', () => {
    const rng = createSeededRng('cov');
    let inside = 0;
    for (let i = 0; i < 2000; i++) {
      const r = releaseCount({ count: 40n, budget: { rho: 0.1 } }, rng);
      if (r.ci95[0] <= 40 && 40 <= r.ci95[1]) inside++;
    }
    expect(inside / 2000).toBeGreaterThan(0.935);
  });
  it('validates arguments, naming them', () => {
    const rng = createSeededRng(3);
    expect(() => releaseCount({ count: -1, budget: { rho: 1 } }, rng)).toThrow(/count/);
    expect(() => releaseCount({ count: 1, maxRowsPerPerson: 0, budget: { rho: 1 } }, rng)).toThrow(/maxRowsPerPerson/);
    expect(() => releaseCount({ count: 1, budget: { rho: 0 } }, rng)).toThrow(/budget\.rho/);
    expect(() => releaseCount({ count: 1, budget: { rho: 1, epsilon: 1 } as never }, rng)).toThrow(/exactly one/);
  });
});

describe('bounded sum', () => {
  it('sensitivity is k × ⌈max|bound|/g⌉ and the release is unbiased-ish', () => {
    const plan = planBoundedSum({ lower: -2, upper: 10, maxRowsPerPerson: 2, budget: { epsilon: 1 } });
    expect(plan.sensitivity).toBe(2n * BigInt(Math.ceil(10 / plan.grid.size)));
    const values = Array.from({ length: 1000 }, (_, i) => (i % 13) - 1.5);
    const agg = boundedSumAggregate(values, plan);
    const truth = values.reduce((a, b) => a + Math.min(10, Math.max(-2, b)), 0); // clamped to the bounds
    const rng = createSeededRng('sum');
    let s = 0;
    for (let i = 0; i < 400; i++) s += releaseBoundedSum(plan, agg, rng).value;
    const r = releaseBoundedSum(plan, agg, rng);
    expect(Math.abs(s / 400 - truth)).toBeLessThan((5 * r.std) / 20);
    expect(r.std).toBeCloseTo(Math.SQRT2 * 20, 0);
  });
});

describe('mean and variance', () => {
  it('recovers mean and variance of bounded data and states the split', () => {
    const values = Array.from({ length: 20000 }, (_, i) => (i % 100) / 10); // mean 4.95, var 8.3325
    const plan = planMeanVariance({ lower: 0, upper: 10, budget: { rho: 1 }, statistic: 'mean-variance' });
    const stats = meanVarianceAggregate(values, plan);
    const r = releaseMeanVariance(plan, stats, createSeededRng('mv'));
    expect(r.budgetSplit).toEqual({ count: 1 / 3, sum: 1 / 3, sumSquares: 1 / 3 });
    expect(Math.abs(r.mean.value - 4.95)).toBeLessThan(5 * r.mean.std + 1e-3);
    expect(Math.abs(r.variance!.value - 8.3325)).toBeLessThan(5 * r.variance!.std + 1e-3);
    expect(r.cost.rho).toBeLessThanOrEqual(1);
    expect(r.mean.value).toBeGreaterThanOrEqual(0);
  });
  it('clamps to the valid range with few rows', () => {
    const plan = planMeanVariance({ lower: 0, upper: 1, budget: { epsilon: 0.01 }, statistic: 'mean-variance' });
    const r = releaseMeanVariance(plan, meanVarianceAggregate([1, 1], plan), createSeededRng('few'));
    expect(r.mean.value >= 0 && r.mean.value <= 1).toBe(true);
    expect(r.variance!.value >= 0 && r.variance!.value <= 0.25).toBe(true);
  });
});

describe('histogram', () => {
  it('uses L2 = √k for the Gaussian and L1 = k for the Laplace', () => {
    const g = releaseHistogram({ counts: [10, 20, 30], maxBinsPerPerson: 4, budget: { rho: 2 } }, createSeededRng('h'));
    expect(g.noise.sensitivity).toBe(2);
    expect(g.std).toBeCloseTo(1, 3); // σ² = 4/(2·2) = 1
    const l = releaseHistogram({ counts: [1n, 2n], maxBinsPerPerson: 4, budget: { epsilon: 2 } }, createSeededRng('h'));
    expect(l.noise.parameter).toBe(2);
    expect(l.values.length).toBe(2);
  });
});

describe('quantiles (permute-and-flip)', () => {
  it('finds the median of a large sample within the stated rank error', () => {
    const values = Array.from({ length: 10001 }, (_, i) => i / 100); // median 50
    const candidates = quantileCandidates(0, 100, 201);
    const r = releaseQuantiles(
      { candidates, bucketCounts: quantileBuckets(values, candidates), quantiles: [0.5, 0.9], budget: { epsilon: 1 } },
      createSeededRng('q'),
    );
    expect(Math.abs(r.results[0]!.value - 50)).toBeLessThanOrEqual(1);
    expect(Math.abs(r.results[1]!.value - 90)).toBeLessThanOrEqual(1);
    expect(r.cost.epsilon).toBeLessThanOrEqual(1);
    expect(r.results[0]!.rankErrorBound95).toBeGreaterThan(0);
  });
  it('validates candidates and bucket counts', () => {
    expect(() => releaseQuantiles({ candidates: [1, 1], bucketCounts: [0, 0, 0], quantiles: [0.5], budget: { rho: 1 } }, createSeededRng(1))).toThrow(/strictly increasing/);
    expect(() => releaseQuantiles({ candidates: [1, 2], bucketCounts: [0, 0], quantiles: [0.5], budget: { rho: 1 } }, createSeededRng(1))).toThrow(/bucketCounts/);
  });
});

describe('partition selection', () => {
  it('keeps large groups, drops singletons, and charges δ ≤ the budget', () => {
    const partitions = [
      { key: 'big', count: 10_000n },
      ...Array.from({ length: 1000 }, (_, i) => ({ key: `single-${i}`, count: 1n })),
    ];
    for (const budget of [
      { epsilon: 1, delta: 1e-6 },
      { rho: 0.5, delta: 1e-6 },
    ]) {
      const r = selectPartitions({ partitions, maxPartitionsPerPerson: 3, budget }, createSeededRng('ps'));
      expect(r.kept.map((k) => k.key)).toEqual(['big']);
      expect(r.cost.delta).toBeLessThanOrEqual(1e-6);
      expect(r.cost.delta).toBeGreaterThan(0);
      expect(r.threshold).toBeGreaterThan(10);
      expect(epsilonAtDelta(r.cost, 1e-5)).toBeLessThan(Infinity);
    }
  });
  it('the Laplace threshold satisfies k·P(Z ≥ τ−1) ≤ δ exactly at the boundary', () => {
    const r = selectPartitions({ partitions: [], maxPartitionsPerPerson: 1, budget: { epsilon: Math.log(3), delta: 1e-3 } }, createSeededRng(0));
    // t = 1/ln 3 (rounded up a hair): P(Z ≥ m) = 3^-m / (1 + 1/3); smallest m with ≤ 1e-3 is 7 → τ = 8
    expect(r.threshold).toBe(8);
    expect(() => selectPartitions({ partitions: [], budget: { epsilon: 1, delta: 0 } }, createSeededRng(0))).toThrow(/delta/);
  });
  it('maxKept keeps the largest noisy counts among the groups that pass, and never refuses', () => {
    // 10,001 groups far above the threshold (the boundary): all pass, the cap keeps 10,000 without error.
    // Negative control: without maxKept all 10,001 come back (the agent used to refuse this case outright).
    const many = Array.from({ length: 10_001 }, (_, i) => ({ key: i, count: 1000n + BigInt(i % 7) }));
    const budget = { rho: 0.5, delta: 1e-6 };
    expect(selectPartitions({ partitions: many, budget }, createSeededRng('all')).kept).toHaveLength(10_001);
    const r = selectPartitions({ partitions: many, budget, maxKept: 10_000 }, createSeededRng('cap'));
    expect(r.kept).toHaveLength(10_000);
    expect(new Set(r.kept.map((k) => k.key)).size).toBe(10_000);
    expect(r.postProcessing.join(' ')).toMatch(/at most 10000 groups kept/);
    // The dropped group has the smallest noisy count: a second run with a huge group shows the order is by value.
    const withBig = [{ key: -1, count: 1_000_000n }, ...many.slice(0, 3)];
    const top = selectPartitions({ partitions: withBig, budget, maxKept: 1 }, createSeededRng('top'));
    expect(top.kept.map((k) => k.key)).toEqual([-1]);
    expect(() => selectPartitions({ partitions: many, budget, maxKept: 0 }, createSeededRng(0))).toThrow(/maxKept must be a positive integer/);
    // Near-equal exact counts: which half is kept follows the noise (and the random order of ties), not input order.
    const half = selectPartitions({ partitions: many, budget, maxKept: 5000 }, createSeededRng('half'));
    const again = selectPartitions({ partitions: many, budget, maxKept: 5000 }, createSeededRng('other'));
    expect(new Set(half.kept.map((k) => k.key)).size).toBe(5000);
    expect(half.kept.map((k) => k.key).sort()).not.toEqual(again.kept.map((k) => k.key).sort());
  });
});
