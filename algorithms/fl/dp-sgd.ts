/**
 * Local DP-SGD at one site (pure, float64, randomness from the Rng passed in — the CSPRNG in production): `steps`
 * steps, each on a Poisson-sampled batch (every row independently with the exact rate T/2^32), every example's
 * gradient clipped to L2 ≤ C, the clipped sum snapped to a power-of-two grid and given discrete Gaussian noise
 * (Canonne–Kamath–Steinke 2020 exact sampler; never Math.random or TF.js random ops), then one SGD step
 * w ← w − η·((Σ clip(∇ℓ_i) + noise)/B + 2λ·W_kernels), with B the public expected batch size (Abadi et al. 2016,
 * Alg. 1, with Poisson lots as in Mironov et al. 2019). Dividing by a public B rather than this site's batch or row
 * count keeps every step a post-processing of the noisy sum.
 *
 * Each step is the sampled Gaussian mechanism with noise multiplier z: in grid units the sum moves by at most
 * C/g + √P when one row comes or goes (its clipped gradient, plus half a grid step of rounding per coordinate on
 * each side), and the noise's σ is z times that. algorithms/dp/accounting/sgm-calibration.ts accounts it.
 *
 * **Optimiser**: the step may instead be SGD with momentum μ (v ← μ·v + ĝ; w ← w − η·v, TF.js's momentum rule) or
 * Adam (Kingma & Ba 2015, Alg. 1: β1 0.9, β2 0.999, ε 1e-7 as TF.js's defaults; bias-corrected) on the noisy
 * gradient ĝ. The noise is added to the clipped sum before any of it, so the optimiser is post-processing of the
 * noisy gradients (and of public data): the account is the same whatever the optimiser. Its state starts at 0 in
 * every round (the round's local run), and stays at the agent.
 */
import { asBufferedRng, createDiscreteGaussianSampler, fromGrid, gridForNoiseStd, rationalFromNumber, snapToGrid } from '../dp/index.js';
import type { Rng } from '../rng.js';
import { checkOutputLayer, clippedExampleGradient, denseParameterCount, type DenseNet } from './dp-grad.js';

export interface LocalDpSgdOptions {
  readonly net: DenseNet;
  /** Weight shapes (getWeights() order): the L2 penalty applies to the 2-D ones (kernels). */
  readonly shapes: readonly (readonly number[])[];
  readonly clip: number;
  readonly steps: number;
  /** A row is in a step's batch when a uniform 32-bit word is below this (rate threshold/2^32). */
  readonly sampleThreshold32: number;
  readonly noiseMultiplier: number;
  readonly learningRate: number;
  /** The public expected batch size B the noisy sum is divided by. */
  readonly expectedBatch: number;
  /** L2 penalty λ on the kernels (public; its gradient 2λW needs no data). @default 0 */
  readonly l2?: number;
  /** The update rule applied to each noisy gradient (post-processing). @default sgd without momentum */
  readonly optimizer?: 'sgd' | 'adam';
  /** SGD's momentum μ in [0, 1). @default 0 */
  readonly momentum?: number;
}

/** Adam's constants (TF.js's defaults for tf.train.adam). */
export const ADAM = Object.freeze({ beta1: 0.9, beta2: 0.999, epsilon: 1e-7 });

export interface LocalDpSgdResult {
  readonly weights: Float64Array;
  /** Batch size of each step. Stays at the agent (tests check the sampling with it). */
  readonly batchSizes: readonly number[];
  /** σ of the noise in each step's sum, value units (z·(C + √P·g)). */
  readonly sumNoiseStd: number;
  readonly gridExponent: number;
}

/**
 * Indices of a Poisson sample of rows 0 … n − 1 into `out` (each row with probability threshold/2^32).
 * @returns the sample's size
 */
export function poissonSample(n: number, threshold32: number, rng: Rng, out: Uint32Array): number {
  const src = asBufferedRng(rng);
  let m = 0;
  if (threshold32 >= 2 ** 32) {
    for (let i = 0; i < n; i++) out[m++] = i;
    return m;
  }
  for (let i = 0; i < n; i++) if (src.nextUint32() < threshold32) out[m++] = i;
  return m;
}

function check(o: LocalDpSgdOptions, n: number): void {
  const pos = (v: number) => Number.isFinite(v) && v > 0;
  if (!pos(o.clip)) throw new RangeError(`clip must be a finite number > 0, got ${o.clip}`);
  if (!Number.isSafeInteger(o.steps) || o.steps < 1) throw new RangeError(`steps must be an integer >= 1, got ${o.steps}`);
  if (!Number.isInteger(o.sampleThreshold32) || o.sampleThreshold32 < 1 || o.sampleThreshold32 > 2 ** 32) throw new RangeError('sampleThreshold32 must be an integer in [1, 2^32]');
  if (!pos(o.noiseMultiplier)) throw new RangeError(`noiseMultiplier must be a finite number > 0, got ${o.noiseMultiplier}`);
  if (!pos(o.learningRate)) throw new RangeError(`learningRate must be a finite number > 0, got ${o.learningRate}`);
  if (!pos(o.expectedBatch)) throw new RangeError(`expectedBatch must be a finite number > 0, got ${o.expectedBatch}`);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${n}`);
  const mu = o.momentum ?? 0;
  if (!(Number.isFinite(mu) && mu >= 0 && mu < 1)) throw new RangeError(`momentum must be in [0, 1), got ${mu}`);
  if (mu > 0 && o.optimizer === 'adam') throw new RangeError('momentum applies to sgd only');
}

/** The optimiser's step from a noisy gradient (post-processing): SGD, SGD with momentum or Adam (see the file comment). */
function makeStep(o: LocalDpSgdOptions, p: number): (w: Float64Array, g: Float64Array) => void {
  const lr = o.learningRate;
  if (o.optimizer === 'adam') {
    const m = new Float64Array(p);
    const v = new Float64Array(p);
    let t = 0;
    return (w, g) => {
      t++;
      const c1 = 1 - ADAM.beta1 ** t;
      const c2 = 1 - ADAM.beta2 ** t;
      for (let i = 0; i < p; i++) {
        m[i] = ADAM.beta1 * m[i]! + (1 - ADAM.beta1) * g[i]!;
        v[i] = ADAM.beta2 * v[i]! + (1 - ADAM.beta2) * g[i]! * g[i]!;
        w[i] = w[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + ADAM.epsilon);
      }
    };
  }
  const mu = o.momentum ?? 0;
  if (mu > 0) {
    const acc = new Float64Array(p);
    return (w, g) => {
      for (let i = 0; i < p; i++) {
        acc[i] = mu * acc[i]! + g[i]!;
        w[i] = w[i]! - lr * acc[i]!;
      }
    };
  }
  return (w, g) => {
    for (let i = 0; i < p; i++) w[i] = w[i]! - lr * g[i]!;
  };
}

/**
 * The local steps one at a time, for rows that are not all in memory (a site's server streams them): each step
 * `begin`s, `add`s the clipped gradients of its Poisson batch's rows (in one or several pieces), and `finish`es with
 * the noise and the optimiser's update. `sample` draws a step's batch as localDpSgd does (from the same source, in the
 * same order: the n sampling words, then the noise), so a step run here and one run by localDpSgd on the same rows and
 * the same random words give the same weights.
 */
export interface DpSgdStepper {
  /** Poisson-samples rows 0 … n − 1 into `out` (every row with the exact rate); returns the batch size. */
  sample(n: number, out: Uint32Array): number;
  begin(): void;
  /** Adds the clipped gradients at the current weights of rows `rows[0 … m − 1]` of x/y (all of the first m rows without `rows`). */
  add(x: ArrayLike<number>, y: ArrayLike<number>, m: number, rows?: Uint32Array): void;
  /** Noise on the clipped sum, then the optimiser's step; `batch` is the step's batch size (kept at the agent). */
  finish(batch: number): void;
  readonly weights: Float64Array;
  readonly batchSizes: readonly number[];
  readonly sumNoiseStd: number;
  readonly gridExponent: number;
}

/** @throws RangeError for bad options or weights of the wrong length */
export function createDpSgdStepper(o: LocalDpSgdOptions, weights: ArrayLike<number>, rng: Rng): DpSgdStepper {
  check(o, 0);
  const p = denseParameterCount(o.net);
  if (weights.length !== p) throw new RangeError(`weights has ${weights.length} entries, the net ${p}`);
  checkOutputLayer(o.net);
  const src = asBufferedRng(rng);
  const std = o.noiseMultiplier * o.clip;
  const grid = gridForNoiseStd(std);
  const l2Grid = o.clip / grid.size + Math.sqrt(p);
  const sampler = createDiscreteGaussianSampler(rationalFromNumber((o.noiseMultiplier * l2Grid) ** 2));
  const kernel = new Uint8Array(p);
  let at = 0;
  for (const s of o.shapes) {
    const size = s.reduce((a, b) => a * b, 1);
    if (s.length === 2) kernel.fill(1, at, at + size);
    at += size;
  }
  const lambda = o.l2 ?? 0;
  const w = Float64Array.from(weights);
  const g = new Float64Array(p);
  const sum = new Float64Array(p);
  const grad = new Float64Array(p);
  const batchSizes: number[] = [];
  const update = makeStep(o, p);
  return {
    weights: w,
    batchSizes,
    sumNoiseStd: o.noiseMultiplier * l2Grid * grid.size,
    gridExponent: grid.exponent,
    sample: (n, out) => poissonSample(n, o.sampleThreshold32, src, out),
    begin: () => sum.fill(0),
    add(x, y, m, rows) {
      if (x.length < m * o.net.inputs || y.length < m) throw new RangeError(`x and y must hold ${m} rows of ${o.net.inputs} inputs`);
      for (let b = 0; b < m; b++) {
        const r = rows ? rows[b]! : b;
        clippedExampleGradient(o.net, w, x, r * o.net.inputs, y[r]!, o.clip, g);
        for (let i = 0; i < p; i++) sum[i]! += g[i]!;
      }
    },
    finish(batch) {
      batchSizes.push(batch);
      // The noise goes on the clipped sum; everything after it is post-processing.
      for (let i = 0; i < p; i++) {
        const noisy = fromGrid(snapToGrid(sum[i]!, grid) + sampler.sample(src), grid);
        grad[i] = noisy / o.expectedBatch + (kernel[i] ? 2 * lambda * w[i]! : 0);
      }
      update(w, grad);
    },
  };
}

/**
 * Runs the local steps from `weights` on rows (x row-major, net.inputs per row; y labels).
 * @throws RangeError for bad options or inputs of the wrong length
 */
export function localDpSgd(o: LocalDpSgdOptions, weights: ArrayLike<number>, x: ArrayLike<number>, y: ArrayLike<number>, n: number, rng: Rng): LocalDpSgdResult {
  check(o, n);
  if (x.length < n * o.net.inputs || y.length < n) throw new RangeError(`x and y must hold ${n} rows of ${o.net.inputs} inputs`);
  const stepper = createDpSgdStepper(o, weights, rng);
  const batch = new Uint32Array(n);
  for (let step = 0; step < o.steps; step++) {
    const m = stepper.sample(n, batch);
    stepper.begin();
    stepper.add(x, y, m, batch);
    stepper.finish(m);
  }
  return { weights: stepper.weights, batchSizes: stepper.batchSizes, sumNoiseStd: stepper.sumNoiseStd, gridExponent: stepper.gridExponent };
}
