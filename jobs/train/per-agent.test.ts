/**
 * Per-agent evaluation metrics of a train job through the real round runner (in-memory transport, TF.js at each
 * agent on synthetic rows): an agent with informative labels and one with shuffled labels get different AUCs
 * (negative control: the shuffled one near 0.5); the example-weighted mean of the per-agent losses equals the
 * pooled figure; an agent below its minimum cell size withholds its metrics; under SecAgg (coordinator sees only
 * sums) the runner keeps none and the note says so.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { createMemoryRoundStore, runRounds, type RoundReply, type RoundTask, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainRound } from './agent.js';
import type { TrainAgentData } from './data.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { perAgentMetrics, perAgentNote, type AgentRoundMetrics } from './per-agent.js';
import { syntheticAgentData } from './synthetic.js';

const D = 4;
const spec = {
  kind: 'train',
  product: 'p',
  label: 'y',
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  loss: 'binary-crossentropy',
  training: { rounds: 3, localEpochs: 2, batchSize: 16, learningRate: 0.5, seed: 3 },
  strategy: { name: 'fedavg' },
};

const data = new Map<string, TrainAgentData>([
  ['good', syntheticAgentData({ rows: 300, inputs: D, shift: 0, seed: 21 })],
  ['noise', syntheticAgentData({ rows: 300, inputs: D, shift: 0, seed: 22, shuffleLabels: true })],
]);

async function run(minCell: Record<string, number> = {}) {
  const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
  const states = new Map<string, Map<string, unknown>>();
  const t: RoundTransport = {
    async ask(agent: string, task: RoundTask): Promise<RoundReply> {
      const { input } = decodeRoundPayload(task.payload);
      if (!states.has(agent)) states.set(agent, new Map());
      const v = await trainRound(job, input as never, data.get(agent)!, states.get(agent)!, task.round, undefined, minCell[agent] ?? 0);
      return { ok: true, bytes: encodeVector({ values: v }) };
    },
    cancelJob: () => undefined,
  };
  const out = await runRounds({ def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: t, store: createMemoryRoundStore(), rng: createSeededRng(5) });
  return { job, out, summary: out.release.summary as { perAgent?: Record<string, AgentRoundMetrics[]> } };
}

afterAll(async () => closeTrainPool());

describe('train per-agent metrics (mode none, plain sums)', () => {
  it('releases each agent per round; informative vs shuffled labels differ; weighted mean equals the pooled row', async () => {
    const { out, summary } = await run();
    const pa = summary.perAgent!;
    expect(Object.keys(pa).sort()).toEqual(['good', 'noise']);
    expect(pa.good!.map((m) => m.round)).toEqual([0, 1, 2, 3]);
    const lastGood = pa.good!.at(-1)!;
    const lastNoise = pa.noise!.at(-1)!;
    // Tolerance: the synthetic signal gives AUC ≫ 0.7 after 3 rounds; shuffled labels stay within 0.15 of 0.5.
    expect(lastGood.testAuc).toBeGreaterThan(0.7);
    expect(Math.abs(lastNoise.testAuc - 0.5)).toBeLessThan(0.15);
    expect(lastGood.testAuc - lastNoise.testAuc).toBeGreaterThan(0.1);
    for (const row of out.release.rows as { round: number; testN: number; testLoss: number; testAccuracy: number }[]) {
      const ms = [pa.good!, pa.noise!].map((l) => l.find((m) => m.round === row.round)!);
      const n = ms.reduce((a, m) => a + m.testN, 0);
      expect(n).toBe(row.testN);
      // Loss sums are on a 2^-20 grid at each agent: the weighted mean equals the pooled loss to 1e-9.
      expect(Math.abs(ms.reduce((a, m) => a + m.testN * m.testLoss, 0) / n - row.testLoss)).toBeLessThan(1e-9);
      expect(Math.abs(ms.reduce((a, m) => a + m.testN * m.testAccuracy, 0) / n - row.testAccuracy)).toBeLessThan(1e-12);
    }
    // Negative control: the unweighted-by-agent pooled loss is not either agent's own.
    const r0 = out.release.rows[0] as { testLoss: number };
    expect(pa.good![0]!.testLoss).not.toBe(r0.testLoss);
    expect(out.release.notes.some((n) => n.startsWith('summary.perAgent'))).toBe(true);
  }, 120_000);

  it('an agent with fewer test rows than its minimum cell size withholds its per-agent metrics and the pooled test figures (red-team F1)', async () => {
    // k just above `noise`'s test rows and at most its training rows: the test side is small, the training side not.
    const noise = data.get('noise')!;
    expect(noise.train.n).toBeGreaterThan(noise.test.n);
    const { out, summary } = await run({ noise: noise.test.n + 1 });
    expect(Object.keys(summary.perAgent!)).toEqual(['good']);
    // Before F1 the pooled row still carried testN = good + noise, from which a job without `noise` subtracts its
    // figures; now every round's test figures are withheld (NaN) and a note says so. The first case is the control.
    for (const row of out.release.rows as { testN: number; testLoss: number; testAuc: number; trainLoss: number; phase: string }[]) {
      expect(row.testN).toBeNaN();
      expect(row.testLoss).toBeNaN();
      expect(row.testAuc).toBeNaN();
      if (row.phase === 'train') expect(row.trainLoss).toBeGreaterThan(0); // training rows ≥ k: not withheld
    }
    expect(out.release.notes.find((n) => n.startsWith('summary.perAgent'))).toContain('withheld by noise');
    expect(out.release.notes.some((n) => n.startsWith('test metrics withheld in 4 of 4 rounds'))).toBe(true);
  }, 120_000);

  it('secure sums and DP keep no per-agent metrics, and the note says why', () => {
    const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
    const history = [{ round: 0, input: { phase: 'eval' as const, weights: [] }, answered: ['a'], released: [], noiseStd: [] }];
    expect(perAgentMetrics(job.spec, job.plan, history)).toBeUndefined();
    expect(perAgentNote({ ...job.spec, secure: 'secagg' }, undefined)).toContain('not available under secagg');
    expect(perAgentNote({ ...job.spec, privacy: { mode: 'central-dp' } as never }, undefined)).toContain('not released in central-dp');
  });
});
