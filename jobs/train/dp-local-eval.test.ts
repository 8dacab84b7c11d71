/**
 * The released evaluation of local-steps DP training (privacy-local.ts) is the evaluation of the released model:
 * each agent scores the released weights on its test rows and sends exact counts, and the job's mode (central-dp
 * here) noises their sums once, within the job's ε. Checked through the real round runner on generated data: the
 * released AUC and accuracy are within a stated tolerance of the exact AUC and accuracy of the released weights on
 * the same test rows (computed here in float64 from the weights, not released). Negative control: the released AUC
 * is not within that tolerance of the exact AUC of another model (the one trained on shuffled labels).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { denseLogits } from '../../algorithms/fl/dp-grad.js';
import { exactAuc, seededPermutation } from '../../algorithms/fl/index.js';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainRound } from './agent.js';
import type { TrainAgentData } from './data.js';
import { dpNetOf } from './dp-net.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { poolData, syntheticAgentData } from './synthetic.js';

const D = 5;
const spec = {
  kind: 'train',
  product: 'p',
  label: 'y',
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  training: { rounds: 10, learningRate: 0.5, batchSize: 60 },
  strategy: { name: 'fedavg' },
  evaluation: { thresholds: 50 },
  update: { clip: 10, maxExamples: 10_000 },
  privacy: { mode: 'central-dp', epsilon: 8, delta: 1e-5, clip: 1, localSteps: 5, sampleRate: 0.03 },
};

// Stated before measuring, from the noise: ρ_eval = ρ(ε = 8, δ = 1e-5)/11 ≈ 0.095, a quarter per block, so σ ≈ 4.6
// on the test-row and correct counts (accuracy ± 0.01 at 4 σ over 1 500 rows) and ≈ 33 per entry of the two
// 50-threshold cumulative histograms over ~750 positives and negatives; plus the 50-bin trapezoid's error.
const AUC_TOL = 0.05;
const ACC_TOL = 0.02;

afterAll(() => closeTrainPool());

describe('local-steps DP training releases the evaluation of the released model', () => {
  it(`released AUC within ${AUC_TOL} and accuracy within ${ACC_TOL} of the released weights' exact figures; control: not within ${AUC_TOL} of another model's AUC`, async () => {
    const agents = new Map([0, 1, 2].map((k) => [`a${k}`, syntheticAgentData({ rows: 2000, inputs: D, shift: 0.1 * k, seed: 30 + k })]));
    const test = poolData([...agents.values()].map((d) => d.test), D);
    const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
    const { net } = dpNetOf(job);
    const exact = (w: readonly number[]) => {
      const scores = Float64Array.from({ length: test.n }, (_, i) => 1 / (1 + Math.exp(-denseLogits(net, w, test.x, i * D)[0]!)));
      let correct = 0;
      scores.forEach((s, i) => (correct += (s >= 0.5 ? 1 : 0) === test.y[i] ? 1 : 0));
      return { auc: exactAuc(scores, test.y), accuracy: correct / test.n };
    };
    const run = async (data: Map<string, TrainAgentData>) => {
      const transport: RoundTransport = {
        ask: async (agent, task) => {
          const { input } = decodeRoundPayload(task.payload);
          return { ok: true, bytes: encodeVector({ values: await trainRound(job, input as never, data.get(agent)!, new Map(), task.round) }) };
        },
        cancelJob: () => undefined,
      };
      const out = await runRounds({ def: trainKind, job, jobId: 'local-eval', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport, store: createMemoryRoundStore(), rng: createSeededRng(5) });
      const s = out.release.summary as { final: { testAuc: number; testAccuracy: number; testN: number }; model: { weights: number[] } };
      return { released: s.final, weights: s.model.weights, privacy: out.release.privacy as Record<string, unknown> };
    };
    const dp = await run(agents);
    const truth = exact(dp.weights);
    // The control model: training labels pooled, permuted and dealt back across the agents.
    const all = [...agents.values()].flatMap((d) => Array.from(d.train.y));
    const perm = seededPermutation(all.length, 17);
    let at = 0;
    const shuffled = new Map([...agents].map(([k, d]) => {
      const y = Float32Array.from({ length: d.train.n }, (_, i) => all[perm[at + i]!]!);
      at += d.train.n;
      return [k, { ...d, train: { ...d.train, y } }];
    }));
    const other = exact((await run(shuffled)).weights);
    console.info(`[dp-local-eval] released AUC ${dp.released.testAuc.toFixed(4)} vs exact ${truth.auc.toFixed(4)}; released accuracy ${dp.released.testAccuracy.toFixed(4)} vs exact ${truth.accuracy.toFixed(4)} over ${test.n} test rows (released n ${dp.released.testN}); noise σ ${JSON.stringify(dp.privacy.evalNoiseStd)}; control model's exact AUC ${other.auc.toFixed(4)}`);
    expect(Math.abs(dp.released.testAuc - truth.auc)).toBeLessThan(AUC_TOL);
    expect(Math.abs(dp.released.testAccuracy - truth.accuracy)).toBeLessThan(ACC_TOL);
    expect(Math.abs(dp.released.testAuc - other.auc)).toBeGreaterThan(AUC_TOL);
  }, 180_000);
});
