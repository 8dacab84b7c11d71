/**
 * Synthetic federated binary-classification data for tests and benchmarks (public seeds; no real data): each agent
 * has rows x ∈ [0, 1]^d from its own shifted law and labels from one logistic model, so the sites differ in their
 * feature distributions (non-IID) but share the true relationship.
 */
import { seededUniform } from '../../algorithms/fl/index.js';
import type { TrainAgentData } from './data.js';

export function syntheticAgentData(opts: { rows: number; inputs: number; shift: number; seed: number; testFraction?: number; shuffleLabels?: boolean }): TrainAgentData {
  const u = seededUniform(opts.seed);
  const d = opts.inputs;
  const beta = Array.from({ length: d }, (_, j) => (j % 2 === 0 ? 8 : -6) / Math.sqrt(d / 4));
  const nTest = Math.round(opts.rows * (opts.testFraction ?? 0.25));
  const mk = (n: number) => {
    const x = new Float32Array(n * d);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let eta = -0.2;
      for (let j = 0; j < d; j++) {
        const v = Math.min(1, Math.max(0, opts.shift + (1 - opts.shift) * u() * (j === 0 ? 1 : 0.8)));
        x[i * d + j] = v;
        eta += beta[j]! * (v - 0.5);
      }
      y[i] = u() < 1 / (1 + Math.exp(-eta)) ? 1 : 0;
    }
    if (opts.shuffleLabels) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(u() * (i + 1));
        [y[i], y[j]] = [y[j]!, y[i]!];
      }
    }
    return { x, y, n };
  };
  return { inputs: d, train: mk(opts.rows - nTest), test: mk(nTest), nDropped: 0 };
}

/** Rows of several agents concatenated (the pooled reference). */
export function poolData(parts: readonly { x: Float32Array; y: Float32Array; n: number }[], inputs: number): { x: Float32Array; y: Float32Array; n: number } {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const x = new Float32Array(n * inputs);
  const y = new Float32Array(n);
  let at = 0;
  for (const p of parts) {
    x.set(p.x, at * inputs);
    y.set(p.y, at);
    at += p.n;
  }
  return { x, y, n };
}

/**
 * A train spec over the columns syntheticAgentData stands for (product `p`, label `y`, numeric features x0 … x{d−1}
 * in [0, 1], split column `split`), with `over` merged on top: the shared start of the train tests' specs.
 */
export function syntheticTrainSpec(inputs: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'train',
    product: 'p',
    label: 'y',
    features: Array.from({ length: inputs }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
    split: { column: 'split', train: 'train', test: 'test' },
    model: { type: 'logistic' },
    ...over,
  };
}
