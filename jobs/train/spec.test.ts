/** Bad input is refused at submission with INVALID_JOB naming the field (nothing is charged before compile). */
import { describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob } from '../../common/kinds/index.js';
import { trainKind } from './index.js';
import { MAX_TRAIN_PARAMETERS, parseTrainSpec } from './spec.js';
import { syntheticTrainSpec } from './synthetic.js';

const ok = {
  kind: 'train',
  product: 'heart',
  label: 'y',
  features: [
    { column: 'age', type: 'numeric', bounds: [0, 120] },
    { column: 'cp', type: 'categorical', levels: [1, 2, 3, 4] },
  ],
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'mlp', layers: [{ units: 8, activation: 'relu', dropout: 0.1 }], l2: 1e-4 },
};

function fieldOf(over: Record<string, unknown>): string | undefined {
  try {
    parseTrainSpec({ ...ok, ...over });
    return undefined;
  } catch (e) {
    if (!isFedmeshError(e) || e.code !== 'INVALID_JOB') throw e;
    return e.field;
  }
}

describe('train spec', () => {
  it('accepts a valid spec, is idempotent on its own output and compiles the one-hot inputs and weight shapes', () => {
    const s = parseTrainSpec(ok);
    expect(parseTrainSpec(JSON.parse(JSON.stringify(s)))).toEqual(s);
    const job = compileKindJob(trainKind, ok);
    expect(job.plan.inputs).toEqual(['age', 'cp=1', 'cp=2', 'cp=3', 'cp=4']);
    expect(job.plan.shapes).toEqual([[5, 8], [8], [8, 1], [1]]);
    expect(job.plan.parameters).toBe(5 * 8 + 8 + 8 + 1);
    expect(compileKindJob(trainKind, JSON.parse(JSON.stringify(job.spec))).hash).toBe(job.hash);
  });

  it.each([
    [{ model: { type: 'mlp', layers: [{ units: 8, activation: 'swish' }] } }, 'model.layers[0].activation'],
    [{ model: { type: 'mlp', layers: [{ type: 'conv2d', units: 8, activation: 'relu' }] } }, 'model.layers[0].type'],
    [{ model: { type: 'transformer' } }, 'model.type'],
    [{ model: { type: 'mlp', layers: [{ units: 1024, activation: 'relu' }, { units: 1024, activation: 'relu' }] } }, 'model'],
    [{ training: { learningRate: Number.NaN } }, 'training.learningRate'],
    [{ training: { learningRate: Infinity } }, 'training.learningRate'],
    [{ training: { rounds: 0 } }, 'training.rounds'],
    [{ strategy: { name: 'fedadam', beta1: 1 } }, 'strategy.beta1'],
    [{ strategy: { name: 'fedavg', mu: 0.1 } }, 'strategy.mu'],
    [{ strategy: { name: 'fednova' } }, 'strategy.name'],
    [{ update: { clip: 0 } }, 'update.clip'],
    [{ update: { clip: -1 } }, 'update.clip'],
    [{ loss: 'mse', model: { type: 'logistic' } }, 'loss'],
    [{ features: [{ column: 'y', type: 'numeric', bounds: [0, 1] }] }, 'features[0].column'],
    [{ features: [{ column: 'a', type: 'numeric', bounds: [1, 1] }] }, 'features[0].bounds'],
    [{ split: { column: 'split', train: 'x', test: 'x' } }, 'split.test'],
    [{ participation: { fraction: 0 } }, 'participation.fraction'],
    [{ privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-5 } }, 'privacy.clip'],
    [{ privacy: { mode: 'local-dp', epsilon: 1, delta: 1e-5, clip: 1 } }, 'privacy.mode'],
    [{ secure: 'secagg' }, 'participation.minUpdates'],
    [{ secure: 'tls', participation: { minUpdates: 3 } }, 'secure'],
    [{ shuffle: true }, 'shuffle'],
  ])('%j → INVALID_JOB naming %s', (over, field) => {
    expect(fieldOf(over)).toBe(field);
  });

  it('states the parameter limit', () => {
    expect(() => parseTrainSpec({ ...ok, model: { type: 'mlp', layers: [{ units: 1024, activation: 'relu' }, { units: 1024, activation: 'relu' }] } })).toThrow(new RegExp(`at most ${MAX_TRAIN_PARAMETERS}`));
  });

  // A spec DP training accepts (logistic, one local epoch, no dropout).
  const dp = (over: Record<string, unknown>) => syntheticTrainSpec(2, { training: { rounds: 2 }, ...over });
  it('refuses site-level DP with its reason, naming privacy.unit; control: "record" is the level offered and changes nothing', () => {
    for (const mode of ['central-dp', 'distributed-dp']) {
      const privacy = { mode, epsilon: 1, delta: 1e-5, clip: 1 };
      const extra = mode === 'distributed-dp' ? { secure: 'secagg', participation: { minUpdates: 3 } } : {};
      let err: unknown;
      try {
        parseTrainSpec(dp({ ...extra, privacy: { ...privacy, unit: 'site' } }));
      } catch (e) {
        err = e;
      }
      expect(isFedmeshError(err) && err.field).toBe('privacy.unit');
      expect((err as Error).message).toMatch(/site-level DP .* is not offered: with a few sites the noise/);
      expect(compileKindJob(trainKind, dp({ ...extra, privacy: { ...privacy, unit: 'record' } })).hash).toBe(compileKindJob(trainKind, dp({ ...extra, privacy })).hash);
    }
    expect(() => parseTrainSpec(dp({ privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-5, clip: 1, unit: 'hospital' } }))).toThrow(/privacy\.unit: must be "record"/);
  });
});
