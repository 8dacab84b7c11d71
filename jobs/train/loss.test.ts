/** Losses and label levels in the train spec: refused at submission with INVALID_JOB naming the field. */
import { describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { trainKind } from './index.js';
import { aucOfHistograms } from './loss.js';
import { MAX_TRAIN_PARAMETERS, parseTrainSpec } from './spec.js';

const ok = {
  kind: 'train',
  product: 'iris',
  label: { column: 'species', levels: [0, 1, 2] },
  features: [{ column: 'petal', type: 'numeric', bounds: [0, 10] }],
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'mlp', layers: [{ units: 4, activation: 'relu' }] },
  loss: 'categorical-crossentropy',
};

function refusal(over: Record<string, unknown>): { field?: string; message: string } | undefined {
  try {
    parseTrainSpec({ ...ok, ...over });
    return undefined;
  } catch (e) {
    if (!isFedmeshError(e) || e.code !== 'INVALID_JOB') throw e;
    return { ...(e.field ? { field: e.field } : {}), message: e.message };
  }
}

describe('train losses and label levels', () => {
  it('a categorical label compiles to one softmax output unit per level; the parsed spec is idempotent', () => {
    const s = parseTrainSpec(ok);
    expect(s.label).toBe('species');
    expect(s.labelLevels).toEqual([0, 1, 2]);
    expect(parseTrainSpec(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const job = compileKindJob(trainKind, ok);
    expect(job.plan.shapes).toEqual([[1, 4], [4], [4, 3], [3]]);
    expect(compileKindJob(trainKind, JSON.parse(JSON.stringify(job.spec))).hash).toBe(job.hash);
  });

  it('TF.js and Keras loss names are normalised; unknown ones refused naming loss', () => {
    expect(parseTrainSpec({ ...ok, loss: 'categoricalCrossentropy' }).loss).toBe('categorical-crossentropy');
    expect(parseTrainSpec({ ...ok, loss: 'categorical_crossentropy' }).loss).toBe('categorical-crossentropy');
    expect(parseTrainSpec({ ...ok, label: 'y', loss: 'binaryCrossentropy' }).loss).toBe('binary-crossentropy');
    expect(parseTrainSpec({ ...ok, label: 'y', model: { type: 'linear' }, loss: 'mean_squared_error' }).loss).toBe('mse');
    expect(refusal({ loss: 'sparseCategoricalCrossentropy' })?.field).toBe('loss');
    expect(refusal({ loss: 'constructor' })?.field).toBe('loss');
  });

  it('bad label and loss combinations are refused naming the field', () => {
    // A binary loss on a non-binary label.
    const bin = refusal({ loss: 'binary-crossentropy' });
    expect(bin?.field).toBe('label.levels');
    expect(bin?.message).toMatch(/binary label \(2 levels\); this label has 3/);
    expect(refusal({ label: 'species' })?.field).toBe('label');
    expect(refusal({ label: { column: 'species', levels: [0, 1] }, loss: 'binary-crossentropy' })).toBeUndefined();
    expect(refusal({ label: { column: 'species', levels: [0, 1, 2] }, loss: 'mse', model: { type: 'linear' } })?.field).toBe('label.levels');
    // String levels are mapped in SQL at the agent (label-sql.ts); mixing them with numbers is refused.
    expect(refusal({ label: { column: 'species', levels: ['setosa', 'versicolor', 'virginica'] } })).toBeUndefined();
    expect(refusal({ label: { column: 'species', levels: ['setosa', 2] } })?.field).toBe('label.levels[1]');
    expect(refusal({ label: { column: 'species', levels: [1, 'versicolor'] } })?.field).toBe('label.levels[1]');
    expect(refusal({ label: { column: 'species', levels: [0, 0, 1] } })?.field).toBe('label.levels');
    expect(refusal({ label: { column: 'species', levels: [0] } })?.field).toBe('label.levels');
    expect(refusal({ label: { column: 'species', levels: Array.from({ length: 51 }, (_, i) => i) } })?.field).toBe('label.levels');
    expect(refusal({ label: { column: 'species', levels: [0, 1, 2], order: 1 } })?.field).toBe('label.order');
    expect(refusal({ labelLevels: [0, 1, 2] })?.field).toBe('labelLevels');
    expect(refusal({ label: { column: 'petal', levels: [0, 1, 2] } })?.field).toBe('features[0].column');
    // DP training takes declared levels too (dp-categorical.test.ts).
    expect(refusal({ label: { column: 'species', levels: [0, 1] }, loss: 'binary-crossentropy', model: { type: 'logistic' }, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-5, clip: 1 } })).toBeUndefined();
    // Negative control: categorical with a linear model is refused (mse only), with a logistic one accepted (softmax regression).
    expect(refusal({ model: { type: 'linear' } })?.field).toBe('loss');
    expect(refusal({ model: { type: 'logistic' } })).toBeUndefined();
  });

  it('the parameter limit counts the K output units', () => {
    const levels = Array.from({ length: 50 }, (_, i) => i);
    // 1 input → 1000 hidden → 50 outputs: 2000 + 50 050 = 52 050 parameters (fits); with 2000 hidden it does not.
    expect(refusal({ label: { column: 'species', levels }, model: { type: 'mlp', layers: [{ units: 1000, activation: 'relu' }] } })).toBeUndefined();
    const big = refusal({ label: { column: 'species', levels }, model: { type: 'mlp', layers: [{ units: 1000, activation: 'relu' }, { units: 100, activation: 'relu' }] } });
    expect(big?.field).toBe('model');
    expect(big?.message).toContain(`at most ${MAX_TRAIN_PARAMETERS}`);
  });

  it('one-vs-rest AUC is the macro mean of the per-class curves; classes without both outcomes are left out', () => {
    // Two curves of 3 thresholds: class 0 perfectly separated (AUC 1), class 1 at chance (AUC 0.5).
    const pos = [4, 4, 0, /* class 1 */ 2, 1, 0];
    const neg = [4, 0, 0, /* class 1 */ 2, 1, 0];
    expect(aucOfHistograms('categorical-crossentropy', pos, neg, 2)).toBeCloseTo(0.75, 12);
    // Class 1 with no negatives: only class 0 counts.
    expect(aucOfHistograms('categorical-crossentropy', pos, [4, 0, 0, 0, 0, 0], 2)).toBeCloseTo(1, 12);
    expect(aucOfHistograms('mse', pos, neg, 2)).toBeNaN();
  });
});
