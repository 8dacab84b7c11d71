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
 * `getWeights()` order) and a linear output unit whose loss is binary cross-entropy on the logit or squared error.
 * Dropout is not applied (DP training refuses it: its randomness would only add noise that no accountant counts).
 */
import { clipL2 } from './fixed-point.js';

export type DenseActivation = 'relu' | 'tanh' | 'sigmoid' | 'linear' | 'elu' | 'selu' | 'softplus';

export interface DenseNet {
  readonly inputs: number;
  /** Hidden layers then the output layer (1 unit, linear). */
  readonly layers: readonly { readonly units: number; readonly activation: DenseActivation }[];
  readonly loss: 'binary-crossentropy' | 'mse';
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
  const logit = as[L]![0]!;
  let loss: number;
  let dz = new Float64Array(1);
  if (net.loss === 'mse') {
    loss = (logit - y) ** 2;
    dz[0] = 2 * (logit - y);
  } else {
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
  if (net.layers.at(-1)?.units !== 1 || net.layers.at(-1)?.activation !== 'linear') throw new RangeError('the output layer must be one linear unit');
  const sum = new Float64Array(p);
  const g = new Float64Array(p);
  let clipped = 0;
  let lossSum = 0;
  for (let r = 0; r < n; r++) {
    lossSum += exampleGradient(net, weights, x, r * net.inputs, y[r]!, g);
    if (clipL2(g, clip) > clip) clipped++;
    for (let i = 0; i < p; i++) sum[i]! += g[i]!;
  }
  return { sum, clipped, lossSum };
}
