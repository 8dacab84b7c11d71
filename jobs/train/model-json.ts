/**
 * The released model of a train job as TF.js Layers artifacts (pure, no TF.js): a `model.json` (format
 * `layers-model`, a Sequential of Dense layers with the activations the job trained, output activation included)
 * and one `weights.bin` shard (float32, little-endian, in `getWeights()` order: per layer kernel [in, out] then
 * bias [out]). `tf.loadLayersModel` loads the pair and predicts what the coordinator's weights predict (tested).
 * Dropout layers are left out: they do nothing at inference.
 *
 * `userDefinedMetadata.fedmesh` says how to build the inputs (the model takes the encoded features: numeric ones
 * clamped to their declared bounds and scaled to [0, 1] by them, categorical ones one-hot over their levels, in
 * `inputs` order) and what the outputs mean (label levels), so that the model can be used outside the mesh.
 */
import { FEDMESH_VERSION } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';

/** What a train job's result summary says of its model (jobs/train/index.ts). */
export interface ReleasedTrainModel {
  readonly inputs: readonly string[];
  readonly shapes: readonly (readonly number[])[];
  readonly activations: readonly string[];
  readonly weights: readonly number[];
}

export interface TrainModelArtifacts {
  /** The model.json object (write it as JSON). */
  readonly modelJson: Record<string, unknown>;
  /** The weights shard the manifest names (`weights.bin`). */
  readonly weightsBin: Uint8Array;
  readonly parameters: number;
}

export const WEIGHTS_FILE = 'weights.bin';
const MAX_LAYERS = 16;
const MAX_PARAMETERS = 1_000_000;
const ACTIVATIONS = new Set(['relu', 'tanh', 'sigmoid', 'linear', 'elu', 'selu', 'softplus', 'softmax']);

const bad = (what: string): FedmeshError => new FedmeshError('FAILED_PRECONDITION', `the job's result holds no usable model: ${what}`);

/**
 * Checks a result summary's `model` (from the coordinator: checked, not trusted) and returns it typed.
 * @throws FedmeshError FAILED_PRECONDITION saying what is wrong
 */
export function releasedModelOf(summary: unknown): ReleasedTrainModel {
  const m = (summary as { model?: unknown } | undefined)?.model as Partial<Record<keyof ReleasedTrainModel, unknown>> | undefined;
  if (!m || typeof m !== 'object') throw bad('no summary.model');
  const { inputs, shapes, activations, weights } = m;
  if (!Array.isArray(shapes) || shapes.length < 2 || shapes.length % 2 !== 0 || shapes.length > 2 * MAX_LAYERS) throw bad('summary.model.shapes is not a list of kernel and bias shapes');
  const layers = shapes.length / 2;
  let prev: number | undefined;
  let total = 0;
  for (let l = 0; l < layers; l++) {
    const k = shapes[2 * l] as unknown;
    const b = shapes[2 * l + 1] as unknown;
    const ok = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= MAX_PARAMETERS;
    if (!Array.isArray(k) || k.length !== 2 || !ok(k[0]) || !ok(k[1]) || !Array.isArray(b) || b.length !== 1 || b[0] !== k[1]) throw bad(`layer ${l + 1}'s shapes are not [in, out] and [out]`);
    if (prev !== undefined && k[0] !== prev) throw bad(`layer ${l + 1} takes ${k[0]} inputs, the layer before gives ${prev}`);
    prev = k[1];
    total += k[0] * k[1] + k[1];
    if (total > MAX_PARAMETERS) throw bad(`more than ${MAX_PARAMETERS} parameters`);
  }
  if (!Array.isArray(activations) || activations.length !== layers || !activations.every((a) => typeof a === 'string' && ACTIVATIONS.has(a))) throw bad('summary.model.activations does not name one known activation per layer');
  if (!Array.isArray(weights) || weights.length !== total || !weights.every((w) => typeof w === 'number' && Number.isFinite(w))) throw bad(`summary.model.weights is not ${total} finite numbers`);
  const width = (shapes[0] as number[])[0]!;
  if (!Array.isArray(inputs) || inputs.length !== width || !inputs.every((s) => typeof s === 'string')) throw bad(`summary.model.inputs does not name the ${width} inputs`);
  return { inputs: inputs as string[], shapes: shapes as number[][], activations: activations as string[], weights: weights as number[] };
}

/**
 * The TF.js artifacts of a released model. `meta` goes into `userDefinedMetadata.fedmesh` (the job id, the
 * features' encoding, label levels).
 */
export function trainModelArtifacts(model: ReleasedTrainModel, meta: Record<string, unknown> = {}): TrainModelArtifacts {
  const layers = model.shapes.length / 2;
  const configs: Record<string, unknown>[] = [];
  const specs: { name: string; shape: number[]; dtype: 'float32' }[] = [];
  for (let l = 0; l < layers; l++) {
    const [inputs, units] = model.shapes[2 * l] as [number, number];
    const name = `dense_${l + 1}`;
    configs.push({
      class_name: 'Dense',
      config: { name, trainable: true, dtype: 'float32', units, activation: model.activations[l], use_bias: true, ...(l === 0 ? { batch_input_shape: [null, inputs] } : {}) },
    });
    specs.push({ name: `${name}/kernel`, shape: [inputs, units], dtype: 'float32' }, { name: `${name}/bias`, shape: [units], dtype: 'float32' });
  }
  const bytes = new Uint8Array(model.weights.length * 4);
  const view = new DataView(bytes.buffer);
  model.weights.forEach((w, i) => view.setFloat32(i * 4, w, true));
  const modelJson = {
    format: 'layers-model',
    generatedBy: `fedmesh ${FEDMESH_VERSION}`,
    convertedBy: null,
    modelTopology: { class_name: 'Sequential', config: { name: 'fedmesh_train', layers: configs }, keras_version: 'tfjs-layers', backend: 'tensor_flow.js' },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: specs }],
    userDefinedMetadata: { fedmesh: { inputs: model.inputs, ...meta } },
  };
  return { modelJson, weightsBin: bytes, parameters: model.weights.length };
}
