/**
 * A TF.js Layers model topology in a train spec (pure): `"model": {"type": "layers", "topology": <model.json>}`,
 * where the topology is the content of a `model.json` as Keras (through the TF.js converter) or TF.js `model.save`
 * writes it, or just its `modelTopology`. It is **hostile input**: it is validated field by field against an
 * allow-list and turned into the same dense stack the `mlp` type declares (`DenseLayerSpec[]`), which is all the
 * agents ever build. The topology is never handed to `tf.models.modelFromJSON`, nothing in it is evaluated, and
 * no path or URL in it is fetched (a `weightsManifest` is ignored: initial weights come from the job's seed, the
 * same at every agent).
 *
 * What is accepted:
 * - `Sequential` models only (Keras 2 and TF.js; the converter's `model_config` wrapper and the older bare layer list).
 * - Layers: `InputLayer` (first), `Dense` (units ≤ 1024, bias on, no regularisers or constraints: use `model.l2`),
 *   `Activation` (after a linear Dense), `Dropout` (after a Dense, rate ≤ 0.9). Anything else — BatchNormalization
 *   (its moving statistics are not trainable weights and would need their own federated rule), Conv, RNN, Lambda,
 *   custom classes — is refused naming the layer.
 * - Activations: relu, tanh, sigmoid, linear, elu, selu, softplus on hidden layers; the output layer's must be the
 *   loss's (sigmoid for binary, softmax for categorical cross-entropy, linear for mse), and its units 1 or K.
 * - The input shape (`batch_input_shape` / `batch_shape` / `input_shape` / `input_dim`) must be [null, d] with d the
 *   number of encoded features (numeric features + categorical levels).
 * - At most {@link MAX_TOPOLOGY_CHARS} characters of JSON and {@link MAX_TOPOLOGY_LAYERS} layers; the parameter
 *   limit of every train model applies after.
 */
import { invalidJob, quote } from '../../common/errors.js';
import { outputActivation, type LossName } from './loss.js';

/** Largest topology accepted, in characters of its JSON. */
export const MAX_TOPOLOGY_CHARS = 64 * 1024;
/** Most layer entries (InputLayer, Dense, Activation, Dropout) in a topology. */
export const MAX_TOPOLOGY_LAYERS = 32;

const HIDDEN_ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'linear', 'elu', 'selu', 'softplus'] as const;
type Activation = (typeof HIDDEN_ACTIVATIONS)[number];

/** A hidden dense layer as the spec's `mlp` declares it (spec.ts's DenseLayerSpec, structurally). */
export interface TopologyDenseLayer {
  readonly units: number;
  readonly activation: Activation;
  readonly dropout: number;
}
const MAX_UNITS = 1024;
const MAX_HIDDEN = 8;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Keys every layer config may carry that do not change the computation (checked for type only). */
const META = ['name', 'trainable', 'dtype', 'module', 'registered_name', 'build_config', 'batch_size'];
const INPUT_SHAPE_KEYS = ['batch_input_shape', 'batch_shape', 'input_shape', 'input_dim'];
const LAYER_KEYS: Readonly<Record<string, readonly string[]>> = {
  InputLayer: [...META, 'batch_input_shape', 'batch_shape', 'input_shape', 'sparse', 'ragged', 'input_tensor'],
  Dense: [...META, ...INPUT_SHAPE_KEYS, 'units', 'activation', 'use_bias', 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint', 'lora_rank'],
  Activation: [...META, ...INPUT_SHAPE_KEYS, 'activation'],
  Dropout: [...META, ...INPUT_SHAPE_KEYS, 'rate', 'noise_shape', 'seed'],
};

function onlyKeys(o: Obj, allowed: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw invalidJob(`${field}.${k.slice(0, 40)}`, `unknown field; ${field.slice(field.lastIndexOf('.') + 1)} takes ${allowed.join(', ')}`);
}

function metaOk(cfg: Obj, field: string): void {
  for (const k of ['name', 'module', 'registered_name']) {
    const v = cfg[k];
    if (v !== undefined && v !== null && (typeof v !== 'string' || v.length > 200)) throw invalidJob(`${field}.${k}`, 'must be a string of at most 200 characters');
  }
  if (cfg.trainable !== undefined && cfg.trainable !== true) throw invalidJob(`${field}.trainable`, 'must be true: every layer of a federated model is trained');
  const dt = cfg.dtype;
  const dtName = isObj(dt) && isObj(dt.config) ? dt.config.name : dt;
  if (dt !== undefined && dt !== null && dtName !== 'float32') throw invalidJob(`${field}.dtype`, `must be float32, got ${quote(dtName)}`);
}

/** d of an input shape [null, d] (or `input_dim: d`); undefined when the layer declares none. */
function inputWidth(cfg: Obj, field: string): number | undefined {
  for (const k of INPUT_SHAPE_KEYS) {
    const v = cfg[k];
    if (v === undefined || v === null) continue;
    if (k === 'input_dim') {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw invalidJob(`${field}.${k}`, `must be a positive integer, got ${quote(v)}`);
      return v;
    }
    const shape = k === 'input_shape' ? [null, ...(Array.isArray(v) ? v : [v])] : v;
    if (!Array.isArray(shape) || shape.length !== 2 || shape[0] !== null || typeof shape[1] !== 'number' || !Number.isSafeInteger(shape[1]) || shape[1] < 1) {
      throw invalidJob(`${field}.${k}`, `must be a flat feature vector [null, d] (any batch size); got ${quote(v)}`);
    }
    return shape[1];
  }
  return undefined;
}

function activationOf(v: unknown, field: string, allowed: readonly string[]): Activation | 'softmax' {
  if (typeof v !== 'string' || !allowed.includes(v)) throw invalidJob(field, `must be one of ${allowed.join(', ')}; got ${quote(v)}`);
  return v as Activation | 'softmax';
}

/** The Sequential layer list inside a model.json, a modelTopology, or the converter's `model_config` wrapper. */
function layerList(topology: unknown, field: string): { layers: unknown[]; field: string } {
  if (!isObj(topology)) throw invalidJob(field, 'must be the content of a TF.js model.json or its modelTopology (a JSON object)');
  let t: Obj = topology;
  let f = field;
  if ('modelTopology' in t || 'format' in t) {
    onlyKeys(t, ['format', 'generatedBy', 'convertedBy', 'modelTopology', 'weightsManifest', 'trainingConfig', 'signature', 'userDefinedMetadata'], f);
    if (t.format !== undefined && t.format !== 'layers-model') throw invalidJob(`${f}.format`, `must be "layers-model" (a TF.js Layers model), got ${quote(t.format)}`);
    if (!isObj(t.modelTopology)) throw invalidJob(`${f}.modelTopology`, 'is missing or not an object');
    f = `${f}.modelTopology`;
    t = t.modelTopology;
  }
  if ('model_config' in t) {
    onlyKeys(t, ['keras_version', 'backend', 'model_config', 'training_config'], f);
    if (!isObj(t.model_config)) throw invalidJob(`${f}.model_config`, 'must be an object');
    f = `${f}.model_config`;
    t = t.model_config;
  }
  onlyKeys(t, ['class_name', 'config', 'keras_version', 'backend', 'module', 'registered_name', 'build_config', 'compile_config'], f);
  if (t.class_name !== 'Sequential') throw invalidJob(`${f}.class_name`, `only Sequential models (a stack of layers) are supported, got ${quote(t.class_name)}`);
  if (Array.isArray(t.config)) return { layers: t.config, field: `${f}.config` };
  if (!isObj(t.config) || !Array.isArray(t.config.layers)) throw invalidJob(`${f}.config.layers`, 'must list the layers');
  onlyKeys(t.config, ['name', 'layers', 'trainable', 'dtype', 'build_input_shape'], `${f}.config`);
  return { layers: t.config.layers, field: `${f}.config.layers` };
}

/**
 * The hidden dense layers a topology declares, after checking it against the allow-lists, the job's encoded
 * inputs and its loss (output units and activation).
 * @throws FedmeshError INVALID_JOB naming the field (`model.topology…`)
 */
export function denseStackOfTopology(topology: unknown, ctx: { inputs: number; loss: LossName; outputUnits: number }, field = 'model.topology'): TopologyDenseLayer[] {
  let chars: number;
  try {
    chars = JSON.stringify(topology)?.length ?? 0;
  } catch {
    throw invalidJob(field, 'must be plain JSON');
  }
  if (chars > MAX_TOPOLOGY_CHARS) throw invalidJob(field, `is ${chars} characters of JSON; at most ${MAX_TOPOLOGY_CHARS}`);
  const { layers, field: lf } = layerList(topology, field);
  if (layers.length < 1 || layers.length > MAX_TOPOLOGY_LAYERS) throw invalidJob(lf, `must list 1 to ${MAX_TOPOLOGY_LAYERS} layers, got ${layers.length}`);
  const dense: { units: number; activation: Activation | 'softmax'; dropout: number; dropoutLayer: boolean; field: string; hasActivationLayer: boolean }[] = [];
  let width: number | undefined;
  const firstIsInput = isObj(layers[0]) && layers[0].class_name === 'InputLayer';
  layers.forEach((l, i) => {
    const f = `${lf}[${i}]`;
    if (!isObj(l)) throw invalidJob(f, 'must be {"class_name": …, "config": {…}}');
    onlyKeys(l, ['class_name', 'config', 'name', 'module', 'registered_name', 'build_config', 'inbound_nodes'], f);
    if (Array.isArray(l.inbound_nodes) && l.inbound_nodes.length > 0) throw invalidJob(`${f}.inbound_nodes`, 'only Sequential models (no functional graph) are supported');
    const cls = l.class_name;
    if (typeof cls !== 'string' || !Object.hasOwn(LAYER_KEYS, cls)) throw invalidJob(`${f}.class_name`, `layer ${quote(cls, 40)} is not supported; layers: ${Object.keys(LAYER_KEYS).join(', ')}${cls === 'BatchNormalization' ? ' (BatchNormalization keeps moving statistics that are not trainable weights: not averaged federatedly here)' : ''}`);
    const cfg = l.config;
    if (!isObj(cfg)) throw invalidJob(`${f}.config`, 'must be an object');
    const cf = `${f}.config`;
    onlyKeys(cfg, LAYER_KEYS[cls]!, cf);
    metaOk(cfg, cf);
    const w = inputWidth(cfg, cf);
    if (w !== undefined) {
      // The first layer declares it (TF.js); Keras also repeats the InputLayer's shape on the first Dense.
      if (!(i === 0 || (i === 1 && firstIsInput))) throw invalidJob(cf, 'only the first layer may declare the input shape');
      if (width !== undefined && width !== w) throw invalidJob(cf, `declares ${w} inputs, the input layer ${width}`);
      width = w;
    }
    const last = dense.at(-1);
    switch (cls) {
      case 'InputLayer':
        if (i !== 0) throw invalidJob(`${f}.class_name`, 'InputLayer must be the first layer');
        if (cfg.sparse === true || cfg.ragged === true) throw invalidJob(cf, 'sparse and ragged inputs are not supported');
        if (cfg.input_tensor !== undefined && cfg.input_tensor !== null) throw invalidJob(`${cf}.input_tensor`, 'must be null');
        break;
      case 'Dense': {
        const units = cfg.units;
        if (typeof units !== 'number' || !Number.isSafeInteger(units) || units < 1 || units > MAX_UNITS) throw invalidJob(`${cf}.units`, `must be an integer in [1, ${MAX_UNITS}], got ${quote(units)}`);
        if (cfg.use_bias !== undefined && cfg.use_bias !== true) throw invalidJob(`${cf}.use_bias`, 'must be true (every dense layer has a bias here)');
        for (const k of ['kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint', 'lora_rank']) {
          if (cfg[k] !== undefined && cfg[k] !== null) throw invalidJob(`${cf}.${k}`, `must be null${k === 'kernel_regularizer' ? ' (use model.l2 for an L2 penalty on every kernel)' : ''}`);
        }
        for (const k of ['kernel_initializer', 'bias_initializer']) {
          if (cfg[k] !== undefined && cfg[k] !== null && !isObj(cfg[k]) && typeof cfg[k] !== 'string') throw invalidJob(`${cf}.${k}`, 'must be an initializer object or name (it is not used: weights start from the seeded Glorot initialisation)');
        }
        dense.push({ units, activation: activationOf(cfg.activation ?? 'linear', `${cf}.activation`, [...HIDDEN_ACTIVATIONS, 'softmax']), dropout: 0, dropoutLayer: false, field: cf, hasActivationLayer: false });
        break;
      }
      case 'Activation':
        if (!last || last.dropoutLayer) throw invalidJob(`${f}.class_name`, 'an Activation layer must directly follow a Dense layer');
        if (last.activation !== 'linear' || last.hasActivationLayer) throw invalidJob(`${f}.class_name`, 'an Activation layer must follow a Dense layer whose own activation is linear');
        last.activation = activationOf(cfg.activation, `${cf}.activation`, [...HIDDEN_ACTIVATIONS, 'softmax']);
        last.field = cf;
        last.hasActivationLayer = true;
        break;
      case 'Dropout': {
        if (!last) throw invalidJob(`${f}.class_name`, 'Dropout must follow a Dense layer (dropout on the inputs is not supported)');
        if (last.dropoutLayer) throw invalidJob(`${f}.class_name`, 'at most one Dropout after each Dense layer');
        const rate = cfg.rate;
        if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 0.9) throw invalidJob(`${cf}.rate`, `must be a number in [0, 0.9], got ${quote(rate)}`);
        if (cfg.noise_shape !== undefined && cfg.noise_shape !== null) throw invalidJob(`${cf}.noise_shape`, 'must be null');
        if (cfg.seed !== undefined && cfg.seed !== null && typeof cfg.seed !== 'number') throw invalidJob(`${cf}.seed`, 'must be a number or null (dropout is seeded from training.seed)');
        last.dropout = rate;
        last.dropoutLayer = true;
        break;
      }
    }
  });
  if (dense.length === 0) throw invalidJob(lf, 'has no Dense layer');
  if (dense.length > MAX_HIDDEN + 1) throw invalidJob(lf, `has ${dense.length} Dense layers; at most ${MAX_HIDDEN} hidden and the output`);
  if (width === undefined) throw invalidJob(`${lf}[0].config`, 'declares no input shape: export the model after building it (batch_input_shape [null, d])');
  if (width !== ctx.inputs) throw invalidJob(`${lf}[0].config`, `the model takes ${width} inputs, the job's features encode to ${ctx.inputs} (numeric features, plus one per categorical level)`);
  const out = dense.at(-1)!;
  if (out.dropoutLayer) throw invalidJob(lf, 'ends with Dropout after the output layer');
  if (out.units !== ctx.outputUnits) throw invalidJob(`${out.field}`, `the output layer has ${out.units} units; loss ${ctx.loss} needs ${ctx.outputUnits}${ctx.loss === 'categorical-crossentropy' ? ' (one per label level)' : ''}`);
  const want = outputActivation(ctx.loss);
  if (out.activation !== want) throw invalidJob(`${out.field}.activation`, `the output layer of a ${ctx.loss} model has activation ${want}, got ${quote(out.activation)}`);
  return dense.slice(0, -1).map((d) => {
    const a = d.activation;
    if (a === 'softmax') throw invalidJob(`${d.field}.activation`, 'softmax is for the output layer only');
    return Object.freeze({ units: d.units, activation: a, dropout: d.dropout });
  });
}
