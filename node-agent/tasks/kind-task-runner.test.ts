import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { compileKindJob, createKindRegistry, decodeVector, encodeRoundPayload, type AnyAgentKindDef, type AnyKindDef } from '../../common/kinds/index.js';
import type { ProductRules } from '../../common/job/index.js';
import type { ReleasedAnswer } from '../disclosure/released-answers.js';
import type { TaskScope } from '../task-cancellation.js';
import { toyAgent, toyKind, type ToySpec } from '../../test/helpers/toy-kind.js';
import { KindTaskRunner, MAX_FAILED_ROUND_ATTEMPTS, type KindTaskDeps } from './kind-task-runner.js';
import type { StagedRead } from '../../common/kinds/index.js';
import { DurableJobStates } from './durable-job-state.js';

const spec: ToySpec = { kind: 'toy-mean', product: 'p', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, maxRounds: 3 };
const rules: ProductRules = { privacyUnit: 'person_id', bounds: {}, semanticTypes: {}, sensitivity: 'sensitive' };

function setup(over: { rules?: ProductRules; allowKinds?: string[]; withProduct?: KindTaskDeps['withProduct']; stagedRead?: AnyAgentKindDef['stagedRead']; withSource?: KindTaskDeps['withSource']; needsSource?: AnyAgentKindDef['needsSource']; durableDir?: string } = {}) {
  const charges: string[] = [];
  const bound = new Map<string, string>();
  const answers = new Map<string, ReleasedAnswer>();
  let steps = 0;
  const data = new Map([['me', [1, 2, 3]]]);
  const agentDef: AnyAgentKindDef = {
    kind: 'toy-mean',
    localStep: async (...args) => {
      steps++;
      args[0].jobState.set('read', true);
      // Steps this job took at this agent, as a kind's state that must survive a restart (declared with durableDir).
      args[0].jobState.set('steps', ((args[0].jobState.get('steps') as number | undefined) ?? 0) + 1);
      return toyAgent(data, 'me').localStep(...args);
    },
    ...(over.stagedRead ? { stagedRead: over.stagedRead } : {}),
    ...(over.withSource ? { onSource: (...args: Parameters<NonNullable<AnyAgentKindDef['onSource']>>) => (steps++, args[0].jobState.set('read', true), toyAgent(data, 'me').localStep(args[0], args[1], args[2], args[4])) } : {}),
    ...(over.needsSource ? { needsSource: over.needsSource } : {}),
    ...(over.durableDir !== undefined ? { durableState: ['steps'] } : {}),
  };
  const runner = new KindTaskRunner({
    kinds: createKindRegistry<AnyKindDef>([toyKind]),
    agentKinds: createKindRegistry<AnyAgentKindDef>([agentDef]),
    policy: { minCellSize: 10, allowKinds: over.allowKinds ?? ['toy-mean'], allowModes: ['none', 'central-dp'] },
    products: () => [{ name: 'p', columns: [], privacyUnit: 'person_id', description: '', source: '' }],
    rules: () => over.rules ?? rules,
    charge: async (jobId) => void charges.push(jobId),
    bind: async (jobId, hash) => {
      if (bound.has(jobId) && bound.get(jobId) !== hash) throw new Error('rebound');
      bound.set(jobId, hash);
    },
    once: async (jobId, round, compute) => {
      const k = `${jobId}/${round}`;
      if (!answers.has(k)) answers.set(k, await compute());
      return answers.get(k)!;
    },
    withConnection: (fn) => fn({} as DuckDBConnection),
    ...(over.withProduct ? { withProduct: over.withProduct } : {}),
    ...(over.withSource ? { withSource: over.withSource } : {}),
    salt: () => 'salt',
    rng: createSeededRng(1),
    ...(over.durableDir !== undefined ? { durableState: new DurableJobStates({ dir: over.durableDir }) } : {}),
  });
  const scope: TaskScope = { signal: new AbortController().signal, using: (_c, fn) => fn() } as TaskScope;
  const job = compileKindJob(toyKind, spec);
  const task = (round: number, input: unknown = { mu: round }, hash = job.hash, s: unknown = spec): AgentTask => ({
    taskId: `t${round}`, jobId: 'job-1', kind: 'toy-mean', specJson: JSON.stringify(s), deadlineMs: Date.now() + 10_000, round, researcher: 'r', payload: encodeRoundPayload({ hash, input }),
  });
  return { runner, scope, task, charges, steps: () => steps, job };
}

describe('agent task runner for registry kinds', () => {
  it('computes the round, charges the whole job once, and answers a replayed round from the store without computing', async () => {
    const s = setup();
    const a = await s.runner.run(s.task(0), s.scope);
    expect(Array.from(decodeVector(toyKind.layout(s.job, 0), a.arrow, 'me').values)).toEqual([6, 3]);
    await s.runner.run(s.task(1, { mu: 2 }), s.scope);
    // Replay of round 0 with another input: the stored answer, no new computation (a replaying coordinator learns nothing new).
    const replay = await s.runner.run(s.task(0, { mu: 100 }), s.scope);
    expect(replay.arrow).toEqual(a.arrow);
    expect(s.steps()).toBe(2);
    expect(s.charges).toEqual(['job-1', 'job-1', 'job-1']); // the ledger's charge is idempotent per job id
  });

  it('data on a server: stages only the columns the round reads plus the privacy unit, and nothing once the rows are in the job state', async () => {
    const staged: (StagedRead | undefined)[] = [];
    const withProduct: KindTaskDeps['withProduct'] = async (_conn, _p, fn, _signal, read) => {
      staged.push(read);
      return fn({});
    };
    const s = setup({ withProduct, stagedRead: (_job, state) => (state.has('read') ? null : { columns: ['x', 'x'], where: [{ column: 'x', op: '>', value: 0 }] }) });
    await s.runner.run(s.task(0), s.scope);
    await s.runner.run(s.task(1, { mu: 1 }), s.scope);
    expect(staged).toEqual([{ columns: ['x', 'person_id'], where: [{ column: 'x', op: '>', value: 0 }] }]);
    expect(s.steps()).toBe(2);
    // Control: a kind that does not say what it reads has its whole product staged every round.
    const all: (StagedRead | undefined)[] = [];
    const t = setup({ withProduct: async (_c, _p, fn, _s, read) => (all.push(read), fn({})) });
    await t.runner.run(t.task(0), t.scope);
    await t.runner.run(t.task(1, { mu: 1 }), t.scope);
    expect(all).toEqual([undefined, undefined]);
  });

  it('data on a server with a server-side step: a session for the rounds that read, none once the rows are in the job state', async () => {
    const sessions: number[] = [];
    const source = (round: () => number): KindTaskDeps['withSource'] => ({ active: () => true, run: (fn) => (sessions.push(round()), fn({})) });
    let round = 0;
    const s = setup({ withSource: source(() => round), needsSource: (_job, state) => !state.has('read'), withProduct: async () => { throw new Error('staged'); } });
    await s.runner.run(s.task(0), s.scope);
    round = 1;
    await s.runner.run(s.task(1, { mu: 1 }), s.scope);
    round = 2;
    await s.runner.run(s.task(2, { mu: 2 }), s.scope);
    expect(sessions).toEqual([0]);
    expect(s.steps()).toBe(3);
    // Control: without needsSource every round opens a session (and nothing is staged either way).
    sessions.length = 0;
    const t = setup({ withSource: source(() => round), withProduct: async () => { throw new Error('staged'); } });
    round = 0;
    await t.runner.run(t.task(0), t.scope);
    round = 1;
    await t.runner.run(t.task(1, { mu: 1 }), t.scope);
    expect(sessions).toEqual([0, 1]);
  });

  it('refuses a task whose hash is not the job this agent compiles (a changed plan), before charging', async () => {
    const s = setup();
    await expect(s.runner.run(s.task(0, { mu: 0 }, 'f'.repeat(64)), s.scope)).rejects.toThrow(/hash does not match/);
    expect(s.charges).toEqual([]);
    // Negative control: the right hash runs.
    await expect(s.runner.run(s.task(0), s.scope)).resolves.toBeDefined();
  });

  it('refuses a round beyond the public maximum the charge covers', async () => {
    const s = setup();
    await expect(s.runner.run(s.task(3), s.scope)).rejects.toThrow(/round: 3 is outside the job's public rounds 0\.\.2/);
    expect(s.steps()).toBe(0);
    await expect(s.runner.run(s.task(2), s.scope)).resolves.toBeDefined();
  });

  it('applies the domain policy and the product manifest (kind not allowed, no privacy unit), naming the field', async () => {
    await expect(setup({ allowKinds: ['aggregate'] }).runner.run(setup().task(0), setup().scope)).rejects.toThrow(/kind: this domain does not accept toy-mean/);
    const s = setup({ rules: { ...rules, allowedJobKinds: ['aggregate'] } });
    await expect(s.runner.run(s.task(0), s.scope)).rejects.toThrow(/kind: product p is not open to toy-mean/);
    const u = setup({ rules: { ...rules, privacyUnit: undefined } });
    await expect(u.runner.run(u.task(0), u.scope)).rejects.toThrow(/no known privacy unit/);
  });

  it('projects a local step\'s vector onto the public layout instead of refusing (red team 26); a value that is not a number is still refused before it leaves', async () => {
    const s = setup();
    // At μ = −10⁷ the residual Σ(x − μ) exceeds its public per-agent bound of 10⁶: sent as the bound, not refused
    // (a refusal would answer "beyond the bound?" about this agent's data for a bound the spec chose).
    const a = await s.runner.run(s.task(0, { mu: -1e7 }), s.scope);
    expect(Array.from(decodeVector(toyKind.layout(s.job, 0), a.arrow, 'me').values)).toEqual([1e6, 3]);
    // Control: within the bounds the exact value leaves.
    const b = await s.runner.run(s.task(1, { mu: 0 }), s.scope);
    expect(Array.from(decodeVector(toyKind.layout(s.job, 1), b.arrow, 'me').values)).toEqual([6, 3]);
    // NaN (μ not a number) is a broken step, not data beyond a bound.
    await expect(s.runner.run(s.task(2, { mu: 'x' }), s.scope)).rejects.toThrow(/residual\[0\] outside its public bounds/);
  });

  it('refuses a secure phase on a plain job, naming the payload, before charging or computing anything', async () => {
    const s = setup();
    const t = { ...s.task(0), payload: encodeRoundPayload({ hash: s.job.hash, input: { mu: 0 }, phase: 'advertise', msg: '' }) };
    await expect(s.runner.run(t, s.scope)).rejects.toThrow(/payload\.phase: a plain round has no secure phases/);
    expect(s.steps()).toBe(0);
    expect(s.charges).toEqual([]);
    // Negative control: the same task without the phase runs.
    await expect(s.runner.run(s.task(0), s.scope)).resolves.toBeDefined();
  });

  it('computes a round that keeps failing at most MAX_FAILED_ROUND_ATTEMPTS times, then refuses it with RESOURCE_EXHAUSTED without reading (red team 20); other rounds are unaffected', async () => {
    const s = setup();
    // A round input the step fails on (its vector is not a number): every attempt reads the data again.
    for (let i = 0; i < MAX_FAILED_ROUND_ATTEMPTS; i++) await expect(s.runner.run(s.task(0, { mu: 'x' }), s.scope)).rejects.toThrow(/outside its public bounds/);
    expect(s.steps()).toBe(MAX_FAILED_ROUND_ATTEMPTS);
    await expect(s.runner.run(s.task(0, { mu: 0 }), s.scope)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(s.steps()).toBe(MAX_FAILED_ROUND_ATTEMPTS);
    // Tasks of other job ids with a wrong hash are refused before they are kept: they evict neither the job's state
    // nor its count (red team 21), so round 0 stays refused without a read.
    for (let i = 0; i < 40; i++) await expect(s.runner.run({ ...s.task(0, { mu: 0 }, 'f'.repeat(64)), jobId: `junk-${i}` }, s.scope)).rejects.toThrow(/job hash does not match/);
    await expect(s.runner.run(s.task(0, { mu: 0 }), s.scope)).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(s.steps()).toBe(MAX_FAILED_ROUND_ATTEMPTS);
    // Control: the job's next round still runs.
    await expect(s.runner.run(s.task(1, { mu: 0 }), s.scope)).resolves.toBeDefined();
    expect(s.steps()).toBe(MAX_FAILED_ROUND_ATTEMPTS + 1);
  });

  it('a task refused before it is kept (a wrong hash) evicts no other job\'s state (red team 21); control: 16 admitted jobs do evict it', async () => {
    const sessions: number[] = [];
    const s = setup({ withSource: { active: () => true, run: (fn) => (sessions.push(1), fn({})) }, needsSource: (_job, state) => !state.has('read'), withProduct: async () => { throw new Error('staged'); } });
    await s.runner.run(s.task(0), s.scope);
    for (let i = 0; i < 40; i++) await expect(s.runner.run({ ...s.task(0, { mu: 0 }, 'f'.repeat(64)), jobId: `junk-${i}` }, s.scope)).rejects.toThrow(/job hash does not match/);
    // The job's rows are still in its state: the next round needs no session.
    await s.runner.run(s.task(1, { mu: 1 }), s.scope);
    expect(sessions).toEqual([1]);
    // Control: sixteen other jobs that pass the checks are kept, and the least recently used state (this job's) goes.
    for (let i = 0; i < 16; i++) await s.runner.run({ ...s.task(0), jobId: `other-${i}` }, s.scope);
    sessions.length = 0;
    await s.runner.run(s.task(2, { mu: 2 }), s.scope);
    expect(sessions).toEqual([1]);
  });

  it("keeps a kind's durable entries across a restart: saved after each round computed here, not after a failed one, read by a fresh runner (which would save 1, not 2, had it started again)", async () => {
    const root = await mkdtemp(join(tmpdir(), 'fedmesh-runner-durable-'));
    try {
      const dir = join(root, 'job-state');
      const steps = async (): Promise<unknown> => (await new DurableJobStates({ dir }).load('job-1', setup().job.hash, ['steps'])).get('steps');
      const a = setup({ durableDir: dir });
      await a.runner.run(a.task(0), a.scope);
      expect(await steps()).toBe(1);
      // A round that fails after its step (its vector is not a number) sends nothing, so its state is not saved.
      await expect(a.runner.run(a.task(1, { mu: 'x' }), a.scope)).rejects.toThrow(/outside its public bounds/);
      expect(await steps()).toBe(1);
      // The restarted agent goes on from the saved state: its step is the job's second that counted here.
      const b = setup({ durableDir: dir });
      await b.runner.run(b.task(1), b.scope);
      expect(await steps()).toBe(2);
      // The job's last public round answered: its file is removed (the agent hears of no job's end otherwise).
      await b.runner.run(b.task(2), b.scope);
      expect(await steps()).toBeUndefined();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
