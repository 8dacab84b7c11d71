/**
 * Synthetic federated multi-class data for tests and benchmarks (public seeds; no real data): rows x ∈ [0, 1]^d
 * from a per-agent shifted law, labels 0..K−1 drawn from one softmax model shared by all agents (so the sites differ
 * in their feature distributions but not in the relationship), optionally with labels shuffled within each agent
 * (the negative control: nothing left to learn, accuracy ≈ the largest class share).
 */
import { seededUniform } from '../../algorithms/fl/index.js';
import type { TrainAgentData } from './data.js';

/** The shared softmax model: class k's logit is Σ_j w_kj (x_j − 0.5), w from a fixed pattern scaled by `strength`. */
function logits(x: Float32Array, at: number, d: number, classes: number, strength: number, out: Float64Array): void {
  for (let k = 0; k < classes; k++) {
    let z = 0;
    for (let j = 0; j < d; j++) z += Math.cos(1.7 * (k + 1) * (j + 1)) * (x[at + j]! - 0.5);
    out[k] = (strength * z) / Math.sqrt(d / 4);
  }
}

export function syntheticMulticlassData(opts: { rows: number; inputs: number; classes: number; shift: number; seed: number; strength?: number; testFraction?: number; shuffleLabels?: boolean }): TrainAgentData {
  const u = seededUniform(opts.seed);
  const d = opts.inputs;
  const K = opts.classes;
  const z = new Float64Array(K);
  const nTest = Math.round(opts.rows * (opts.testFraction ?? 0.25));
  const mk = (n: number) => {
    const x = new Float32Array(n * d);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < d; j++) x[i * d + j] = Math.min(1, Math.max(0, opts.shift + (1 - opts.shift) * u()));
      logits(x, i * d, d, K, opts.strength ?? 8, z);
      const m = Math.max(...z);
      let s = 0;
      for (let k = 0; k < K; k++) s += Math.exp(z[k]! - m);
      let r = u() * s;
      let c = 0;
      while (c < K - 1 && (r -= Math.exp(z[c]! - m)) > 0) c++;
      y[i] = c;
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
