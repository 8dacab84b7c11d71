/**
 * DP training with local steps (privacy-local.ts): the spec refuses what the account does not cover (naming the
 * field), the account is the sampled-Gaussian RDP within the stated ε, the ledger records the stated (ε, δ) with
 * the unamplified ρ, the modes add nothing (every block is noised at the agent or public), and the agent's update
 * is local DP-SGD from the round's model, clipped to update.clip, with weight 1 whatever its rows.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { isFedmeshError } from '../../common/errors.js';
import { compileKindJob, privacyModeOf } from '../../common/kinds/index.js';
import { rhoForEpsilonDelta, subsampledGaussianEpsilon } from '../../algorithms/dp/index.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainRound } from './agent.js';
import { splitBlocks, trainLayout } from './plan.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { localDpAccount } from './privacy-local.js';
import type { TrainDpPrivacy } from './privacy-spec.js';
import { parseTrainSpec } from './spec.js';
import { syntheticAgentData } from './synthetic.js';

const D = 5;
const spec = (privacy: Record<string, unknown> = {}, over: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'p',
  label: 'y',
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  training: { rounds: 10, learningRate: 0.5, batchSize: 16 },
  evaluation: { thresholds: 15 },
  update: { clip: 10, maxExamples: 10_000 },
  privacy: { mode: 'central-dp', epsilon: 3, delta: 1e-5, clip: 1, localSteps: 5, sampleRate: 0.05, ...privacy },
  ...over,
});

function fieldOf(s: unknown): string | undefined {
  try {
    parseTrainSpec(s);
    return undefined;
  } catch (e) {
    if (!isFedmeshError(e) || e.code !== 'INVALID_JOB') throw e;
    return e.field;
  }
}

afterAll(() => closeTrainPool());

describe('local-steps DP training spec', () => {
  it('accepts local steps and Poisson sampling; the one-step spec stays the one-step path', () => {
    expect(fieldOf(spec())).toBeUndefined();
    expect(fieldOf(spec({ localSteps: undefined, sampleRate: 0.1 }))).toBeUndefined();
    expect(fieldOf(spec({ localSteps: undefined, sampleRate: undefined }, { training: { rounds: 10, learningRate: 1 } }))).toBeUndefined();
  });

  it.each([
    [spec({ localSteps: 0 }), 'privacy.localSteps'],
    [spec({ localSteps: 2.5 }), 'privacy.localSteps'],
    [spec({ sampleRate: 0 }), 'privacy.sampleRate'],
    [spec({ sampleRate: 1.5 }), 'privacy.sampleRate'],
    [spec({ epsilon: undefined, delta: undefined, rho: 0.5 }), 'privacy.epsilon'],
    [spec({ maxRowsPerPerson: 2 }), 'privacy.maxRowsPerPerson'],
    [spec({ localSteps: 1000 }, { training: { rounds: 500 } }), 'privacy.localSteps'],
    // ε = 0.01 over 10 × 5 steps at q = 0.05: the evaluation's share alone leaves no room (z > 100).
    [spec({ epsilon: 0.01 }), 'privacy.epsilon'],
    [spec({}, { strategy: { name: 'scaffold' } }), 'strategy.name'],
  ])('%# refuses → INVALID_JOB naming %s', (s, field) => {
    expect(fieldOf(s)).toBe(field);
  });
});

describe('momentum and Adam inside the local steps', () => {
  it('are accepted with local steps (one-step DP still refuses them) and leave the account unchanged: same z, ε and charged ρ as SGD', () => {
    const adam = spec({}, { training: { rounds: 10, optimizer: 'adam', learningRate: 0.01, batchSize: 16 } });
    const mom = spec({}, { training: { rounds: 10, learningRate: 0.5, momentum: 0.9, batchSize: 16 } });
    expect(fieldOf(adam)).toBeUndefined();
    expect(fieldOf(mom)).toBeUndefined();
    expect(fieldOf(spec({ localSteps: undefined, sampleRate: undefined }, { training: { rounds: 10, optimizer: 'adam' } }))).toBe('training.optimizer');
    const sgdJob = compileKindJob(trainKind, spec()) as CompiledTrainJob;
    for (const s of [adam, mom]) {
      const job = compileKindJob(trainKind, s) as CompiledTrainJob;
      expect(privacyModeOf(job).cost(job)).toEqual(privacyModeOf(sgdJob).cost(sgdJob));
      expect(localDpAccount(job.spec.privacy as TrainDpPrivacy, 10)).toEqual(localDpAccount(sgdJob.spec.privacy as TrainDpPrivacy, 10));
    }
  });
});

describe('local-steps DP account and layout', () => {
  const job = compileKindJob(trainKind, spec()) as CompiledTrainJob;
  const p = job.spec.privacy as TrainDpPrivacy;
  const a = localDpAccount(p, 10);

  it('calibrates z so that the RDP account (10 × 5 steps at q = 0.05 plus the evaluation) is within ε = 3, and 2 % less noise is not', () => {
    const run = { q: a.q, steps: 50, extraRho: rhoForEpsilonDelta(3, 1e-5) / 11 };
    expect(a.epsilon).toBeLessThanOrEqual(3);
    expect(subsampledGaussianEpsilon({ ...run, noiseMultiplier: a.noiseMultiplier }, 1e-5).epsilon).toBeLessThanOrEqual(3);
    expect(subsampledGaussianEpsilon({ ...run, noiseMultiplier: a.noiseMultiplier * 0.98 }, 1e-5).epsilon).toBeGreaterThan(3);
    // Sampling amplifies: without it (q = 1) the same z would cost far more.
    expect(subsampledGaussianEpsilon({ ...run, q: 1, noiseMultiplier: a.noiseMultiplier }, 1e-5).epsilon).toBeGreaterThan(10);
  });

  it('two sites per person double the sampled-Gaussian steps, so z grows', () => {
    expect(localDpAccount({ ...p, maxSitesPerPerson: 2 }, 10).noiseMultiplier).toBeGreaterThan(a.noiseMultiplier);
  });

  it('the ledger records the stated (ε, δ) and the unamplified ρ = R·S/(2z²) + ρ_eval; training rounds: the mode adds nothing (updates noised at the agent)', () => {
    const cost = privacyModeOf(job).cost(job)!;
    expect(cost.epsilon).toBe(3);
    expect(cost.delta).toBe(1e-5);
    expect(cost.rho).toBeCloseTo(50 / (2 * a.noiseMultiplier ** 2) + rhoForEpsilonDelta(3, 1e-5) / 11, 12);
    const layout = trainLayout(job.spec, job.plan, 0);
    const noise = privacyModeOf(job).roundNoise(job, layout);
    expect(noise.every((n) => n.std === 0 && n.agentSigma2Grid === 0 && n.sigma2Grid === 0)).toBe(true);
    expect(layout.blocks.filter((b) => b.agentNoised).map((b) => b.name)).toEqual(['delta', 'weight']);
  });

  it('the final round: the mode noises the evaluation sums with exactly the account\'s ρ_eval (a quarter per block; evalPad takes the rest of the round), nothing else', () => {
    const layout = trainLayout(job.spec, job.plan, 10);
    const noise = privacyModeOf(job).roundNoise(job, layout);
    const std = Object.fromEntries(layout.blocks.map((b, i) => [b.name, noise[i]!.std]));
    const T = job.plan.thresholds.length;
    const rhoBlock = a.evalRho / 4;
    // Counts are exact on the integer grid: σ = Δ₂/√(2ρ) with no grid widening.
    expect(std.evalN! / Math.sqrt(1 / (2 * rhoBlock)) - 1).toBeLessThan(1e-9);
    expect(Math.abs(std.evalCorrect! / Math.sqrt(1 / (2 * rhoBlock)) - 1)).toBeLessThan(1e-9);
    expect(Math.abs(std.rocPos! / Math.sqrt(T / (2 * rhoBlock)) - 1)).toBeLessThan(1e-9);
    expect(std.evalPad).toBeGreaterThan(0);
    for (const n of ['delta', 'weight', 'trainLoss', 'trainN', 'evalLoss']) expect(std[n], n).toBe(0);
    expect(layout.blocks.some((b) => b.agentNoised)).toBe(false);
    // Negative control: without the pad the four blocks would share the round's whole even split, more than ρ_eval.
    expect(a.rho / 11).toBeGreaterThan(a.evalRho * 1.01);
  });
});

describe('local-steps DP training at the agent', () => {
  const job = compileKindJob(trainKind, spec({ epsilon: 8 })) as CompiledTrainJob;
  const weights = Array.from({ length: job.plan.parameters }, () => 0);

  it('sends a clipped delta with weight 1, and nothing of its test rows or losses, even without train rows', async () => {
    const data = syntheticAgentData({ rows: 400, inputs: D, shift: 0, seed: 4 });
    for (const d of [data, { ...data, train: { x: new Float32Array(0), y: new Float32Array(0), n: 0 } }]) {
      const b = splitBlocks(trainLayout(job.spec, job.plan, 0), await trainRound(job, { phase: 'train', weights }, d, new Map(), 0));
      expect(b.weight![0]).toBe(1);
      expect(Math.hypot(...b.delta!)).toBeLessThanOrEqual(10 + 1e-6);
      expect(b.delta!.some((x) => x !== 0)).toBe(true); // noise at least
      for (const n of ['evalN', 'evalCorrect', 'rocPos', 'rocNeg', 'trainLoss', 'trainN', 'evalLoss']) expect(Array.from(b[n]!).every((x) => x === 0), n).toBe(true);
    }
  });

  it('learns: 10 rounds of local DP-SGD (ε = 8) move a logistic model towards the separating direction; control: shuffled labels do not', async () => {
    const data = syntheticAgentData({ rows: 2000, inputs: D, shift: 0, seed: 5 });
    const shuffledY = Float32Array.from(data.train.y, (_, i) => data.train.y[(i * 7919) % data.train.n]!);
    const gain = async (y: Float32Array) => {
      let w = weights.slice();
      for (let r = 0; r < 10; r++) {
        const b = splitBlocks(trainLayout(job.spec, job.plan, r), await trainRound(job, { phase: 'train', weights: w }, { ...data, train: { ...data.train, y } }, new Map(), r));
        w = w.map((v, i) => v + b.delta![i]!);
      }
      // Accuracy of w on the train rows.
      let ok = 0;
      for (let i = 0; i < data.train.n; i++) {
        let z = w[D]!;
        for (let j = 0; j < D; j++) z += w[j]! * data.train.x[i * D + j]!;
        if ((z > 0 ? 1 : 0) === data.train.y[i]) ok++;
      }
      return ok / data.train.n;
    };
    const acc = await gain(data.train.y);
    const control = await gain(shuffledY);
    console.info(`[dp-local] train accuracy after 10 DP rounds: ${acc.toFixed(3)}; shuffled labels: ${control.toFixed(3)}`);
    expect(acc).toBeGreaterThan(control + 0.05);
  }, 120_000);

  it('the final round sends the exact test counts of the model (the mode noises their sum) and no update', async () => {
    const data = syntheticAgentData({ rows: 400, inputs: D, shift: 0, seed: 4 });
    const b = splitBlocks(trainLayout(job.spec, job.plan, 10), await trainRound(job, { phase: 'eval', weights }, data, new Map(), 10));
    expect(Array.from(b.delta!).every((x) => x === 0)).toBe(true);
    expect(b.weight![0]).toBe(0);
    expect(b.evalN![0]).toBe(data.test.n);
    expect(b.rocPos![0]! + b.rocNeg![0]!).toBe(data.test.n);
  });
});

describe('local-steps DP training through the round runner', () => {
  it('runs R + 1 rounds, releases the model and a privacy block that states what was done', async () => {
    const job = compileKindJob(trainKind, spec({ epsilon: 8 }, { training: { rounds: 3, learningRate: 0.5, batchSize: 16 } })) as CompiledTrainJob;
    const data = new Map([0, 1, 2].map((k) => [`a${k}`, syntheticAgentData({ rows: 300, inputs: D, shift: 0.1 * k, seed: 20 + k })]));
    const transport: RoundTransport = {
      ask: async (agent, task) => {
        const { input } = decodeRoundPayload(task.payload);
        return { ok: true, bytes: encodeVector({ values: await trainRound(job, input as never, data.get(agent)!, new Map(), task.round) }) };
      },
      cancelJob: () => undefined,
    };
    const out = await runRounds({ def: trainKind, job, jobId: 'local-dp', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport, store: createMemoryRoundStore(), rng: createSeededRng(1) });
    expect(out.release.rows).toHaveLength(4);
    const priv = out.release.privacy;
    expect(priv.epsilon).toBe(8);
    expect(priv.epsilonAccounted as number).toBeLessThanOrEqual(8);
    expect(priv.stepsPerRound).toBe(5);
    expect(priv.optimizer).toBe('SGD');
    expect(priv.sampleRate as number).toBeGreaterThanOrEqual(0.05);
    expect(out.release.notes.some((n) => n.includes('local DP-SGD'))).toBe(true);
    const w = (out.release.summary as { model: { weights: number[] } }).model.weights;
    expect(w.every(Number.isFinite)).toBe(true);
    expect(w.some((x) => x !== 0)).toBe(true);
  }, 60_000);
});
