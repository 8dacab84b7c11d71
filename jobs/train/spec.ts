/**
 * The `train` job spec: `{"kind":"train", …}` parsed and validated into a frozen spec (pure). Every field has a
 * bound; every error is FedmeshError INVALID_JOB naming the field, raised before anything is charged.
 *
 * ```json
 * {"kind":"train","product":"heart","label":"label_binary",
 *  "features":[{"column":"age","type":"numeric","bounds":[0,120]},
 *              {"column":"cp","type":"categorical","levels":[1,2,3,4]}],
 *  "split":{"column":"split","train":"train","test":"test"},
 *  "model":{"type":"mlp","layers":[{"units":16,"activation":"relu","dropout":0.1}],"l2":1e-4},
 *  "loss":"binary-crossentropy",
 *  "training":{"rounds":20,"localEpochs":1,"batchSize":32,"optimizer":"sgd","learningRate":0.05,"seed":1},
 *  "strategy":{"name":"fedadam","serverLr":0.01},
 *  "participation":{"fraction":1,"minUpdates":2},
 *  "privacy":{"mode":"none"}}
 * ```
 */
import { parseProject, parsePurpose, identifier, isObj, onlyKeys, parseBounds, parseFilter, scalar } from '../../common/job/index.js';
import { invalidJob, quote } from '../../common/errors.js';
import { parseCohortDefinition, checkSpecShape } from '../../common/cohort/index.js';
import type { Filter, Scalar } from '../../common/job/index.js';
import { DEFAULT_SECURE_MAX_ROWS } from '../../common/secure/index.js';
import { checkDpTraining, isDpTraining, parseTrainPrivacy, type TrainPrivacy } from './privacy-spec.js';
import { parseTrainSplit, type TrainSplit } from './hash-split.js';

export type { TrainSplit } from './hash-split.js';
import { STRATEGIES, isFedOpt, type StrategyConfig, type StrategyName } from '../../algorithms/fl/index.js';
import { checkLossAndLabel, outputUnits, parseLabelLevels, parseLoss, type LabelLevel, type LossName } from './loss.js';
import { denseStackOfTopology } from './topology.js';
import { parseRunOptions } from './run-options.js';

/**
 * update.maxExamples when the spec gives none: the agents' default `--secure-max-rows` (2^24). Under a secure sum in
 * mode none this value stands for "not given" and the coordinator puts the agents' agreed bound in its place
 * (KindDef.secureRowBound, jobs/train/index.ts); being the secure default itself, it is checked as what it is
 * (red team 27: with 1e7 here the check read it as 2^24, and agents publishing 1e7 could run no such job).
 */
export const DEFAULT_MAX_EXAMPLES = DEFAULT_SECURE_MAX_ROWS;

/** The largest model (weights and biases) a job may train: its weights travel as JSON in every round's input. */
export const MAX_TRAIN_PARAMETERS = 100_000;
export const MAX_TRAIN_FEATURES = 200;
export const MAX_TRAIN_LAYERS = 8;
export const MAX_TRAIN_UNITS = 1024;
export const MAX_TRAIN_ROUNDS = 500;
export const MAX_LOCAL_EPOCHS = 100;
export const MAX_EVAL_THRESHOLDS = 1000;
export const ACTIVATIONS = ['relu', 'tanh', 'sigmoid', 'linear', 'elu', 'selu', 'softplus'] as const;
export type Activation = (typeof ACTIVATIONS)[number];
export { LOSSES, type LossName } from './loss.js';

export interface TrainNumericFeature {
  readonly column: string;
  readonly type: 'numeric';
  /** Declared bounds: values are clamped to them and scaled to [0, 1] by them (public, so the same at every agent). */
  readonly bounds: readonly [number, number];
}
export interface TrainCategoricalFeature {
  readonly column: string;
  readonly type: 'categorical';
  /** Public levels: one input per level (one-hot); a row with another level is dropped and counted. */
  readonly levels: readonly Scalar[];
}
export type TrainFeature = TrainNumericFeature | TrainCategoricalFeature;

export interface DenseLayerSpec {
  readonly units: number;
  readonly activation: Activation;
  /** Dropout rate after the layer during local training. @default 0 */
  readonly dropout: number;
}

export interface TrainModelSpec {
  /**
   * logistic / linear: one dense output layer on the inputs; mlp: hidden `layers` then the output layer; layers: a
   * TF.js Layers `topology` (model.json) whose hidden layers are derived into `layers` (topology.ts).
   */
  readonly type: 'logistic' | 'linear' | 'mlp' | 'layers';
  readonly layers: readonly DenseLayerSpec[];
  /** type layers: the model.json content (or its modelTopology) as given; validated, never loaded by TF.js. */
  readonly topology?: unknown;
  /** L2 penalty on the kernels, added to the local loss. @default 0 */
  readonly l2: number;
}

export interface TrainingSpec {
  readonly rounds: number;
  readonly localEpochs: number;
  readonly batchSize: number;
  readonly optimizer: 'sgd' | 'adam';
  readonly learningRate: number;
  /** SGD momentum. @default 0 */
  readonly momentum: number;
  /** Seeds model initialisation, shuffling and dropout (never privacy noise). @default 1 */
  readonly seed: number;
}

export interface TrainJobSpec {
  readonly kind: 'train';
  /** HL7 PurposeOfUse code and project (common/job/purpose.ts): to the agents' policy, consent, the audit and the project's budget. */
  readonly purpose?: string;
  readonly project?: string;
  readonly product: string;
  readonly label: string;
  /** Public label levels (categorical cross-entropy: one output unit each; a binary loss: 2 levels → 0, 1). */
  readonly labelLevels?: readonly LabelLevel[];
  /**
   * Public bounds of a numeric (mse) label: in DP training each test row's prediction and label are clamped to them,
   * so its squared error is at most (hi − lo)² and the test loss can be released with noise. Not used in mode none.
   */
  readonly labelBounds?: readonly [number, number];
  readonly features: readonly TrainFeature[];
  readonly split: TrainSplit;
  readonly where: readonly Filter[];
  readonly cohort?: unknown;
  readonly model: TrainModelSpec;
  readonly loss: LossName;
  readonly training: TrainingSpec;
  readonly strategy: StrategyConfig;
  /** Fraction of agents asked per round (CSPRNG sample) and the fewest updates a round may aggregate. */
  readonly participation: { readonly fraction: number; readonly minUpdates: number };
  /** Train on these agents only (`--agents`); absent: every agent serving the product (run-options.ts). */
  readonly agents?: readonly string[];
  /** Public L2 clip of each agent's update and its fixed-point grid 2^gridExponent; SCAFFOLD's Δc clip. */
  readonly update: { readonly clip: number; readonly gridExponent: number; readonly controlClip: number; readonly maxExamples: number };
  /** Thresholds of the ROC histogram (bins over the score in [0, 1]). @default 100 */
  readonly evaluation: { readonly thresholds: number };
  /** none, or record-level DP training (jobs/train/privacy-spec.ts). @default none */
  readonly privacy: TrainPrivacy;
  /** Secure sum of the round vectors (every block is fixed-point with public bounds). @default 'plain' */
  readonly secure?: 'secagg' | 'he';
  readonly timeoutMs?: number;
}

const FIELDS = ['kind', 'product', 'label', 'labelLevels', 'labelBounds', 'features', 'split', 'where', 'cohort', 'model', 'loss', 'training', 'strategy', 'participation', 'update', 'evaluation', 'privacy', 'secure', 'timeoutMs', 'purpose', 'project', 'quorum', 'agents'];

function num(v: unknown, field: string, lo: number, hi: number, dflt?: number, integer = false): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
    throw invalidJob(field, `must be a finite ${integer ? 'integer' : 'number'} in [${lo}, ${hi}], got ${quote(v)}`);
  }
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], dflt?: T): T {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw invalidJob(field, `must be one of ${allowed.join(', ')}; got ${quote(v)}`);
  return v as T;
}

function parseFeature(v: unknown, field: string): TrainFeature {
  if (!isObj(v)) throw invalidJob(field, 'must be {column, type: "numeric", bounds} or {column, type: "categorical", levels}');
  const column = identifier(v.column, `${field}.column`);
  if (v.type === 'numeric') {
    onlyKeys(v, ['column', 'type', 'bounds'], field);
    const bounds = parseBounds(v.bounds, `${field}.bounds`);
    if (!(bounds[1] > bounds[0])) throw invalidJob(`${field}.bounds`, 'must have lower < upper (features are scaled by the declared range)');
    return Object.freeze({ column, type: 'numeric', bounds: Object.freeze(bounds) });
  }
  if (v.type === 'categorical') {
    onlyKeys(v, ['column', 'type', 'levels'], field);
    if (!Array.isArray(v.levels) || v.levels.length < 2 || v.levels.length > 50) throw invalidJob(`${field}.levels`, 'must list 2 to 50 public levels');
    const levels = v.levels.map((x, i) => scalar(x, `${field}.levels[${i}]`));
    if (new Set(levels.map((l) => `${typeof l}:${String(l)}`)).size !== levels.length) throw invalidJob(`${field}.levels`, 'lists a level twice');
    return Object.freeze({ column, type: 'categorical', levels: Object.freeze(levels) });
  }
  throw invalidJob(`${field}.type`, `must be "numeric" or "categorical", got ${quote(v.type)}`);
}

function parseModel(v: unknown, loss: LossName, shape: { inputs: number; outputUnits: number }): TrainModelSpec {
  if (!isObj(v)) throw invalidJob('model', 'must be {"type": "logistic" | "linear" | "mlp" | "layers", …}');
  onlyKeys(v, ['type', 'layers', 'l2', 'topology'], 'model');
  const type = oneOf(v.type, 'model.type', ['logistic', 'linear', 'mlp', 'layers'] as const);
  if (type === 'layers') return parseLayersModel(v, loss, shape);
  if (v.topology !== undefined) throw invalidJob('model.topology', 'applies to model type "layers" only');
  if (type === 'logistic' && loss === 'mse') throw invalidJob('loss', 'a logistic model takes loss binary-crossentropy (or categorical-crossentropy: softmax regression)');
  if (type === 'linear' && loss !== 'mse') throw invalidJob('loss', 'a linear model takes loss mse');
  const l2 = num(v.l2, 'model.l2', 0, 1, 0);
  if (type !== 'mlp') {
    if (v.layers !== undefined && !(Array.isArray(v.layers) && v.layers.length === 0)) throw invalidJob('model.layers', `a ${type} model has no hidden layers (use type "mlp")`);
    return Object.freeze({ type, layers: [], l2 });
  }
  if (!Array.isArray(v.layers) || v.layers.length < 1 || v.layers.length > MAX_TRAIN_LAYERS) throw invalidJob('model.layers', `an mlp needs 1 to ${MAX_TRAIN_LAYERS} hidden layers`);
  const layers = v.layers.map((l: unknown, i): DenseLayerSpec => {
    const f = `model.layers[${i}]`;
    if (!isObj(l)) throw invalidJob(f, 'must be {units, activation, dropout?}');
    onlyKeys(l, ['type', 'units', 'activation', 'dropout'], f);
    if (l.type !== undefined && l.type !== 'dense') throw invalidJob(`${f}.type`, `unknown layer type ${quote(l.type)}; only "dense" layers (with dropout) are supported`);
    return Object.freeze({ units: num(l.units, `${f}.units`, 1, MAX_TRAIN_UNITS, undefined, true), activation: oneOf(l.activation, `${f}.activation`, ACTIVATIONS), dropout: num(l.dropout, `${f}.dropout`, 0, 0.9, 0) });
  });
  return Object.freeze({ type, layers: Object.freeze(layers), l2 });
}

/** `{"type": "layers", "topology": <model.json>, "l2"?}`: the hidden layers come from the topology (topology.ts). */
function parseLayersModel(v: Record<string, unknown>, loss: LossName, shape: { inputs: number; outputUnits: number }): TrainModelSpec {
  if (v.topology === undefined) throw invalidJob('model.topology', 'is required for model type "layers" (the content of a TF.js model.json, or its modelTopology)');
  const layers = denseStackOfTopology(v.topology, { inputs: shape.inputs, loss, outputUnits: shape.outputUnits });
  // The parsed spec carries the derived layers; given again (a re-parse) they must be the topology's.
  if (v.layers !== undefined && JSON.stringify(v.layers) !== JSON.stringify(layers)) throw invalidJob('model.layers', 'are derived from the topology; leave them out');
  return Object.freeze({ type: 'layers', layers: Object.freeze(layers), l2: num(v.l2, 'model.l2', 0, 1, 0), topology: v.topology });
}

function parseStrategy(v: unknown): StrategyConfig {
  if (v !== undefined && !isObj(v)) throw invalidJob('strategy', 'must be {"name": …, hyperparameters}');
  const s = (v ?? {}) as Record<string, unknown>;
  onlyKeys(s, ['name', 'serverLr', 'beta1', 'beta2', 'tau', 'mu'], 'strategy');
  const name: StrategyName = oneOf(s.name, 'strategy.name', STRATEGIES, 'fedavg');
  if (s.mu !== undefined && s.mu !== 0 && name !== 'fedprox') throw invalidJob('strategy.mu', 'applies to fedprox only');
  return Object.freeze({
    name,
    serverLr: num(s.serverLr, 'strategy.serverLr', 1e-6, 100, isFedOpt(name) ? 0.01 : 1),
    beta1: num(s.beta1, 'strategy.beta1', 0, 0.999999, 0.9),
    beta2: num(s.beta2, 'strategy.beta2', 0, 0.999999, 0.99),
    tau: num(s.tau, 'strategy.tau', 1e-12, 10, 1e-3),
    mu: num(s.mu, 'strategy.mu', 0, 100, name === 'fedprox' ? 0.01 : 0),
  });
}

/** Parameters of the model a spec declares (kernels and biases), for the size limit. */
export function parameterCount(inputs: number, model: TrainModelSpec, outputs = 1): number {
  let n = 0;
  let prev = inputs;
  for (const l of model.layers) {
    n += prev * l.units + l.units;
    prev = l.units;
  }
  return n + prev * outputs + outputs;
}

/** Inputs after one-hot encoding. */
export const inputCount = (features: readonly TrainFeature[]): number => features.reduce((a, f) => a + (f.type === 'numeric' ? 1 : f.levels.length), 0);

/**
 * Parses and validates a train job spec (a parsed JSON value). Idempotent on its own output.
 * @throws FedmeshError INVALID_JOB naming the field at fault
 */
export function parseTrainSpec(raw: unknown): TrainJobSpec {
  if (!isObj(raw)) throw invalidJob('spec', 'must be a JSON object');
  checkSpecShape(raw);
  if (raw.kind !== 'train') throw invalidJob('kind', `must be "train", got ${quote(raw.kind)}`);
  onlyKeys(raw, FIELDS, '');
  const product = identifier(raw.product, 'product');
  const labelSpec = parseLabelLevels(raw.label, raw.labelLevels, raw.labelBounds);
  const label = identifier(labelSpec.column, typeof raw.label === 'object' && raw.label !== null ? 'label.column' : 'label');
  if (!Array.isArray(raw.features) || raw.features.length < 1 || raw.features.length > MAX_TRAIN_FEATURES) throw invalidJob('features', `must list 1 to ${MAX_TRAIN_FEATURES} features`);
  const features = raw.features.map((f, i) => parseFeature(f, `features[${i}]`));
  const seen = new Set<string>();
  features.forEach((f, i) => {
    if (f.column === label) throw invalidJob(`features[${i}].column`, 'is the label column');
    if (seen.has(f.column)) throw invalidJob(`features[${i}].column`, `lists ${f.column} twice`);
    seen.add(f.column);
  });
  // A column (not the label or a feature) or a keyed hash of the privacy unit (hash-split.ts).
  const split = parseTrainSplit(raw.split, new Set([label, ...seen]));
  const loss = parseLoss(raw.loss);
  checkLossAndLabel(loss, labelSpec.levels, labelSpec.field, labelSpec.bounds ? { field: labelSpec.boundsField } : undefined);
  const outputs = outputUnits({ loss, ...(labelSpec.levels ? { labelLevels: labelSpec.levels } : {}) });
  const model = parseModel(raw.model, loss, { inputs: inputCount(features), outputUnits: outputs });
  const params = parameterCount(inputCount(features), model, outputs);
  if (params > MAX_TRAIN_PARAMETERS) throw invalidJob('model', `the model has ${params} parameters; at most ${MAX_TRAIN_PARAMETERS}`);
  const t = raw.training === undefined ? {} : raw.training;
  if (!isObj(t)) throw invalidJob('training', 'must be an object');
  onlyKeys(t, ['rounds', 'localEpochs', 'batchSize', 'optimizer', 'learningRate', 'momentum', 'seed'], 'training');
  const optimizer = oneOf(t.optimizer, 'training.optimizer', ['sgd', 'adam'] as const, 'sgd');
  const training: TrainingSpec = Object.freeze({
    rounds: num(t.rounds, 'training.rounds', 1, MAX_TRAIN_ROUNDS, 10, true),
    localEpochs: num(t.localEpochs, 'training.localEpochs', 1, MAX_LOCAL_EPOCHS, 1, true),
    batchSize: num(t.batchSize, 'training.batchSize', 1, 65536, 32, true),
    optimizer,
    learningRate: num(t.learningRate, 'training.learningRate', 1e-8, 10, optimizer === 'adam' ? 0.001 : 0.05),
    momentum: num(t.momentum, 'training.momentum', 0, 0.999, 0),
    seed: num(t.seed, 'training.seed', 0, 2 ** 31 - 1, 1, true),
  });
  if (training.momentum > 0 && optimizer !== 'sgd') throw invalidJob('training.momentum', 'applies to optimizer sgd only');
  const strategy = parseStrategy(raw.strategy);
  const p = raw.participation === undefined ? {} : raw.participation;
  if (!isObj(p)) throw invalidJob('participation', 'must be {"fraction": (0, 1], "minUpdates": ≥ 1}');
  onlyKeys(p, ['fraction', 'minUpdates'], 'participation');
  // `quorum` (--quorum) is minUpdates under the name the other job commands use; `agents` (--agents) names the agents.
  const run = parseRunOptions(raw, { value: num(p.minUpdates, 'participation.minUpdates', 1, 10_000, 1, true), given: p.minUpdates !== undefined });
  const participation = Object.freeze({ fraction: num(p.fraction, 'participation.fraction', 1e-6, 1, 1), minUpdates: run.minUpdates });
  const u = raw.update === undefined ? {} : raw.update;
  if (!isObj(u)) throw invalidJob('update', 'must be {"clip": > 0, "gridExponent": integer, "controlClip": > 0, "maxExamples": integer}');
  onlyKeys(u, ['clip', 'gridExponent', 'controlClip', 'maxExamples'], 'update');
  if (u.clip !== undefined && typeof u.clip === 'number' && !(u.clip > 0)) throw invalidJob('update.clip', `must be > 0 (the public L2 norm each update is clipped to), got ${quote(u.clip)}`);
  const update = Object.freeze({
    clip: num(u.clip, 'update.clip', 1e-9, 1e6, 100),
    gridExponent: num(u.gridExponent, 'update.gridExponent', -40, 0, -24, true),
    controlClip: num(u.controlClip, 'update.controlClip', 1e-9, 1e9, 1e4),
    maxExamples: num(u.maxExamples, 'update.maxExamples', 1, 1e8, DEFAULT_MAX_EXAMPLES, true),
  });
  const e = raw.evaluation === undefined ? {} : raw.evaluation;
  if (!isObj(e)) throw invalidJob('evaluation', 'must be {"thresholds": integer}');
  onlyKeys(e, ['thresholds'], 'evaluation');
  const evaluation = Object.freeze({ thresholds: num(e.thresholds, 'evaluation.thresholds', 1, MAX_EVAL_THRESHOLDS, 100, true) });
  const privacy = parseTrainPrivacy(raw.privacy);
  const out: { -readonly [K in keyof TrainJobSpec]: TrainJobSpec[K] } = { kind: 'train', product, label, ...(labelSpec.levels ? { labelLevels: labelSpec.levels } : {}), ...(labelSpec.bounds ? { labelBounds: labelSpec.bounds } : {}), features: Object.freeze(features), split, where: [], model, loss, training, strategy, participation, update, evaluation, privacy };
  if (raw.where !== undefined) {
    if (!Array.isArray(raw.where) || raw.where.length > 32) throw invalidJob('where', 'must be a list of at most 32 filters');
    out.where = Object.freeze(raw.where.map((f, i) => parseFilter(f, `where[${i}]`)));
  }
  if (raw.cohort !== undefined) {
    parseCohortDefinition(raw.cohort, 'cohort');
    out.cohort = raw.cohort;
  }
  if (raw.secure !== undefined && raw.secure !== 'plain') {
    out.secure = oneOf(raw.secure, 'secure', ['secagg', 'he'] as const);
    if (participation.minUpdates < 3) throw invalidJob('participation.minUpdates', `a ${out.secure} sum needs at least 3 contributors per round (with two, the sum reveals the other's update); got ${participation.minUpdates}`);
  }
  if (isDpTraining(privacy)) checkDpTraining(out, privacy);
  if (run.agents) out.agents = run.agents;
  if (raw.timeoutMs !== undefined) out.timeoutMs = num(raw.timeoutMs, 'timeoutMs', 1000, 24 * 3600_000, undefined, true);
  if (raw.purpose !== undefined) out.purpose = parsePurpose(raw.purpose);
  if (raw.project !== undefined) out.project = parseProject(raw.project);
  return Object.freeze(out);
}
