/**
 * DP training, unit level: the spec refuses what the mechanism does not cover (naming the field, before anything
 * is charged), the layout declares the per-person sensitivities the modes calibrate from, the agent's update is
 * the sum of per-example gradients each clipped to C (checked for every example), and the stated account is the
 * one the mode charges.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob, privacyModeOf } from '../../common/kinds/index.js';
import { rhoForEpsilonDelta } from '../../algorithms/dp/index.js';
import { epsilonSpent } from '../../common/job/index.js';
import { exampleGradient } from '../../algorithms/fl/dp-grad.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainRound } from './agent.js';
import { splitBlocks, trainLayout } from './plan.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { parseTrainSpec } from './spec.js';
import { syntheticAgentData } from './synthetic.js';

const D = 5;
const dpSpec = (privacy: Record<string, unknown> = {}, over: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'p',
  label: 'y',
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'mlp', layers: [{ units: 4, activation: 'tanh' }] },
  training: { rounds: 10, localEpochs: 1, learningRate: 1 },
  strategy: { name: 'fedavg' },
  evaluation: { thresholds: 15 },
  privacy: { mode: 'central-dp', epsilon: 4, delta: 1e-6, clip: 0.5, ...privacy },
  ...over,
});

function fieldOf(spec: unknown): string | undefined {
  try {
    parseTrainSpec(spec);
    return undefined;
  } catch (e) {
    if (!isFedmeshError(e) || e.code !== 'INVALID_JOB') throw e;
    return e.field;
  }
}

afterAll(() => closeTrainPool());

describe('DP training spec', () => {
  it('accepts central-dp with a clip; distributed-dp with secagg', () => {
    expect(fieldOf(dpSpec())).toBeUndefined();
    expect(fieldOf(dpSpec({ mode: 'distributed-dp' }, { secure: 'secagg', participation: { fraction: 1, minUpdates: 3 } }))).toBeUndefined();
  });

  it.each([
    [dpSpec({ clip: undefined }), 'privacy.clip'],
    [dpSpec({ clip: 0 }), 'privacy.clip'],
    [dpSpec({ mode: 'local-dp' }), 'privacy.mode'],
    [dpSpec({ mode: 'distributed-dp' }), 'secure'],
    [dpSpec({}, { strategy: { name: 'scaffold' } }), 'strategy.name'],
    [dpSpec({}, { training: { rounds: 10, localEpochs: 2 } }), 'training.localEpochs'],
    [dpSpec({}, { training: { rounds: 10, optimizer: 'adam' } }), 'training.optimizer'],
    [dpSpec({}, { model: { type: 'mlp', layers: [{ units: 4, activation: 'relu', dropout: 0.2 }] } }), 'model.layers[0].dropout'],
    [dpSpec({}, { model: { type: 'linear' }, loss: 'mse' }), 'label.bounds'],
    // ε = 0.05 over 500 rounds: z ≈ 1 800 > 100.
    [dpSpec({ epsilon: 0.05 }, { training: { rounds: 500, localEpochs: 1 } }), 'privacy.epsilon'],
    [dpSpec({ epsilon: undefined, delta: undefined, rho: 1e-6 }), 'privacy.rho'],
  ])('%# refuses → INVALID_JOB naming %s', (spec, field) => {
    expect(fieldOf(spec)).toBe(field);
  });

  it('negative control of the feasibility bound: the same rounds at ε = 8 are accepted', () => {
    expect(fieldOf(dpSpec({ epsilon: 8 }, { training: { rounds: 500, localEpochs: 1 } }))).toBeUndefined();
  });
});

describe('DP training layout and account', () => {
  const job = compileKindJob(trainKind, dpSpec({ maxRowsPerPerson: 2 })) as CompiledTrainJob;

  it('training rounds: the update block has L2 sensitivity k·C and 7/8 of the round, the row count k; evaluation blocks are public zeros', () => {
    const l = trainLayout(job.spec, job.plan, 0);
    const by = Object.fromEntries(l.blocks.map((b) => [b.name, b]));
    expect(by.delta!.sensitivity).toEqual({ l1: 2 * 0.5 * Math.sqrt(job.plan.parameters), l2Sq: (2 * 0.5) ** 2 });
    expect(by.weight!.sensitivity).toEqual({ l1: 2, l2Sq: 4 });
    expect(by.delta!.rhoShare! / (by.delta!.rhoShare! + by.weight!.rhoShare!)).toBe(7 / 8);
    for (const n of ['rocPos', 'rocNeg', 'evalN', 'evalCorrect', 'trainLoss', 'evalLoss']) expect(by[n]!.sensitivity, n).toEqual({ l1: 0, l2Sq: 0 });
  });

  it('the final round: only the evaluation is noisy (ROC: k·√T)', () => {
    const l = trainLayout(job.spec, job.plan, job.spec.training.rounds);
    const by = Object.fromEntries(l.blocks.map((b) => [b.name, b]));
    expect(by.delta!.sensitivity).toEqual({ l1: 0, l2Sq: 0 });
    expect((by.rocPos!.sensitivity as { l2Sq: number }).l2Sq).toBeCloseTo(4 * job.plan.thresholds.length, 12);
  });

  it('the mode charges the stated ε once for all R + 1 rounds; the noise of the update is k·C·z (+ grid)', () => {
    const cost = privacyModeOf(job).cost(job)!;
    // Plain ρ-zCDP (red team 29, F2: not also δ-approximate), stated back at the job's δ as its ε.
    expect(cost.delta).toBe(0);
    expect(cost.rho).toBeCloseTo(rhoForEpsilonDelta(4, 1e-6), 14);
    expect(epsilonSpent(cost, 1e-6)).toBeCloseTo(4, 9);
    expect(job.maxRounds).toBe(11);
    const noise = privacyModeOf(job).roundNoise(job, trainLayout(job.spec, job.plan, 0));
    const z = 1 / Math.sqrt(2 * ((cost.rho / 11) * 7) / 8);
    // The grid widening adds √P grid steps (grid ~2^-24 of the noise): relative 1e-6.
    expect(noise[0]!.std / (2 * 0.5 * z) - 1).toBeLessThan(1e-5);
    expect(noise[0]!.std / (2 * 0.5 * z) - 1).toBeGreaterThanOrEqual(0);
  });
});

describe('DP training at the agent', () => {
  it('sends the sum of per-example gradients, each clipped to C (every example checked), and nothing of its test rows in a training round', async () => {
    const job = compileKindJob(trainKind, dpSpec({ clip: 0.05 })) as CompiledTrainJob;
    const data = syntheticAgentData({ rows: 60, inputs: D, shift: 0, seed: 4 });
    const weights = Array.from({ length: job.plan.parameters }, (_, i) => Math.sin(i + 1));
    const v = await trainRound(job, { phase: 'train', weights }, data, new Map(), 0);
    const b = splitBlocks(trainLayout(job.spec, job.plan, 0), v);
    const net = { inputs: D, layers: [{ units: 4, activation: 'tanh' as const }, { units: 1, activation: 'linear' as const }], loss: 'binary-crossentropy' as const };
    const expected = new Float64Array(job.plan.parameters);
    let clipped = 0;
    for (let r = 0; r < data.train.n; r++) {
      const g = new Float64Array(job.plan.parameters);
      exampleGradient(net, weights, data.train.x, r * D, data.train.y[r]!, g);
      const norm = Math.hypot(...g);
      const f = norm > 0.05 ? 0.05 / norm : 1;
      if (f < 1) clipped++;
      g.forEach((x, i) => (expected[i]! += x * f));
    }
    // C = 0.05 is below most gradients here, so the clip is exercised (negative control: it changes the sum).
    expect(clipped).toBeGreaterThan(data.train.n / 2);
    expect(Math.max(...b.delta!.map((x, i) => Math.abs(x - expected[i]!)))).toBeLessThan(1e-9);
    expect(Math.hypot(...b.delta!)).toBeLessThanOrEqual(data.train.n * 0.05 + 1e-9);
    expect(b.weight![0]).toBe(data.train.n);
    for (const n of ['evalN', 'evalCorrect', 'rocPos', 'rocNeg', 'trainLoss', 'evalLoss']) expect(Array.from(b[n]!).every((x) => x === 0), n).toBe(true);
    const ev = splitBlocks(trainLayout(job.spec, job.plan, 10), await trainRound(job, { phase: 'eval', weights }, data, new Map(), 10));
    expect(ev.evalN![0]).toBe(data.test.n);
    expect(Array.from(ev.delta!).every((x) => x === 0)).toBe(true);
  });

  it('takes the phase from the round, not from the coordinator: an evaluation asked in a training round (or training in the last) is refused', async () => {
    // Red team: the blocks a phase does not use are exact in that round's layout, so a swapped phase left without noise.
    const job = compileKindJob(trainKind, dpSpec({ clip: 0.05 })) as CompiledTrainJob;
    const data = syntheticAgentData({ rows: 60, inputs: D, shift: 0, seed: 4 });
    const weights = Array.from({ length: job.plan.parameters }, () => 0.1);
    await expect(trainRound(job, { phase: 'eval', weights }, data, new Map(), 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/round 1 of this job is a train round, not eval/) });
    await expect(trainRound(job, { phase: 'train', weights }, data, new Map(), 10)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/round 11 of this job is an eval round/) });
    // Control: the phases of the plan are accepted in their rounds.
    await expect(trainRound(job, { phase: 'train', weights }, data, new Map(), 3)).resolves.toBeInstanceOf(Float64Array);
  });
});

describe('released evaluation of DP training (post-processing)', () => {
  it('projects a noisy cumulative histogram onto non-increasing, non-negative counts; a valid one is unchanged', async () => {
    const { monotoneCounts } = await import('./privacy.js');
    const valid = [120, 100, 100, 40, 3, 0];
    expect(Array.from(monotoneCounts(valid))).toEqual(valid);
    const noisy = [118.5, 131.2, 90.1, 95.3, -20.4, 7.9, -3];
    const out = monotoneCounts(noisy);
    for (let j = 1; j < out.length; j++) expect(out[j]!).toBeLessThanOrEqual(out[j - 1]!);
    expect(Math.min(...out)).toBeGreaterThanOrEqual(0);
    // Pool-adjacent-violators: the first two pool to their mean, as do 90.1 and 95.3 (least squares).
    expect(out[0]).toBeCloseTo((118.5 + 131.2) / 2, 12);
    expect(out[2]).toBeCloseTo((90.1 + 95.3) / 2, 12);
    expect(Array.from(out)).not.toEqual(noisy);
  });
});
