/**
 * `fedmesh model pull`'s artifacts: the released model of a train job (here a Keras-exported topology trained over 3
 * in-memory agents on a 3-class label) written as model.json + weights.bin loads with `tf.loadLayersModel` and
 * predicts what the coordinator's weights predict (an independent float64 forward pass, within 1e-5); a changed
 * weight makes it predict otherwise (negative control). Malformed summaries are refused, not written.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { loadTf } from '../../node-agent/train/tf-runtime.js';
import { trainRound } from './agent.js';
import type { TrainAgentData } from './data.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { releasedModelOf, trainModelArtifacts, type ReleasedTrainModel } from './model-json.js';
import { syntheticMulticlassData } from './synthetic-multiclass.js';

const D = 5;
const K = 3;

/** A Keras (TF.js converter) model.json: 5 inputs → Dense 8 tanh → Dropout 0.1 → Dense 3 softmax. */
const kerasTopology = {
  format: 'layers-model',
  generatedBy: 'keras v2.15.0',
  convertedBy: 'TensorFlow.js Converter v4.17.0',
  modelTopology: {
    keras_version: '2.15.0',
    backend: 'tensorflow',
    model_config: {
      class_name: 'Sequential',
      config: {
        name: 'sequential',
        layers: [
          { class_name: 'InputLayer', config: { batch_input_shape: [null, D], dtype: 'float32', sparse: false, ragged: false, name: 'dense_input' } },
          { class_name: 'Dense', config: { name: 'dense', trainable: true, dtype: 'float32', batch_input_shape: [null, D], units: 8, activation: 'tanh', use_bias: true, kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null }, bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null }, kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null } },
          { class_name: 'Dropout', config: { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.1, noise_shape: null, seed: null } },
          { class_name: 'Dense', config: { name: 'dense_1', trainable: true, dtype: 'float32', units: K, activation: 'softmax', use_bias: true, kernel_initializer: { module: 'keras.initializers', class_name: 'GlorotUniform', config: { seed: null }, registered_name: null }, bias_initializer: { module: 'keras.initializers', class_name: 'Zeros', config: {}, registered_name: null }, kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null } },
        ],
      },
    },
  },
  weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'dense/kernel', shape: [D, 8], dtype: 'float32' }] }],
};

const spec = {
  kind: 'train',
  product: 'p',
  label: { column: 'y', levels: [0, 1, 2] },
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'layers', topology: kerasTopology },
  loss: 'categorical-crossentropy',
  training: { rounds: 3, localEpochs: 1, batchSize: 16, learningRate: 0.3, seed: 9 },
};

async function trainedSummary(): Promise<Record<string, unknown>> {
  const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
  const data = new Map<string, TrainAgentData>(Array.from({ length: 3 }, (_, k) => [`a${k}`, syntheticMulticlassData({ rows: 200, inputs: D, classes: K, shift: 0.1 * k, seed: 40 + k })]));
  const states = new Map<string, Map<string, unknown>>();
  const t: RoundTransport = {
    async ask(agent, task) {
      if (!states.has(agent)) states.set(agent, new Map());
      return { ok: true, bytes: encodeVector({ values: await trainRound(job, decodeRoundPayload(task.payload).input as never, data.get(agent)!, states.get(agent)!, task.round) }) };
    },
    cancelJob: () => undefined,
  };
  const out = await runRounds({ def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: t, store: createMemoryRoundStore(), rng: createSeededRng(2) });
  return out.release.summary!;
}

/** Float64 forward pass of the released dense stack (independent of TF.js). */
function forward(m: ReleasedTrainModel, x: readonly number[]): number[] {
  let h: readonly number[] = x;
  let at = 0;
  m.activations.forEach((act, l) => {
    const [n, u] = m.shapes[2 * l] as [number, number];
    const z = Array.from({ length: u }, (_, j) => {
      let v = m.weights[at + n * u + j]!;
      for (let i = 0; i < n; i++) v += h[i]! * m.weights[at + i * u + j]!;
      return v;
    });
    at += n * u + u;
    if (act === 'softmax') {
      const mx = Math.max(...z);
      const e = z.map((v) => Math.exp(v - mx));
      const s = e.reduce((a, b) => a + b, 0);
      h = e.map((v) => v / s);
    } else h = z.map((v) => (act === 'tanh' ? Math.tanh(v) : act === 'relu' ? Math.max(0, v) : act === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : v));
  });
  return [...h];
}

describe('model pull artifacts', () => {
  let dir: string | undefined;
  afterAll(async () => {
    await closeTrainPool();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a Keras-topology model trained over 3 agents loads with tf.loadLayersModel and predicts as the coordinator weights do', async () => {
    const summary = await trainedSummary();
    const released = releasedModelOf(summary);
    expect(released.activations).toEqual(['tanh', 'softmax']);
    const a = trainModelArtifacts(released, { jobId: 'j' });
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-model-'));
    await writeFile(join(dir, 'model.json'), JSON.stringify(a.modelJson));
    await writeFile(join(dir, 'weights.bin'), a.weightsBin);

    const { tf } = await loadTf();
    // What a user does with the two files (the file:// handler needs tfjs-node; this is the same load from bytes).
    const load = async (bin: Uint8Array) => {
      const json = JSON.parse(await readFile(join(dir!, 'model.json'), 'utf8')) as { modelTopology: object; weightsManifest: { weights: never[] }[]; format: string };
      return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0]!.weights, weightData: bin.slice().buffer, format: json.format }));
    };
    const bin = new Uint8Array(await readFile(join(dir, 'weights.bin')));
    const model = await load(bin);
    const rows = Array.from({ length: 20 }, (_, i) => Array.from({ length: D }, (_, j) => ((i * 7 + j * 3) % 11) / 10));
    const pred = (m: typeof model) => Array.from((m.predict(tf.tensor2d(rows)) as { dataSync(): Float32Array }).dataSync());
    const got = pred(model);
    const want = rows.flatMap((r) => forward(released, r));
    expect(got.length).toBe(20 * K);
    let maxDiff = 0;
    got.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - want[i]!))));
    expect(maxDiff).toBeLessThan(1e-5);
    // Negative control: one changed weight (the first kernel entry + 1) changes the predictions.
    const tampered = bin.slice();
    new DataView(tampered.buffer).setFloat32(0, new DataView(bin.buffer).getFloat32(0, true) + 1, true);
    const other = pred(await load(tampered));
    expect(Math.max(...other.map((v, i) => Math.abs(v - want[i]!)))).toBeGreaterThan(1e-3);
    model.dispose();
  }, 120_000);

  it('refuses summaries that do not describe a consistent model (nothing written)', () => {
    const good = { model: { inputs: ['a', 'b'], shapes: [[2, 1], [1]], activations: ['sigmoid'], weights: [0.1, 0.2, 0.3] } };
    expect(releasedModelOf(good).weights).toEqual([0.1, 0.2, 0.3]);
    const refuse = (m: unknown) => {
      try {
        releasedModelOf({ model: m });
        return 'accepted';
      } catch (e) {
        return isFedmeshError(e) ? e.code : String(e);
      }
    };
    expect(refuse({ ...good.model, weights: [0.1, 0.2] })).toBe('FAILED_PRECONDITION');
    expect(refuse({ ...good.model, weights: [0.1, Number.NaN, 0.3] })).toBe('FAILED_PRECONDITION');
    expect(refuse({ ...good.model, activations: ['eval'] })).toBe('FAILED_PRECONDITION');
    expect(refuse({ ...good.model, shapes: [[2, 1], [2]] })).toBe('FAILED_PRECONDITION');
    expect(refuse({ ...good.model, inputs: ['a'] })).toBe('FAILED_PRECONDITION');
    expect(refuse(undefined)).toBe('FAILED_PRECONDITION');
  });
});
