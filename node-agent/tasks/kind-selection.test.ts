import { describe, expect, it } from 'vitest';
import type { DuckDBConnection } from '@duckdb/node-api';
import { createSeededRng } from '../../algorithms/testing/seeded-rng.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { compileKindJob, createKindRegistry, decodeVector, encodeRoundPayload, type AnyAgentKindDef, type AnyKindDef, WITHHELD } from '../../common/kinds/index.js';
import type { ProductRules } from '../../common/job/index.js';
import type { ReleasedAnswer } from '../disclosure/released-answers.js';
import type { TaskScope } from '../task-cancellation.js';
import { CELLS_LAYOUT, cellAgent, cellKind, type CellSpec } from '../../test/helpers/selection-kind.js';
import { KindTaskRunner } from './kind-task-runner.js';

/** The agent's task runner withholds small cells of selection blocks in mode none before the vector leaves. */
const rules: ProductRules = { privacyUnit: 'person_id', bounds: {}, semanticTypes: {}, sensitivity: 'sensitive' };

function setup(minCellSize: number, cells: number[]) {
  let steps = 0;
  const answers = new Map<string, ReleasedAnswer>();
  const inner = cellAgent(cells) as AnyAgentKindDef;
  const agentDef: AnyAgentKindDef = {
    kind: 'cells',
    localStep: async (...args) => {
      steps++;
      return inner.localStep(...args);
    },
  };
  const runner = new KindTaskRunner({
    kinds: createKindRegistry<AnyKindDef>([cellKind as AnyKindDef]),
    agentKinds: createKindRegistry<AnyAgentKindDef>([agentDef]),
    policy: { minCellSize, allowKinds: ['cells'], allowModes: ['none', 'central-dp'] },
    products: () => [{ name: 'p', columns: [], privacyUnit: 'person_id', description: '', source: '' }],
    rules: () => rules,
    charge: async () => undefined,
    bind: async () => undefined,
    once: async (jobId, round, compute) => {
      const k = `${jobId}/${round}`;
      if (!answers.has(k)) answers.set(k, await compute());
      return answers.get(k)!;
    },
    withConnection: (fn) => fn({} as DuckDBConnection),
    salt: () => 'salt',
    rng: createSeededRng(1),
  });
  const scope: TaskScope = { signal: new AbortController().signal, using: (_c, fn) => fn() } as TaskScope;
  const task = (spec: CellSpec): AgentTask => ({
    taskId: 't0', jobId: 'job-1', kind: 'cells', specJson: JSON.stringify(spec), deadlineMs: Date.now() + 10_000, round: 0, researcher: 'r',
    payload: encodeRoundPayload({ hash: compileKindJob(cellKind, spec).hash, input: {} }),
  });
  const sent = async (spec: CellSpec) => Array.from(decodeVector(CELLS_LAYOUT, (await runner.run(task(spec), scope)).arrow, 'me').values);
  return { runner, scope, task, sent, steps: () => steps };
}

const none: CellSpec = { kind: 'cells', product: 'p', privacy: { mode: 'none' } };

describe('agent task runner: selection blocks', () => {
  it('mode none: a positive count below minCellSize leaves as the withheld marker; zero and large counts as they are', async () => {
    const s = setup(10, [3, 12, 0]);
    expect(await s.sent(none)).toEqual([WITHHELD, 12, 0, 15]);
  });

  it('negative control: at minCellSize 1 nothing is withheld', async () => {
    expect(await setup(1, [3, 12, 0]).sent(none)).toEqual([3, 12, 0, 15]);
  });

  it('central-dp: nothing is withheld at the agent (the coordinator noises the sum)', async () => {
    const got = await setup(10, [3, 12, 0]).sent({ ...none, privacy: { mode: 'central-dp', epsilon: 1, delta: 1e-6 } });
    expect(got.slice(0, 3)).toEqual([3, 12, 0]);
  });

  it('refuses a mode-none selection job under secagg, naming secure, before computing', async () => {
    const s = setup(10, [3, 12, 0]);
    const t = { ...s.task({ ...none, secure: 'secagg' }) };
    t.payload = encodeRoundPayload({ hash: compileKindJob(cellKind, { ...none, secure: 'secagg' }).hash, input: {}, phase: 'advertise', msg: '' });
    await expect(s.runner.run(t, s.scope)).rejects.toThrow(/^secure: a cells job in mode none withholds small cells/);
    expect(s.steps()).toBe(0);
  });
});
