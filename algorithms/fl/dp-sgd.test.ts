/**
 * Local DP-SGD (dp-sgd.ts): Poisson batches have the Binomial(n, q) size distribution, each step's noise has the
 * standard deviation the accountant assumes, and the step is the clipped-gradient step (every example clipped).
 * Statistical checks use a seeded Rng (reproducible; production passes the CSPRNG), state their tolerance and
 * come with a control that must fail them.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../testing/seeded-rng.js';
import { poissonThreshold32 } from '../dp/index.js';
import { clippedGradientSum, denseParameterCount, type DenseNet } from './dp-grad.js';
import { ADAM, localDpSgd, poissonSample } from './dp-sgd.js';
import { denseShapes, glorotInit } from './init.js';

describe('Poisson batches', () => {
  const n = 1000;
  const q = 0.05;
  const M = 4000;
  const sizes = (draw: () => number) => Array.from({ length: M }, draw);
  const moments = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return { mean, variance: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) };
  };
  // Binomial(1000, 0.05): mean 50, variance 47.5. Over 4000 batches the sample mean has SD √(47.5/4000) = 0.109
  // and the sample variance SD ≈ √(2·47.5²/3999) = 1.06 (normal approximation; the binomial's excess kurtosis
  // adds < 1 %). Tolerance 4 SD each.
  const meanTol = 4 * Math.sqrt((n * q * (1 - q)) / M);
  const varTol = 4 * Math.sqrt((2 * (n * q * (1 - q)) ** 2) / (M - 1));
  const binomialOk = (xs: number[]) => {
    const m = moments(xs);
    return Math.abs(m.mean - n * q) < meanTol && Math.abs(m.variance - n * q * (1 - q)) < varTol;
  };

  it('batch sizes match Binomial(n, q) in mean and variance within 4 SD', () => {
    const rng = createSeededRng('poisson');
    const out = new Uint32Array(n);
    const { threshold } = poissonThreshold32(q);
    const xs = sizes(() => poissonSample(n, threshold, rng, out));
    expect(binomialOk(xs)).toBe(true);
    // The indices are a subset of 0 … n − 1 in increasing order (each row at most once).
    const m = poissonSample(n, threshold, rng, out);
    for (let i = 1; i < m; i++) expect(out[i]!).toBeGreaterThan(out[i - 1]!);
  });

  it('negative controls: fixed-size batches (variance 0) and a rate 20 % too high fail the same check', () => {
    expect(binomialOk(sizes(() => n * q))).toBe(false);
    const rng = createSeededRng('poisson-wrong');
    const out = new Uint32Array(n);
    expect(binomialOk(sizes(() => poissonSample(n, poissonThreshold32(q * 1.2).threshold, rng, out)))).toBe(false);
  });

  it('q = 1 takes every row', () => {
    const out = new Uint32Array(10);
    expect(poissonSample(10, 2 ** 32, createSeededRng(1), out)).toBe(10);
  });
});

const net: DenseNet = { inputs: 40, layers: [{ units: 20, activation: 'tanh' }, { units: 1, activation: 'linear' }], loss: 'binary-crossentropy' };
const shapes = denseShapes(40, [20, 1]);
const P = denseParameterCount(net);
const w0 = Array.from(glorotInit(shapes, 3));

function rows(n: number, seed: number): { x: Float64Array; y: Float64Array } {
  const r = createSeededRng(seed);
  const u = () => r.nextUint32() / 2 ** 32;
  return { x: Float64Array.from({ length: n * 40 }, () => 4 * u() - 2), y: Float64Array.from({ length: n }, () => (u() < 0.5 ? 1 : 0)) };
}

describe('local DP-SGD steps', () => {
  const base = { net, shapes, clip: 0.5, steps: 1, sampleThreshold32: 2 ** 32, noiseMultiplier: 1.3, learningRate: 0.1, expectedBatch: 8 };

  it("each step's noise has σ = z·(C + √P·g) in the sum (within 4 SD of the sample SD), control: 10 % more fails", () => {
    // No rows: the step is pure noise, w1 − w0 = −η·noise/B.
    const noise: number[] = [];
    let stated = 0;
    for (let t = 0; t < 10; t++) {
      const r = localDpSgd(base, w0, new Float64Array(0), new Float64Array(0), 0, createSeededRng(`noise-${t}`));
      stated = r.sumNoiseStd;
      r.weights.forEach((w, i) => noise.push(((w0[i]! - w) * base.expectedBatch) / base.learningRate));
    }
    expect(stated).toBeGreaterThan(base.noiseMultiplier * base.clip);
    expect(stated).toBeLessThan(base.noiseMultiplier * base.clip * 1.001);
    const sd = Math.sqrt(noise.reduce((a, v) => a + v * v, 0) / noise.length);
    // The sample SD of N = 10 · P normal draws has relative SD 1/√(2N) (0.69 % here); 4 SD.
    const tol = 4 / Math.sqrt(2 * noise.length);
    expect(Math.abs(sd / stated - 1)).toBeLessThan(tol);
    expect(Math.abs(sd / (stated * 1.1) - 1)).toBeGreaterThan(tol);
    expect(Math.abs(noise.reduce((a, b) => a + b, 0) / noise.length)).toBeLessThan((4 * stated) / Math.sqrt(noise.length));
  });

  it('with q = 1 and negligible noise a step is w − η·Σ clip(∇ℓ_i, C)/B (every example clipped); control: C = 10^6 differs', () => {
    const { x, y } = rows(64, 7);
    const quiet = { ...base, noiseMultiplier: 1e-9 };
    const r = localDpSgd(quiet, w0, x, y, 64, createSeededRng('q1'));
    const ref = clippedGradientSum(net, w0, x, y, 64, base.clip);
    expect(ref.clipped).toBeGreaterThan(0); // some examples exceed C, so clipping matters here
    const expected = w0.map((w, i) => w - (base.learningRate * ref.sum[i]!) / base.expectedBatch);
    let maxErr = 0;
    r.weights.forEach((w, i) => (maxErr = Math.max(maxErr, Math.abs(w - expected[i]!))));
    expect(maxErr).toBeLessThan(1e-9);
    const unclipped = clippedGradientSum(net, w0, x, y, 64, 1e6);
    const other = w0.map((w, i) => w - (base.learningRate * unclipped.sum[i]!) / base.expectedBatch);
    let diff = 0;
    r.weights.forEach((w, i) => (diff = Math.max(diff, Math.abs(w - other[i]!))));
    expect(diff).toBeGreaterThan(1e-4);
  });

  it('reproduces with the same Rng and differs with another; refuses bad options', () => {
    const { x, y } = rows(50, 9);
    const o = { ...base, steps: 3, sampleThreshold32: poissonThreshold32(0.2).threshold };
    const a = localDpSgd(o, w0, x, y, 50, createSeededRng('a'));
    expect(Array.from(localDpSgd(o, w0, x, y, 50, createSeededRng('a')).weights)).toEqual(Array.from(a.weights));
    expect(Array.from(localDpSgd(o, w0, x, y, 50, createSeededRng('b')).weights)).not.toEqual(Array.from(a.weights));
    expect(a.batchSizes).toHaveLength(3);
    expect(() => localDpSgd({ ...o, clip: 0 }, w0, x, y, 50, createSeededRng(1))).toThrow(/clip/);
    expect(() => localDpSgd({ ...o, steps: 0 }, w0, x, y, 50, createSeededRng(1))).toThrow(/steps/);
    expect(() => localDpSgd(o, w0.slice(1), x, y, 50, createSeededRng(1))).toThrow(/weights/);
    expect(P).toBe(w0.length);
  });
});

describe('momentum and Adam on the noisy gradients (post-processing)', () => {
  const base = { net, shapes, clip: 0.5, steps: 4, sampleThreshold32: 2 ** 32, noiseMultiplier: 1e-9, learningRate: 0.05, expectedBatch: 8 };
  const { x, y } = rows(64, 11);
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
  /** The update rules written out from the papers (Kingma & Ba 2015, Alg. 1; heavy-ball momentum as TF.js), on the full-batch clipped gradient. */
  function reference(rule: 'adam' | 'momentum' | 'sgd', mu = 0.9): Float64Array {
    const w = Float64Array.from(w0);
    const m = new Float64Array(P);
    const v = new Float64Array(P);
    for (let t = 1; t <= base.steps; t++) {
      const g = clippedGradientSum(net, w, x, y, 64, base.clip).sum.map((s) => s / base.expectedBatch);
      for (let i = 0; i < P; i++) {
        if (rule === 'adam') {
          m[i] = ADAM.beta1 * m[i]! + (1 - ADAM.beta1) * g[i]!;
          v[i] = ADAM.beta2 * v[i]! + (1 - ADAM.beta2) * g[i]! ** 2;
          w[i]! -= (base.learningRate * m[i]!) / (1 - ADAM.beta1 ** t) / (Math.sqrt(v[i]! / (1 - ADAM.beta2 ** t)) + ADAM.epsilon);
        } else {
          m[i] = (rule === 'momentum' ? mu : 0) * m[i]! + g[i]!;
          w[i]! -= base.learningRate * m[i]!;
        }
      }
    }
    return w;
  }

  it('with negligible noise, Adam and SGD with momentum follow their published rules (within 1e-6); controls: each differs from plain SGD', () => {
    const adam = localDpSgd({ ...base, optimizer: 'adam' }, w0, x, y, 64, createSeededRng('o'));
    const mom = localDpSgd({ ...base, momentum: 0.9 }, w0, x, y, 64, createSeededRng('o'));
    const sgd = localDpSgd(base, w0, x, y, 64, createSeededRng('o'));
    expect(maxDiff(adam.weights, reference('adam'))).toBeLessThan(1e-6);
    expect(maxDiff(mom.weights, reference('momentum'))).toBeLessThan(1e-6);
    expect(maxDiff(sgd.weights, reference('sgd'))).toBeLessThan(1e-6);
    expect(maxDiff(adam.weights, reference('sgd'))).toBeGreaterThan(1e-3);
    expect(maxDiff(mom.weights, reference('sgd'))).toBeGreaterThan(1e-4);
  });

  it('the privacy-relevant draws do not depend on the optimiser: the same Rng gives the same batches and the same noise σ', () => {
    const o = { ...base, noiseMultiplier: 1.1, sampleThreshold32: poissonThreshold32(0.2).threshold };
    const runs = [{}, { optimizer: 'adam' as const }, { momentum: 0.5 }].map((extra) => localDpSgd({ ...o, ...extra }, w0, x, y, 64, createSeededRng('same')));
    for (const r of runs.slice(1)) {
      expect(r.batchSizes).toEqual(runs[0]!.batchSizes);
      expect(r.sumNoiseStd).toBe(runs[0]!.sumNoiseStd);
      expect(r.gridExponent).toBe(runs[0]!.gridExponent);
    }
    expect(() => localDpSgd({ ...o, momentum: 1 }, w0, x, y, 64, createSeededRng(1))).toThrow(/momentum/);
    expect(() => localDpSgd({ ...o, optimizer: 'adam', momentum: 0.5 }, w0, x, y, 64, createSeededRng(1))).toThrow(/momentum/);
  });
});

