/**
 * SCAFFOLD across an agent restart: the client control variate c_i an agent computed in round 0 is what its round 1
 * uses after the agent process restarted (a fresh task runner over the same state folder), not zeros. Driven through
 * the agent's kind-agnostic task chain (node-agent/tasks/kind-task-runner.ts) with the real train kind, its rows in
 * an in-memory DuckDB and real TF.js compute. Observed through the round-1 update: its local steps use the correction
 * c − c_i, so the update depends on c_i.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import type { ProductRules } from '../../common/job/index.js';
import { compileKindJob, createKindRegistry, decodeVector, encodeRoundPayload, type AnyAgentKindDef, type AnyKindDef } from '../../common/kinds/index.js';
import type { ReleasedAnswer } from '../../node-agent/disclosure/released-answers.js';
import { DurableJobStates } from '../../node-agent/tasks/durable-job-state.js';
import { KindTaskRunner } from '../../node-agent/tasks/kind-task-runner.js';
import type { TaskScope } from '../../node-agent/task-cancellation.js';
import { closeTrainPool } from '../../node-agent/train/pool.js';
import { trainAgentKind } from './agent.js';
import { trainKind, type CompiledTrainJob } from './index.js';
import { splitBlocks, trainLayout, type TrainRoundInput } from './plan.js';
import { syntheticTrainSpec } from './synthetic.js';

const D = 3;
const spec = syntheticTrainSpec(D, { training: { rounds: 2, localEpochs: 1, batchSize: 8, learningRate: 0.5, seed: 1 }, strategy: { name: 'scaffold' } });
const job = compileKindJob(trainKind, spec) as CompiledTrainJob;
const P = job.plan.parameters;
const rules: ProductRules = { privacyUnit: 'person_id', bounds: {}, semanticTypes: {}, sensitivity: 'sensitive' };
const columns = [{ name: 'person_id', type: 'BIGINT' }, ...Array.from({ length: D }, (_, j) => ({ name: `x${j}`, type: 'DOUBLE' })), { name: 'y', type: 'INTEGER' }, { name: 'split', type: 'VARCHAR' }];
const scope = { signal: new AbortController().signal, using: (_c: unknown, fn: () => Promise<unknown>) => fn() } as TaskScope;

const inputs: TrainRoundInput[] = [
  { phase: 'train', weights: Array.from({ length: P }, () => 0), control: Array.from({ length: P }, () => 0) },
  // Round 1: another model and a server c; no `counted` (no agent name here), so the c_i computed in round 0 is taken.
  { phase: 'train', weights: Array.from({ length: P }, (_, i) => 0.1 * (i + 1)), control: Array.from({ length: P }, (_, i) => 0.01 * (i - 1)) },
  { phase: 'eval', weights: Array.from({ length: P }, (_, i) => 0.1 * (i + 1)) },
];
const task = (round: number): AgentTask => ({
  taskId: `t${round}`, jobId: 'job-scaffold', kind: 'train', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 60_000, round, researcher: 'r', payload: encodeRoundPayload({ hash: job.hash, input: inputs[round] }),
});

let instance: DuckDBInstance;
let conn: DuckDBConnection;
let root: string;
beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  conn = await instance.connect();
  // Deterministic rows with a learnable label (x0 − x1 decides it); one row per person.
  const xs = Array.from({ length: D }, (_, j) => `((i * ${7919 + 104729 * j}) % 1000) / 1000.0 AS x${j}`).join(', ');
  await conn.run(`CREATE TABLE p AS SELECT i AS person_id, ${xs}, 0::INTEGER AS y, CASE WHEN i % 5 = 0 THEN 'test' ELSE 'train' END AS split FROM range(1, 401) t(i)`);
  await conn.run('UPDATE p SET y = CASE WHEN x0 - x1 + ((person_id * 31) % 7) / 20.0 > 0.1 THEN 1 ELSE 0 END');
  root = await mkdtemp(join(tmpdir(), 'fedmesh-scaffold-restart-'));
});
afterAll(async () => {
  await closeTrainPool();
  conn?.closeSync();
  instance?.closeSync();
  await rm(root, { recursive: true, force: true });
});

/** One agent process: a task runner over `stateDir` (none: job state in memory only) and the agent's answer store. */
function agentProcess(stateDir: string | undefined, answers = new Map<string, ReleasedAnswer>()): { run(round: number): Promise<number[]>; answers: Map<string, ReleasedAnswer> } {
  const runner = new KindTaskRunner({
    kinds: createKindRegistry<AnyKindDef>([trainKind as AnyKindDef]),
    agentKinds: createKindRegistry<AnyAgentKindDef>([trainAgentKind as AnyAgentKindDef]),
    policy: { minCellSize: 5, allowKinds: ['train'], allowModes: ['none'] },
    products: () => [{ name: 'p', columns, privacyUnit: 'person_id', description: '', source: '' }],
    rules: () => rules,
    charge: async () => undefined,
    bind: async () => undefined,
    once: async (jobId, round, compute) => {
      const k = `${jobId}/${round}`;
      if (!answers.has(k)) answers.set(k, await compute());
      return answers.get(k)!;
    },
    withConnection: (fn) => fn(conn),
    salt: () => 'salt',
    rng: createSeededRng(1),
    ...(stateDir !== undefined ? { durableState: new DurableJobStates({ dir: stateDir }) } : {}),
  });
  return {
    answers,
    run: async (round) => {
      const a = await runner.run(task(round), scope);
      const layout = trainKind.layout(job, round);
      return Array.from(splitBlocks(trainLayout(job.spec, job.plan), decodeVector(layout, a.arrow, 'me').values).delta ?? []);
    },
  };
}

describe('SCAFFOLD c_i across an agent restart (durable job state)', () => {
  it("a restarted agent's round 1 uses the c_i its round 0 computed, as an agent that never restarted; negative control: without the durable state it runs with zeros", async () => {
    // The reference: one process runs both rounds.
    const continuous = agentProcess(join(root, 'a', 'job-state'));
    await continuous.run(0);
    const expected = await continuous.run(1);

    // Round 0, then the process ends; a new one over the same state folder (and answer store) runs round 1.
    const before = agentProcess(join(root, 'b', 'job-state'));
    await before.run(0);
    const after = agentProcess(join(root, 'b', 'job-state'), before.answers);
    const restarted = await after.run(1);
    expect(restarted).toHaveLength(P);
    expect(restarted).toEqual(expected);

    // What a restart did before this fix: the new process starts from c_i = 0, exactly as an agent that never trained.
    const fresh = await agentProcess(undefined).run(1);
    const lost = agentProcess(undefined);
    await lost.run(0);
    const forgot = await agentProcess(undefined, lost.answers).run(1);
    expect(forgot).toEqual(fresh);
    expect(restarted).not.toEqual(fresh);

    // The job's last public round (evaluation) answered: its durable state is not needed again and is removed.
    await after.run(2);
    await expect(new DurableJobStates({ dir: join(root, 'b', 'job-state') }).load('job-scaffold', job.hash, ['train-control', 'train-control-pending'])).resolves.toHaveProperty('size', 0);
  });

  it('a restarted agent whose saved c_i is corrupt fails the round naming the file instead of running with zeros; control: repaired, it runs', async () => {
    const dir = join(root, 'c', 'job-state');
    await agentProcess(dir).run(0);
    await writeFile(join(dir, 'job-scaffold.json'), '{"version":1,');
    const after = agentProcess(dir);
    const named = { code: 'FAILED_PRECONDITION', field: 'jobState', message: expect.stringContaining('job-state/job-scaffold.json') as unknown };
    await expect(after.run(1)).rejects.toMatchObject(named);
    // Not left behind as an empty state either: the next task reads the file again and fails again.
    await expect(after.run(1)).rejects.toMatchObject(named);
    // Removed by the operator (the job then goes on as an agent that lost its c_i, which it chose): the round runs.
    await rm(join(dir, 'job-scaffold.json'));
    await expect(after.run(1)).resolves.toHaveLength(P);
  });
});
