/**
 * Local training and evaluation at an agent with TF.js, on typed arrays (rows × inputs, row-major Float32Array):
 * no per-row JS objects. A custom loop rather than `model.fit` so that FedProx's proximal term μ/2‖w − x‖² and
 * SCAFFOLD's gradient correction (g − c_i + c) go into every step. Shuffling and dropout are seeded (public,
 * reproducible; nothing here is privacy noise).
 */
import { addToRocHistogram, cumulateFromTop, seededPermutation } from '../../algorithms/fl/index.js';
import type { Tf } from './tf-runtime.js';

export interface LocalModelConfig {
  readonly inputs: number;
  /**
   * Hidden layers then the output layer (its activation is applied in the loss: sigmoid for binary, softmax for
   * categorical, whose output layer has one unit per class).
   */
  readonly layers: readonly { readonly units: number; readonly activation: string; readonly dropout: number }[];
  readonly loss: 'binary-crossentropy' | 'categorical-crossentropy' | 'mse';
  readonly l2: number;
}

export interface LocalTrainConfig {
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: 'sgd' | 'adam';
  readonly learningRate: number;
  readonly momentum: number;
  /** FedProx μ (0: plain local SGD). */
  readonly mu: number;
  readonly seed: number;
}

export interface LocalData {
  readonly x: Float32Array;
  /** The label: 0/1, a number (mse), or the class index 0..K−1 (categorical). */
  readonly y: Float32Array;
  readonly n: number;
}

export interface LocalTrainResult {
  readonly weights: Float32Array;
  readonly steps: number;
  /** Summed per-row loss over the last local epoch (without the L2 and proximal terms). */
  readonly lossSum: number;
  /** The optimiser's state after the last step, when `carry.keepOptimizer` asked for it. */
  readonly optimizer?: OptimizerState;
}

/**
 * An optimiser's state between two calls (a round's rows streamed in chunks): its variables in getWeights order
 * (the step count, then momentum's accumulations or Adam's two moments) and, for Adam, its running powers β1^t,
 * β2^t as they were (setWeights would recompute them with pow, which can differ from the running product in the
 * last bit).
 */
export interface OptimizerState {
  readonly variables: readonly { readonly name: string; readonly shape: readonly number[]; readonly data: Float32Array }[];
  readonly accBeta?: readonly [number, number];
}

/** How one call continues a local pass over rows that arrive in chunks (see trainLocal). */
export interface LocalTrainCarry {
  /** The rows are already in training order: batches are consecutive rows, no local shuffle. @default false */
  readonly inOrder?: boolean;
  /** FedProx's anchor: the round's global weights (default: `start`, right for a pass that is one call). */
  readonly anchor?: ArrayLike<number>;
  /** The optimiser's state the previous chunk left. */
  readonly optimizer?: OptimizerState;
  /** Return the optimiser's state (for the next chunk). */
  readonly keepOptimizer?: boolean;
}

export interface LocalEvalResult {
  readonly n: number;
  readonly lossSum: number;
  /** Rows classified right: at 0.5 (binary), by the largest probability (categorical). */
  readonly correct: number;
  /**
   * Rows with score ≥ threshold j, positives and negatives (cumulative from the top); categorical: K such
   * histograms one after the other, class k against the rest scored by p_k.
   */
  readonly rocPos: Float64Array;
  readonly rocNeg: Float64Array;
}

/** Per-row loss is clamped to this so that the public bound of the summed loss holds (p clamped to [1e-7, 1 − 1e-7] for BCE). */
const P_EPS = 1e-7;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LayersModel = any;

function buildModel(tf: Tf, cfg: LocalModelConfig, seed: number): LayersModel {
  const layers: unknown[] = [];
  cfg.layers.forEach((l, i) => {
    const last = i === cfg.layers.length - 1;
    layers.push(tf.layers.dense({ units: l.units, activation: (last ? 'linear' : l.activation) as 'linear', ...(i === 0 ? { inputShape: [cfg.inputs] } : {}) }));
    if (!last && l.dropout > 0) layers.push(tf.layers.dropout({ rate: l.dropout, seed: seed + i }));
  });
  return tf.sequential({ layers: layers as never });
}

/** Flat weights → the model's variables (getWeights order), checking the length. */
function setFlat(tf: Tf, model: LayersModel, flat: ArrayLike<number>): void {
  const shapes: number[][] = model.getWeights().map((w: { shape: number[] }) => w.shape);
  let at = 0;
  const ts = shapes.map((s) => {
    const size = s.reduce((a, b) => a * b, 1);
    const t = tf.tensor(Float32Array.from({ length: size }, (_, i) => flat[at + i]!), s);
    at += size;
    return t;
  });
  if (at !== flat.length) {
    tf.dispose(ts);
    throw new RangeError(`the model has ${at} weights, the input ${flat.length}`);
  }
  model.setWeights(ts);
  tf.dispose(ts);
}

function flatTensor(tf: Tf, flat: ArrayLike<number>, shape: number[], at: number): unknown {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Float32Array.from({ length: size }, (_, i) => flat[at + i]!), shape);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Optimizer = any;

/** Adam's running powers β1^t and β2^t (TF.js keeps them as the variables accBeta1, accBeta2). */
function accBetaOf(opt: Optimizer): { assign(v: unknown): void; dataSync(): Float32Array }[] | undefined {
  return opt.accBeta1 && opt.accBeta2 ? [opt.accBeta1, opt.accBeta2] : undefined;
}

async function saveOptimizer(opt: Optimizer): Promise<OptimizerState> {
  const ws: { name: string; tensor: { shape: number[]; dataSync(): Float32Array; dispose(): void } }[] = await opt.getWeights();
  const variables = ws.map((w) => ({ name: w.name, shape: [...w.tensor.shape], data: Float32Array.from(w.tensor.dataSync()) }));
  // The step count comes as a new scalar (the rest are the optimiser's own variables, freed with it).
  ws[0]?.tensor.dispose();
  const acc = accBetaOf(opt);
  return { variables, ...(acc ? { accBeta: [acc[0]!.dataSync()[0]!, acc[1]!.dataSync()[0]!] as const } : {}) };
}

async function restoreOptimizer(tf: Tf, opt: Optimizer, state: OptimizerState): Promise<void> {
  const ws = state.variables.map((v) => ({ name: v.name, tensor: tf.tensor(v.data, [...v.shape]) }));
  await opt.setWeights(ws);
  tf.dispose(ws.map((w) => w.tensor));
  const acc = accBetaOf(opt);
  if (acc && state.accBeta) acc.forEach((a, i) => tf.tidy(() => a.assign(tf.scalar(state.accBeta![i]!))));
}

function getFlat(model: LayersModel): Float32Array {
  const ws: { dataSync(): Float32Array }[] = model.getWeights();
  const parts = ws.map((w) => w.dataSync());
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Largest per-row categorical cross-entropy, −ln(P_EPS): as clamping p to ≥ P_EPS in the binary loss. */
const MAX_ROW_CE = -Math.log(P_EPS);

const classCount = (cfg: LocalModelConfig): number => cfg.layers.at(-1)!.units;

/** The label tensor the loss takes: [n, 1], or one-hot [n, K] for categorical (y holds class indices). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function labelTensor(tf: Tf, cfg: LocalModelConfig, y: Float32Array, n: number): any {
  if (cfg.loss !== 'categorical-crossentropy') return tf.tensor2d(y, [n, 1]);
  return tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(y), 'int32'), classCount(cfg)).toFloat());
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function perRowLoss(tf: Tf, cfg: LocalModelConfig, logits: any, y: any): any {
  if (cfg.loss === 'mse') return tf.square(tf.sub(logits, y)).reshape([-1]);
  if (cfg.loss === 'categorical-crossentropy') return tf.minimum(tf.neg(tf.sum(tf.mul(y, tf.logSoftmax(logits)), 1)), MAX_ROW_CE);
  const p = tf.clipByValue(tf.sigmoid(logits), P_EPS, 1 - P_EPS);
  return tf.neg(tf.add(tf.mul(y, tf.log(p)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, p))))).reshape([-1]);
}

/**
 * Trains from the global weights `start` on `data` and returns the local weights. With `scaffold`, each step's
 * gradient is corrected by (c − c_i) (Karimireddy et al. 2020, Algorithm 1, line 10).
 *
 * `carry` continues a pass whose rows arrive in chunks (a site's server streams them in a shuffled order, each chunk a
 * whole number of batches): the rows are taken in order, the proximal anchor is the round's global weights and the
 * optimiser's state goes from one chunk to the next, so the chunks train as one call over all the rows would, bit
 * for bit (node-agent/train/local-train-carry.test.ts).
 */
export async function trainLocal(tf: Tf, model: LocalModelConfig, cfg: LocalTrainConfig, start: ArrayLike<number>, data: LocalData, scaffold?: { c: Float32Array; ci: Float32Array }, carry: LocalTrainCarry = {}): Promise<LocalTrainResult> {
  const m = buildModel(tf, model, cfg.seed);
  try {
    setFlat(tf, m, start);
    const vars = m.trainableWeights.map((w: { read(): unknown }) => w.read());
    let anchorAt = 0;
    const anchors = carry.anchor
      ? vars.map((v: { shape: number[]; size: number }) => {
          const t = flatTensor(tf, carry.anchor!, v.shape, anchorAt);
          anchorAt += v.size;
          return t;
        })
      : vars.map((v: { clone(): unknown }) => v.clone());
    const kernels = vars.filter((_: unknown, i: number) => i % 2 === 0);
    // Correction (c − c_i) per variable, shaped like it.
    let corr: unknown[] | undefined;
    if (scaffold) {
      let at = 0;
      corr = vars.map((v: { shape: number[]; size: number }) => {
        const d = new Float32Array(v.size);
        for (let i = 0; i < v.size; i++) d[i] = scaffold.c[at + i]! - scaffold.ci[at + i]!;
        at += v.size;
        return tf.tensor(d, v.shape);
      });
    }
    const opt = cfg.optimizer === 'adam' ? tf.train.adam(cfg.learningRate) : cfg.momentum > 0 ? tf.train.momentum(cfg.learningRate, cfg.momentum) : tf.train.sgd(cfg.learningRate);
    if (carry.optimizer) await restoreOptimizer(tf, opt, carry.optimizer);
    const xAll = tf.tensor2d(data.x, [data.n, model.inputs]);
    const yAll = labelTensor(tf, model, data.y, data.n);
    let steps = 0;
    let lossSum = 0;
    try {
      for (let e = 0; e < cfg.epochs; e++) {
        const order = carry.inOrder ? Int32Array.from({ length: data.n }, (_, i) => i) : Int32Array.from(seededPermutation(data.n, (cfg.seed * 7919 + e) >>> 0));
        let epochLoss = 0;
        for (let b = 0; b < data.n; b += cfg.batchSize) {
          const size = Math.min(cfg.batchSize, data.n - b);
          const batchLoss = tf.tidy(() => {
            // A batch's indices go to the backend as their own small tensor: slicing one tensor of the epoch's
            // order instead makes the wasm backend copy the whole order back to JS at every step (its slice kernel
            // reads its input whole), O(rows) per batch, so an epoch was quadratic in the rows.
            const idx = tf.tensor1d(order.subarray(b, b + size), 'int32');
            const xb = tf.gather(xAll, idx);
            const yb = tf.gather(yAll, idx);
            const { grads } = tf.variableGrads(() => {
              const rows = perRowLoss(tf, model, m.apply(xb, { training: true }), yb);
              let loss = tf.mean(rows);
              if (model.l2 > 0) for (const k of kernels) loss = tf.add(loss, tf.mul(model.l2, tf.sum(tf.square(k))));
              if (cfg.mu > 0) for (let i = 0; i < vars.length; i++) loss = tf.add(loss, tf.mul(cfg.mu / 2, tf.sum(tf.square(tf.sub(vars[i], anchors[i])))));
              return loss as never;
            }, vars);
            const named: Record<string, unknown> = {};
            vars.forEach((v: { name: string }, i: number) => {
              const g = grads[v.name]!;
              named[v.name] = corr ? tf.add(g, corr[i] as never) : g;
            });
            opt.applyGradients(named as never);
            // The data loss of the batch (without penalties) for the reported training loss.
            return tf.sum(perRowLoss(tf, model, m.apply(xb, { training: false }), yb)).dataSync()[0]!;
          });
          epochLoss += batchLoss;
          steps++;
        }
        lossSum = epochLoss;
      }
      return { weights: getFlat(m), steps, lossSum, ...(carry.keepOptimizer ? { optimizer: await saveOptimizer(opt) } : {}) };
    } finally {
      tf.dispose([xAll, yAll, ...anchors, ...(corr ?? [])] as never);
      opt.dispose();
      // TF.js's momentum optimiser keeps its learning rate as a scalar its dispose() leaves behind.
      (opt as { c?: { dispose(): void } }).c?.dispose();
    }
  } finally {
    m.dispose();
  }
}

/** Scores the model `weights` on `data`: loss, accuracy at 0.5 (binary) and the ROC histogram at `thresholds`. */
export function evaluateLocal(tf: Tf, model: LocalModelConfig, weights: ArrayLike<number>, data: LocalData, thresholds: readonly number[]): LocalEvalResult {
  const T = thresholds.length;
  const curves = model.loss === 'categorical-crossentropy' ? classCount(model) : 1;
  const rocPos = new Float64Array(T * curves);
  const rocNeg = new Float64Array(T * curves);
  if (data.n === 0) return { n: 0, lossSum: 0, correct: 0, rocPos, rocNeg };
  const m = buildModel(tf, model, 0);
  try {
    setFlat(tf, m, weights);
    const { loss, out } = tf.tidy(() => {
      const x = tf.tensor2d(data.x, [data.n, model.inputs]);
      const y = labelTensor(tf, model, data.y, data.n);
      const logits = m.apply(x, { training: false });
      const l = tf.sum(perRowLoss(tf, model, logits, y)).dataSync()[0]!;
      const o = (model.loss === 'mse' ? logits : model.loss === 'categorical-crossentropy' ? tf.softmax(logits) : tf.sigmoid(logits)).dataSync() as Float32Array;
      return { loss: l, out: Float32Array.from(o) };
    });
    let correct = 0;
    if (model.loss === 'categorical-crossentropy') {
      correct = scoreClasses(out, data.y, data.n, curves, thresholds, rocPos, rocNeg);
    } else if (model.loss === 'binary-crossentropy') {
      for (let i = 0; i < data.n; i++) if ((out[i]! >= 0.5 ? 1 : 0) === (data.y[i]! > 0.5 ? 1 : 0)) correct++;
      addToRocHistogram(out, data.y, thresholds, rocPos, rocNeg);
      cumulateFromTop(rocPos);
      cumulateFromTop(rocNeg);
    }
    return { n: data.n, lossSum: loss, correct, rocPos, rocNeg };
  } finally {
    m.dispose();
  }
}

/**
 * Categorical scoring from the softmax probabilities `p` ([n, K] row-major): rows whose largest probability is their
 * class (ties to the lower index), and the K one-vs-rest histograms (class k positive, the rest negative, by p_k).
 */
function scoreClasses(p: Float32Array, y: Float32Array, n: number, k: number, thresholds: readonly number[], rocPos: Float64Array, rocNeg: Float64Array): number {
  const T = thresholds.length;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[i * k + c]! > p[i * k + best]!) best = c;
    if (best === y[i]) correct++;
  }
  const scores = new Float32Array(n);
  const isClass = new Float32Array(n);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      scores[i] = p[i * k + c]!;
      isClass[i] = y[i] === c ? 1 : 0;
    }
    const pos = rocPos.subarray(c * T, (c + 1) * T);
    const neg = rocNeg.subarray(c * T, (c + 1) * T);
    addToRocHistogram(scores, isClass, thresholds, pos, neg);
    cumulateFromTop(pos);
    cumulateFromTop(neg);
  }
  return correct;
}
