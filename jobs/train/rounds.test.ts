/**
 * The train kind through the real round runner with an in-memory transport (each agent runs the kind's own round
 * code, TF.js included, on synthetic non-IID rows): federated training reaches the pooled model's AUC, shuffled
 * labels do not (negative control), every strategy learns, partial participation asks a CSPRNG sample, an agent
 * killed mid-round is dropped and the round aggregates the survivors, and a malformed update is excluded and named.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import { exactAuc, glorotInit } from '../../algorithms/fl/index.js';
import { compileKindJob, decodeRoundPayload, encodeVector } from '../../common/kinds/index.js';
import { isFedmeshError } from '../../common/errors.js';
import { createMemoryRoundStore, runRounds, type RoundReply, type RoundTask, type RoundTransport } from '../../coordinator/rounds/round-runner.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { loadTf } from '../../node-agent/train/tf-runtime.js';
import { evaluateLocal, trainLocal } from '../../node-agent/train/local-train.js';
import { localModelOf, trainRound } from './agent.js';
import type { TrainAgentData } from './data.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { poolData, syntheticAgentData } from './synthetic.js';

const D = 6;
const features = Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] }));
const baseSpec = (over: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'p',
  label: 'y',
  features,
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  loss: 'binary-crossentropy',
  training: { rounds: 8, localEpochs: 2, batchSize: 16, learningRate: 0.5, seed: 3 },
  strategy: { name: 'fedavg' },
  ...over,
});

function agentsData(n: number, shuffleLabels = false): Map<string, TrainAgentData> {
  return new Map(Array.from({ length: n }, (_, k) => [`agent${k}`, syntheticAgentData({ rows: 240 + 60 * k, inputs: D, shift: 0.15 * k, seed: 11 + k, shuffleLabels })]));
}

function transport(data: Map<string, TrainAgentData>, opts: { fail?: (agent: string, round: number) => RoundReply | undefined; tamper?: (agent: string, round: number, b: Uint8Array) => Uint8Array } = {}) {
  const asks: { agent: string; round: number }[] = [];
  const states = new Map<string, Map<string, unknown>>();
  const t: RoundTransport = {
    async ask(agent: string, task: RoundTask): Promise<RoundReply> {
      asks.push({ agent, round: task.round });
      const broken = opts.fail?.(agent, task.round);
      if (broken) return broken;
      const { hash, input } = decodeRoundPayload(task.payload);
      const job = compileKindJob(trainKind, JSON.parse(task.specJson)) as CompiledTrainJob;
      if (job.hash !== hash) return { ok: false, error: { code: 'FAILED_PRECONDITION', message: 'hash mismatch' } };
      if (!states.has(agent)) states.set(agent, new Map());
      const v = await trainRound(job, input as never, data.get(agent)!, states.get(agent)!, task.round);
      const bytes = encodeVector({ values: v });
      return { ok: true, bytes: opts.tamper ? opts.tamper(agent, task.round, bytes) : bytes };
    },
    cancelJob: () => undefined,
  };
  return { t, asks };
}

async function run(spec: Record<string, unknown>, data: Map<string, TrainAgentData>, opts: Parameters<typeof transport>[1] = {}) {
  const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
  const m = transport(data, opts);
  const out = await runRounds({ def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: m.t, store: createMemoryRoundStore(), rng: createSeededRng(5) });
  const final = (out.release.summary as { final: { testAuc: number; testAccuracy: number } }).final;
  return { out, job, final, asks: m.asks };
}

/** The same model trained on the pooled train rows for the same number of epochs, scored on the pooled test rows. */
async function pooledAuc(job: CompiledTrainJob, data: Map<string, TrainAgentData>): Promise<number> {
  const { tf } = await loadTf();
  const model = localModelOf(job);
  const t = job.spec.training;
  const train = poolData([...data.values()].map((d) => d.train), D);
  const test = poolData([...data.values()].map((d) => d.test), D);
  const res = await trainLocal(tf, model, { epochs: t.rounds * t.localEpochs, batchSize: t.batchSize, optimizer: t.optimizer, learningRate: t.learningRate, momentum: 0, mu: 0, seed: 1 }, glorotInit(job.plan.shapes, t.seed), train);
  const scores = new Float32Array(test.n);
  // Exact (row-level) AUC is fine here: the pooled reference runs in the test process, not across the mesh.
  const ev = evaluateLocal(tf, model, res.weights, test, job.plan.thresholds);
  expect(ev.n).toBe(test.n);
  const logits = tf.tidy(() => (tf.sequential({ layers: [tf.layers.dense({ units: 1, inputShape: [D], weights: [tf.tensor2d(res.weights.slice(0, D), [D, 1]), tf.tensor1d(res.weights.slice(D))] })] }).predict(tf.tensor2d(test.x, [test.n, D])) as { dataSync(): Float32Array }).dataSync());
  scores.set(logits);
  return exactAuc(scores, test.y);
}

describe('train kind through the round runner', () => {
  afterAll(closeTrainPool);
  it('FedAvg logistic regression reaches the pooled AUC within 0.02; with shuffled labels it does not (negative control)', async () => {
    const data = agentsData(3);
    const { out, job, final } = await run(baseSpec(), data);
    expect(out.history.length).toBe(9);
    expect(out.converged).toBe(true);
    const rows = out.release.rows as { testAuc: number; phase: string }[];
    expect(rows.at(-1)!.phase).toBe('eval');
    const pooled = await pooledAuc(job, data);
    expect(pooled).toBeGreaterThan(0.7);
    expect(Math.abs(final.testAuc - pooled)).toBeLessThan(0.02);
    // AUC of the initial model (round 0) is worse than the final one: training happened.
    expect(final.testAuc).toBeGreaterThan(rows[0]!.testAuc + 0.05);
    const shuffled = await run(baseSpec(), agentsData(3, true));
    expect(Math.abs(shuffled.final.testAuc - pooled)).toBeGreaterThan(0.1);
  }, 120_000);

  it.each(['fedprox', 'fedadam', 'fedyogi', 'fedadagrad', 'scaffold'])('%s learns (final AUC within 0.05 of FedAvg and above 0.7)', async (name) => {
    const data = agentsData(3);
    const ref = await run(baseSpec(), data);
    const strategy = name === 'fedprox' ? { name, mu: 0.1 } : name === 'scaffold' ? { name } : { name, serverLr: name === 'fedadagrad' ? 1 : 0.1 };
    const r = await run(baseSpec({ strategy }), data);
    expect(r.final.testAuc).toBeGreaterThan(0.7);
    expect(Math.abs(r.final.testAuc - ref.final.testAuc)).toBeLessThan(0.05);
  }, 120_000);

  it('partial participation asks a CSPRNG sample of ⌈fraction · agents⌉ per training round and everybody in the eval round', async () => {
    const data = agentsData(4);
    const { asks, out } = await run(baseSpec({ participation: { fraction: 0.5, minUpdates: 2 }, training: { rounds: 6, localEpochs: 1, batchSize: 16, learningRate: 0.5 } }), data);
    for (let r = 0; r < 6; r++) expect(asks.filter((a) => a.round === r).length).toBe(2);
    expect(asks.filter((a) => a.round === 6).length).toBe(4);
    const sets = new Set(Array.from({ length: 6 }, (_, r) => asks.filter((a) => a.round === r).map((a) => a.agent).sort().join(',')));
    expect(sets.size).toBeGreaterThan(1);
    expect(out.answered.length).toBe(4);
  }, 120_000);

  it('an agent killed mid-round drops out: the round aggregates the survivors re-weighted by their examples; below minUpdates the job fails', async () => {
    const data = agentsData(3);
    const kill = (agent: string, round: number): RoundReply | undefined => (agent === 'agent2' && round >= 3 ? { ok: false, error: { code: 'AGENT_UNAVAILABLE', message: 'agent2 stream closed mid-round' } } : undefined);
    const { out } = await run(baseSpec(), data, { fail: kill });
    expect(out.history[2]!.answered).toEqual(['agent0', 'agent1', 'agent2']);
    expect(out.history[3]!.answered).toEqual(['agent0', 'agent1']);
    expect(out.missing).toEqual(['agent2']);
    expect(out.agentErrors.agent2!.message).toMatch(/mid-round/);
    // Re-weighted over the survivors: round 3's total weight is exactly their train rows.
    const w = out.history[3]!.released[localModelOf(compileKindJob(trainKind, baseSpec()) as CompiledTrainJob).inputs + 1]!;
    expect(w).toBe(data.get('agent0')!.train.n + data.get('agent1')!.train.n);
    const err = await run(baseSpec({ participation: { fraction: 1, minUpdates: 3 } }), data, { fail: kill }).catch((e: unknown) => e);
    expect(isFedmeshError(err) && err.code).toBe('QUORUM_NOT_MET');
  }, 120_000);

  it('an update of the wrong shape or with non-finite values is excluded from its round and the agent named', async () => {
    const data = agentsData(3);
    const { out } = await run(baseSpec({ training: { rounds: 3, localEpochs: 1, batchSize: 16, learningRate: 0.5 } }), data, {
      tamper: (agent, round, b) => {
        if (agent === 'agent1' && round === 1) return b.subarray(0, b.length - 8);
        if (agent === 'agent0' && round === 2) {
          const c = b.slice();
          new DataView(c.buffer).setFloat64(0, Number.NaN, true);
          return c;
        }
        return b;
      },
    });
    expect(out.history[1]!.answered).toEqual(['agent0', 'agent2']);
    expect(out.agentErrors.agent1!.message).toMatch(/agent agent1 sent \d+ bytes/);
    expect(out.agentErrors.agent0!.message).toMatch(/agent agent0 sent block delta\[0\] outside/);
    // Excluded from that round only: agent1 is back in round 2, agent0 (out of round 2) in the final evaluation round.
    expect(out.history[2]!.answered).toEqual(['agent1', 'agent2']);
    expect(out.history[3]!.answered).toEqual(['agent0', 'agent1', 'agent2']);
    // Both are still named as having missed a round.
    expect(out.missing).toEqual(['agent0', 'agent1']);
  }, 120_000);

  it('the quorum holds when agents are not connected (red team 28): below participation.minUpdates the job fails with QUORUM_NOT_MET, and with no agent connected too (not INTERNAL); control: enough agents connected run', async () => {
    const data = agentsData(3);
    const job = compileKindJob(trainKind, baseSpec({ training: { rounds: 2, localEpochs: 1, batchSize: 16, learningRate: 0.5 }, participation: { fraction: 1, minUpdates: 2 } })) as CompiledTrainJob;
    const runWith = (live: (a: string) => boolean) => runRounds({ def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: transport(data).t, store: createMemoryRoundStore(), rng: createSeededRng(5), isLive: live });
    const one = await runWith((a) => a === 'agent0').catch((e: unknown) => e);
    expect(isFedmeshError(one) && one.code).toBe('QUORUM_NOT_MET');
    expect((one as Error).message).toMatch(/round 1: 2 of 3 agents not connected \(agent1, agent2\), so fewer than participation\.minUpdates = 2 can answer/);
    // Failed before any agent computed: nobody was asked.
    expect(isFedmeshError(one) && one.details).toMatchObject({ answered: [], missing: ['agent0', 'agent1', 'agent2'], round: 0 });
    const none = await runWith(() => false).catch((e: unknown) => e);
    expect(isFedmeshError(none) && none.code).toBe('QUORUM_NOT_MET');
    const two = await runWith((a) => a !== 'agent2');
    expect(two.history.map((h) => h.answered.length)).toEqual([2, 2, 2]);
  }, 120_000);

  it('an agent that is not connected is not asked (isLive), and is asked again once it is back; control: without isLive every agent is asked', async () => {
    const data = agentsData(3);
    const job = compileKindJob(trainKind, baseSpec({ training: { rounds: 3, localEpochs: 1, batchSize: 16, learningRate: 0.5 } })) as CompiledTrainJob;
    const m = transport(data);
    // agent2 is away for rounds 1 and 2 (its link is down), back for the evaluation round.
    let round = 0;
    const out = await runRounds({ def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: m.t, store: createMemoryRoundStore(), rng: createSeededRng(5), beforeRound: async (r) => void (round = r), isLive: (a) => a !== 'agent2' || round === 0 || round === 3 });
    expect(m.asks.filter((a) => a.agent === 'agent2').map((a) => a.round)).toEqual([0, 3]);
    expect(out.history.map((h) => h.answered.length)).toEqual([3, 2, 2, 3]);
    // It missed rounds 1 and 2: named, though it answered the last one (red team 28).
    expect(out.missing).toEqual(['agent2']);
    expect(out.agentErrors.agent2).toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringMatching(/not connected when round 2 ran/) });
    const all = await run(baseSpec({ training: { rounds: 3, localEpochs: 1, batchSize: 16, learningRate: 0.5 } }), data);
    expect(all.asks.filter((a) => a.agent === 'agent2').map((a) => a.round)).toEqual([0, 1, 2, 3]);
  }, 120_000);

  it('an agent that missed a round before a coordinator restart is still named after the resume; control: rounds stored without `missed`', async () => {
    const data = agentsData(3);
    const job = compileKindJob(trainKind, baseSpec({ training: { rounds: 3, localEpochs: 1, batchSize: 16, learningRate: 0.5 } })) as CompiledTrainJob;
    const m = transport(data);
    const store = createMemoryRoundStore();
    const opts = { def: trainKind, job, jobId: 'j', researcher: 'r', specJson: JSON.stringify(job.spec), agents: [...data.keys()], transport: m.t, store, rng: createSeededRng(5) };
    // agent2 is away for round 1; the coordinator stops before round 2 and resumes with every agent connected.
    let round = 0;
    const stopped = await runRounds({ ...opts, beforeRound: async (r) => {
      round = r;
      if (r === 2) throw new Error('coordinator stopped');
    }, isLive: (a) => a !== 'agent2' || round !== 1 }).catch((e: unknown) => e);
    expect(String(stopped)).toMatch(/coordinator stopped/);
    expect(store.rounds.get('j')!.map((r) => r.missed ?? [])).toEqual([[], ['agent2']]);
    const resumed = await runRounds({ ...opts, isLive: () => true });
    expect(resumed.history.map((h) => h.answered.length)).toEqual([3, 2, 3, 3]);
    expect(resumed.missing).toEqual(['agent2']);
    expect(resumed.agentErrors.agent2).toMatchObject({ code: 'AGENT_UNAVAILABLE', message: expect.stringMatching(/missed round 2 \(before the coordinator restarted\)/) });
    // Control: the same stored rounds without `missed` (a store written before it was recorded) name nobody.
    const old = createMemoryRoundStore();
    old.rounds.set('j', store.rounds.get('j')!.slice(0, 2).map(({ missed: _m, ...r }) => r));
    const unnamed = await runRounds({ ...opts, store: old, isLive: () => true });
    expect(unnamed.missing).toEqual([]);
  }, 120_000);
});
