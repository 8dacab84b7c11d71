/**
 * The agent policy's memory bound for rows a job holds between rounds (`--max-held-mb`): its default, its range,
 * and that the registry kinds' task runner hands it to a kind's step (which the glm and train readers enforce:
 * jobs/glm/design.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { createSeededRng } from '../algorithms/testing/seeded-rng.js';
import { compileKindJob, createKindRegistry, encodeRoundPayload, type AnyAgentKindDef, type AnyKindDef } from '../common/kinds/index.js';
import { toyAgent, toyKind, type ToySpec } from '../test/helpers/toy-kind.js';
import type { TaskScope } from './task-cancellation.js';
import { compileAgentPolicy } from './policy.js';
import { KindTaskRunner } from './tasks/kind-task-runner.js';

describe('agent policy: maxHeldMb', () => {
  it('defaults to 2048 MiB, takes 1 … 1048576, and refuses anything else naming the option', () => {
    expect(compileAgentPolicy().maxHeldBytes).toBe(2048 * 2 ** 20);
    expect(compileAgentPolicy({ maxHeldMb: 1 }).maxHeldBytes).toBe(2 ** 20);
    for (const bad of [0, -1, 1.5, 2 ** 20 + 1, Number.NaN]) expect(() => compileAgentPolicy({ maxHeldMb: bad })).toThrow(/options\.maxHeldMb/);
  });

  it("reaches a kind's step through the task runner's context", async () => {
    const seen: (number | undefined)[] = [];
    const data = new Map([['me', [1, 2, 3]]]);
    const agentDef: AnyAgentKindDef = { kind: 'toy-mean', localStep: async (ctx, ...rest) => (seen.push(ctx.policy.maxHeldBytes), toyAgent(data, 'me').localStep(ctx, ...rest)) };
    const policy = compileAgentPolicy({ maxHeldMb: 3, allowKinds: ['toy-mean'], allowModes: ['central-dp'] });
    const runner = new KindTaskRunner({
      kinds: createKindRegistry<AnyKindDef>([toyKind]), agentKinds: createKindRegistry<AnyAgentKindDef>([agentDef]), policy,
      products: () => [{ name: 'p', columns: [], privacyUnit: 'person_id', description: '', source: '' }],
      rules: () => ({ privacyUnit: 'person_id', bounds: {}, semanticTypes: {}, sensitivity: 'sensitive' }),
      charge: async () => undefined, bind: async () => undefined, once: async (_j, _r, compute) => compute(),
      withConnection: (fn) => fn({} as DuckDBConnection), salt: () => 'salt', rng: createSeededRng(1),
    });
    const spec: ToySpec = { kind: 'toy-mean', product: 'p', privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 }, maxRounds: 1 };
    const job = compileKindJob(toyKind, spec);
    const scope = { signal: new AbortController().signal, using: (_c: unknown, fn: () => unknown) => fn() } as unknown as TaskScope;
    await runner.run({ taskId: 't', jobId: 'j', kind: 'toy-mean', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 0, researcher: 'r', payload: encodeRoundPayload({ hash: job.hash, input: { mu: 0 } }) }, scope);
    expect(seen).toEqual([3 * 2 ** 20]);
  });
});
