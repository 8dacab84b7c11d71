import { describe, expect, it } from 'vitest';
import { clippedGradientSum, denseParameterCount, exampleGradient, type DenseNet } from './dp-grad.js';
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
});
