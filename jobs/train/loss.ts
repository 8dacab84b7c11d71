/**
 * Losses and labels of a train job (pure): which loss a spec names, the public label levels, the output layer they
 * imply and the metrics each loss releases.
 *
 * | loss | label | output | accuracy | AUC |
 * |---|---|---|---|---|
 * | `binary-crossentropy` | 0/1 (or two declared levels: first → 0, second → 1) | 1 unit, sigmoid | at 0.5 | ROC histogram |
 * | `categorical-crossentropy` | K ≥ 2 declared levels, one-hot | K units, softmax | argmax | one-vs-rest, macro mean |
 * | `mse` | a number | 1 unit, linear | — | — |
 *
 * Multi-class AUC is **one-vs-rest, macro-averaged** (the unweighted mean over classes of the AUC of "class k
 * against the others" scored by p_k; scikit-learn's `roc_auc_score(multi_class="ovr", average="macro")`): each agent
 * adds K public-threshold histograms, so it stays additive and no row-level score leaves an agent. Classes absent
 * from the pooled test rows (or present in all of them) are left out of the mean.
 *
 * Names as TF.js and Keras spell them (`categoricalCrossentropy`, `categorical_crossentropy`, `meanSquaredError`, …)
 * are accepted and normalised.
 */
import { invalidJob, quote } from '../../common/errors.js';
import type { Scalar } from '../../common/job/index.js';
import { aucFromRoc } from '../../algorithms/fl/index.js';

export const LOSSES = ['binary-crossentropy', 'categorical-crossentropy', 'mse'] as const;
export type LossName = (typeof LOSSES)[number];

/** TF.js and Keras spellings of the same losses. */
const LOSS_ALIASES: Readonly<Record<string, LossName>> = {
  binaryCrossentropy: 'binary-crossentropy',
  binary_crossentropy: 'binary-crossentropy',
  categoricalCrossentropy: 'categorical-crossentropy',
  categorical_crossentropy: 'categorical-crossentropy',
  meanSquaredError: 'mse',
  mean_squared_error: 'mse',
};

/** Most public label levels of a categorical label (one output unit each). */
export const MAX_LABEL_LEVELS = 50;
/** Longest string label level (characters). */
export const MAX_LABEL_LEVEL_CHARS = 200;

/** A public label level: all numbers or all strings (label-sql.ts maps them to class indices in SQL). */
export type LabelLevel = number | string;

/** @throws FedmeshError INVALID_JOB on `loss` */
export function parseLoss(v: unknown): LossName {
  if (v === undefined) return 'binary-crossentropy';
  if (typeof v === 'string') {
    if ((LOSSES as readonly string[]).includes(v)) return v as LossName;
    const alias = Object.hasOwn(LOSS_ALIASES, v) ? LOSS_ALIASES[v] : undefined;
    if (alias) return alias;
  }
  throw invalidJob('loss', `must be one of ${LOSSES.join(', ')} (or their TF.js/Keras names, e.g. categoricalCrossentropy); got ${quote(v)}`);
}

/**
 * The label column and its public levels: `"label": "y"` or `"label": {"column": "y", "levels": [0, 1, 2]}` (or
 * `["none", "mild", "severe"]`; or a top-level `labelLevels`, the parsed form). Levels are all finite numbers or all
 * non-blank strings (≤ 200 characters), listed once each; the agent maps them to class indices 0..K−1 in SQL.
 * @throws FedmeshError INVALID_JOB naming `label`, `label.levels` or `labelLevels` (or the offending entry)
 */
export function parseLabelLevels(raw: unknown, topLevel: unknown, topLevelBounds?: unknown): { column: unknown; levels?: readonly LabelLevel[]; field: string; bounds?: readonly [number, number]; boundsField: string } {
  let column = raw;
  let levels: unknown = topLevel;
  let rawBounds: unknown = topLevelBounds;
  let field = 'labelLevels';
  let boundsField = 'labelBounds';
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const o = raw as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'column' && k !== 'levels' && k !== 'bounds') throw invalidJob(`label.${k.slice(0, 40)}`, 'unknown field (label takes column, levels and bounds)');
    if (topLevel !== undefined) throw invalidJob('labelLevels', 'give the levels once: in label.levels or in labelLevels');
    if (topLevelBounds !== undefined) throw invalidJob('labelBounds', 'give the bounds once: in label.bounds or in labelBounds');
    column = o.column;
    levels = o.levels;
    rawBounds = o.bounds;
    field = 'label.levels';
    boundsField = 'label.bounds';
  }
  const bounds = rawBounds === undefined ? undefined : parseLabelBounds(rawBounds, boundsField);
  if (bounds && levels !== undefined) throw invalidJob(boundsField, 'a label takes levels (classes) or bounds (a number), not both');
  if (levels === undefined) return { column, field, boundsField, ...(bounds ? { bounds } : {}) };
  if (!Array.isArray(levels) || levels.length < 2 || levels.length > MAX_LABEL_LEVELS) throw invalidJob(field, `must list 2 to ${MAX_LABEL_LEVELS} public label levels${Array.isArray(levels) ? `; got ${levels.length}` : ''}`);
  const strings = typeof levels[0] === 'string';
  const out = levels.map((l: unknown, i): LabelLevel => {
    if (strings) {
      if (typeof l !== 'string') throw invalidJob(`${field}[${i}]`, `must be a string like the first level (levels are all numbers or all strings); got ${quote(l)}`);
      if (l.trim() === '') throw invalidJob(`${field}[${i}]`, 'must be a non-empty string');
      if (l.length > MAX_LABEL_LEVEL_CHARS) throw invalidJob(`${field}[${i}]`, `must be at most ${MAX_LABEL_LEVEL_CHARS} characters`);
      return l;
    }
    if (typeof l !== 'number' || !Number.isFinite(l)) throw invalidJob(`${field}[${i}]`, `must be a finite number like the first level (levels are all numbers or all strings); got ${quote(l)}`);
    return l;
  });
  if (new Set(out).size !== out.length) throw invalidJob(field, 'lists a level twice');
  return { column, levels: Object.freeze(out), field, boundsField };
}

/** Largest |bound| of a numeric label: squared errors up to (2·1e6)² stay exact enough on the loss grid. */
export const MAX_LABEL_BOUND = 1e6;

/** `[lo, hi]`, finite, lo < hi, |lo|, |hi| ≤ MAX_LABEL_BOUND. @throws FedmeshError INVALID_JOB naming `field` */
function parseLabelBounds(v: unknown, field: string): readonly [number, number] {
  const ok = Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_LABEL_BOUND) && (v[0] as number) < (v[1] as number);
  if (!ok) throw invalidJob(field, `must be [lo, hi]: finite numbers, lo < hi, each within ±${MAX_LABEL_BOUND}`);
  return Object.freeze([v[0] as number, v[1] as number] as const);
}

/**
 * Checks that the loss and the label levels agree.
 * @throws FedmeshError INVALID_JOB naming the field
 */
export function checkLossAndLabel(loss: LossName, levels: readonly LabelLevel[] | undefined, field: string, bounds?: { readonly field: string }): void {
  if (bounds && loss !== 'mse') throw invalidJob(bounds.field, `only a numeric label (loss mse) takes bounds; loss ${loss} takes classes`);
  if (loss === 'categorical-crossentropy' && levels === undefined) throw invalidJob('label', 'categorical-crossentropy needs the public label levels: {"column": …, "levels": [0, 1, 2, …]}');
  if (loss === 'binary-crossentropy' && levels !== undefined && levels.length !== 2) throw invalidJob(field, `a binary loss takes a binary label (2 levels); this label has ${levels.length}: use loss categorical-crossentropy`);
  if (loss === 'mse' && levels !== undefined) throw invalidJob(field, 'loss mse takes a numeric label, not levels');
}

/** Output units: one per class for categorical cross-entropy, else one. */
export function outputUnits(spec: { readonly loss: LossName; readonly labelLevels?: readonly LabelLevel[] }): number {
  return spec.loss === 'categorical-crossentropy' ? spec.labelLevels!.length : 1;
}

/** The activation the output layer has at inference (the loss applies it in training). */
export function outputActivation(loss: LossName): 'sigmoid' | 'softmax' | 'linear' {
  return loss === 'binary-crossentropy' ? 'sigmoid' : loss === 'categorical-crossentropy' ? 'softmax' : 'linear';
}

/** How many ROC histograms an agent fills: one (binary), one per class (categorical), none used (mse: one, left 0). */
export function rocCurves(spec: { readonly loss: LossName; readonly labelLevels?: readonly LabelLevel[] }): number {
  return spec.loss === 'categorical-crossentropy' ? spec.labelLevels!.length : 1;
}

/**
 * AUC from summed "≥ threshold" histograms: binary, the one curve; categorical, the macro mean of the one-vs-rest
 * curves (`curves` histograms of `pos.length / curves` thresholds each); NaN for mse or when no class has both.
 */
export function aucOfHistograms(loss: LossName, pos: ArrayLike<number>, neg: ArrayLike<number>, curves: number): number {
  if (loss === 'mse') return Number.NaN;
  const t = pos.length / curves;
  let sum = 0;
  let used = 0;
  for (let k = 0; k < curves; k++) {
    const p = Array.prototype.slice.call(pos, k * t, (k + 1) * t) as number[];
    const n = Array.prototype.slice.call(neg, k * t, (k + 1) * t) as number[];
    // Every score is ≥ the first threshold (0), so its counts are the class totals.
    const a = aucFromRoc(p, n, p[0]!, n[0]!);
    if (Number.isFinite(a)) {
      sum += a;
      used++;
    }
  }
  return used > 0 ? sum / used : Number.NaN;
}

/** Whether a loss releases an accuracy (classification losses). */
export const hasAccuracy = (loss: LossName): boolean => loss !== 'mse';

/** A label level's class index, or −1 when the value is not among the levels. */
export function classIndex(levels: readonly Scalar[], value: number): number {
  for (let k = 0; k < levels.length; k++) if (levels[k] === value) return k;
  return -1;
}
