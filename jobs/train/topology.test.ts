/**
 * TF.js Layers topologies in a train spec are hostile input: a Keras-exported model.json and a topology TF.js itself
 * writes are accepted and become the dense stack the agents build; everything outside the allow-lists, shapes that
 * do not match the encoded features or the loss, and oversized topologies are refused with INVALID_JOB naming the
 * field. Nothing in a topology is loaded by TF.js or fetched.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { loadTf } from '../../node-agent/train/tf-runtime.js';
import { trainKind } from './index.js';
import { MAX_TOPOLOGY_CHARS } from './topology.js';
import { parseTrainSpec } from './spec.js';

const keras = (): Record<string, unknown> => JSON.parse(readFileSync(new URL('./fixtures/keras-mlp.model.json', import.meta.url), 'utf8')) as Record<string, unknown>;
/** The fixture's layer list (model.json → modelTopology → model_config → config.layers). */
const kerasLayers = (m: Record<string, unknown>): Record<string, unknown>[] => (m as { modelTopology: { model_config: { config: { layers: Record<string, unknown>[] } } } }).modelTopology.model_config.config.layers;
const cfgOf = (l: Record<string, unknown>): Record<string, unknown> => l.config as Record<string, unknown>;

// 5 encoded inputs: 3 numeric + a categorical with 2 levels.
const spec = (model: unknown, over: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'p',
  label: 'y',
  features: [
    { column: 'a', type: 'numeric', bounds: [0, 1] },
    { column: 'b', type: 'numeric', bounds: [0, 1] },
    { column: 'c', type: 'numeric', bounds: [0, 1] },
    { column: 'sex', type: 'categorical', levels: ['F', 'M'] },
  ],
  split: { column: 'split', train: 'train', test: 'test' },
  model,
  ...over,
});

const PREFIX = 'model.topology.modelTopology.model_config.config.layers';

function refused(topology: unknown, over: Record<string, unknown> = {}): { field: string; message: string } {
  try {
    parseTrainSpec(spec({ type: 'layers', topology }, over));
  } catch (e) {
    if (isFedmeshError(e) && e.code === 'INVALID_JOB') return { field: e.field ?? '', message: e.message };
    throw e;
  }
  throw new Error('accepted');
}

function mutate(fn: (layers: Record<string, unknown>[], m: Record<string, unknown>) => void): Record<string, unknown> {
  const m = keras();
  fn(kerasLayers(m), m);
  return m;
}

describe('TF.js Layers topologies in a train spec', () => {
  it('a Keras-exported model.json (TF.js converter) becomes the dense stack; the spec is idempotent and compiles', () => {
    const s = parseTrainSpec(spec({ type: 'layers', topology: keras() }));
    expect(s.model.type).toBe('layers');
    expect(s.model.layers).toEqual([{ units: 8, activation: 'relu', dropout: 0.2 }]);
    expect(parseTrainSpec(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const job = compileKindJob(trainKind, spec({ type: 'layers', topology: keras() }));
    expect(job.plan.shapes).toEqual([[5, 8], [8], [8, 1], [1]]);
    // Only the modelTopology part is accepted too.
    expect(parseTrainSpec(spec({ type: 'layers', topology: keras().modelTopology })).model.layers).toEqual(s.model.layers);
    // Derived layers given with a different value are refused (the topology decides).
    expect(() => parseTrainSpec(spec({ ...JSON.parse(JSON.stringify(s.model)), layers: [{ units: 9, activation: 'relu', dropout: 0.2 }] }))).toThrow(/model\.layers/);
  });

  it('a topology TF.js writes (model.save) with an Activation layer and a softmax output is accepted for a 3-level label', async () => {
    const { tf } = await loadTf();
    const m = tf.sequential({ layers: [tf.layers.dense({ units: 6, inputShape: [5] }), tf.layers.activation({ activation: 'tanh' }), tf.layers.dropout({ rate: 0.1 }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    let saved: unknown;
    await m.save(tf.io.withSaveHandler(async (artifacts) => {
      saved = { format: artifacts.format, generatedBy: artifacts.generatedBy, convertedBy: artifacts.convertedBy, modelTopology: artifacts.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }] };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    m.dispose();
    const s = parseTrainSpec(spec({ type: 'layers', topology: saved }, { label: { column: 'y', levels: [0, 1, 2] }, loss: 'categorical-crossentropy' }));
    expect(s.model.layers).toEqual([{ units: 6, activation: 'tanh', dropout: 0.1 }]);
    // Negative control: the same topology under a binary loss (1 sigmoid unit expected) is refused.
    const bad = (() => {
      try {
        parseTrainSpec(spec({ type: 'layers', topology: saved }));
      } catch (e) {
        return isFedmeshError(e) ? e.field : String(e);
      }
      return 'accepted';
    })();
    expect(bad).toBe('model.topology.modelTopology.config.layers[3].config');
  });

  it('refuses what is not on the allow-lists, naming the field', () => {
    // Unknown layer classes.
    expect(refused(mutate((l) => (l[2]!.class_name = 'Lambda'))).field).toBe(`${PREFIX}[2].class_name`);
    const bn = refused(mutate((l) => l.splice(2, 1, { class_name: 'BatchNormalization', config: {} })));
    expect(bn.field).toBe(`${PREFIX}[2].class_name`);
    expect(bn.message).toMatch(/moving statistics/);
    expect(refused(mutate((l) => (l[1]!.class_name = 'Conv2D'))).field).toBe(`${PREFIX}[1].class_name`);
    expect(refused(mutate((l) => (l[1]!.class_name = '__proto__'))).field).toBe(`${PREFIX}[1].class_name`);
    // Unknown and code-like activations: never evaluated, just not on the list.
    expect(refused(mutate((l) => (cfgOf(l[1]!).activation = 'gelu'))).field).toBe(`${PREFIX}[1].config.activation`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).activation = 'function(){return process.exit(1)}'))).field).toBe(`${PREFIX}[1].config.activation`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).activation = 'softmax'))).field).toBe(`${PREFIX}[1].config.activation`);
    // Unknown config keys, regularisers, frozen layers, no bias, other dtypes.
    expect(refused(mutate((l) => (cfgOf(l[1]!).kernel_regularizer = { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } }))).field).toBe(`${PREFIX}[1].config.kernel_regularizer`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).use_bias = false))).field).toBe(`${PREFIX}[1].config.use_bias`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).trainable = false))).field).toBe(`${PREFIX}[1].config.trainable`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).dtype = 'float16'))).field).toBe(`${PREFIX}[1].config.dtype`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).url = 'https://example.org/w.bin'))).field).toBe(`${PREFIX}[1].config.url`);
    expect(refused(mutate((l) => (l[1]!.inbound_nodes = [[['dense_input', 0, 0, {}]]]))).field).toBe(`${PREFIX}[1].inbound_nodes`);
    // Not a Sequential model, not a Layers model.
    expect(refused(mutate((_, m) => ((m.modelTopology as { model_config: { class_name: string } }).model_config.class_name = 'Functional'))).field).toBe('model.topology.modelTopology.model_config.class_name');
    expect(refused({ ...keras(), format: 'graph-model' }).field).toBe('model.topology.format');
    expect(refused({ format: 'layers-model' }).field).toBe('model.topology.modelTopology');
    expect(refused('model.json').field).toBe('model.topology');
    expect(refused({ ...keras(), extra: 1 }).field).toBe('model.topology.extra');
  });

  it('refuses structures the dense stack cannot express', () => {
    expect(refused(mutate((l) => l.splice(1, 0, { class_name: 'Dropout', config: { rate: 0.1 } }))).field).toBe(`${PREFIX}[1].class_name`);
    expect(refused(mutate((l) => l.splice(3, 0, { class_name: 'Dropout', config: { rate: 0.1 } }))).field).toBe(`${PREFIX}[3].class_name`);
    expect(refused(mutate((l) => l.push({ class_name: 'Dropout', config: { rate: 0.1 } }))).field).toBe(PREFIX);
    // Activation after a Dense that already has a non-linear activation.
    expect(refused(mutate((l) => l.splice(2, 0, { class_name: 'Activation', config: { activation: 'tanh' } }))).field).toBe(`${PREFIX}[2].class_name`);
    expect(refused(mutate((l) => (cfgOf(l[2]!).rate = 0.95))).field).toBe(`${PREFIX}[2].config.rate`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).units = 1.5))).field).toBe(`${PREFIX}[1].config.units`);
    expect(refused(mutate((l) => (cfgOf(l[1]!).units = 4096))).field).toBe(`${PREFIX}[1].config.units`);
  });

  it('the input shape must be the encoded features and the output must match the loss', () => {
    const wide = refused(mutate((l) => {
      cfgOf(l[0]!).batch_input_shape = [null, 6];
      cfgOf(l[1]!).batch_input_shape = [null, 6];
    }));
    expect(wide.field).toBe(`${PREFIX}[0].config`);
    expect(wide.message).toMatch(/takes 6 inputs, the job's features encode to 5/);
    expect(refused(mutate((l) => (cfgOf(l[1]!).batch_input_shape = [null, 6]))).field).toBe(`${PREFIX}[1].config`);
    expect(refused(mutate((l) => (cfgOf(l[0]!).batch_input_shape = [null, 5, 2]))).field).toBe(`${PREFIX}[0].config.batch_input_shape`);
    expect(refused(mutate((l) => (cfgOf(l[3]!).batch_input_shape = [null, 8]))).field).toBe(`${PREFIX}[3].config`);
    expect(refused(mutate((l) => {
      l.shift();
      delete cfgOf(l[0]!).batch_input_shape;
    })).field).toBe(`${PREFIX}[0].config`);
    expect(refused(mutate((l) => (cfgOf(l[3]!).units = 2))).field).toBe(`${PREFIX}[3].config`);
    expect(refused(mutate((l) => (cfgOf(l[3]!).activation = 'linear'))).field).toBe(`${PREFIX}[3].config.activation`);
    // mse takes a linear output: the sigmoid one is refused, a linear one accepted.
    expect(refused(keras(), { loss: 'mse' }).field).toBe(`${PREFIX}[3].config.activation`);
    expect(() => parseTrainSpec(spec({ type: 'layers', topology: mutate((l) => (cfgOf(l[3]!).activation = 'linear')) }, { loss: 'mse' }))).not.toThrow();
  });

  it('size limits: characters of JSON, layers, parameters', () => {
    const big = refused({ ...keras(), weightsManifest: [{ paths: Array.from({ length: 5000 }, (_, i) => `shard-${i}.bin`), weights: [] }] });
    expect(big.field).toBe('model.topology');
    expect(big.message).toContain(`at most ${MAX_TOPOLOGY_CHARS}`);
    expect(refused(mutate((l) => {
      for (let i = 0; i < 30; i++) l.splice(2, 0, { class_name: 'Dense', config: { units: 8, activation: 'relu' } });
    })).field).toBe(PREFIX);
    expect(refused(mutate((l) => {
      for (let i = 0; i < 8; i++) l.splice(2, 0, { class_name: 'Dense', config: { units: 8, activation: 'relu' } });
    })).field).toBe(PREFIX);
    const params = refused(mutate((l) => {
      cfgOf(l[1]!).units = 1024;
      l.splice(3, 0, { class_name: 'Dense', config: { units: 1024, activation: 'relu' } });
    }));
    expect(params.field).toBe('model');
    expect(params.message).toMatch(/parameters; at most 100000/);
    // A type other than layers takes no topology; layers needs one.
    expect(() => parseTrainSpec(spec({ type: 'logistic', topology: keras() }))).toThrow(/model\.topology/);
    expect(() => parseTrainSpec(spec({ type: 'layers' }))).toThrow(/model\.topology/);
  });
});
