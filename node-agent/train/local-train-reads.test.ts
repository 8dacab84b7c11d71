/**
 * A local epoch reads back from the backend O(batch) values per step: each batch's indices and its loss, never the
 * epoch's whole order. Slicing one tensor of the order made the wasm backend copy it whole to JS at every step (its
 * slice kernel reads its input whole), so an epoch cost O(rows²/batch) in copies: 400 000 rows trained 1.7× slower.
 * Negative control (wasm): that slice does read the whole order.
 */
import { describe, expect, it } from 'vitest';
import { denseShapes, glorotInit, seededPermutation } from '../../algorithms/fl/index.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { loadTf, type Tf } from './tf-runtime.js';
import { trainLocal, type LocalData, type LocalModelConfig, type LocalTrainConfig } from './local-train.js';

const D = 4;
const N = 4096;
const BATCH = 32;

function rows(): LocalData {
  const rng = createSeededRng(11);
  const x = new Float32Array(N * D);
  const y = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += (x[i * D + j] = rng.nextUint32() / 2 ** 32) - 0.5;
    y[i] = s > 0 ? 1 : 0;
  }
  return { x, y, n: N };
}

type ReadSync = (dataId: unknown, start?: number, end?: number) => ArrayLike<number>;

/** Runs `f` counting the elements the backend copies back to JS. */
async function countReads<T>(tf: Tf, f: () => Promise<T>): Promise<{ value: T; elements: number }> {
  const backend = tf.backend() as unknown as { readSync: ReadSync };
  const own = Object.prototype.hasOwnProperty.call(backend, 'readSync');
  const original = backend.readSync;
  let elements = 0;
  backend.readSync = (dataId, start, end) => {
    const out = original.call(backend, dataId, start, end);
    elements += out.length;
    return out;
  };
  try {
    return { value: await f(), elements };
  } finally {
    if (own) backend.readSync = original;
    else delete (backend as Partial<{ readSync: ReadSync }>).readSync;
  }
}

describe('local training reads back per step only what the step needs', () => {
  const model: LocalModelConfig = { inputs: D, layers: [{ units: 8, activation: 'relu', dropout: 0 }, { units: 1, activation: 'linear', dropout: 0 }], loss: 'binary-crossentropy', l2: 0 };
  const cfg: LocalTrainConfig = { epochs: 2, batchSize: BATCH, optimizer: 'sgd', learningRate: 0.1, momentum: 0, mu: 0, seed: 3 };
  const start = glorotInit(denseShapes(D, [8, 1]), 5);

  it('shuffled and in order: at most a few batches of values per step, not the rows', async () => {
    const { tf } = await loadTf();
    const data = rows();
    for (const carry of [{}, { inOrder: true }]) {
      const { value, elements } = await countReads(tf, () => trainLocal(tf, model, cfg, start, data, undefined, carry));
      expect(value.steps).toBe(cfg.epochs * Math.ceil(N / BATCH));
      // The gathers read the batch's indices (2 × 32) and the batch loss is one scalar; the weights at the end.
      expect(elements).toBeLessThanOrEqual(value.steps * (2 * BATCH + 1) + start.length);
    }
  });

  it('negative control (wasm): slicing a tensor of the whole order reads all of it', async () => {
    const { tf, backend } = await loadTf();
    if (backend !== 'wasm') return;
    const order = tf.tensor1d(Int32Array.from(seededPermutation(N, 1)), 'int32');
    try {
      const { elements } = await countReads(tf, () => Promise.resolve(tf.tidy(() => order.slice(0, BATCH).shape)));
      expect(elements).toBeGreaterThanOrEqual(N);
    } finally {
      order.dispose();
    }
  });
});
