/**
 * Train over the wire (issue 10, Evaluation: "bytes per agent per round (plain and secagg)"): the same small
 * train job (logistic, or the suite's MLP) run twice on an in-process mesh over mTLS — `secure: plain`, then `secure: secagg` — and the
 * bytes of the round replies the coordinator received, read from its own counter (CoordinatorMetrics
 * `fedmesh_round_reply_bytes_total`, counted where the dispatcher hands a decoded reply to the round runner).
 * Per agent per round = bytes / (agents × rounds run); a secagg round is several protocol phases, all counted.
 * Synthetic rows (seeded), never used for privacy.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { syntheticAgentData } from '../jobs/train/synthetic.js';
import { ratio, startBenchMesh, type SuiteReport } from './harness.js';

export interface TrainWireOptions {
  /** Rows per agent (train + test). @default 2_000 */
  rowsPerAgent?: number;
  /** @default 10 */
  inputs?: number;
  /** Secure aggregation needs at least 3 agents. @default 3 */
  agents?: number;
  /** @default 3 */
  rounds?: number;
  /** Hidden layer units (relu); none: logistic regression. @default [] */
  hidden?: number[];
}

interface WireRun {
  ms: number;
  roundsRun: number;
  replies: number;
  bytes: number;
  bytesPerAgentPerRound: number;
  testAuc: number | null;
}

export async function runTrainWireBenchmark(o: TrainWireOptions = {}): Promise<SuiteReport> {
  const rowsPerAgent = o.rowsPerAgent ?? 2_000;
  const D = o.inputs ?? 10;
  const agents = o.agents ?? 3;
  const rounds = o.rounds ?? 3;
  const hidden = o.hidden ?? [];
  const workDir = await mkdtemp(join(tmpdir(), 'fedmesh-bench-train-wire-'));
  const names = Array.from({ length: agents }, (_, k) => `site-${k + 1}`);
  let mesh: Awaited<ReturnType<typeof startBenchMesh>> | undefined;
  try {
    for (const [k, name] of names.entries()) {
      const d = syntheticAgentData({ rows: rowsPerAgent, inputs: D, shift: 0.15 * k, seed: 11 + k });
      const lines = [`person_id,${Array.from({ length: D }, (_, j) => `x${j}`).join(',')},y,split`];
      let id = k * rowsPerAgent * 2;
      for (const [part, rows] of [['train', d.train], ['test', d.test]] as const) {
        for (let i = 0; i < rows.n; i++) lines.push(`${id++},${Array.from(rows.x.subarray(i * D, (i + 1) * D)).join(',')},${rows.y[i]},${part}`);
      }
      const dataDir = join(workDir, 'data', name);
      await mkdir(dataDir, { recursive: true });
      await writeFile(join(dataDir, 'study.csv'), `${lines.join('\n')}\n`);
      await writeFile(join(dataDir, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['fl'], allowedPrivacyModes: ['none'] } } }));
    }
    mesh = await startBenchMesh({ workDir, agents: names.map((name) => ({ name, dataDir: join(workDir, 'data', name) })), allowKinds: ['train'], livenessTimeoutMs: 10 * 60_000 });
    const spec = {
      kind: 'train', product: 'study', label: 'y',
      features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
      split: { column: 'split', train: 'train', test: 'test' },
      model: hidden.length > 0 ? { type: 'mlp', layers: hidden.map((units) => ({ units, activation: 'relu' })) } : { type: 'logistic' }, loss: 'binary-crossentropy',
      training: { rounds, localEpochs: 1, batchSize: 32, learningRate: 0.5, seed: 3 },
      // Every agent in every round: a secagg sum needs at least 3 contributors, and the two runs stay comparable.
      participation: { minUpdates: agents },
    };
    const run = async (secure: 'plain' | 'secagg'): Promise<WireRun> => {
      const before = await mesh!.coordinator.metrics.roundReplyTotals('train', secure);
      const t0 = performance.now();
      const job = await mesh!.client.run({ ...spec, secure });
      const ms = performance.now() - t0;
      if (job.state !== 'succeeded') throw new Error(`train ${secure} benchmark job failed: ${JSON.stringify(job.error)}`);
      const after = await mesh!.coordinator.metrics.roundReplyTotals('train', secure);
      const summary = job.result!.summary as { rounds: number; final?: { testAuc?: number } };
      const bytes = after.bytes - before.bytes;
      return {
        ms: Math.round(ms), roundsRun: summary.rounds, replies: after.replies - before.replies, bytes,
        bytesPerAgentPerRound: Math.round(bytes / (agents * summary.rounds)),
        testAuc: typeof summary.final?.testAuc === 'number' ? summary.final.testAuc : null,
      };
    };
    // A first plain job warms the agents' train worker threads (TF.js + wasm load), so neither timed run pays it.
    await run('plain');
    const plain = await run('plain');
    const secagg = await run('secagg');
    return {
      results: { agents, rowsPerAgent, inputs: D, hidden, rounds, plain, secagg },
      ratios: {
        secaggOverPlainBytes: ratio(secagg.bytesPerAgentPerRound, plain.bytesPerAgentPerRound, { numerator: 'secagg reply bytes per agent per round (all protocol phases)', denominator: 'plain reply bytes per agent per round' }),
        secaggOverPlainMs: ratio(secagg.ms, plain.ms, { numerator: 'secagg train job ms', denominator: 'plain train job ms' }),
      },
    };
  } finally {
    await mesh?.close();
    await rm(workDir, { recursive: true, force: true });
  }
}
