import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../testing/seeded-rng.js';
import { chiSquareFromEdges, integerQuantileEdges } from '../../testing/statistics.js';
import {
  discreteGaussianFourthMoment,
  discreteGaussianIntervalMass,
  discreteGaussianPmf,
  discreteGaussianVariance,
  discreteLaplaceCdf,
  discreteLaplaceFourthMoment,
  discreteLaplacePmf,
  discreteLaplaceVariance,
} from '../analysis/noise-distribution.js';
import { normalCdf } from '../analysis/special-functions.js';
import { rationalFromNumber, toNumber, type Rational } from '../rational.js';
import { createDiscreteGaussianSampler } from './discrete-gaussian.js';
import { createDiscreteLaplaceSampler } from './discrete-laplace.js';

/**
 * Statistical tests of the exact samplers.
 *
 * Tolerances (stated, fixed seeds so results are reproducible):
 *  - χ² goodness of fit over ≤ 40 quantile bins: the sampler passes if p ≥ 1e−3.
 *  - mean, variance, P(0): within 5 standard errors of the closed form (SE from the closed-form variance / fourth
 *    moment / binomial variance). P(0) is checked only where N·P(0) ≥ 100.
 * Negative control: the same checks applied to a sampler whose scale is 5% too large must FAIL (χ² p < 1e−3 and
 * the variance check outside 5 SE), so the tests have the power to catch a wrong scale.
 */

const N = 200_000;
const ALPHA = 1e-3;
const Z = 5;

interface Dist {
  name: string;
  sample: (rng: ReturnType<typeof createSeededRng>) => bigint;
  /** P(X ≤ x) for real x (continuous approximation allowed for huge scales). */
  cdf: (x: number) => number;
  integerEdges: boolean;
  range: number;
  variance: number;
  fourth: number;
  p0: number;
}

function laplace(scale: Rational | number, sampleScale: Rational | number = scale): Dist {
  const t = typeof scale === 'number' ? scale : toNumber(scale);
  const s = createDiscreteLaplaceSampler(sampleScale);
  const huge = t > 1e12; // beyond exact integer edges: continuous Laplace CDF, relative error ~1/t
  return {
    name: `discrete Laplace t=${t}`,
    sample: (rng) => s.sample(rng),
    cdf: huge ? (x) => (x >= 0 ? 1 - 0.5 * Math.exp(-x / t) : 0.5 * Math.exp(x / t)) : (x) => discreteLaplaceCdf(t, Math.floor(x)),
    integerEdges: !huge,
    range: Math.ceil(60 * t) + 10,
    variance: discreteLaplaceVariance(t),
    fourth: discreteLaplaceFourthMoment(t),
    p0: discreteLaplacePmf(t, 0),
  };
}

function gaussian(sigma2: Rational | number, sampleSigma2: Rational | number = sigma2): Dist {
  const v = typeof sigma2 === 'number' ? sigma2 : toNumber(sigma2);
  const sigma = Math.sqrt(v);
  const s = createDiscreteGaussianSampler(sampleSigma2);
  const huge = sigma > 1e5; // normal CDF; for sigma = 1e6 its error per bin is ~1e-6 relative
  return {
    name: `discrete Gaussian sigma=${sigma.toPrecision(6)}`,
    sample: (rng) => s.sample(rng),
    cdf: huge ? (x) => normalCdf(x / sigma) : (x) => discreteGaussianIntervalMass(v, -Infinity, Math.floor(x)),
    integerEdges: !huge,
    range: Math.ceil(40 * sigma) + 10,
    variance: discreteGaussianVariance(v),
    fourth: discreteGaussianFourthMoment(v),
    p0: discreteGaussianPmf(v, 0),
  };
}

interface Checks {
  chi2: { pValue: number; df: number; statistic: number };
  meanZ: number;
  varianceZ: number;
  p0Z: number | undefined;
}

function runChecks(d: Dist, seed: string): Checks {
  const rng = createSeededRng(seed);
  const xs = new Float64Array(N);
  let sum = 0;
  let zeros = 0;
  for (let i = 0; i < N; i++) {
    const x = Number(d.sample(rng));
    xs[i] = x;
    sum += x;
    if (x === 0) zeros++;
  }
  const mean = sum / N;
  let ss = 0;
  for (const x of xs) ss += x * x;
  const m2 = ss / N; // the true mean is 0, so E[X²] is the variance
  const edges = d.integerEdges
    ? integerQuantileEdges(d.cdf, 40, d.range)
    : Array.from({ length: 39 }, (_, i) => {
        // quantile edges of the normal approximation, by bisection on the CDF
        let lo = -d.range;
        let hi = d.range;
        for (let j = 0; j < 200; j++) {
          const mid = (lo + hi) / 2;
          if (d.cdf(mid) >= (i + 1) / 40) hi = mid;
          else lo = mid;
        }
        return hi;
      });
  const chi2 = chiSquareFromEdges(xs, edges, d.cdf);
  const seMean = Math.sqrt(d.variance / N);
  const seVar = Math.sqrt((d.fourth - d.variance * d.variance) / N);
  const p0Z = N * d.p0 >= 100 ? (zeros / N - d.p0) / Math.sqrt((d.p0 * (1 - d.p0)) / N) : undefined;
  return { chi2, meanZ: mean / seMean, varianceZ: (m2 - d.variance) / seVar, p0Z };
}

function expectPass(c: Checks): void {
  expect(c.chi2.df).toBeGreaterThanOrEqual(1);
  expect(c.chi2.pValue, `chi2=${c.chi2.statistic} df=${c.chi2.df}`).toBeGreaterThanOrEqual(ALPHA);
  expect(Math.abs(c.meanZ)).toBeLessThan(Z);
  expect(Math.abs(c.varianceZ)).toBeLessThan(Z);
  if (c.p0Z !== undefined) expect(Math.abs(c.p0Z)).toBeLessThan(Z);
}

function expectReject(c: Checks): void {
  expect(c.chi2.pValue, `chi2=${c.chi2.statistic} df=${c.chi2.df}`).toBeLessThan(ALPHA);
  expect(Math.abs(c.varianceZ)).toBeGreaterThan(Z);
}

const wider = (r: Rational, f: number): Rational => ({ num: r.num * BigInt(Math.round(f * 1000)), den: r.den * 1000n });

describe('discrete Laplace sampler (χ², mean, variance, P(0))', () => {
  const scales: (number | Rational)[] = [0.5, 1 / Math.log(3), 7.3, 1e6, { num: (1n << 60n) + 1n, den: 3n }];
  for (const [i, t] of scales.entries()) {
    it(`matches the closed form at scale ${typeof t === 'number' ? t : toNumber(t)}`, () => {
      expectPass(runChecks(laplace(t), `lap-${i}`));
    });
  }
  it('negative control: a sampler with a 5% larger scale is rejected', () => {
    const t = rationalFromNumber(7.3);
    expectReject(runChecks(laplace(t, wider(t, 1.05)), 'lap-control'));
    const small = rationalFromNumber(0.5);
    expectReject(runChecks(laplace(small, wider(small, 1.05)), 'lap-control-small'));
  });
});

describe('discrete Gaussian sampler (χ², mean, variance, P(0))', () => {
  // 0.25: tiny (σ = 0.5); 2.7: σ² with a 2^50 denominator (BigInt acceptance path); 1e12: σ = 10^6 (binned);
  // 2^110: t > 2^52 (pure BigInt path).
  const params: (number | Rational)[] = [0.25, 1, 2.7, 900, 1e12, { num: 1n << 110n, den: 1n }];
  for (const [i, s2] of params.entries()) {
    it(`matches the closed form at sigma^2 = ${typeof s2 === 'number' ? s2 : toNumber(s2)}`, () => {
      const c = runChecks(gaussian(s2), `gauss-${i}`);
      expectPass(c);
    });
  }
  it('negative control: a sampler with a 5% larger sigma is rejected', () => {
    const s2 = rationalFromNumber(900);
    expectReject(runChecks(gaussian(s2, wider(s2, 1.1025)), 'gauss-control'));
    const tiny = rationalFromNumber(0.25);
    expectReject(runChecks(gaussian(tiny, wider(tiny, 1.1025)), 'gauss-control-tiny'));
  });
});
