/**
 * Categorical cross-entropy (issue 10): a 3-class label with public levels, softmax output, through the real round
 * runner with an in-memory transport (each agent runs the kind's round code, TF.js included, on synthetic non-IID
 * rows). Federated accuracy reaches the pooled model's (same model, same epoch budget) within 0.04; shuffled labels
 * leave accuracy near 1/3 (negative control); the one-vs-rest AUC from the additive histograms matches the exact
 * row-level one-vs-rest AUC within 0.01 (100 thresholds); unlisted labels are excluded and counted only at or above
 * the minimum cell size.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { exactAuc, glorotInit } from '../../algorithms/fl/index.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { loadTf } from '../../node-agent/train/tf-runtime.js';
import { evaluateLocal, trainLocal } from '../../node-agent/train/local-train.js';
import { localModelOf, trainRound } from './agent.js';
import type { TrainAgentData } from './data.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { labelExcludedReport, mapLabels } from './label.js';
import { poolData } from './synthetic.js';
import { syntheticMulticlassData } from './synthetic-multiclass.js';

const D = 6;
const K = 3;
const spec = (over: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'p',
  label: { column: 'y', levels: [0, 1, 2] },
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  // The TF.js name, normalised to categorical-crossentropy.
  loss: 'categoricalCrossentropy',
  training: { rounds: 10, localEpochs: 2, batchSize: 16, learningRate: 0.5, seed: 4 },
  ...over,
});

function agentsData(shuffleLabels = false): Map<string, TrainAgentData> {
  return new Map(Array.from({ length: 3 }, (_, k) => [`agent${k}`, syntheticMulticlassData({ rows: 300 + 60 * k, inputs: D, classes: K, shift: 0.1 * k, seed: 21 + k, shuffleLabels })]));
}

async function run(raw: Record<string, unknown>, data: Map<string, TrainAgentData>) {
  const job = compileKindJob(trainKind, raw) as CompiledTrainJob;
  const states = new Map<string, Map<string, unknown>>();
  const t: RoundTransport = {
    async ask(agent, task) {
      const { input } = decodeRoundPayload(task.payload);
      const j = compileKindJob(trainKind, JSON.parse(task.specJson)) as CompiledTrainJob;
      if (!states.has(agent)) states.set(agent, new Map());
      return { ok: true, bytes: encodeVector({ values: await trainRound(j, input as never, data.get(agent)!, states.get(agent)!, task.round) }) };
    },
    cancelJob: () => undefined,
  };
  const out = await runRounds({ def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: t, store: createMemoryRoundStore(), rng: createSeededRng(5) });
  const s = out.release.summary as { final: { testAccuracy: number; testAuc: number; testN: number }; model: { weights: number[]; activations: string[]; shapes: number[][] } };
  return { job, out, s };
}

/** Softmax probabilities of a softmax regression (kernel [D, K] row-major, then the K biases). */
function probabilities(w: ArrayLike<number>, x: Float32Array, n: number): Float64Array {
  const p = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: K }, (_, k) => {
      let v = w[D * K + k]!;
      for (let j = 0; j < D; j++) v += x[i * D + j]! * w[j * K + k]!;
      return v;
    });
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    for (let k = 0; k < K; k++) p[i * K + k] = e[k]! / s;
  }
  return p;
}

describe('categorical cross-entropy (3 classes, softmax)', () => {
  afterAll(closeTrainPool);

  it('federated accuracy is within 0.04 of the pooled model; shuffled labels stay near 1/3 (negative control)', async () => {
    const data = agentsData();
    const { job, out, s } = await run(spec(), data);
    expect(job.plan.units).toEqual([K]);
    expect(s.model.activations).toEqual(['softmax']);
    expect(out.history.length).toBe(11);
    const test = poolData([...data.values()].map((d) => d.test), D);
    expect(s.final.testN).toBe(test.n);
    // Pooled reference: the same model trained on all train rows for the same epochs, scored on all test rows.
    const { tf } = await loadTf();
    const train = poolData([...data.values()].map((d) => d.train), D);
    const t = job.spec.training;
    const res = await trainLocal(tf, localModelOf(job), { epochs: t.rounds * t.localEpochs, batchSize: t.batchSize, optimizer: 'sgd', learningRate: t.learningRate, momentum: 0, mu: 0, seed: 1 }, glorotInit(job.plan.shapes, t.seed), train);
    const pooled = evaluateLocal(tf, localModelOf(job), res.weights, test, job.plan.thresholds);
    const pooledAcc = pooled.correct / pooled.n;
    expect(pooledAcc).toBeGreaterThan(0.6);
    expect(Math.abs(s.final.testAccuracy - pooledAcc)).toBeLessThan(0.04);
    // The first round scores the initial model: training happened.
    expect(s.final.testAccuracy).toBeGreaterThan((out.release.rows[0] as { testAccuracy: number }).testAccuracy + 0.1);

    // One-vs-rest macro AUC from the summed histograms ≈ the exact row-level one (computed here, in the test only).
    const p = probabilities(s.model.weights, test.x, test.n);
    const aucs = Array.from({ length: K }, (_, k) => exactAuc(Array.from({ length: test.n }, (_, i) => p[i * K + k]!), Array.from(test.y, (y) => (y === k ? 1 : 0))));
    const exact = aucs.reduce((a, b) => a + b, 0) / K;
    expect(Math.abs(s.final.testAuc - exact)).toBeLessThan(0.01);

    const shuffled = await run(spec(), agentsData(true));
    expect(Math.abs(shuffled.s.final.testAccuracy - 1 / 3)).toBeLessThan(0.1);
    expect(pooledAcc - shuffled.s.final.testAccuracy).toBeGreaterThan(0.2);
    // Shuffled AUC measured 0.43 (noise fitted on shuffled rows generalises worse than chance); the real one 0.95.
    expect(s.final.testAuc - shuffled.s.final.testAuc).toBeGreaterThan(0.15);
    console.log(`3-class: federated accuracy ${s.final.testAccuracy.toFixed(4)}, pooled ${pooledAcc.toFixed(4)}, AUC (OvR) ${s.final.testAuc.toFixed(4)} vs exact ${exact.toFixed(4)}; shuffled labels: accuracy ${shuffled.s.final.testAccuracy.toFixed(4)}, AUC ${shuffled.s.final.testAuc.toFixed(4)}`);
  }, 180_000);

  it('an MLP with a softmax output trains too (3 agents, accuracy above 0.6)', async () => {
    const { s, job } = await run(spec({ model: { type: 'mlp', layers: [{ units: 8, activation: 'relu' }] }, training: { rounds: 8, localEpochs: 2, batchSize: 16, learningRate: 0.3, seed: 4 } }), agentsData());
    expect(job.plan.shapes).toEqual([[D, 8], [8], [8, K], [K]]);
    expect(s.final.testAccuracy).toBeGreaterThan(0.6);
  }, 180_000);

  it('unlisted labels are excluded and counted; the count leaves the agent only at or above the minimum cell size; a class below it is refused', () => {
    const base = syntheticMulticlassData({ rows: 200, inputs: D, classes: K, shift: 0, seed: 3 });
    // Relabel 12 train rows as 7 (not a level).
    const y = Float32Array.from(base.train.y);
    for (let i = 0; i < 12; i++) y[i] = 7;
    const data = { ...base, train: { ...base.train, y } };
    const mapped = mapLabels({ labelLevels: [0, 1, 2] }, data, 10);
    expect(mapped.train.n).toBe(base.train.n - 12);
    expect(mapped.labelExcluded).toBe(12);
    expect(labelExcludedReport(mapped, 10)).toBe(12);
    // Negative control: below the minimum cell size the count is withheld (0).
    expect(labelExcludedReport(mapped, 13)).toBe(0);
    // Features stay with their rows: the first kept row is the 13th.
    expect(Array.from(mapped.train.x.subarray(0, D))).toEqual(Array.from(base.train.x.subarray(12 * D, 13 * D)));
    // Levels map to class indices in their declared order.
    const re = mapLabels({ labelLevels: [2, 0, 1] }, base, 1);
    expect(re.train.y[0]).toBe([2, 0, 1].indexOf(base.train.y[0]!));
    // A class with rows but fewer than the minimum cell size: POLICY_DENIED, the level not named.
    const few = Float32Array.from(base.train.y, (v) => (v === 2 ? 0 : v));
    few[0] = 2;
    const testY = Float32Array.from(base.test.y, (v) => (v === 2 ? 0 : v));
    const err = (() => {
      try {
        mapLabels({ labelLevels: [0, 1, 2] }, { ...base, train: { ...base.train, y: few }, test: { ...base.test, y: testY } }, 5);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(isFedmeshError(err) && err.code).toBe('POLICY_DENIED');
    expect(String((err as Error).message)).toMatch(/train\.labelLevels/);
  });
});
