/**
 * A categorical DP training job over the real mesh (issue 10): a coordinator and 3 agents over gRPC with mTLS, each
 * reading its own CSV product whose label is a string grade ("none" / "mild" / "severe", declared as public levels
 * and mapped to classes in SQL at the agent). A central-dp softmax model learns: the exact one-vs-rest AUC of the
 * released weights on the generated test rows is above a stated band; the same job on a product whose labels were
 * pooled, shuffled and dealt back across the agents stays in the chance band (negative control). The ε is charged
 * once per job at the coordinator.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { rhoForEpsilonDelta } from '../../algorithms/dp/index.js';
import { denseLogits } from '../../algorithms/fl/dp-grad.js';
import { exactAuc, seededPermutation } from '../../algorithms/fl/index.js';
import { Coordinator, startCoordinatorServer, type RunningServer } from '../../coordinator/index.js';
import { Agent } from '../../node-agent/index.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import type { TrainAgentData } from '../../jobs/train/data.js';
import { syntheticMulticlassData } from '../../jobs/train/synthetic-multiclass.js';
import { poolData } from '../../jobs/train/synthetic.js';
import { sharedCerts } from '../helpers/mesh.js';

const AGENTS = ['c1', 'c2', 'c3'];
const D = 5;
const K = 3;
const GRADES = ['none', 'mild', 'severe'];
// Stated after measuring (jobs/train/README.md): the released model's exact OvR AUC ≥ 0.75 (measured 0.956). The
// chance band is 0.5 ± 0.2: a model trained on shuffled labels points in a random direction, whose OvR AUC spread
// with SD 0.054 over 30 noise seeds in jobs/train/dp-categorical.test.ts (the noise here is the CSPRNG's).
const LEARNS = 0.75;
const CHANCE_BAND = 0.2;

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function csv(d: TrainAgentData, firstPerson: number, trainY: ArrayLike<number>): string {
  const lines = ['person_id,x0,x1,x2,x3,x4,grade,split'];
  let pid = firstPerson;
  for (const [side, part] of [['train', d.train], ['test', d.test]] as const) {
    for (let r = 0; r < part.n; r++) {
      const y = side === 'train' ? trainY[r]! : part.y[r]!;
      lines.push(`${pid++},${Array.from(part.x.subarray(r * D, (r + 1) * D)).join(',')},${GRADES[y]},${side}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

const spec = (product: string) => ({
  kind: 'train',
  product,
  label: { column: 'grade', levels: GRADES },
  features: Array.from({ length: D }, (_, j) => ({ column: `x${j}`, type: 'numeric', bounds: [0, 1] })),
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  loss: 'categorical-crossentropy',
  training: { rounds: 20, localEpochs: 1, learningRate: 2, seed: 3 },
  strategy: { name: 'fedadam', serverLr: 0.1 },
  evaluation: { thresholds: 10 },
  update: { maxExamples: 2000 },
  timeoutMs: 30_000,
  privacy: { mode: 'central-dp', epsilon: 4, delta: 1e-6, clip: 1 },
});

describe('categorical DP training over the mesh (string label levels)', () => {
  let dir: string;
  let coordinator: Coordinator;
  let server: RunningServer;
  let client: CoordinatorClient;
  const agents: Agent[] = [];
  const data = AGENTS.map((_, k) => syntheticMulticlassData({ rows: 800, inputs: D, classes: K, shift: 0.1 * k, seed: 60 + k }));
  const test = poolData(data.map((d) => d.test), D);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-train-dp-cat-'));
    const tlsDir = await sharedCerts(AGENTS);
    coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 200, defaultBudget: { epsilon: 400, delta: 1e-4 } });
    server = await startCoordinatorServer(coordinator, { listen: '127.0.0.1:0', tls: loadTlsMaterial(tlsDir, 'coordinator') });
    client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
    // The control's training labels: all agents' pooled, permuted and dealt back (a within-agent shuffle would keep
    // each agent's class mix, which its feature shift reveals).
    const all = data.flatMap((d) => Array.from(d.train.y));
    const perm = seededPermutation(all.length, 91);
    let at = 0;
    for (const [i, name] of AGENTS.entries()) {
      const d = data[i]!;
      const shuffled = Array.from({ length: d.train.n }, (_, r) => all[perm[at + r]!]!);
      at += d.train.n;
      const dataDir = join(dir, 'data', name);
      await mkdir(dataDir, { recursive: true });
      await writeFile(join(dataDir, 'grades.csv'), csv(d, 1 + i * 10_000, d.train.y));
      await writeFile(join(dataDir, 'grades_shuffled.csv'), csv(d, 1 + i * 10_000, shuffled));
      const product = { privacyUnit: 'person_id', allowedJobKinds: ['fl'], allowedPrivacyModes: ['central-dp', 'distributed-dp'] };
      await writeFile(join(dataDir, 'fedmesh.products.json'), JSON.stringify({ products: { grades: product, grades_shuffled: product } }));
      await mkdir(join(dir, 'state', name), { recursive: true });
      const agent = await Agent.create({
        name,
        dataDir,
        stateDir: join(dir, 'state', name),
        coordinator: `127.0.0.1:${server.port}`,
        tls: loadTlsMaterial(tlsDir, 'agent', name),
        policy: { allowModes: ['central-dp', 'distributed-dp'], allowKinds: ['train'], budgetCap: { epsilon: 400, delta: 1e-4 } },
      });
      agent.start();
      agents.push(agent);
    }
    await waitFor(() => coordinator.registry.connected().length === 3, 20_000, 'three agents');
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const a of agents) await a.stop();
    await coordinator?.close();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    await closeTrainPool();
  });

  /** Exact OvR macro AUC of released softmax-regression weights on the generated test rows (computed here, not released). */
  function ovrAuc(w: readonly number[]): number {
    const net = { inputs: D, layers: [{ units: K, activation: 'linear' as const }], loss: 'categorical-crossentropy' as const };
    const p = Array.from({ length: K }, () => new Float64Array(test.n));
    for (let i = 0; i < test.n; i++) {
      const z = denseLogits(net, w, test.x, i * D);
      const m = Math.max(...z);
      const s = Array.from(z).reduce((a, v) => a + Math.exp(v - m), 0);
      for (let k = 0; k < K; k++) p[k]![i] = Math.exp(z[k]! - m) / s;
    }
    return p.reduce((a, pk, k) => a + exactAuc(pk, Float64Array.from(test.y, (y) => (y === k ? 1 : 0))), 0) / K;
  }

  it(`central-dp ε = 4: the released model's exact OvR AUC ≥ ${LEARNS}; labels shuffled across agents: within ${CHANCE_BAND} of 0.5; ε charged once per job`, async () => {
    const spent = async () => (await coordinator.ledger.report('researcher')).reduce((s, e) => s + e.spent.rho, 0);
    const before = await spent();
    const job = await client.run(spec('grades'));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect((await spent()) - before).toBeCloseTo(rhoForEpsilonDelta(4, 1e-6), 12);
    const s = job.result!.summary as { final: { testAuc: number }; model: { weights: number[]; labelLevels?: unknown } };
    expect(s.model.weights.length).toBe((D + 1) * K);
    const control = await client.run(spec('grades_shuffled'));
    expect(control.state, JSON.stringify(control.error)).toBe('succeeded');
    const learned = ovrAuc(s.model.weights);
    const chance = ovrAuc((control.result!.summary as { model: { weights: number[] } }).model.weights);
    console.info(`[train-dp-categorical] exact OvR AUC over ${test.n} test rows: ε=4 ${learned.toFixed(4)} (released ${s.final.testAuc.toFixed(3)}); shuffled across agents ${chance.toFixed(4)}`);
    expect(learned).toBeGreaterThanOrEqual(LEARNS);
    expect(Math.abs(chance - 0.5)).toBeLessThan(CHANCE_BAND);
    expect(chance).toBeLessThan(LEARNS);
    expect(job.result!.notes.some((n) => /not released in DP training/.test(n))).toBe(true);
  }, 240_000);

  it('local DP-SGD steps run over the mesh: the agents\' noised updates pass the agent chain\'s exact-block guard (agentNoised), the evaluation sums are noised by the mode', async () => {
    // Budget ε 400, δ 1e-4: the ledger composes the unamplified ρ of the local steps (privacy-local.ts), which is
    // large, and the stated δ of this job on top of the others'.
    const job = await client.run({ ...spec('grades'), training: { rounds: 4, localEpochs: 1, learningRate: 0.5, batchSize: 32, seed: 3 }, strategy: { name: 'fedavg' }, privacy: { mode: 'central-dp', epsilon: 8, delta: 1e-5, clip: 1, localSteps: 5, sampleRate: 0.05 } });
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    const p = job.result!.privacy as { stepsPerRound: number; evalNoiseStd: { counts: number } };
    expect(p.stepsPerRound).toBe(5);
    expect(p.evalNoiseStd.counts).toBeGreaterThan(0);
  }, 240_000);

  it('local DP-SGD steps under distributed-dp with secagg: the evaluation noise comes as shares from the agents', async () => {
    const job = await client.run({ ...spec('grades'), training: { rounds: 3, localEpochs: 1, learningRate: 0.5, batchSize: 32, seed: 3 }, strategy: { name: 'fedavg' }, secure: 'secagg', participation: { fraction: 1, minUpdates: 3 }, privacy: { mode: 'distributed-dp', epsilon: 8, delta: 1e-5, clip: 1, localSteps: 3, sampleRate: 0.05 } });
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    const p = job.result!.privacy as { mode: string; evalNoiseStd: { counts: number } };
    expect(p.mode).toBe('distributed-dp');
    expect(p.evalNoiseStd.counts).toBeGreaterThan(0);
    const s = job.result!.summary as { final: { testN: number } };
    // The noisy test-row count is near the 600 test rows (σ of a few rows at ε = 8).
    expect(Math.abs(s.final.testN - test.n)).toBeLessThan(60);
  }, 240_000);
});

