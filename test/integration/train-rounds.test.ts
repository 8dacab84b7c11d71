/**
 * Federated training over the real mesh: a coordinator and 3 agents over gRPC with mTLS, each agent reading its
 * own CSV product (DuckDB) and training with TF.js. A FedAvg logistic regression runs to the end with one round
 * event per round; then an agent is stopped during the job (from the round hook, i.e. between dispatches) and
 * the job finishes over the survivors with the dropped agent named.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CHUNK_BYTES, ChunkAssembler } from '../../common/transport/index.js';
import { CoordinatorClient } from '../../client/sdk/transport/coordinator-client.js';
import { loadTlsMaterial } from '../../common/tls.js';
import { Coordinator, startCoordinatorServer, type CoordinatorOptions, type RunningServer } from '../../coordinator/index.js';
import { Agent } from '../../node-agent/index.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { sharedCerts } from '../helpers/mesh.js';
import { makeStudyRows, type StudyRow } from '../helpers/glm-data.js';

const AGENTS = ['t1', 't2', 't3'];
const SIZES = [400, 600, 500];

async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function writeProduct(dir: string, rows: readonly StudyRow[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  const lines = ['person_id,x1,x2,sex,y,split', ...rows.map((r) => `${r.person_id},${r.x1},${r.x2},${r.sex},${r.y},${r.person_id % 4 === 0 ? 'test' : 'train'}`)];
  await writeFile(join(dir, 'study.csv'), `${lines.join('\n')}\n`);
  await writeFile(join(dir, 'fedmesh.products.json'), JSON.stringify({ products: { study: { privacyUnit: 'person_id', allowedJobKinds: ['fl'], allowedPrivacyModes: ['none'] } } }));
}

const spec = (over: Record<string, unknown> = {}) => ({
  kind: 'train',
  product: 'study',
  label: 'y',
  features: [
    { column: 'x1', type: 'numeric', bounds: [-2, 2] },
    { column: 'x2', type: 'numeric', bounds: [0, 1] },
    { column: 'sex', type: 'categorical', levels: ['F', 'M'] },
  ],
  split: { column: 'split', train: 'train', test: 'test' },
  model: { type: 'logistic' },
  training: { rounds: 4, localEpochs: 1, batchSize: 16, learningRate: 0.3, seed: 2 },
  timeoutMs: 20_000,
  ...over,
});

describe('train jobs over the kind seam: 3 agents over gRPC with mTLS', () => {
  let dir: string;
  let tlsDir: string;
  let coordinator: Coordinator;
  let server: RunningServer;
  let client: CoordinatorClient;
  const agents = new Map<string, Agent>();
  let hook: CoordinatorOptions['testOnlyBeforeRound'];

  async function startCoordinator(listen: string): Promise<void> {
    coordinator = await Coordinator.create({ stateDir: join(dir, 'coordinator'), heartbeatIntervalMs: 200, livenessTimeoutMs: 15_000, defaultBudget: { epsilon: 20, delta: 1e-5 }, testOnlyBeforeRound: (jobId, round, signal) => hook?.(jobId, round, signal) ?? Promise.resolve() });
    server = await startCoordinatorServer(coordinator, { listen, tls: loadTlsMaterial(tlsDir, 'coordinator') });
    client = new CoordinatorClient({ address: `127.0.0.1:${server.port}`, tls: loadTlsMaterial(tlsDir, 'researcher', 'researcher') });
  }
  let plainPerAgent: Record<string, { round: number }[]> | undefined;
  let plainWeights: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmesh-train-'));
    tlsDir = await sharedCerts(AGENTS);
    await startCoordinator('127.0.0.1:0');
    let first = 1;
    for (const [i, name] of AGENTS.entries()) {
      const rows = makeStudyRows(SIZES[i]!, `train-${name}`, first);
      first += rows.length;
      await writeProduct(join(dir, 'data', name), rows);
      await mkdir(join(dir, 'state', name), { recursive: true });
      const agent = await Agent.create({
        name,
        dataDir: join(dir, 'data', name),
        stateDir: join(dir, 'state', name),
        coordinator: `127.0.0.1:${server.port}`,
        tls: loadTlsMaterial(tlsDir, 'agent', name),
        policy: { allowModes: ['none'], allowKinds: ['train'], budgetCap: { epsilon: 40, delta: 1e-5 } },
      });
      agent.start();
      agents.set(name, agent);
    }
    await waitFor(() => coordinator.registry.connected().length === 3, 20_000, 'three agents');
  }, 120_000);

  afterAll(async () => {
    client?.close();
    for (const a of agents.values()) await a.stop();
    await coordinator?.close();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
    await closeTrainPool();
  });

  it('trains to the end: a round event per round, the final model evaluated on every agent\'s test rows', async () => {
    const events: string[] = [];
    const job = await client.run(spec(), (e) => void (e.type === 'round' && events.push(e.message)));
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(events.length).toBe(5);
    const s = job.result!.summary as { final: { testN: number; testAuc: number }; model: { weights: number[]; shapes: number[][] } };
    // Test rows: person ids divisible by 4 over all agents.
    expect(s.final.testN).toBe(Array.from({ length: 1500 }, (_, i) => i + 1).filter((id) => id % 4 === 0).length);
    expect(s.model.weights.length).toBe(5);
    plainWeights = s.model.weights;
    plainPerAgent = (job.result!.summary as { perAgent?: Record<string, { round: number }[]> }).perAgent;
    const rows = job.result!.rows as { testAuc: number }[];
    expect(s.final.testAuc).toBeGreaterThan(rows[0]!.testAuc);
    expect(s.final.testAuc).toBeGreaterThan(0.6);
  }, 120_000);

  it('a model of 90 k parameters: each round\'s model (about 2 MB of JSON) and, under he, each agent\'s ciphertexts and their sum cross the link in pieces of at most 1 MiB, and the he model equals the plain one to the last bit', async () => {
    // inputs → 300 → 300 → 1: about 92 000 weights (the limit is 100 000).
    const big = (over: Record<string, unknown> = {}) => spec({ model: { type: 'mlp', layers: [{ units: 300, activation: 'relu' }, { units: 300, activation: 'relu' }] }, training: { rounds: 1, localEpochs: 1, batchSize: 64, learningRate: 0.05, seed: 2 }, ...over });
    const add = vi.spyOn(ChunkAssembler.prototype, 'add');
    try {
      const plain = await client.run(big());
      expect(plain.state, JSON.stringify(plain.error)).toBe('succeeded');
      // Every task (2 rounds × 3 agents) carried its model in pieces (field 1 of a task, received at the agents).
      expect(new Set(add.mock.calls.map(([c]) => c.taskId)).size).toBeGreaterThanOrEqual(6);
      add.mockClear();
      const he = await client.run(big({ secure: 'he', participation: { fraction: 1, minUpdates: 3 } }));
      expect(he.state, JSON.stringify(he.error)).toBe('succeeded');
      // Replies in pieces too: a task whose model went to the agent in pieces and whose ciphertexts (the reply's
      // arrow_ipc, 4.5 MB) came back in pieces has pieces of two totals; the sum sent to the key holder is ~20 MB.
      const totals = new Map<string, Set<string>>();
      for (const [c] of add.mock.calls) totals.set(c.taskId, (totals.get(c.taskId) ?? new Set()).add(String(c.total)));
      expect([...totals.values()].filter((t) => t.size === 2).length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...add.mock.calls.map(([c]) => Number(c.total)))).toBeGreaterThan(4 << 20);
      expect(add.mock.calls.every(([c]) => c.data.length <= CHUNK_BYTES)).toBe(true);
      const w = (j: typeof plain) => (j.result!.summary as { model: { weights: number[][] } }).model.weights;
      expect(w(plain).flat().length).toBeGreaterThan(90_000);
      expect(w(he)).toEqual(w(plain));
    } finally {
      add.mockRestore();
    }
  }, 300_000);

  it('secagg and he: the coordinator sees only masked or encrypted sums, and the model equals the plain run to the last bit (exact fixed-point sums)', async () => {
    const plain = await client.run(spec());
    const secure = await client.run(spec({ secure: 'secagg', participation: { fraction: 1, minUpdates: 3 } }));
    expect(secure.state, JSON.stringify(secure.error)).toBe('succeeded');
    const w = (j: typeof plain) => (j.result!.summary as { model: { weights: number[] } }).model.weights;
    expect(w(secure)).toEqual(w(plain));
    // he: the key-holding agent adds the signed ciphertexts itself and decrypts only the round's sum.
    const he = await client.run(spec({ secure: 'he', participation: { fraction: 1, minUpdates: 3 } }));
    expect(he.state, JSON.stringify(he.error)).toBe('succeeded');
    expect(w(he)).toEqual(w(plain));
    // Negative control: a different seed gives a different model, so the equality above is not vacuous.
    const other = await client.run(spec({ training: { rounds: 4, localEpochs: 1, batchSize: 16, learningRate: 0.3, seed: 3 } }));
    expect(w(other)).not.toEqual(w(plain));
  }, 180_000);

  it('a coordinator stopped between rounds resumes after its last stored round and reaches the uninterrupted run\'s model exactly', async () => {
    let reached!: () => void;
    const atRound2 = new Promise<void>((r) => (reached = r));
    hook = (_jobId, round, signal) => {
      if (round !== 2) return Promise.resolve();
      reached();
      return new Promise<void>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error)));
    };
    const submitted = await client.submitJob(spec());
    await atRound2;
    hook = undefined;
    const port = server.port;
    client.close();
    await coordinator.close();
    await server.close();
    await startCoordinator(`127.0.0.1:${port}`);
    const job = await client.watchJob(submitted.jobId);
    expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
    expect(plainWeights.length).toBe(5);
    expect((job.result!.summary as { model: { weights: number[] } }).model.weights).toEqual(plainWeights);
    // Per-agent metrics of the rounds before the restart come back from the round store: every agent has all 5
    // rounds (0 and 1 ran before the stop), equal to the uninterrupted run's.
    const perAgent = (job.result!.summary as { perAgent?: Record<string, { round: number }[]> }).perAgent;
    expect(plainPerAgent && Object.keys(plainPerAgent).length).toBeGreaterThan(0);
    expect(Object.values(perAgent ?? {}).every((rows) => rows.map((r) => r.round).join() === '0,1,2,3,4')).toBe(true);
    expect(perAgent).toEqual(plainPerAgent);
  }, 120_000);

  it('an agent stopped during the job drops out; the job finishes over the survivors and names it', async () => {
    hook = async (_jobId, round) => {
      if (round === 2) await agents.get('t3')!.stop();
    };
    try {
      const job = await client.run(spec({ timeoutMs: 5000 }));
      expect(job.state, JSON.stringify(job.error)).toBe('succeeded');
      expect(job.agents.missing).toEqual(['t3']);
      const rows = job.result!.rows as { agents: number }[];
      expect(rows.map((r) => r.agents)).toEqual([3, 3, 2, 2, 2]);
    } finally {
      hook = undefined;
    }
  }, 120_000);
});
