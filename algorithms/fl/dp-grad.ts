/**
 * Per-example gradients of a dense network, each clipped to a public L2 norm C and summed (pure, float64): the
 * statistic of DP-SGD (Abadi et al. 2016, Alg. 1, lines 5–7) that a site contributes to one round of
 * differentially private federated training. Clipping every example's gradient is what bounds one person's
 * influence on the sum (k rows: at most k·C by the triangle inequality), whatever the data; clipping the whole site
 * update instead would bound a *site's* influence only.
 *
 * Plain JavaScript rather than TF.js: per-example gradients need one backward pass per row, which a batched TF.js
 * graph does not give without per-row tapes, and the models of this kind are small (≤ 100 000 weights). The
 * network is the one node-agent/train builds: dense layers (kernel [in, out] row-major, then bias, in TF.js
 * `getWeights()` order) and a linear output layer: one unit whose loss is binary cross-entropy on the logit or
 * squared error, or K ≥ 2 units (logits) whose loss is categorical cross-entropy of their softmax with the label as a
 * class index 0..K−1. The clip bounds every example's gradient whatever the loss or the layers, so the sensitivity
 * (and hence the account) does not depend on the model. Dropout is not applied (DP training refuses it: its randomness would only add noise that no accountant counts).
 */
import { clipL2 } from './fixed-point.js';

export type DenseActivation = 'relu' | 'tanh' | 'sigmoid' | 'linear' | 'elu' | 'selu' | 'softplus';

export interface DenseNet {
  readonly inputs: number;
  /** Hidden layers then the output layer (linear: 1 unit, or one logit per class for categorical cross-entropy). */
  readonly layers: readonly { readonly units: number; readonly activation: DenseActivation }[];
  readonly loss: 'binary-crossentropy' | 'categorical-crossentropy' | 'mse';
}

/** SELU's constants (Klambauer et al. 2017), as TF.js uses them. */
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

function act(a: DenseActivation, z: number): number {
  switch (a) {
    case 'relu':
      return z > 0 ? z : 0;
    case 'tanh':
      return Math.tanh(z);
    case 'sigmoid':
      return sigmoid(z);
    case 'elu':
      return z > 0 ? z : Math.expm1(z);
    case 'selu':
      return SELU_SCALE * (z > 0 ? z : SELU_ALPHA * Math.expm1(z));
    case 'softplus':
      return z > 30 ? z : Math.log1p(Math.exp(z));
    default:
      return z;
  }
}

/** d act(z) / dz. */
function dAct(a: DenseActivation, z: number): number {
  switch (a) {
    case 'relu':
      return z > 0 ? 1 : 0;
    case 'tanh': {
      const t = Math.tanh(z);
      return 1 - t * t;
    }
    case 'sigmoid': {
      const s = sigmoid(z);
      return s * (1 - s);
    }
    case 'elu':
      return z > 0 ? 1 : Math.exp(z);
    case 'selu':
      return SELU_SCALE * (z > 0 ? 1 : SELU_ALPHA * Math.exp(z));
    case 'softplus':
      return sigmoid(z);
    default:
      return 1;
  }
}

/** Parameters of the net (kernels and biases). */
export function denseParameterCount(net: DenseNet): number {
  let n = 0;
  let prev = net.inputs;
  for (const l of net.layers) {
    n += prev * l.units + l.units;
    prev = l.units;
  }
  return n;
}

/**
 * The gradient of one example's loss with respect to every weight, written into `out` (flat, `getWeights()`
 * order). Loss: binary cross-entropy of sigmoid(logit) (d/dlogit = σ(logit) − y) or (logit − y)² (d = 2(logit − y)).
 * @returns the example's loss
 */
export function exampleGradient(net: DenseNet, weights: ArrayLike<number>, x: ArrayLike<number>, xAt: number, y: number, out: Float64Array): number {
  const L = net.layers.length;
  // Forward: pre-activations z_l and activations a_l (a_0 = x).
  const as: Float64Array[] = [Float64Array.from({ length: net.inputs }, (_, i) => x[xAt + i]!)];
  const zs: Float64Array[] = [];
  const offsets: number[] = [];
  let at = 0;
  for (let l = 0; l < L; l++) {
    const { units, activation } = net.layers[l]!;
    const inp = as[l]!;
    const nIn = inp.length;
    offsets.push(at);
    const z = new Float64Array(units);
    const b = at + nIn * units;
    for (let j = 0; j < units; j++) z[j] = weights[b + j]!;
    for (let i = 0; i < nIn; i++) {
      const ai = inp[i]!;
      if (ai === 0) continue;
      const row = at + i * units;
      for (let j = 0; j < units; j++) z[j]! += ai * weights[row + j]!;
    }
    at = b + units;
    zs.push(z);
    as.push(z.map((v) => act(activation, v)));
  }
  const out0 = as[L]!;
  let loss: number;
  let dz = new Float64Array(out0.length);
  if (net.loss === 'categorical-crossentropy') {
    // ℓ = logΣ_k e^{z_k} − z_y; dℓ/dz_k = softmax_k − [k = y] (stable: shift by max z).
    if (!Number.isInteger(y) || y < 0 || y >= out0.length) throw new RangeError(`a categorical label must be a class index in [0, ${out0.length}), got ${y}`);
    let m = -Infinity;
    for (const z of out0) m = Math.max(m, z);
    let s = 0;
    for (const z of out0) s += Math.exp(z - m);
    for (let k = 0; k < out0.length; k++) dz[k] = Math.exp(out0[k]! - m) / s - (k === y ? 1 : 0);
    loss = m + Math.log(s) - out0[y]!;
  } else if (net.loss === 'mse') {
    const logit = out0[0]!;
    loss = (logit - y) ** 2;
    dz[0] = 2 * (logit - y);
  } else {
    const logit = out0[0]!;
    const p = Math.min(Math.max(sigmoid(logit), 1e-7), 1 - 1e-7);
    loss = -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
    dz[0] = sigmoid(logit) - y;
  }
  // The output layer's activation is linear (checked by the caller's config), so dL/dz_L = dz as computed.
  for (let l = L - 1; l >= 0; l--) {
    const inp = as[l]!;
    const nIn = inp.length;
    const units = net.layers[l]!.units;
    const base = offsets[l]!;
    for (let i = 0; i < nIn; i++) {
      const ai = inp[i]!;
      const row = base + i * units;
      for (let j = 0; j < units; j++) out[row + j] = ai * dz[j]!;
    }
    const b = base + nIn * units;
    for (let j = 0; j < units; j++) out[b + j] = dz[j]!;
    if (l === 0) break;
    const prev = new Float64Array(nIn);
    const zPrev = zs[l - 1]!;
    const actPrev = net.layers[l - 1]!.activation;
    for (let i = 0; i < nIn; i++) {
      const row = base + i * units;
      let s = 0;
      for (let j = 0; j < units; j++) s += weights[row + j]! * dz[j]!;
      prev[i] = s * dAct(actPrev, zPrev[i]!);
    }
    dz = prev;
  }
  return loss;
}

export interface ClippedGradientSum {
  /** Σ_i clip(∇ℓ_i, C): the sum of the rows' gradients, each scaled down to L2 norm ≤ C. */
  readonly sum: Float64Array;
  /** Rows whose gradient norm exceeded C (and were scaled down). Stays at the agent. */
  readonly clipped: number;
  /** Σ ℓ_i of the rows, before the step. Stays at the agent. */
  readonly lossSum: number;
}

/**
 * Σ_i clip(∇ℓ(w; x_i, y_i), C) over the n rows of `x` (row-major, `net.inputs` per row).
 * @throws RangeError for a clip that is not a finite number > 0 or inputs of the wrong length
 */
export function clippedGradientSum(net: DenseNet, weights: ArrayLike<number>, x: ArrayLike<number>, y: ArrayLike<number>, n: number, clip: number): ClippedGradientSum {
  const p = denseParameterCount(net);
  if (weights.length !== p) throw new RangeError(`weights has ${weights.length} entries, the net ${p}`);
  if (x.length < n * net.inputs || y.length < n) throw new RangeError(`x and y must hold ${n} rows of ${net.inputs} inputs`);
  checkOutputLayer(net);
  const sum = new Float64Array(p);
  const g = new Float64Array(p);
  let clipped = 0;
  let lossSum = 0;
  for (let r = 0; r < n; r++) {
    const e = clippedExampleGradient(net, weights, x, r * net.inputs, y[r]!, clip, g);
    lossSum += e.loss;
    if (e.norm > clip) clipped++;
    for (let i = 0; i < p; i++) sum[i]! += g[i]!;
  }
  return { sum, clipped, lossSum };
}

/**
 * The output layer the losses take: linear, one unit (binary cross-entropy, mse) or K ≥ 2 logits (categorical).
 * @throws RangeError otherwise
 */
export function checkOutputLayer(net: DenseNet): void {
  const out = net.layers.at(-1);
  if (out?.activation !== 'linear') throw new RangeError('the output layer must be linear (the loss applies sigmoid or softmax)');
  if (net.loss === 'categorical-crossentropy' ? out.units < 2 : out.units !== 1) throw new RangeError(`the output layer must have ${net.loss === 'categorical-crossentropy' ? 'one unit per class (≥ 2)' : 'one unit'} for ${net.loss}`);
}

/**
 * One example's gradient clipped to L2 ≤ clip, into `out`: the only way the DP paths (the full-batch sum above and
 * the local steps of dp-sgd.ts) take a per-example gradient, so clipping holds for every example they add.
 * @returns the example's loss and its gradient's norm before clipping
 */
export function clippedExampleGradient(net: DenseNet, weights: ArrayLike<number>, x: ArrayLike<number>, xAt: number, y: number, clip: number, out: Float64Array): { loss: number; norm: number } {
  const loss = exampleGradient(net, weights, x, xAt, y, out);
  return { loss, norm: clipL2(out, clip) };
}

/**
 * The net's output for one row (logits: apply sigmoid or softmax for probabilities), float64. For evaluating a
 * released model where the rows are (tests, benchmarks); the agents score with TF.js.
 */
export function denseLogits(net: DenseNet, weights: ArrayLike<number>, x: ArrayLike<number>, xAt: number): Float64Array {
  let a = Float64Array.from({ length: net.inputs }, (_, i) => x[xAt + i]!);
  let at = 0;
  for (const { units, activation } of net.layers) {
    const b = at + a.length * units;
    const z = new Float64Array(units);
    for (let j = 0; j < units; j++) z[j] = weights[b + j]!;
    for (let i = 0; i < a.length; i++) for (let j = 0; j < units; j++) z[j]! += a[i]! * weights[at + i * units + j]!;
    at = b + units;
    a = z.map((v) => act(activation, v));
  }
  return a;
}
