import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { rhoForEpsilonDelta, epsilonFromRho } from './accounting/zcdp.js';
import { smallestIntegerSatisfying } from './analysis/integer-search.js';
import { discreteGaussianCi95HalfWidth, discreteLaplaceCi95HalfWidth, discreteLaplaceTail } from './analysis/noise-distribution.js';
import { gaussianPartitionThreshold, laplacePartitionThreshold } from './analysis/thresholds.js';
import { planDistributedNoise } from './distributed.js';
import { planBoundedSum } from './mechanisms/bounded-sum.js';
import { planMeanVariance } from './mechanisms/mean-variance.js';
import { calibrateNoise } from './mechanisms/noise.js';
import { isqrt } from './rational.js';

/**
 * Issue 8 #4: every numeric routine on the admission path ends in bounded time for EVERY double, not just sensible
 * ones (ρ = 1e-300 and ε = 3e-16 used to spin for ever in `isqrt` and in `m--`/`m++` loops above 2^53). A call
 * may return or throw RangeError/TypeError; it must do so within PER_CALL_MS. Unloaded, the slowest call here
 * takes about 5 ms; the bound leaves room for a loaded CI machine while still catching any loop of 10^9 steps.
 */
const PER_CALL_MS = 500;

/** Every double, with the regions that broke things drawn often: subnormals, 1e-300, 1e300, integers above 2^53. */
const anyDouble = fc.oneof(
  fc.double(),
  fc.double({ min: 0, max: 1e-300, noNaN: true }),
  fc.double({ min: 1e290, max: Number.MAX_VALUE, noNaN: true }),
  fc.integer({ min: 53, max: 1023 }).map((e) => 2 ** e + 2 ** (e - 52) * 3),
  fc.constantFrom(1e-300, 1e-50, 3e-16, 1e-16, 5e-324, 2 ** -1074, Number.MIN_VALUE, 2 ** 53, 2 ** 53 + 2, 1e300, Number.MAX_VALUE, 0, -0, -1, Infinity, -Infinity, NaN),
);
const positive = anyDouble.map((x) => (Number.isNaN(x) ? x : Math.abs(x)));

function bounded(fn: () => unknown): void {
  const t0 = performance.now();
  try {
    fn();
  } catch (e) {
    if (!(e instanceof RangeError || e instanceof TypeError)) throw e;
  }
  const ms = performance.now() - t0;
  expect(ms, 'per-call time bound').toBeLessThan(PER_CALL_MS);
}

const runs = { numRuns: 400, seed: 8_004 };

describe('admission-path numerics terminate in bounded time for every double (issue 8 #4)', () => {
  it('calibrateNoise (discrete Gaussian and Laplace), any budget, any sensitivity', () => {
    fc.assert(
      fc.property(positive, fc.bigInt({ min: 1n, max: 1n << 80n }), (x, s) => {
        bounded(() => calibrateNoise({ rho: x }, { l1: s, l2Squared: s * s }));
        bounded(() => calibrateNoise({ epsilon: x }, { l1: s, l2Squared: s * s }));
      }),
      runs,
    );
  });

  it('the issue’s exact parameters calibrate (or refuse) at once', () => {
    for (const rho of [1e-300, 1e-50, 5e-324]) bounded(() => calibrateNoise({ rho }, { l1: 1n, l2Squared: 1n }));
    for (const epsilon of [3e-16, 1e-16, 5e-324]) bounded(() => calibrateNoise({ epsilon }, { l1: 1n, l2Squared: 1n }));
  });

  it('bounded-sum and mean/variance plans (grid choice + calibration), any budget and bounds', () => {
    fc.assert(
      fc.property(positive, anyDouble, fc.boolean(), (x, upper, useRho) => {
        const budget = useRho ? { rho: x } : { epsilon: x };
        bounded(() => planBoundedSum({ lower: 0, upper, budget }));
        bounded(() => planMeanVariance({ lower: -1, upper, budget, statistic: 'mean-variance' }));
      }),
      runs,
    );
  });

  it('partition-selection thresholds and 95% interval widths, any noise parameter and δ', () => {
    fc.assert(
      fc.property(positive, anyDouble, fc.integer({ min: 1, max: 1000 }), (p, delta, k) => {
        bounded(() => laplacePartitionThreshold(p, k, delta));
        bounded(() => gaussianPartitionThreshold(p, k, delta));
        bounded(() => discreteLaplaceCi95HalfWidth(p));
        bounded(() => discreteGaussianCi95HalfWidth(p));
      }),
      runs,
    );
  });

  it('zCDP conversions and distributed-noise planning, any ε, δ, ρ', () => {
    fc.assert(
      fc.property(positive, anyDouble, fc.integer({ min: 1, max: 50 }), (x, d, agents) => {
        bounded(() => rhoForEpsilonDelta(x, d));
        bounded(() => epsilonFromRho(x, d));
        bounded(() => planDistributedNoise({ agents, tolerated: Math.floor((agents - 1) / 3), l2Sensitivity: 1, rho: x }));
      }),
      { ...runs, numRuns: 100 },
    );
  });

  it('isqrt is exact and fast up to 2^2200 (the float-seeded version looped ~10^130 times at 5e299)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1n << 2200n }), (n) => {
        const t0 = performance.now();
        const r = isqrt(n);
        expect(performance.now() - t0).toBeLessThan(PER_CALL_MS);
        expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
      }),
      runs,
    );
    const n = 5n * 10n ** 299n;
    const r = isqrt(n);
    expect(r * r <= n && (r + 1n) * (r + 1n) > n).toBe(true);
  });
});

describe('smallestIntegerSatisfying', () => {
  it('finds the exact answer below 2^53 from any guess', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (target, guess) => {
        expect(smallestIntegerSatisfying((m) => m >= target, 0, guess)).toBe(target);
      }),
      runs,
    );
  });

  it('above 2^53 returns a satisfying value no more than one ulp above the answer, in bounded steps', () => {
    fc.assert(
      fc.property(fc.double({ min: 2 ** 53, max: 1e300, noNaN: true }), anyDouble.filter(Number.isFinite), (target, guess) => {
        let calls = 0;
        const m = smallestIntegerSatisfying((x) => (calls++, x >= target), 0, Math.abs(guess));
        expect(m).toBeGreaterThanOrEqual(target);
        expect(m - target).toBeLessThanOrEqual(target * 2 ** -51);
        expect(calls).toBeLessThanOrEqual(2200);
      }),
      runs,
    );
  });

  it('agrees with the exact Laplace threshold where the old ±1 loop worked', () => {
    const { threshold } = laplacePartitionThreshold(10, 1, 1e-6);
    const m = threshold - 1;
    expect(discreteLaplaceTail(10, m)).toBeLessThanOrEqual(1e-6);
    expect(discreteLaplaceTail(10, m - 1)).toBeGreaterThan(1e-6);
  });
});
