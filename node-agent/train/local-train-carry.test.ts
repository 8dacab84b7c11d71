/**
 * A round's rows streamed in chunks (a site's server, jobs/train/stream.ts) train as one call over all the rows
 * would: the same weights and loss, bit for bit, for every optimiser, with FedProx's anchor and SCAFFOLD's
 * correction. Negative controls: without the optimiser's state carried, or with each chunk anchored at its own
 * start, the weights differ.
 */
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { glorotInit, denseShapes } from '../../algorithms/fl/index.js';
import { loadTf } from './tf-runtime.js';
import { trainLocal, type LocalData, type LocalModelConfig, type LocalTrainConfig, type OptimizerState } from './local-train.js';

const D = 5;
const N = 96;
const model: LocalModelConfig = { inputs: D, layers: [{ units: 6, activation: 'relu', dropout: 0 }, { units: 1, activation: 'linear', dropout: 0 }], loss: 'binary-crossentropy', l2: 1e-3 };

function rows(): LocalData {
  const rng = createSeededRng(7);
  const x = new Float32Array(N * D);
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += (x[i * D + j] = (rng.nextUint32() / 2 ** 32)) * (j % 2 ? 1 : -1);
    y[i] = s + 0.3 * ((rng.nextUint32() / 2 ** 32) - 0.5) > 0 ? 1 : 0;
  }
  return { x, y, n: N };
}

const slice = (d: LocalData, from: number, to: number): LocalData => ({ x: d.x.slice(from * D, to * D), y: d.y.slice(from, to), n: to - from });

/** The pass in chunks of `chunk` rows (a multiple of the batch size), carrying what `carry` says. */
async function chunked(cfg: LocalTrainConfig, start: Float32Array, data: LocalData, chunk: number, opts: { state?: boolean; anchor?: boolean; scaffold?: { c: Float32Array; ci: Float32Array } } = {}): Promise<{ weights: Float32Array; lossSum: number; steps: number }> {
  const { tf } = await loadTf();
  let w = start;
  let optimizer: OptimizerState | undefined;
  let lossSum = 0;
  let steps = 0;
  for (let from = 0; from < data.n; from += chunk) {
    const r = await trainLocal(tf, model, { ...cfg, epochs: 1 }, w, slice(data, from, Math.min(data.n, from + chunk)), opts.scaffold, {
      inOrder: true,
      ...(opts.anchor !== false ? { anchor: start } : {}),
      ...(opts.state !== false && optimizer ? { optimizer } : {}),
      keepOptimizer: true,
    });
    w = r.weights;
    optimizer = r.optimizer;
    lossSum += r.lossSum;
    steps += r.steps;
  }
  return { weights: w, lossSum, steps };
}

describe('local training in chunks (rows streamed from a server)', () => {
  const data = rows();
  const start = Float32Array.from(glorotInit(denseShapes(D, [6, 1]), 3));
  const base: LocalTrainConfig = { epochs: 1, batchSize: 8, optimizer: 'sgd', learningRate: 0.1, momentum: 0, mu: 0, seed: 5 };
  const cases: [string, LocalTrainConfig][] = [
    ['sgd', base],
    ['sgd with momentum', { ...base, momentum: 0.9 }],
    ['adam', { ...base, optimizer: 'adam', learningRate: 0.01 }],
    ['fedprox with adam', { ...base, optimizer: 'adam', learningRate: 0.01, mu: 0.5 }],
  ];
  for (const [name, cfg] of cases) {
    it(`${name}: chunks of 3 batches equal one call over the rows in the same order, bit for bit`, async () => {
      const { tf } = await loadTf();
      const whole = await trainLocal(tf, model, cfg, start, data, undefined, { inOrder: true });
      const parts = await chunked(cfg, start, data, 24);
      expect(parts.steps).toBe(whole.steps);
      expect(Array.from(parts.weights)).toEqual(Array.from(whole.weights));
      expect(parts.lossSum).toBeCloseTo(whole.lossSum, 4);
    });
  }

  it('scaffold: the correction applies in every chunk as in one call', async () => {
    const { tf } = await loadTf();
    const p = start.length;
    const c = Float32Array.from({ length: p }, (_, i) => 0.01 * Math.sin(i));
    const ci = Float32Array.from({ length: p }, (_, i) => 0.01 * Math.cos(i));
    const whole = await trainLocal(tf, model, base, start, data, { c, ci }, { inOrder: true });
    const parts = await chunked(base, start, data, 24, { scaffold: { c, ci } });
    expect(Array.from(parts.weights)).toEqual(Array.from(whole.weights));
  });

  it('negative controls: momentum without its state carried, or FedProx anchored at each chunk, differ', async () => {
    const { tf } = await loadTf();
    const mom = { ...base, momentum: 0.9 };
    const whole = await trainLocal(tf, model, mom, start, data, undefined, { inOrder: true });
    const lost = await chunked(mom, start, data, 24, { state: false });
    expect(Array.from(lost.weights)).not.toEqual(Array.from(whole.weights));
    const prox = { ...base, mu: 0.5 };
    const wholeProx = await trainLocal(tf, model, prox, start, data, undefined, { inOrder: true });
    const drifting = await chunked(prox, start, data, 24, { anchor: false });
    expect(Array.from(drifting.weights)).not.toEqual(Array.from(wholeProx.weights));
  });
});
