import { describe, expect, it } from 'vitest';
import { clippedExampleGradient, clippedGradientSum, denseLogits, denseParameterCount, exampleGradient, type DenseNet } from './dp-grad.js';
import { seededUniform } from './init.js';

const smooth: DenseNet = { inputs: 4, layers: [{ units: 5, activation: 'tanh' }, { units: 3, activation: 'softplus' }, { units: 1, activation: 'linear' }], loss: 'binary-crossentropy' };

function data(n: number, inputs: number, seed: number): { x: Float64Array; y: Float64Array } {
  const u = seededUniform(seed);
  return { x: Float64Array.from({ length: n * inputs }, () => u() * 2 - 1), y: Float64Array.from({ length: n }, () => (u() < 0.5 ? 0 : 1)) };
}

function weightsOf(net: DenseNet, seed: number, scale = 1): Float64Array {
  const u = seededUniform(seed);
  return Float64Array.from({ length: denseParameterCount(net) }, () => (u() * 2 - 1) * scale);
}

/** Central finite difference of one example's loss (the loss exampleGradient returns). */
function numericGradient(net: DenseNet, w: Float64Array, x: Float64Array, y: number): Float64Array {
  const scratch = new Float64Array(w.length);
  const h = 1e-6;
  return w.map((_, i) => {
    const wp = Float64Array.from(w);
    const wm = Float64Array.from(w);
    wp[i]! += h;
    wm[i]! -= h;
    return (exampleGradient(net, wp, x, 0, y, scratch) - exampleGradient(net, wm, x, 0, y, scratch)) / (2 * h);
  });
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const norm = (v: ArrayLike<number>): number => Math.sqrt(Array.from(v).reduce((a, b) => a + b * b, 0));

describe('per-example gradients of a dense net (DP-SGD)', () => {
  // Finite differences with h = 1e-6 are accurate to ~1e-8 here; 1e-6 absolute leaves room and still catches any wrong term.
  const TOL = 1e-6;
  for (const net of [smooth, { ...smooth, loss: 'mse' as const }, { inputs: 4, layers: [{ units: 6, activation: 'elu' as const }, { units: 4, activation: 'selu' as const }, { units: 2, activation: 'sigmoid' as const }, { units: 1, activation: 'linear' as const }], loss: 'binary-crossentropy' as const }]) {
    it(`matches central finite differences (${net.layers.map((l) => l.activation).join('→')}, ${net.loss}, within ${TOL}); negative control: the other loss's gradient does not`, () => {
      const w = weightsOf(net, 3);
      const { x, y } = data(1, net.inputs, 5);
      const g = new Float64Array(w.length);
      exampleGradient(net, w, x, 0, y[0]!, g);
      const num = numericGradient(net, w, x, y[0]!);
      expect(maxAbsDiff(g, num)).toBeLessThan(TOL);
      const other = new Float64Array(w.length);
      exampleGradient({ ...net, loss: net.loss === 'mse' ? 'binary-crossentropy' : 'mse' }, w, x, 0, y[0]!, other);
      expect(maxAbsDiff(other, num)).toBeGreaterThan(100 * TOL);
    });
  }

  it('the gradient of a logistic model is (σ(w·x + b) − y)·[x, 1]', () => {
    const net: DenseNet = { inputs: 3, layers: [{ units: 1, activation: 'linear' }], loss: 'binary-crossentropy' };
    const w = Float64Array.from([0.5, -1, 2, 0.25]);
    const x = Float64Array.from([1, 2, 0.5]);
    const g = new Float64Array(4);
    exampleGradient(net, w, x, 0, 1, g);
    const r = 1 / (1 + Math.exp(-(0.5 - 2 + 1 + 0.25))) - 1;
    expect(Array.from(g)).toEqual([r * 1, r * 2, r * 0.5, r].map((v) => expect.closeTo(v, 12)));
  });

  it('clips every example to L2 ≤ C (a one-row sum is that row), and leaves gradients below C unchanged', () => {
    const n = 40;
    const w = weightsOf(smooth, 7, 3);
    const { x, y } = data(n, smooth.inputs, 9);
    const raw = Array.from({ length: n }, (_, r) => {
      const g = new Float64Array(w.length);
      exampleGradient(smooth, w, x, r * smooth.inputs, y[r]!, g);
      return g;
    });
    const norms = raw.map(norm);
    const C = norms.slice().sort((a, b) => a - b)[n / 2]!; // about half the rows above C
    for (let r = 0; r < n; r++) {
      const one = clippedGradientSum(smooth, w, x.subarray(r * smooth.inputs), y.subarray(r), 1, C);
      expect(norm(one.sum)).toBeLessThanOrEqual(C * (1 + 1e-12));
      if (norms[r]! <= C) expect(Array.from(one.sum)).toEqual(Array.from(raw[r]!));
      else expect(norm(one.sum)).toBeCloseTo(C, 10);
    }
    const all = clippedGradientSum(smooth, w, x, y, n, C);
    expect(all.clipped).toBe(norms.filter((v) => v > C).length);
    expect(all.clipped).toBeGreaterThan(0);
    expect(norm(all.sum)).toBeLessThanOrEqual(n * C);
    // Above every norm, nothing is clipped: the plain sum of the gradients. Negative control: with C below the norms it differs.
    const big = clippedGradientSum(smooth, w, x, y, n, Math.max(...norms) * 2);
    const plain = raw.reduce((a, g) => a.map((v, i) => v + g[i]!), new Float64Array(w.length));
    expect(maxAbsDiff(big.sum, plain)).toBeLessThan(1e-12);
    expect(big.clipped).toBe(0);
    expect(maxAbsDiff(all.sum, plain)).toBeGreaterThan(1e-3);
  });

  it('refuses a bad clip and a non-linear output unit', () => {
    const w = weightsOf(smooth, 1);
    const { x, y } = data(2, 4, 1);
    expect(() => clippedGradientSum(smooth, w, x, y, 2, 0)).toThrow(/clip/);
    expect(() => clippedGradientSum({ ...smooth, layers: [{ units: 1, activation: 'sigmoid' }] }, new Float64Array(5), x, y, 2, 1)).toThrow(/linear/);
  });

  it('refuses an output layer that does not fit the loss (categorical: ≥ 2 logits; binary: one) and a label outside the classes', () => {
    const { x, y } = data(2, 4, 1);
    const cat: DenseNet = { inputs: 4, layers: [{ units: 3, activation: 'linear' }], loss: 'categorical-crossentropy' };
    expect(() => clippedGradientSum({ ...cat, layers: [{ units: 1, activation: 'linear' }] }, new Float64Array(5), x, y, 2, 1)).toThrow(/one unit per class/);
    expect(() => clippedGradientSum({ ...cat, loss: 'binary-crossentropy' }, new Float64Array(15), x, y, 2, 1)).toThrow(/one unit/);
    expect(() => exampleGradient(cat, new Float64Array(15), x, 0, 3, new Float64Array(15))).toThrow(/class index/);
    expect(() => exampleGradient(cat, new Float64Array(15), x, 0, 0.5, new Float64Array(15))).toThrow(/class index/);
  });
});

describe('per-example gradients of a softmax net (categorical cross-entropy)', () => {
  const K = 4;
  const softmaxMlp: DenseNet = { inputs: 5, layers: [{ units: 6, activation: 'relu' }, { units: 3, activation: 'tanh' }, { units: K, activation: 'linear' }], loss: 'categorical-crossentropy' };
  const classes = (n: number, seed: number) => {
    const u = seededUniform(seed);
    return Float64Array.from({ length: n }, () => Math.floor(u() * K));
  };

  it('matches central finite differences (within 1e-6) and the loss is −log softmax(z)_y; negative control: another class\'s gradient does not match', () => {
    const w = weightsOf(softmaxMlp, 11);
    const { x } = data(1, softmaxMlp.inputs, 12);
    for (const y of [0, 2, 3]) {
      const g = new Float64Array(w.length);
      const loss = exampleGradient(softmaxMlp, w, x, 0, y, g);
      expect(maxAbsDiff(g, numericGradient(softmaxMlp, w, x, y))).toBeLessThan(1e-6);
      const z = denseLogits(softmaxMlp, w, x, 0);
      const lse = Math.log(Array.from(z).reduce((a, v) => a + Math.exp(v), 0));
      expect(loss).toBeCloseTo(lse - z[y]!, 12);
      const other = new Float64Array(w.length);
      exampleGradient(softmaxMlp, w, x, 0, (y + 1) % K, other);
      expect(maxAbsDiff(other, g)).toBeGreaterThan(1e-3);
    }
  });

  it('softmax regression: ∂ℓ/∂z = softmax(z) − onehot(y), so the bias gradient sums to 0 over the classes', () => {
    const net: DenseNet = { inputs: 3, layers: [{ units: K, activation: 'linear' }], loss: 'categorical-crossentropy' };
    const w = weightsOf(net, 4, 2);
    const x = Float64Array.from([0.2, -0.7, 1.1]);
    const g = new Float64Array(w.length);
    exampleGradient(net, w, x, 0, 1, g);
    const z = denseLogits(net, w, x, 0);
    const s = Array.from(z).reduce((a, v) => a + Math.exp(v), 0);
    const bias = g.subarray(3 * K);
    for (let k = 0; k < K; k++) expect(bias[k]).toBeCloseTo(Math.exp(z[k]!) / s - (k === 1 ? 1 : 0), 12);
    expect(Array.from(bias).reduce((a, v) => a + v, 0)).toBeCloseTo(0, 12);
  });

  it('clips every example to L2 ≤ C (checked one by one); negative control: without the clip about half exceed C', () => {
    const n = 60;
    const w = weightsOf(softmaxMlp, 13, 3);
    const { x } = data(n, softmaxMlp.inputs, 14);
    const y = classes(n, 15);
    const raw = Array.from({ length: n }, (_, r) => norm((() => {
      const g = new Float64Array(w.length);
      exampleGradient(softmaxMlp, w, x, r * softmaxMlp.inputs, y[r]!, g);
      return g;
    })()));
    const C = raw.slice().sort((a, b) => a - b)[n / 2]!;
    expect(raw.filter((v) => v > C).length).toBeGreaterThan(n / 4);
    const g = new Float64Array(w.length);
    const sum = new Float64Array(w.length);
    for (let r = 0; r < n; r++) {
      const e = clippedExampleGradient(softmaxMlp, w, x, r * softmaxMlp.inputs, y[r]!, C, g);
      expect(e.norm).toBeCloseTo(raw[r]!, 12);
      expect(norm(g)).toBeLessThanOrEqual(C * (1 + 1e-12));
      g.forEach((v, i) => (sum[i]! += v));
    }
    const all = clippedGradientSum(softmaxMlp, w, x, y, n, C);
    expect(maxAbsDiff(all.sum, sum)).toBeLessThan(1e-12);
    expect(all.clipped).toBe(raw.filter((v) => v > C).length);
  });
});

