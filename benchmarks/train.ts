/**
 * Suite `train` (issue 10, Evaluation): federated training (FedAvg, logistic model, synthetic non-IID rows over
 * 4 agents) through the real round runner with an in-memory transport — each agent runs the kind's own round code
 * (jobs/train/agent.ts → TF.js in the train worker pool) — versus the same model trained pooled on ONE worker over
 * the same rows for the same number of epochs, in the same run. Both report the test AUC. Agents share this
 * machine's cores; on a real mesh each site brings its own, so the federated time is an upper bound.
 * Synthetic data only (seeded, never used for privacy).
 */
import { performance } from 'node:perf_hooks';
import { glorotInit } from '../algorithms/fl/index.js';
import { createSeededRng } from '../algorithms/testing/seeded-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../coordinator/rounds/round-runner.js';
import { localModelOf, trainRound } from '../jobs/train/agent.js';
import type { TrainAgentData } from '../jobs/train/data.js';
import { trainKind, type CompiledTrainJob } from '../jobs/train/index.js';
import { poolData, syntheticAgentData } from '../jobs/train/synthetic.js';
import { closeTrainPool, runTrainCompute } from '../node-agent/train/pool.js';
import { aucFromRoc } from '../algorithms/fl/index.js';
import { ratio, type SuiteReport } from './harness.js';

export interface TrainBenchmarkOptions {
  /** Rows per agent. @default 5_000 */
  rowsPerAgent?: number;
  /** @default 4 */
  agents?: number;
  /** @default 10 */
  rounds?: number;
}

const D = 10;

export async function runTrainBenchmark(o: TrainBenchmarkOptions = {}): Promise<SuiteReport> {
  const rowsPerAgent = o.rowsPerAgent ?? 5_000;
  const agents = o.agents ?? 4;
  const rounds = o.rounds ?? 10;
  const spec = {
    kind: 'train', product: 'p', label: 'y',
    features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
    split: { column: 'split', train: 'train', test: 'test' },
    model: { type: 'logistic' }, loss: 'binary-crossentropy',
    training: { rounds, localEpochs: 1, batchSize: 32, learningRate: 0.5, seed: 3 },
    strategy: { name: 'fedavg' },
    update: { maxExamples: rowsPerAgent },
  };
  const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
  const data = new Map<string, TrainAgentData>(Array.from({ length: agents }, (_, k) => [`agent${k}`, syntheticAgentData({ rows: rowsPerAgent, inputs: D, shift: 0.15 * k, seed: 11 + k })]));
  const states = new Map<string, Map<string, unknown>>();
  const transport: RoundTransport = {
    async ask(agent, task) {
      const { input } = decodeRoundPayload(task.payload);
      if (!states.has(agent)) states.set(agent, new Map());
      const v = await trainRound(job, input as never, data.get(agent)!, states.get(agent)!, task.round);
      return { ok: true, bytes: encodeVector({ values: v }) };
    },
    cancelJob: () => undefined,
  };
  try {
    const t0 = performance.now();
    const out = await runRounds({ def: trainKind, job, jobId: 'bench', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport, store: createMemoryRoundStore(), rng: createSeededRng(5) });
    const fedMs = performance.now() - t0;
    const fedAuc = (out.release.summary as { final: { testAuc: number } }).final.testAuc;
    const train = poolData([...data.values()].map((d) => d.train), D);
    const test = poolData([...data.values()].map((d) => d.test), D);
    const t = job.spec.training;
    const t1 = performance.now();
    const pooled = await runTrainCompute({
      model: localModelOf(job), weights: glorotInit(job.plan.shapes, t.seed), test, thresholds: job.plan.thresholds,
      train: { config: { epochs: rounds * t.localEpochs, batchSize: t.batchSize, optimizer: t.optimizer, learningRate: t.learningRate, momentum: 0, mu: 0, seed: 1 }, data: train },
    });
    const poolMs = performance.now() - t1;
    // The pooled evaluation scores the weights it started from; score the trained ones the same way.
    const ev = (await runTrainCompute({ model: localModelOf(job), weights: Float64Array.from(pooled.training!.weights), test, thresholds: job.plan.thresholds })).evaluation;
    const poolAuc = aucFromRoc(ev.rocPos, ev.rocNeg, ev.rocPos[0]!, ev.rocNeg[0]!);
    return {
      results: { agents, rowsPerAgent, rounds, inputs: D, backend: pooled.backend, federated: { ms: Math.round(fedMs), testAuc: fedAuc }, pooled: { ms: Math.round(poolMs), testAuc: poolAuc } },
      ratios: { federatedOverPooled: ratio(fedMs, poolMs, { numerator: 'federated training ms (runner + agents)', denominator: 'pooled training ms (one worker, same rows and epochs)' }) },
    };
  } finally {
    await closeTrainPool();
  }
}
