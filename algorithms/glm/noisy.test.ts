/**
 * Helpers for noisy (DP) statistics. makePositiveDefinite leaves a positive definite matrix alone and repairs an
 * indefinite one with the smallest tried ridge; glmCoefficientNoiseStd matches a Monte Carlo of the Newton step
 * with noisy scores (fixed seed, 4 % tolerance; negative control: a wrong σ is outside it).
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { GlmSingularDesignError, addLocalStats, advanceGlmFit, choleskyInverse, choleskyPacked, choleskySolve, columnMoments, emptyLocalStats, glmCoefficientNoiseStd, glmFamily, glmLocalStats, glmSummary, makePositiveDefinite, standardiseColumn, startGlmFit, type GlmAdvance } from './index.js';

describe('makePositiveDefinite', () => {
  it('returns a positive definite matrix unchanged (ridge 0)', () => {
    const r = makePositiveDefinite(2, [4, 1, 3]);
    expect(r.ridge).toBe(0);
    expect(Array.from(r.packed)).toEqual([4, 1, 3]);
  });
  it('repairs an indefinite matrix with a small ridge, which Cholesky then accepts', () => {
    const indefinite = [1, 2, 1]; // eigenvalues 3 and −1
    expect(() => choleskyPacked(2, indefinite)).toThrow(GlmSingularDesignError);
    const r = makePositiveDefinite(2, indefinite);
    expect(r.ridge).toBeGreaterThan(1);
    expect(r.ridge).toBeLessThan(2.5);
    expect(() => choleskyPacked(2, r.packed)).not.toThrow();
  });
});

describe('glmCoefficientNoiseStd', () => {
  it('matches a Monte Carlo of β + H⁻¹(U + noise) (4 %), and a wrong σ does not', () => {
    const p = 3;
    const packed = [5, 1, 0.5, 4, 0.3, 2];
    const l = choleskyPacked(p, packed);
    const cov = choleskyInverse(p, l);
    const sigma = 0.7;
    const predicted = glmCoefficientNoiseStd(p, cov, sigma);
    const rng = createSeededRng('glm-noise');
    const u = (): number => (rng.nextUint32() + 0.5) / 2 ** 32;
    const gauss = (): number => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
    const draws = 20_000;
    const sumSq = new Array<number>(p).fill(0);
    for (let t = 0; t < draws; t++) {
      const step = choleskySolve(p, l, [sigma * gauss(), sigma * gauss(), sigma * gauss()]);
      for (let j = 0; j < p; j++) sumSq[j] = sumSq[j]! + step[j]! ** 2;
    }
    const observed = sumSq.map((s) => Math.sqrt(s / draws));
    observed.forEach((o, j) => expect(Math.abs(o / predicted[j]! - 1)).toBeLessThan(0.04));
    const wrong = glmCoefficientNoiseStd(p, cov, sigma * 1.1);
    expect(observed.some((o, j) => Math.abs(o / wrong[j]! - 1) >= 0.04)).toBe(true);
  });
});

describe('standardisation helpers', () => {
  it('column moments add across parties and standardising gives mean 0, SD 1', () => {
    const x = Float64Array.from([1, 2, 1, 4, 1, 6, 1, 8]);
    const d = { n: 4, p: 2, x, y: new Float64Array(4) };
    const m = columnMoments(d, 1);
    expect(m).toEqual({ n: 4, sum: 20, sumSq: 120 });
    const mean = m.sum / m.n;
    const sd = Math.sqrt((m.sumSq - m.n * mean * mean) / (m.n - 1));
    standardiseColumn(d, 1, mean, sd);
    const after = columnMoments(d, 1);
    expect(after.sum).toBeCloseTo(0, 12);
    expect(after.sumSq / (after.n - 1)).toBeCloseTo(1, 12);
    expect(() => standardiseColumn(d, 1, 0, 0)).toThrow(/sd/);
  });
});

describe('noisy fits', () => {
  /** A fit whose round-1 XᵀWX gets a large negative perturbation on one diagonal entry (as noise could). */
  function run(noisy: boolean): GlmAdvance {
    const n = 200;
    const x = new Float64Array(n * 2);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 2] = 1;
      x[i * 2 + 1] = (i % 10) / 10;
      y[i] = i % 3 === 0 ? 1 : 0;
    }
    const fam = glmFamily('binomial');
    let step = startGlmFit(fam, 2, { noisy });
    for (let r = 0; r < 30 && !step.done; r++) {
      const stats = addLocalStats(glmLocalStats({ n, p: 2, x, y }, fam, step.input), emptyLocalStats(2));
      if (r === 0) stats.info[2] = -stats.info[2]!; // indefinite
      step = advanceGlmFit(fam, step.state, stats);
    }
    return step;
  }
  it('an indefinite noisy XᵀWX is repaired with a ridge and the fit completes', () => {
    const step = run(true);
    expect(step.done).toBe(true);
    expect(step.state.ridge).toBeGreaterThan(0);
    expect(() => glmSummary(glmFamily('binomial'), step.state, ['(Intercept)', 'x'])).not.toThrow();
  });
  it('a noisy gaussian fit whose deviance came out negative is summarised with NaN standard errors, not a throw', () => {
    const fam = glmFamily('gaussian');
    const n = 50;
    const x = new Float64Array(n * 2);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      x[i * 2] = 1;
      x[i * 2 + 1] = i / n;
      y[i] = 2 + 3 * (i / n);
    }
    let step = startGlmFit(fam, 2, { noisy: true });
    for (let r = 0; r < 30 && !step.done; r++) step = advanceGlmFit(fam, step.state, addLocalStats(glmLocalStats({ n, p: 2, x, y }, fam, step.input), emptyLocalStats(2)));
    // As central noise could leave it: the exact fit's deviance is ~0, a negative draw makes the dispersion negative.
    const s = glmSummary(fam, { ...step.state, deviance: -1 }, ['(Intercept)', 'x']);
    expect(Number.isNaN(s.coefficients[1]!.stdError)).toBe(true);
    expect(Number.isNaN(s.coefficients[1]!.pValue)).toBe(true);
    // Control: the same fit with its own (non-negative) deviance gives finite p-values.
    expect(Number.isFinite(glmSummary(fam, step.state, ['(Intercept)', 'x']).coefficients[1]!.estimate)).toBe(true);
  });
  it('negative control: without noisy the same statistics are refused as singular', () => {
    expect(() => run(false)).toThrow(GlmSingularDesignError);
  });
});
