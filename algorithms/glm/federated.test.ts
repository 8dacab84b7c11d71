/**
 * Federated = pooled: the statistics of any split of the rows, summed each round, give the fit of all rows (to
 * 1e-10), for every family, with and without weights and offset; gaussian equals least squares solved another way
 * (Householder QR of √W·X). Negative controls: a dropped part or the wrong family must break the equality.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { GlmSingularDesignError, fitPooled, glmFamily, sliceDesign, type GlmDesign, type GlmFamilyName, type PooledFit } from './index.js';

function uniform(rng: ReturnType<typeof createSeededRng>): number {
  return rng.nextUint32() / 2 ** 32;
}

/** A random design with a known model behind it (public synthetic data; no privacy relevance). */
function synthetic(seed: number, n: number, p: number, family: GlmFamilyName, opts: { weights?: boolean; offset?: boolean } = {}): GlmDesign {
  const rng = createSeededRng(seed);
  const x = new Float64Array(n * p);
  const y = new Float64Array(n);
  const weights = opts.weights ? new Float64Array(n) : undefined;
  const offset = opts.offset ? new Float64Array(n) : undefined;
  const beta = Array.from({ length: p }, (_, j) => (j === 0 ? 0.2 : 0.6 * (uniform(rng) - 0.5)));
  for (let i = 0; i < n; i++) {
    let eta = 0;
    for (let j = 0; j < p; j++) {
      const v = j === 0 ? 1 : j % 3 === 0 ? (uniform(rng) < 0.4 ? 1 : 0) : 4 * uniform(rng) - 2;
      x[i * p + j] = v;
      eta += v * beta[j]!;
    }
    if (offset) {
      offset[i] = 0.5 * uniform(rng);
      eta += offset[i]!;
    }
    if (weights) weights[i] = family === 'binomial' ? 1 + Math.floor(3 * uniform(rng)) : 0.5 + uniform(rng);
    const u = uniform(rng);
    if (family === 'gaussian') y[i] = eta + (u - 0.5) * 2;
    else if (family === 'binomial') y[i] = u < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
    else y[i] = Math.floor(-Math.log(1 - u) * Math.exp(eta) * 1.3);
  }
  const d: { -readonly [K in keyof GlmDesign]: GlmDesign[K] } = { n, p, x, y };
  if (weights) d.weights = weights;
  if (offset) d.offset = offset;
  return d;
}

const terms = (p: number): string[] => Array.from({ length: p }, (_, j) => (j === 0 ? '(Intercept)' : `x${j}`));

function split(d: GlmDesign, cuts: number[]): GlmDesign[] {
  const edges = [0, ...[...new Set(cuts.map((c) => Math.min(d.n, Math.max(0, c))))].sort((a, b) => a - b), d.n];
  const parts: GlmDesign[] = [];
  for (let i = 0; i + 1 < edges.length; i++) parts.push(sliceDesign(d, edges[i]!, edges[i + 1]!));
  return parts;
}

function rel(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(1, Math.abs(b));
}

/** Largest relative difference between two fits over coefficients, SEs, deviances and AIC. */
function fitDistance(a: PooledFit, b: PooledFit): number {
  let m = 0;
  a.summary.coefficients.forEach((c, j) => {
    const o = b.summary.coefficients[j]!;
    m = Math.max(m, rel(c.estimate, o.estimate), rel(c.stdError, o.stdError));
  });
  m = Math.max(m, rel(a.summary.residualDeviance, b.summary.residualDeviance), rel(a.summary.nullDeviance, b.summary.nullDeviance), rel(a.summary.aic, b.summary.aic));
  return m;
}

/** Weighted least squares by Householder QR of √W·X (never forms XᵀX): a different route to the gaussian fit. */
function qrLeastSquares(d: GlmDesign): { beta: number[]; rss: number; covUnscaled: number[][] } {
  const { n, p } = d;
  const a = Array.from({ length: n }, (_, i) => Array.from({ length: p }, (_, j) => Math.sqrt(d.weights?.[i] ?? 1) * d.x[i * p + j]!));
  const b = Array.from({ length: n }, (_, i) => Math.sqrt(d.weights?.[i] ?? 1) * (d.y[i]! - (d.offset?.[i] ?? 0)));
  for (let k = 0; k < p; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += a[i]![k]! ** 2;
    norm = Math.sqrt(norm);
    const alpha = a[k]![k]! > 0 ? -norm : norm;
    const v = new Array<number>(n).fill(0);
    for (let i = k; i < n; i++) v[i] = a[i]![k]!;
    v[k] = v[k]! - alpha;
    let vv = 0;
    for (let i = k; i < n; i++) vv += v[i]! ** 2;
    for (let j = k; j < p; j++) {
      let s = 0;
      for (let i = k; i < n; i++) s += v[i]! * a[i]![j]!;
      for (let i = k; i < n; i++) a[i]![j] = a[i]![j]! - (2 * s * v[i]!) / vv;
    }
    let s = 0;
    for (let i = k; i < n; i++) s += v[i]! * b[i]!;
    for (let i = k; i < n; i++) b[i] = b[i]! - (2 * s * v[i]!) / vv;
  }
  const beta = new Array<number>(p).fill(0);
  for (let i = p - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let j = i + 1; j < p; j++) s -= a[i]![j]! * beta[j]!;
    beta[i] = s / a[i]![i]!;
  }
  let rss = 0;
  for (let i = p; i < n; i++) rss += b[i]! ** 2;
  // (RᵀR)⁻¹ = R⁻¹R⁻ᵀ.
  const rinv = Array.from({ length: p }, () => new Array<number>(p).fill(0));
  for (let c = 0; c < p; c++) {
    for (let i = p - 1; i >= 0; i--) {
      let s = i === c ? 1 : 0;
      for (let j = i + 1; j < p; j++) s -= a[i]![j]! * rinv[j]![c]!;
      rinv[i]![c] = s / a[i]![i]!;
    }
  }
  const covUnscaled = Array.from({ length: p }, (_, i) => Array.from({ length: p }, (_, j) => rinv[i]!.reduce((s, v, k) => s + v * rinv[j]![k]!, 0)));
  return { beta, rss, covUnscaled };
}

describe('GLM: federated equals pooled', () => {
  it('gaussian equals weighted least squares by Householder QR (coefficients, RSS, SEs to 1e-10)', () => {
    for (const [seed, opts] of [[1, {}], [2, { weights: true }], [3, { weights: true, offset: true }]] as const) {
      const d = synthetic(seed, 120, 5, 'gaussian', opts);
      const fit = fitPooled(d, glmFamily('gaussian'), terms(5)).summary;
      const qr = qrLeastSquares(d);
      const disp = qr.rss / (d.n - d.p);
      fit.coefficients.forEach((c, j) => {
        expect(rel(c.estimate, qr.beta[j]!)).toBeLessThan(1e-10);
        expect(rel(c.stdError, Math.sqrt(disp * qr.covUnscaled[j]![j]!))).toBeLessThan(1e-10);
      });
      expect(rel(fit.residualDeviance, qr.rss)).toBeLessThan(1e-10);
    }
  });

  it('property: any split into 1–6 parts (empty parts included) gives the pooled fit to 1e-10', () => {
    const families: GlmFamilyName[] = ['gaussian', 'binomial', 'poisson'];
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.constantFrom(...families),
        fc.integer({ min: 2, max: 5 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.integer({ min: 0, max: 150 }), { maxLength: 5 }),
        (seed, family, p, weights, offset, cuts) => {
          const d = synthetic(seed, 150, p, family, { weights, offset });
          const fam = glmFamily(family);
          const pooled = fitPooled(d, fam, terms(p));
          const fed = fitPooled(split(d, cuts), fam, terms(p));
          expect(fitDistance(fed, pooled)).toBeLessThan(1e-10);
          expect(fed.summary.iterations).toBe(pooled.summary.iterations);
          expect(fed.rounds).toBe(pooled.rounds);
        },
      ),
      { numRuns: 60, seed: 20261204 },
    );
  });

  it('negative control: dropping one non-empty part changes the fit by far more than the tolerance', () => {
    for (const family of ['gaussian', 'binomial', 'poisson'] as const) {
      const d = synthetic(7, 150, 4, family);
      const parts = split(d, [40, 90]);
      const pooled = fitPooled(d, glmFamily(family), terms(4));
      const dropped = fitPooled(parts.slice(1), glmFamily(family), terms(4));
      expect(fitDistance(dropped, pooled)).toBeGreaterThan(1e-4);
    }
  });

  it('negative control: the wrong family on the same split does not match the pooled fit', () => {
    const d = synthetic(8, 150, 3, 'poisson');
    const pooled = fitPooled(d, glmFamily('poisson'), terms(3));
    const wrong = fitPooled(split(d, [50]), glmFamily('gaussian'), terms(3));
    expect(fitDistance(wrong, pooled)).toBeGreaterThan(1e-2);
  });

  it('with an offset, the null deviance is that of the intercept-only model with the offset (as R refits it)', () => {
    for (const family of ['poisson', 'binomial', 'gaussian'] as const) {
      const d = synthetic(11, 200, 4, family, { offset: true });
      const full = fitPooled(d, glmFamily(family), terms(4)).summary;
      const x0 = new Float64Array(d.n).fill(1);
      const nullOnly = fitPooled({ ...d, p: 1, x: x0 }, glmFamily(family), ['(Intercept)']).summary;
      expect(rel(full.nullDeviance, nullOnly.residualDeviance)).toBeLessThan(1e-7);
      // Negative control: the deviance at the weighted mean (what R uses without an offset) is a different number.
      const noOff = fitPooled({ ...d, p: 1, x: x0, offset: undefined }, glmFamily(family), ['(Intercept)']).summary;
      expect(rel(full.nullDeviance, noOff.nullDeviance)).toBeGreaterThan(1e-4);
    }
  });

  it('stops at maxIterations and says it did not converge (R: "algorithm did not converge")', () => {
    const d = synthetic(5, 100, 3, 'poisson');
    const fit = fitPooled(d, glmFamily('poisson'), terms(3), { maxIterations: 2 });
    expect(fit.summary.iterations).toBe(2);
    expect(fit.summary.converged).toBe(false);
  });

  it('refuses an aliased design naming the column, and an all-zero column', () => {
    const d = synthetic(9, 60, 3, 'binomial');
    const x = d.x.slice();
    for (let i = 0; i < d.n; i++) x[i * 3 + 2] = 2 * x[i * 3 + 1]! - 1; // column 2 = 2·column 1 − intercept
    expect(() => fitPooled({ ...d, x }, glmFamily('binomial'), terms(3))).toThrow(GlmSingularDesignError);
    try {
      fitPooled({ ...d, x }, glmFamily('binomial'), terms(3));
    } catch (e) {
      expect((e as GlmSingularDesignError).column).toBe(2);
    }
    const z = d.x.slice();
    for (let i = 0; i < d.n; i++) z[i * 3 + 1] = 0;
    expect(() => fitPooled({ ...d, x: z }, glmFamily('binomial'), terms(3))).toThrow(/column 1 has no weight/);
  });

  it('refuses malformed designs without echoing values', () => {
    const d = synthetic(10, 20, 2, 'binomial');
    const y = d.y.slice();
    y[3] = 7;
    expect(() => fitPooled({ ...d, y }, glmFamily('binomial'), terms(2))).toThrow(/row 3 is not a valid outcome/);
    expect(() => fitPooled({ ...d, weights: new Float64Array(20).fill(-1) }, glmFamily('binomial'), terms(2))).toThrow(/weights: row 0/);
    expect(() => fitPooled({ ...d, x: d.x.slice(1) }, glmFamily('binomial'), terms(2))).toThrow(/design.x has length/);
  });
});
