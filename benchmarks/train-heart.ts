/**
 * Issue 10's real-data table: logistic regression on the 4-centre UCI heart-disease data (FLamby split) with each
 * strategy, each centre alone and pooled, the same model and the same budget of epochs (rounds × local epochs),
 * in one run. Prints, per setting, the mean per-centre test accuracy (average of the 4 centres' test accuracies)
 * and the pooled test accuracy and AUC. Then DP-FedAvg at ε = 1, 3, 8 (δ = 1e-5, record level, central-dp: the
 * specs of jobs/train/dp-heart.test.ts), each ε run `dpRuns` times with fresh CSPRNG noise (mean, SD, min–max).
 * Run: `npx tsx benchmarks/train-heart.ts [dpRuns]` (default 20; skips with a message when ../shared/data is
 * absent). Federated runs go through the real round runner with an in-memory transport; the DP steps run in the
 * compiled train worker (`npm run build` first).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { exactAuc, glorotInit } from '../algorithms/fl/index.js';
import { createCryptoRng } from '../common/crypto-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundTransport } from '../coordinator/rounds/round-runner.js';
import { localModelOf, trainRound } from '../jobs/train/agent.js';
import { readTrainData, type TrainAgentData } from '../jobs/train/data.js';
import { trainKind, type CompiledTrainJob } from '../jobs/train/index.js';
import { poolData } from '../jobs/train/synthetic.js';
import { closeTrainPool } from '../node-agent/train/pool.js';
import { evaluateLocal, trainLocal } from '../node-agent/train/local-train.js';
import { loadTf } from '../node-agent/train/tf-runtime.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const csv = path.resolve(root, '../shared/data/fl/heart-disease/split.csv');
const FEATURES: [string, [number, number]][] = [
  ['age', [0, 100]], ['sex', [0, 1]], ['trestbps', [0, 250]], ['chol', [0, 650]], ['fbs', [0, 1]], ['thalach', [50, 220]], ['exang', [0, 1]],
  ['oldpeak', [-3, 7]], ['cp_2', [0, 1]], ['cp_3', [0, 1]], ['cp_4', [0, 1]], ['restecg_1', [0, 1]], ['restecg_2', [0, 1]],
];
const ROUNDS = 20;
const spec = (strategy: Record<string, unknown>) => ({
  kind: 'train', product: 'heart', label: 'label_binary', features: FEATURES.map(([column, bounds]) => ({ column, type: 'numeric', bounds })),
  split: { column: 'split', train: 'train', test: 'test' }, model: { type: 'logistic' }, loss: 'binary-crossentropy',
  training: { rounds: ROUNDS, localEpochs: 1, batchSize: 8, learningRate: 0.1, seed: 1 }, evaluation: { thresholds: 200 }, strategy,
});

const DP_EPSILONS = [1, 3, 8] as const;
const DP_DELTA = 1e-5;
/** The record-level DP settings of jobs/train/dp-heart.test.ts (public choices, not tuned on these test rows). */
const dpBase = { evaluation: { thresholds: 20 }, update: { maxExamples: 1000 } };
const DP_SETTINGS: { name: string; spec: (epsilon: number) => Record<string, unknown> }[] = [
  {
    // DP-SGD in every local step: per-example clip 1, Poisson sampling q = 0.1, 10 steps per round, 15 rounds.
    name: 'DP-FedAvg',
    spec: (epsilon) => ({
      ...spec({ name: 'fedavg' }), ...dpBase,
      training: { rounds: 15, localEpochs: 1, batchSize: 16, learningRate: 0.5, seed: 1 },
      privacy: { mode: 'central-dp', epsilon, delta: DP_DELTA, clip: 1, localSteps: 10, sampleRate: 0.1 },
    }),
  },
  {
    // One full-batch clipped gradient per agent and round, noised on the sum; FedAdam takes the server step.
    name: 'DP 1-step FedAdam',
    spec: (epsilon) => ({
      ...spec({ name: 'fedadam', serverLr: 0.1 }), ...dpBase,
      training: { rounds: 30, localEpochs: 1, learningRate: 1, seed: 1 },
      privacy: { mode: 'central-dp', epsilon, delta: DP_DELTA, clip: 1 },
    }),
  },
];

interface Row { setting: string; meanCentreAcc: number; pooledAcc: number; pooledAuc: number; seconds: number; spread?: string }

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: readonly number[]): number => (v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1)));

async function main(): Promise<void> {
  if (!existsSync(csv)) {
    console.warn(`[skip] heart-disease training benchmark: ${csv} not found (../shared/data is absent)`);
    return;
  }
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(`CREATE TABLE heart AS SELECT * FROM read_csv('${csv.replace(/'/g, "''")}', header = true)`);
  const cols = (await conn.runAndReadAll("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'heart'")).getRowObjectsJS();
  const product = { name: 'heart', columns: cols.map((c) => ({ name: String(c.column_name), type: String(c.data_type) })), privacyUnit: undefined, description: '', source: 'split.csv' };
  const base = compileKindJob(trainKind, spec({ name: 'fedavg' })) as CompiledTrainJob;
  const centres = new Map<string, TrainAgentData>();
  for (let c = 0; c < 4; c++) centres.set(`centre${c}`, await readTrainData(conn, { ...base.spec, where: [{ column: 'center', op: '=', value: c }] }, product, { salt: 's', minCellSize: 1, scratch: `b${c}` }));
  conn.closeSync();
  instance.closeSync();
  const { tf, backend } = await loadTf();
  const model = localModelOf(base);
  const testAll = poolData([...centres.values()].map((d) => d.test), 13);

  const score = (w: ArrayLike<number>) => {
    const accs = [...centres.values()].map((d) => {
      const e = evaluateLocal(tf, model, w, d.test, base.plan.thresholds);
      return e.correct / e.n;
    });
    const e = evaluateLocal(tf, model, w, testAll, base.plan.thresholds);
    const s = new Float64Array(testAll.n);
    for (let i = 0; i < testAll.n; i++) {
      let eta = w[13]!;
      for (let j = 0; j < 13; j++) eta += w[j]! * testAll.x[i * 13 + j]!;
      s[i] = eta;
    }
    return { meanCentreAcc: accs.reduce((a, b) => a + b, 0) / accs.length, pooledAcc: e.correct / e.n, pooledAuc: exactAuc(s, testAll.y), accs };
  };

  const rows: Row[] = [];
  const t = base.spec.training;
  const local = async (name: string, data: { x: Float32Array; y: Float32Array; n: number }) => {
    const t0 = performance.now();
    const res = await trainLocal(tf, model, { epochs: ROUNDS * t.localEpochs, batchSize: t.batchSize, optimizer: 'sgd', learningRate: t.learningRate, momentum: 0, mu: 0, seed: 1 }, glorotInit(base.plan.shapes, t.seed), data);
    rows.push({ setting: name, ...score(res.weights), seconds: (performance.now() - t0) / 1000 });
  };
  await local('pooled', poolData([...centres.values()].map((d) => d.train), 13));
  for (const [k, d] of centres) await local(`${k} alone`, d.train);
  const strategies: Record<string, unknown>[] = [{ name: 'fedavg' }, { name: 'fedprox', mu: 0.1 }, { name: 'fedadam', serverLr: 0.05 }, { name: 'fedyogi', serverLr: 0.05 }, { name: 'fedadagrad', serverLr: 0.3 }, { name: 'scaffold' }];
  const federated = async (raw: Record<string, unknown>, jobId: string) => {
    const job = compileKindJob(trainKind, raw) as CompiledTrainJob;
    const states = new Map([...centres.keys()].map((k) => [k, new Map<string, unknown>()]));
    const transport: RoundTransport = {
      ask: async (agent, task) => ({ ok: true, bytes: encodeVector({ values: await trainRound(job, decodeRoundPayload(task.payload).input as never, centres.get(agent)!, states.get(agent)!, task.round) }) }),
      cancelJob: () => undefined,
    };
    const t0 = performance.now();
    const out = await runRounds({ def: trainKind, job, jobId, researcher: 'bench', specJson: JSON.stringify(job.spec), agents: [...centres.keys()], transport, store: createMemoryRoundStore(), rng: createCryptoRng() });
    const w = (out.release.summary as { model: { weights: number[] } }).model.weights;
    return { ...score(w), seconds: (performance.now() - t0) / 1000, privacy: out.release.privacy as Record<string, unknown> | undefined };
  };
  for (const s of strategies) {
    const r = await federated(spec(s), String(s.name));
    rows.push({ setting: `federated ${String(s.name)}`, meanCentreAcc: r.meanCentreAcc, pooledAcc: r.pooledAcc, pooledAuc: r.pooledAuc, seconds: r.seconds });
  }
  const dpRuns = Number(process.argv[2] ?? 20);
  if (!Number.isSafeInteger(dpRuns) || dpRuns < 1) throw new RangeError(`dpRuns must be a positive integer, got ${process.argv[2]}`);
  const perRun: string[] = [];
  for (const d of DP_SETTINGS) {
    for (const epsilon of DP_EPSILONS) {
      const runs: Awaited<ReturnType<typeof federated>>[] = [];
      // Every run draws fresh noise (the agents' and the coordinator's CSPRNG): the spread is that of the noise.
      for (let i = 0; i < dpRuns; i++) runs.push(await federated(d.spec(epsilon), `${d.name}-${epsilon}-${i}`));
      const pick = (k: 'meanCentreAcc' | 'pooledAcc' | 'pooledAuc') => runs.map((r) => r[k]);
      const z = runs[0]!.privacy?.noiseMultiplier as number;
      const range = (v: number[]) => `${Math.min(...v).toFixed(3)}–${Math.max(...v).toFixed(3)}`;
      rows.push({
        setting: `${d.name} ε=${epsilon}`,
        meanCentreAcc: mean(pick('meanCentreAcc')),
        pooledAcc: mean(pick('pooledAcc')),
        pooledAuc: mean(pick('pooledAuc')),
        seconds: mean(runs.map((r) => r.seconds)),
        spread: `z ${z.toFixed(2)}; SD ${sd(pick('meanCentreAcc')).toFixed(4)} / ${sd(pick('pooledAcc')).toFixed(4)} / ${sd(pick('pooledAuc')).toFixed(4)}; range ${range(pick('meanCentreAcc'))} / ${range(pick('pooledAcc'))} / ${range(pick('pooledAuc'))}`,
      });
      perRun.push(`${d.name} ε=${epsilon}: ${runs.map((r) => `${r.meanCentreAcc.toFixed(4)}/${r.pooledAcc.toFixed(4)}/${r.pooledAuc.toFixed(4)}`).join(', ')}`);
    }
  }
  await closeTrainPool();
  console.log(`heart disease, logistic regression, ${ROUNDS} epochs budget (federated: ${ROUNDS} rounds × 1 local epoch), TF.js backend ${backend}`);
  console.log(`DP rows: δ = ${DP_DELTA}, record level (per-example clip 1), central-dp; mean of ${dpRuns} runs with fresh CSPRNG noise (SD and range of the three figures after each row)`);
  console.log('setting               mean per-centre acc  pooled acc  pooled AUC  seconds');
  for (const r of rows) console.log(`${r.setting.padEnd(22)}${r.meanCentreAcc.toFixed(4).padStart(19)}${r.pooledAcc.toFixed(4).padStart(12)}${r.pooledAuc.toFixed(4).padStart(12)}${r.seconds.toFixed(1).padStart(9)}${r.spread ? `  (${r.spread})` : ''}`);
  console.log(`DP runs (mean per-centre acc / pooled acc / pooled AUC):\n  ${perRun.join('\n  ')}`);
}

await main();
