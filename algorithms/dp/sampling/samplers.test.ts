import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../testing/seeded-rng.js';
import { sampleBernoulli, sampleBernoulliExp } from './bernoulli.js';
import { createDiscreteGaussianSampler, sampleDiscreteGaussian } from './discrete-gaussian.js';
import { createDiscreteLaplaceSampler, sampleDiscreteLaplace } from './discrete-laplace.js';

const N = 40_000;
/** 5 binomial standard errors. */
const tol = (p: number): number => 5 * Math.sqrt((p * (1 - p)) / N);

describe('exact Bernoulli samplers', () => {
  it('Bernoulli(p) hits p within 5 SE, for small and BigInt-sized denominators', () => {
    const rng = createSeededRng('bern');
    for (const [p, v] of [
      [{ num: 1n, den: 3n }, 1 / 3],
      [0.1, 0.1],
      [{ num: (1n << 70n) / 7n, den: 1n << 70n }, 1 / 7],
    ] as const) {
      let hits = 0;
      for (let i = 0; i < N; i++) if (sampleBernoulli(rng, p)) hits++;
      expect(Math.abs(hits / N - v)).toBeLessThan(tol(v));
    }
  });
  it('Bernoulli(exp(-gamma)) hits exp(-gamma) for gamma below and above 1', () => {
    const rng = createSeededRng('bexp');
    for (const g of [0, 0.3, 1, 2.75, { num: 5n * (1n << 80n) + 1n, den: 1n << 80n }]) {
      const gv = typeof g === 'number' ? g : 5;
      let hits = 0;
      for (let i = 0; i < N; i++) if (sampleBernoulliExp(rng, g)) hits++;
      expect(Math.abs(hits / N - Math.exp(-gv))).toBeLessThan(tol(Math.exp(-gv)) + 1 / N);
    }
  });
  it('negative control: the same check rejects a wrong probability', () => {
    const rng = createSeededRng('bexp-neg');
    let hits = 0;
    for (let i = 0; i < N; i++) if (sampleBernoulliExp(rng, 0.33)) hits++;
    expect(Math.abs(hits / N - Math.exp(-0.3))).toBeGreaterThan(tol(Math.exp(-0.3)));
  });
  it('rejects invalid parameters naming them', () => {
    const rng = createSeededRng(1);
    expect(() => sampleBernoulli(rng, 1.5)).toThrow(/p must be in \[0, 1\]/);
    expect(() => sampleBernoulliExp(rng, -1)).toThrow(/gamma/);
    expect(() => sampleDiscreteLaplace(rng, 0)).toThrow(/scale/);
    expect(() => sampleDiscreteGaussian(rng, -2)).toThrow(/sigma2/);
    expect(() => createDiscreteGaussianSampler(Infinity)).toThrow(/sigma2/);
    expect(() => createDiscreteLaplaceSampler({ num: 1n, den: 0n })).toThrow(RangeError);
  });
});

describe('discrete samplers (quick sanity; full tests in samplers.stat.test.ts)', () => {
  it('are deterministic for a seeded Rng and return bigints', () => {
    const a = Array.from({ length: 5 }, ((r) => () => sampleDiscreteGaussian(r, 10))(createSeededRng(7)));
    const b = Array.from({ length: 5 }, ((r) => () => sampleDiscreteGaussian(r, 10))(createSeededRng(7)));
    expect(a).toEqual(b);
    expect(typeof a[0]).toBe('bigint');
  });
  it('discrete Gaussian variance is near sigma^2 on fast and BigInt paths', () => {
    for (const s2 of [4, 2.7, { num: 1n << 108n, den: 1n }]) {
      const g = createDiscreteGaussianSampler(s2);
      const rng = createSeededRng(`var-${String(s2)}`);
      const v = typeof s2 === 'number' ? s2 : 2 ** 108;
      let ss = 0;
      for (let i = 0; i < 20_000; i++) {
        const x = Number(g.sample(rng));
        ss += x * x;
      }
      // SE of the second moment ≈ √(2/N)·σ² = 1% ; 5 SE
      expect(Math.abs(ss / 20_000 / v - 1)).toBeLessThan(0.05);
    }
  });
  it('discrete Laplace with scale 1/ln 3 has P(0) = (1 - 1/3)/(1 + 1/3) = 1/2', () => {
    const l = createDiscreteLaplaceSampler(1 / Math.log(3));
    const rng = createSeededRng('p0');
    let z = 0;
    for (let i = 0; i < N; i++) if (l.sample(rng) === 0n) z++;
    expect(Math.abs(z / N - 0.5)).toBeLessThan(tol(0.5));
  });
});
