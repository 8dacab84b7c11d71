/**
 * The public plan of a train job and its per-round statistics layout (pure). Every round has the same layout:
 *
 * | block | entries | what one agent puts there |
 * |---|---|---|
 * | `delta` | P | w_k · clip(y_k − x), on the grid 2^gridExponent (w_k: train examples, or 1 for SCAFFOLD) |
 * | `weight` | 1 | w_k |
 * | `deltaC` | P (SCAFFOLD only) | clip(Δc_k) on the grid |
 * | `trainLoss`, `trainN` | 1, 1 | summed local training loss of the last local epoch, and the train rows |
 * | `evalN`, `evalLoss`, `evalCorrect` | 1 each | test rows, summed test loss, correct at 0.5 (binary) |
 * | `rocPos`, `rocNeg` | T + 1 each | test positives / negatives with score ≥ t_j (public thresholds) |
 * | `evalSmall` | 1 (not in DP training) | 1 when the agent's test rows are below its minimum cell size |
| `trainSmall` | 1 (not in DP training) | 1 when the agent's training rows are below its minimum cell size |
 * | `labelExcluded` | 1 (declared label levels only) | eval round: rows whose label is not a level, if ≥ min cell size, else 0 |
 *
 * The evaluation blocks score the model the round starts from, so round r reports the model after r updates; one
 * last `eval` round scores the final model. Everything adds across agents, so plain, SecAgg and HE sums all apply;
 * the update blocks are fixed-point with public bounds from the clip norm.
 */
import { FedmeshError } from '../../common/errors.js';
import { projectOntoBounds, type RoundRecord, type StatBlock, type StatLayout } from '../../common/kinds/index.js';
import { denseShapes, glorotInit, initialServerState, serverUpdate, thresholdGrid, type ServerState } from '../../algorithms/fl/index.js';
import { inputCount, type TrainJobSpec } from './spec.js';
import { dpServerStep, dpTrainLayout, monotoneCounts } from './privacy.js';
import { aucOfHistograms, hasAccuracy, outputUnits, rocCurves } from './loss.js';
import { isDpTraining } from './privacy-spec.js';
import { isLocalDp } from './privacy-local.js';

export interface TrainPlan {
  /** Input names after one-hot encoding (`age`, `cp=2`), in the order the agents build their inputs. */
  readonly inputs: readonly string[];
  /** Units of each dense layer, output included (1, or one per class for categorical cross-entropy). */
  readonly units: readonly number[];
  /** Weight shapes in TF.js `getWeights()` order (per layer: kernel, bias). */
  readonly shapes: readonly (readonly number[])[];
  readonly parameters: number;
  readonly weighting: 'examples' | 'uniform';
  readonly thresholds: readonly number[];
}

export interface TrainRoundInput {
  readonly phase: 'train' | 'eval';
  /** The global model the round starts from (flat, `shapes` order). */
  readonly weights: number[];
  /** SCAFFOLD: the server control variate c. */
  readonly control?: number[];
  /**
   * SCAFFOLD: each agent's last training round whose released sum counted its update (its name in the round's
   * `answered`). An agent moves its c_i to what it computed in a round only once it reads that round here: a round
   * that counted its Δc_i in the server's c, and no other (a secure sum that dropped it after its step, a deadline).
   */
  readonly counted?: Record<string, number>;
}

/** Public per-agent bound of the rows left out for an unlisted label (a count: 2^32 rows, beyond any site). */
const MAX_LABEL_EXCLUDED_ROWS = 2 ** 32;

/** Largest summed loss an agent may report (a public bound for the layout; losses are clamped per row). */
const MAX_LOSS_SUM = 1e12;
const LOSS_GRID = -20;

export function trainInputs(spec: TrainJobSpec): string[] {
  return spec.features.flatMap((f) => (f.type === 'numeric' ? [f.column] : f.levels.map((l) => `${f.column}=${String(l)}`)));
}

export function makeTrainPlan(spec: TrainJobSpec): TrainPlan {
  const inputs = trainInputs(spec);
  if (inputs.length !== inputCount(spec.features)) throw new FedmeshError('INTERNAL', 'train inputs differ from their count');
  const units = [...spec.model.layers.map((l) => l.units), outputUnits(spec)];
  const shapes = denseShapes(inputs.length, units);
  const parameters = shapes.reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  return { inputs, units, shapes, parameters, weighting: spec.strategy.name === 'scaffold' ? 'uniform' : 'examples', thresholds: thresholdGrid(spec.evaluation.thresholds) };
}

const block = (name: string, length: number, lo: number, hi: number, gridExponent?: number): StatBlock => ({ name, length, perAgent: { lo, hi }, sensitivity: 'exact-only', release: 'additive', ...(gridExponent !== undefined ? { gridExponent } : {}) });

/** @param round in DP training, which blocks are noisy (training rounds: the update; the last: the evaluation) */
export function trainLayout(spec: TrainJobSpec, plan: TrainPlan, round = 0): StatLayout {
  if (isDpTraining(spec.privacy)) return dpTrainLayout(spec.privacy, spec.update, { ...plan, curves: rocCurves(spec), rounds: spec.training.rounds, ...(spec.loss === 'mse' && spec.labelBounds ? { sqErrBound: (spec.labelBounds[1] - spec.labelBounds[0]) ** 2 } : {}) }, round >= spec.training.rounds ? 'eval' : 'train');
  const u = spec.update;
  const maxW = plan.weighting === 'examples' ? u.maxExamples : 1;
  // Categorical: one one-vs-rest histogram per class, one after the other.
  const T = plan.thresholds.length * rocCurves(spec);
  // Every block is on a public grid (counts on the integers, loss sums on 2^-20) so that secure sums apply.
  const blocks = [block('delta', plan.parameters, -maxW * u.clip, maxW * u.clip, u.gridExponent), block('weight', 1, 0, maxW, 0)];
  if (spec.strategy.name === 'scaffold') blocks.push(block('deltaC', plan.parameters, -u.controlClip, u.controlClip, u.gridExponent));
  blocks.push(block('trainLoss', 1, 0, MAX_LOSS_SUM, LOSS_GRID), block('trainN', 1, 0, u.maxExamples, 0), block('evalN', 1, 0, u.maxExamples, 0), block('evalLoss', 1, 0, MAX_LOSS_SUM, LOSS_GRID), block('evalCorrect', 1, 0, u.maxExamples, 0));
  blocks.push(block('rocPos', T, 0, u.maxExamples, 0), block('rocNeg', T, 0, u.maxExamples, 0));
  // 1 when this agent has 1 … k − 1 test rows (its own minimum cell size k): it zeroes its test figures and flags
  // them, and the round's pooled test figures are withheld (exactTestWithheld). `trainSmall` likewise for its
  // training rows: it zeroes its training loss and count, and the round's pooled training loss is withheld.
  blocks.push(block('evalSmall', 1, 0, 1, 0), block('trainSmall', 1, 0, 1, 0));
  // Declared label levels: rows left out for a label not among them, reported in the eval round (label.ts).
  // Rows left out for an unlisted label are not train or test rows, so update.maxExamples does not bound them: a fixed
  // public bound instead (the runner projects onto a block's bounds, and maxExamples silently cut the count: red team 27).
  if (spec.labelLevels !== undefined) blocks.push(block('labelExcluded', 1, 0, MAX_LABEL_EXCLUDED_ROWS, 0));
  return { blocks };
}

/** The named blocks of a released (or one agent's) vector. */
export function splitBlocks(layout: StatLayout, values: ArrayLike<number>): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  let at = 0;
  for (const b of layout.blocks) {
    out[b.name] = Float64Array.from({ length: b.length }, (_, i) => values[at + i]!);
    at += b.length;
  }
  if (at !== values.length) throw new FedmeshError('INTERNAL', `train vector has ${values.length} entries, the layout ${at}`);
  return out;
}

/** Puts named blocks into a vector of the layout (missing blocks stay 0). */
export function joinBlocks(layout: StatLayout, parts: Record<string, ArrayLike<number>>): Float64Array {
  const n = layout.blocks.reduce((a, b) => a + b.length, 0);
  const out = new Float64Array(n);
  let at = 0;
  for (const b of layout.blocks) {
    const p = parts[b.name];
    if (p !== undefined) {
      if (p.length !== b.length) throw new FedmeshError('INTERNAL', `block ${b.name} has ${p.length} entries, the layout ${b.length}`);
      for (let i = 0; i < b.length; i++) out[at + i] = p[i]!;
    }
    at += b.length;
  }
  return out;
}

/**
 * A DP round's vector, projected onto the layout's public per-agent bounds (update.maxExamples rows' worth). An agent
 * with more rows than the bound is not refused: a refusal is an exact answer to "n > bound?", and a researcher who
 * bisects the bound over jobs reads n (red team 24). The projection keeps every block's sensitivity (it is
 * 1-Lipschitz), so the job's guarantee holds as charged; a bound set too small only biases its own release, silently,
 * since saying so would be the same answer.
 */
export function withinBounds(layout: StatLayout, parts: Record<string, ArrayLike<number>>): Float64Array {
  return projectOntoBounds(layout, joinBlocks(layout, parts));
}

/**
 * The global model after the training rounds of `history`, replayed from the released sums with the strategy's
 * server rule (pure: a restarted coordinator gets the same model). A round whose total weight is 0 leaves it as is.
 */
export function replayServer(spec: TrainJobSpec, plan: TrainPlan, history: readonly RoundRecord<TrainRoundInput>[]): ServerState {
  let s = initialServerState(spec.strategy, glorotInit(plan.shapes, spec.training.seed));
  const layout = trainLayout(spec, plan);
  // SCAFFOLD's N, the federation's size: the agents the job asked at its start (RoundRecord.federation), so
  // c ← c + (1/N) Σ_S Δc_i keeps c the mean of every c_i, under partial participation (a sample rounded up is not
  // |S| / fraction) and when agents drop out and come back, from the first round on (red teams 28 M2 and 29 F3).
  // Rounds stored before the runner recorded it fall back to the most agents a round stood for (|S| / fraction).
  // Pure over the history: a restarted coordinator replays the same c.
  let federation = 0;
  for (const rec of history) {
    if (rec.input.phase !== 'train') continue;
    const b = splitBlocks(layout, rec.released);
    const w = b.weight![0]!;
    // DP with local steps averages the agents' noisy deltas like mode none (privacy-local.ts).
    if (isDpTraining(spec.privacy) && !isLocalDp(spec.privacy)) {
      s = dpServerStep(spec.strategy, spec.training.learningRate, spec.model.l2, plan, s, b);
      continue;
    }
    if (!(w > 0)) continue;
    const delta = b.delta!.map((d) => d / w);
    federation = rec.federation ?? Math.max(federation, rec.answered.length / spec.participation.fraction);
    s = serverUpdate(spec.strategy, s, spec.strategy.name === 'scaffold' ? { delta, deltaCSum: b.deltaC!, clients: federation } : { delta });
  }
  return s;
}

export interface RoundMetrics {
  readonly round: number;
  readonly phase: 'train' | 'eval';
  readonly agents: number;
  /** Mean local training loss over the last local epoch (NaN in the eval round). */
  readonly trainLoss: number;
  /** Metrics of the model the round started from on all agents' test rows (example-weighted). */
  readonly testN: number;
  readonly testLoss: number;
  readonly testAccuracy: number;
  readonly testAuc: number;
}

/** Each curve's noisy cumulative histogram projected on its own (categorical: K one-vs-rest curves, one after the other). */
function monotonePerCurve(v: Float64Array, curves: number): Float64Array {
  const t = v.length / curves;
  const out = new Float64Array(v.length);
  for (let k = 0; k < curves; k++) out.set(monotoneCounts(v.subarray(k * t, (k + 1) * t)), k * t);
  return out;
}

/**
 * Exact (mode none) test figures of a round are withheld (NaN, shown as —) when any answering agent flagged that its
 * test side holds 1 … k − 1 rows (`evalSmall`, set by the agent against its own minimum cell size), or when the pooled
 * count is below `minCellSize` (the largest of the answering agents'; 0 where the caller does not know it): a pooled
 * figure over an agent with one test person would otherwise be that person's, by itself (one agent, a narrow
 * `where`) or as the difference of a job with and without that agent (red-team finding F1). The training loss is
 * withheld likewise when an agent flagged 1 … k − 1 training rows (`trainSmall`) or the pooled training count is
 * below `minCellSize`. The flagging agent also zeroes its own figures (agent.ts), so they never reach the coordinator.
 * DP rounds are noised and not affected.
 */
export function exactTestWithheld(spec: TrainJobSpec, plan: TrainPlan, rec: RoundRecord<TrainRoundInput>, minCellSize = 0): boolean {
  if (isDpTraining(spec.privacy)) return false;
  const b = splitBlocks(trainLayout(spec, plan), rec.released);
  return b.evalSmall![0]! > 0 || b.evalN![0]! < minCellSize;
}

/** The largest minimum cell size of the agents asked (0 when the caller knows none): the pooled threshold. */
export function pooledMinCellSize(info: { readonly minCellSize?: Readonly<Record<string, number>> } | undefined): number {
  return Math.max(0, ...Object.values(info?.minCellSize ?? {}));
}

export function roundMetrics(spec: TrainJobSpec, plan: TrainPlan, rec: RoundRecord<TrainRoundInput>, minCellSize = 0): RoundMetrics {
  const b = splitBlocks(trainLayout(spec, plan), rec.released);
  // DP: the noisy cumulative histograms projected back to what counts can be (post-processing, privacy.ts).
  const dp = isDpTraining(spec.privacy);
  const testWithheld = exactTestWithheld(spec, plan, rec, minCellSize);
  if (testWithheld) {
    const trainN = b.trainSmall![0]! > 0 ? 0 : b.trainN![0]!;
    const trainLoss = trainN > 0 && trainN >= minCellSize ? b.trainLoss![0]! / trainN : Number.NaN;
    return { round: rec.round, phase: rec.input.phase, agents: rec.answered.length, trainLoss, testN: Number.NaN, testLoss: Number.NaN, testAccuracy: Number.NaN, testAuc: Number.NaN };
  }
  const n = b.evalN![0]!;
  const tn = !dp && (b.trainN![0]! < minCellSize || b.trainSmall![0]! > 0) ? 0 : b.trainN![0]!;
  const pos = dp ? monotonePerCurve(b.rocPos!, rocCurves(spec)) : b.rocPos!;
  const neg = dp ? monotonePerCurve(b.rocNeg!, rocCurves(spec)) : b.rocNeg!;
  return {
    round: rec.round,
    phase: rec.input.phase,
    agents: rec.answered.length,
    trainLoss: tn > 0 ? b.trainLoss![0]! / tn : Number.NaN,
    testN: n,
    // DP training releases no loss sums (a row's loss is unbounded) but mse's clamped squared errors: their noisy sum
    // over the noisy count (each at least 1 row and 0: post-processing).
    testLoss: !dp ? (n > 0 ? b.evalLoss![0]! / n : Number.NaN) : spec.loss === 'mse' && spec.labelBounds && rec.input.phase === 'eval' ? Math.max(0, b.evalLoss![0]!) / Math.max(1, n) : Number.NaN,
    testAccuracy: hasAccuracy(spec.loss) && n > 0 ? Math.min(1, Math.max(0, b.evalCorrect![0]! / n)) : Number.NaN,
    testAuc: aucOfHistograms(spec.loss, pos, neg, rocCurves(spec)),
  };
}
