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
import { runTrainBackendsBenchmark } from './train-backends.js';
import { runTrainWireBenchmark, type TrainWireOptions } from './train-wire.js';

export interface TrainBenchmarkOptions {
  /** Rows per agent. @default 5_000 */
  rowsPerAgent?: number;
  /** Inputs per row. @default 10 */
  inputs?: number;
  /** Hidden layer units (an MLP with relu layers); none: logistic regression. @default [] */
  hidden?: number[];
  /** Ratio target federated/pooled (issue 10: ≤ 1.3 for the 100 k × 30 MLP). */
  target?: number;
  /** @default 4 */
  agents?: number;
  /** @default 10 */
  rounds?: number;
}

export async function runTrainBenchmark(o: TrainBenchmarkOptions = {}): Promise<SuiteReport> {
  const rowsPerAgent = o.rowsPerAgent ?? 5_000;
  const agents = o.agents ?? 4;
  const rounds = o.rounds ?? 10;
  const D = o.inputs ?? 10;
  const hidden = o.hidden ?? [];
  const spec = {
    kind: 'train', product: 'p', label: 'y',
    features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
    split: { column: 'split', train: 'train', test: 'test' },
    model: hidden.length > 0 ? { type: 'mlp', layers: hidden.map((units) => ({ units, activation: 'relu' })) } : { type: 'logistic' }, loss: 'binary-crossentropy',
    training: { rounds, localEpochs: 1, batchSize: 32, learningRate: 0.5, seed: 3 },
    strategy: { name: 'fedavg' },
    update: { maxExamples: rowsPerAgent },
  };
  const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
  const data = new Map<string, TrainAgentData>(Array.from({ length: agents }, (_, k) => [`agent${k}`, syntheticAgentData({ rows: rowsPerAgent, inputs: D, shift: 0.15 * k, seed: 11 + k })]));
  const states = new Map<string, Map<string, unknown>>();
  // Per round: when it was first asked, when its last agent answered, each agent's compute time and bytes.
  const perRound = new Map<number, { start: number; lastAnswer: number; agentMs: number[]; down: number[]; up: number[]; rows: number[] }>();
  const transport: RoundTransport = {
    async ask(agent, task) {
      const r = perRound.get(task.round) ?? { start: performance.now(), lastAnswer: 0, agentMs: [], down: [], up: [], rows: [] };
      perRound.set(task.round, r);
      r.rows.push(data.get(agent)!.train.n);
      const t = performance.now();
      const { input } = decodeRoundPayload(task.payload);
      if (!states.has(agent)) states.set(agent, new Map());
      const v = await trainRound(job, input as never, data.get(agent)!, states.get(agent)!, task.round);
      const bytes = encodeVector({ values: v });
      const end = performance.now();
      r.agentMs.push(end - t);
      r.down.push(task.payload.length);
      r.up.push(bytes.length);
      r.lastAnswer = Math.max(r.lastAnswer, end);
      return { ok: true, bytes };
    },
    cancelJob: () => undefined,
  };
  try {
    // Warm both worker threads first, so that neither side's time includes the pool's start: the pooled run below
    // reuses a thread the federated run warmed. Each thread loads TF.js and its wasm once (~1–4 s here) and trains
    // one agent-sized local epoch on probe rows, because V8 optimises TF.js's JavaScript (op dispatch, the gradient
    // tape) only over a thread's first ~2 000 batch steps: on a fresh thread the first epoch of 18 750 rows × 30
    // costs ~1.2 s of CPU, the second ~0.75 s, a warm one ~0.5 s (node --cpu-prof: the wasm kernels take the same
    // time, the JavaScript around them 2–3× as long). Warming only TF.js's load, the federated run paid that twice
    // (its two threads) and the pooled run not at all: 1.32–1.47× in CPU for the 100 k MLP where warm it is 1.07–1.15×.
    const probe = syntheticAgentData({ rows: rowsPerAgent, inputs: D, shift: 0, seed: 1 });
    const t = job.spec.training;
    const warmConfig = { epochs: t.localEpochs, batchSize: t.batchSize, optimizer: t.optimizer, learningRate: t.learningRate, momentum: t.momentum, mu: 0, seed: 2 };
    const tw = performance.now();
    await Promise.all([0, 1].map(() => runTrainCompute({ model: localModelOf(job), weights: glorotInit(job.plan.shapes, 1), test: probe.test, thresholds: job.plan.thresholds, train: { config: warmConfig, data: probe.train } })));
    const warmMs = performance.now() - tw;
    const t0 = performance.now();
    const out = await runRounds({ def: trainKind, job, jobId: 'bench', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport, store: createMemoryRoundStore(), rng: createSeededRng(5) });
    const fedMs = performance.now() - t0;
    // The coordinator's own time: the run minus the spans in which some agent of a round was computing.
    const spans = [...perRound.values()].reduce((a, r) => a + (r.lastAnswer - r.start), 0);
    const trainRounds = [...perRound.entries()].filter(([k]) => k < rounds).map(([, r]) => r);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const perAgentExamplesPerS = mean(trainRounds.flatMap((r) => r.agentMs.map((ms, i) => r.rows[i]! / (ms / 1000))));
    const fedAuc = (out.release.summary as { final: { testAuc: number } }).final.testAuc;
    const train = poolData([...data.values()].map((d) => d.train), D);
    const test = poolData([...data.values()].map((d) => d.test), D);
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
      results: {
        agents, rowsPerAgent, rounds, inputs: D, hidden, parameters: job.plan.parameters, backend: pooled.backend,
        federated: {
          ms: Math.round(fedMs), testAuc: fedAuc,
          roundsPerS: Math.round(((rounds + 1) / (fedMs / 1000)) * 1000) / 1000,
          examplesPerSPerAgent: Math.round(perAgentExamplesPerS),
          bytesPerAgentPerRound: { down: Math.round(mean(trainRounds.flatMap((r) => r.down))), upPlain: Math.round(mean(trainRounds.flatMap((r) => r.up))) },
          coordinatorMsPerRound: Math.round(((fedMs - spans) / (rounds + 1)) * 10) / 10,
          // The agents' summed task wall time (includes waiting for one of the pool's 2 threads).
          agentTaskMsTotal: Math.round([...perRound.values()].reduce((a, r) => a + r.agentMs.reduce((x, y) => x + y, 0), 0)),
        },
        pooled: { ms: Math.round(poolMs), testAuc: poolAuc },
        // Untimed: both threads loading TF.js and training one probe epoch in parallel (see above).
        poolWarmupMs: Math.round(warmMs),
      },
      ratios: { federatedOverPooled: ratio(fedMs, poolMs, { numerator: 'federated training ms (runner + agents)', denominator: 'pooled training ms (one worker, same rows and epochs)', ...(o.target !== undefined ? { target: o.target } : {}) }) },
    };
  } finally {
    await closeTrainPool();
  }
}

/** Sizes of the `train` suite's parts (the quick run shrinks them). */
export interface TrainSuiteOptions {
  /** Rounds of the 100 k-row MLP run; 0 leaves it out. @default 3 */
  mlpRounds?: number;
  logistic?: TrainBenchmarkOptions;
  wire?: TrainWireOptions;
  /** Rows of the wasm-vs-cpu epoch. @default 20_000 */
  backendRows?: number;
}

/**
 * The `train` suite: the logistic run above; issue 10's timing target — an MLP 30 → 64 → 32 → 1 on 100 000
 * synthetic rows over 4 agents (25 000 each), federated (FedAvg, 1 local epoch per round) versus pooled on one
 * worker for the same epochs, target ≤ 1.3× (FEDMESH_BENCH_TRAIN_ROUNDS sets its rounds, default 3); the bytes per
 * agent per round the coordinator received over mTLS, plain and secagg (train-wire.ts); and the wasm-vs-cpu backend
 * ratio on the same local epoch (train-backends.ts). The backends run last: they load TF.js in this thread.
 */
export async function runTrainSuite(o: TrainSuiteOptions | number = {}): Promise<SuiteReport> {
  const opts = typeof o === 'number' ? { mlpRounds: o } : o;
  const mlpRounds = opts.mlpRounds ?? 3;
  const logistic = await runTrainBenchmark(opts.logistic);
  const mlp = mlpRounds > 0 ? await runTrainBenchmark({ rowsPerAgent: 25_000, inputs: 30, hidden: [64, 32], rounds: mlpRounds, target: 1.3 }) : undefined;
  // Over the wire with the MLP of the 100 k run (4 097 weights), so its bytes are those of that model's rounds.
  const wire = await runTrainWireBenchmark(opts.wire ?? { inputs: 30, hidden: [64, 32] });
  const backends = await runTrainBackendsBenchmark(opts.backendRows);
  return {
    results: { ...logistic.results, ...(mlp ? { mlp100k: mlp.results } : {}), wire: wire.results, backends: backends.results },
    ratios: {
      ...logistic.ratios,
      ...(mlp ? { mlp100kFederatedOverPooled: mlp.ratios.federatedOverPooled! } : {}),
      wireSecaggOverPlainBytes: wire.ratios.secaggOverPlainBytes!,
      wireSecaggOverPlainMs: wire.ratios.secaggOverPlainMs!,
      backendCpuOverWasm: backends.ratios.cpuOverWasm!,
    },
  };
}
