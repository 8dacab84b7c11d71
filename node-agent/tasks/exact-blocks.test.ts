/**
 * The agent chain's generic guard (exact-blocks.ts): in a noisy mode, a local step that writes into a block the
 * round's layout leaves without noise is refused before anything is sent — for any kind, not only those that check
 * their own phase. The fake kind below trusts the coordinator's word for its phase, as a careless kind would.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { FedmeshError } from '../../common/errors.js';
import type { ProductRules } from '../../common/job/index.js';
import { compileKindJob, createKindRegistry, decodeVector, encodeRoundPayload, type AnyAgentKindDef, type AnyKindDef, type KindDef, type StatBlock } from '../../common/kinds/index.js';
import type { ReleasedAnswer } from '../disclosure/released-answers.js';
import type { TaskScope } from '../task-cancellation.js';
import { KindTaskRunner } from './kind-task-runner.js';
import { checkExactBlocksEmpty } from './exact-blocks.js';

type Phase = 'fit' | 'score';
interface TwoPhaseSpec {
  kind: 'two-phase';
  product: string;
  privacy: { mode: 'none' } | { mode: 'central-dp'; epsilon: number; delta: number };
}

/** Round 0 fits (block `fit` noisy, `score` public zero), round 1 scores (the other way round). */
const block = (name: Phase, owned: boolean): StatBlock => ({ name, length: 2, perAgent: { lo: 0, hi: 100 }, sensitivity: owned ? { l1: 2, l2Sq: 2 } : { l1: 0, l2Sq: 0 }, gridExponent: 0, release: 'additive' });
const phaseOfRound = (round: number): Phase => (round === 0 ? 'fit' : 'score');

const twoPhaseKind: KindDef<TwoPhaseSpec, Record<string, never>, { phase: Phase }> = {
  kind: 'two-phase',
  parse(raw) {
    const s = raw as TwoPhaseSpec;
    if (!s || s.kind !== 'two-phase') throw new FedmeshError('INVALID_JOB', 'kind: expected two-phase', { field: 'kind' });
    return s;
  },
  compile: (spec) => ({ kind: 'two-phase', product: spec.product, privacy: spec.privacy, secure: 'plain', maxRounds: 2, roundTimeoutMs: 5000, dropout: 'fail', minAgents: 1, spec, plan: {} }),
  layout: (_job, round) => ({ blocks: [block('fit', phaseOfRound(round) === 'fit'), block('score', phaseOfRound(round) === 'score')] }),
  nextRound: (_job, history) => (history.length < 2 ? { phase: phaseOfRound(history.length) } : undefined),
  release: () => ({ columns: [], rows: [], summary: {}, notes: [], privacy: {} }),
  view: () => '',
};

/** Writes 7 and 5 (person-level counts, say) into the block of the phase the input names, not the round's. */
const careless: AnyAgentKindDef = {
  kind: 'two-phase',
  rollbackOnFailure: ['steps'],
  localStep: async (ctx, _job, input) => {
    // State a step advances (as SCAFFOLD's control variate does): it must not outlive a round that fails here.
    ctx.jobState.set('steps', ((ctx.jobState.get('steps') as number | undefined) ?? 0) + 1);
    return { values: Float64Array.from((input as { phase: Phase }).phase === 'fit' ? [7, 5, 0, 0] : [0, 0, 7, 5]) };
  },
};

function setup(privacy: TwoPhaseSpec['privacy']) {
  const spec: TwoPhaseSpec = { kind: 'two-phase', product: 'p', privacy };
  const stored: string[] = [];
  const rules: ProductRules = { privacyUnit: 'person_id', bounds: {}, semanticTypes: {}, sensitivity: 'sensitive' };
  const runner = new KindTaskRunner({
    kinds: createKindRegistry<AnyKindDef>([twoPhaseKind as AnyKindDef]),
    agentKinds: createKindRegistry<AnyAgentKindDef>([careless]),
    policy: { minCellSize: 1, allowKinds: ['two-phase'], allowModes: ['none', 'central-dp'] },
    products: () => [{ name: 'p', columns: [], privacyUnit: 'person_id', description: '', source: '' }],
    rules: () => rules,
    charge: async () => undefined,
    bind: async () => undefined,
    once: async (jobId: string, round: number, compute: () => Promise<ReleasedAnswer>) => {
      const a = await compute();
      stored.push(`${jobId}/${round}`);
      return a;
    },
    withConnection: (fn) => fn({} as DuckDBConnection),
    salt: () => 'salt',
    rng: createSeededRng(3),
  });
  const job = compileKindJob(twoPhaseKind as AnyKindDef, spec);
  const task = (round: number, phase: Phase): AgentTask => ({
    taskId: `t${round}${phase}`, jobId: 'job-2p', kind: 'two-phase', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round, researcher: 'r', payload: encodeRoundPayload({ hash: job.hash, input: { phase } }),
  });
  const scope = { signal: new AbortController().signal, using: (_c: DuckDBConnection, fn: () => Promise<unknown>) => fn(), end: () => undefined } as TaskScope;
  return { runner, task, scope, stored, job };
}

describe('agent chain: a round that fails at the agent rolls back the state its kind names (rollbackOnFailure)', () => {
  it('state the step advanced is rolled back when the round is refused after the step, and kept when it succeeds', async () => {
    const s = setup({ mode: 'central-dp', epsilon: 1, delta: 1e-6 });
    const steps = (): unknown => (s.runner as unknown as { jobs: Map<string, { state: Map<string, unknown> }> }).jobs.get('job-2p')?.state.get('steps');
    // Round 0 with the wrong phase: the step runs (and counts), then the exact-block check refuses the vector.
    await expect(s.runner.run(s.task(0, 'score'), s.scope)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(steps()).toBeUndefined();
    // Negative control: a round that succeeds keeps what its step did.
    await s.runner.run(s.task(0, 'fit'), s.scope);
    expect(steps()).toBe(1);
    await expect(s.runner.run(s.task(1, 'fit'), s.scope)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(steps()).toBe(1);
  });
});

describe('agent chain: blocks a round leaves exact stay empty in a noisy mode (any kind)', () => {
  it('refuses a local step that writes into the block another phase owns, naming the block, before anything is stored or sent', async () => {
    const s = setup({ mode: 'central-dp', epsilon: 1, delta: 1e-6 });
    const refused = s.runner.run(s.task(0, 'score'), s.scope);
    await expect(refused).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'payload', message: expect.stringMatching(/block score carries no noise in round 1 of this two-phase job/) });
    // The message names the block, never the value the step put there.
    await expect(refused).rejects.toThrow(expect.objectContaining({ message: expect.not.stringMatching(/\b7\b|\b5\b/) }));
    await expect(s.runner.run(s.task(1, 'fit'), s.scope)).rejects.toThrow(/block fit carries no noise in round 2/);
    expect(s.stored).toEqual([]);
  });

  it('control: the phase each round owns runs, and the owned block carries the values', async () => {
    const s = setup({ mode: 'central-dp', epsilon: 1, delta: 1e-6 });
    const fit = await s.runner.run(s.task(0, 'fit'), s.scope);
    expect(Array.from(decodeVector(twoPhaseKind.layout(s.job as never, 0), fit.arrow, 'me').values)).toEqual([7, 5, 0, 0]);
    await expect(s.runner.run(s.task(1, 'score'), s.scope)).resolves.toBeDefined();
    expect(s.stored).toEqual(['job-2p/0', 'job-2p/1']);
  });

  it('mode none: no block is noised, so nothing is "left exact" by the mode and the guard does not apply', async () => {
    const s = setup({ mode: 'none' });
    await expect(s.runner.run(s.task(0, 'score'), s.scope)).resolves.toBeDefined();
  });
});

describe('blocks the kind noised itself (agentNoised)', () => {
  it('pass the guard with values in them; the same block without the flag is refused (control)', () => {
    const job = { kind: 'two-phase', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } } as unknown as Parameters<typeof checkExactBlocksEmpty>[0];
    const noised: StatBlock = { ...block('fit', false), agentNoised: true };
    const vector = { values: Float64Array.from([7, 5]) } as unknown as Parameters<typeof checkExactBlocksEmpty>[2];
    expect(() => checkExactBlocksEmpty(job, { blocks: [noised] }, vector, 0)).not.toThrow();
    expect(() => checkExactBlocksEmpty(job, { blocks: [block('fit', false)] }, vector, 0)).toThrow(/block fit carries no noise/);
  });
});
