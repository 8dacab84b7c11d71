/**
 * update.maxExamples is a public bound a researcher chooses. Refusing an agent whose data exceed it answered "n > m?"
 * exactly, and a researcher bisecting m over jobs read n (red team 24). What holds now:
 *
 * - DP modes (full-batch and local steps): an agent beyond the bound is not refused; its vector is projected onto the
 *   layout's per-agent box (`projectOntoBounds`, 1-Lipschitz, so the DP sensitivity is unchanged). Control: the
 *   same figures without the projection fall outside the public bounds the coordinator enforces.
 * - Mode none: a side of 1 … k − 1 persons releases zeros with a flag, so it is not held to the bound (it answered
 *   "more than m rows?" about a count the release withholds). Control: a side of k persons or more beyond the bound is
 *   still refused, naming update.maxExamples (its row count is released anyway).
 *
 * Real TF.js compute on generated rows.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { checkAgentVector, compileKindJob, kindPrivacyModeOf, projectOntoBounds, snapVectorToGrid, layoutWithAgentNoise } from '../../common/kinds/index.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainRound } from './agent.js';
import type { TrainAgentData } from './data.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { splitBlocks, trainLayout } from './plan.js';
import { syntheticAgentData, syntheticTrainSpec } from './synthetic.js';

const D = 3;
const BOUND = 100;
const base = syntheticTrainSpec(D, {
  training: { rounds: 1, localEpochs: 1, batchSize: 20, learningRate: 0.5, seed: 1 },
  evaluation: { thresholds: 10 },
  update: { clip: 1, maxExamples: BOUND },
});
const compile = (privacy: Record<string, unknown>): CompiledTrainJob => compileKindJob(trainKind, { ...base, privacy }) as CompiledTrainJob;
// 400 train and 400 test rows: both sides four times the public bound.
const data = syntheticAgentData({ rows: 800, inputs: D, shift: 0, seed: 11, testFraction: 0.5 });
const zeros = (job: CompiledTrainJob): number[] => Array.from({ length: job.plan.parameters }, () => 0);

afterAll(async () => closeTrainPool());

describe('update.maxExamples in the DP modes: projected, never refused', () => {
  const cases: [string, Record<string, unknown>][] = [
    ['full-batch DP-SGD', { mode: 'central-dp', epsilon: 4, delta: 1e-5, clip: 1 }],
    ['local-steps DP-SGD', { mode: 'central-dp', epsilon: 4, delta: 1e-5, clip: 1, localSteps: 2, sampleRate: 0.05 }],
  ];
  for (const [name, privacy] of cases) {
    it(`${name}: both phases answer within the public bounds; control: the unprojected counts exceed them`, async () => {
      expect(data.train.n).toBeGreaterThan(BOUND);
      expect(data.test.n).toBeGreaterThan(BOUND);
      const job = compile(privacy);
      for (const [phase, round] of [['train', 0], ['eval', job.spec.training.rounds]] as const) {
        const layout = trainLayout(job.spec, job.plan, round);
        const v = await trainRound(job, { phase, weights: zeros(job) }, data, new Map(), round);
        expect(() => checkAgentVector(layout, { values: v }, 'a')).not.toThrow();
        const b = splitBlocks(layout, v);
        if (phase === 'eval') {
          // The test count is the bound, not the data's 400.
          expect(b.evalN![0]).toBe(BOUND);
          // Control: the same count unprojected is outside the bounds the coordinator checks.
          const raw = Float64Array.from(v);
          raw[layout.blocks.slice(0, layout.blocks.findIndex((x) => x.name === 'evalN')).reduce((a, x) => a + x.length, 0)] = data.test.n;
          expect(() => checkAgentVector(layout, { values: raw }, 'a')).toThrow(/evalN\[0\] outside its public bounds/);
        }
      }
    });
  }

  it('central-dp, the whole agent path (projection, then the grid snap): a bound off the noise grid (39 × 0.3) still passes the coordinator\'s check (red team 27)', async () => {
    const job = compileKindJob(trainKind, syntheticTrainSpec(1, { training: { rounds: 1, learningRate: 0.1 }, update: { maxExamples: 39 }, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6, maxRowsPerPerson: 1, clip: 0.3 } })) as CompiledTrainJob;
    // 40 rows whose clipped gradients all point one way: the bias entry's sum is −0.3 × 40, past −0.3 × 39.
    const n = 40;
    const same = { train: { x: new Float32Array(n), y: new Float32Array(n).fill(1), n }, test: { x: new Float32Array(0), y: new Float32Array(0), n: 0 }, inputs: 1 } as unknown as TrainAgentData;
    const layout = trainLayout(job.spec, job.plan, 0);
    const mode = kindPrivacyModeOf(trainKind, job);
    const noise = mode.roundNoise(job, layout, { agents: 3 });
    const v = await trainRound(job, { phase: 'train', weights: zeros(job) }, same, new Map(), 0);
    const sent = snapVectorToGrid(layout, noise, mode.atAgent({ values: v }, noise, layout, createSeededRng(1)));
    expect(sent.values[1]).toBeGreaterThanOrEqual(layout.blocks[0]!.perAgent.lo);
    expect(() => checkAgentVector(layoutWithAgentNoise(layout, noise), sent, 'a1')).not.toThrow();
  });

  it('projectOntoBounds never moves two vectors further apart (1-Lipschitz in L2); control: a non-projection (scaling) does', () => {
    const layout = trainLayout(compile({ mode: 'central-dp', epsilon: 4, delta: 1e-5, clip: 1 }).spec, compile({ mode: 'central-dp', epsilon: 4, delta: 1e-5, clip: 1 }).plan, 0);
    const n = layout.blocks.reduce((a, x) => a + x.length, 0);
    let seed = 7;
    const r = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.3) * 4 * BOUND;
    const dist = (a: Float64Array, b: Float64Array): number => Math.hypot(...a.map((x, i) => x - b[i]!));
    let violations = 0;
    for (let t = 0; t < 200; t++) {
      const a = Float64Array.from({ length: n }, r);
      const b = Float64Array.from(a, (x, i) => (i % 3 === t % 3 ? x + r() : x));
      const before = dist(a, b);
      const after = dist(projectOntoBounds(layout, Float64Array.from(a)), projectOntoBounds(layout, Float64Array.from(b)));
      if (after > before + 1e-9) violations++;
    }
    expect(violations).toBe(0);
    const scale = (x: Float64Array): Float64Array => x.map((y) => 2 * y);
    const a = Float64Array.from({ length: n }, r);
    const b = Float64Array.from(a, (x) => x + 1);
    expect(dist(scale(a), scale(b))).toBeGreaterThan(dist(a, b));
  });
});

describe('update.maxExamples in mode none: only a side that releases is held to it', () => {
  const job = compile({ mode: 'none' });
  const weights = zeros(job);
  const layout = trainLayout(job.spec, job.plan);

  it('sides of fewer than k persons beyond the bound: flagged zeros, not a refusal', async () => {
    const k = Math.max(data.train.n, data.test.n) + 1;
    const b = splitBlocks(layout, await trainRound(job, { phase: 'train', weights }, data, new Map(), 0, undefined, k));
    expect(b.evalSmall![0]).toBe(1);
    expect(b.trainSmall![0]).toBe(1);
    expect(b.evalN![0]).toBe(0);
  });

  it('control: sides of k persons or more beyond the bound are refused, naming update.maxExamples', async () => {
    const k = Math.min(data.train.n, data.test.n);
    await expect(trainRound(job, { phase: 'train', weights }, data, new Map(), 0, undefined, k)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'update.maxExamples' });
  });
});
