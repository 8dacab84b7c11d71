import { describe, expect, it } from 'vitest';
import type { PrivacyCost } from '../../algorithms/dp/index.js';
import type { AgentTask } from '../../common/agent-protocol.js';
import { parseJobSpec } from '../../common/job/index.js';
import type { ReleasedAnswer } from '../disclosure/released-answers.js';
import type { ReleasedCells } from '../disclosure/released-cells.js';
import { ReleasedConcepts } from '../disclosure/released-concepts.js';
import { compileAgentPolicy } from '../policy.js';
import { runOldKindTask, type OldKindTaskDeps } from './old-kind-task.js';

/**
 * The agent's table of old-kind plain tasks: the privacy plan is charged before any data is read, a charged job
 * answers once (replays get the released answer), an exact job is not charged. The data step is faked (the
 * aggregate and cell computations have their own tests); what is checked is the order of the steps.
 */
const task = (jobId: string): AgentTask => ({ taskId: `t-${jobId}`, jobId, kind: 'aggregate', specJson: '', deadlineMs: Date.now() + 60_000, round: 0, researcher: 'alice', payload: new Uint8Array() });
const aggregate = (privacy: Record<string, unknown>) => parseJobSpec({ kind: 'aggregate', product: 'vitals', groupBy: ['smoking'], groupKeys: { smoking: ['smoker', 'non-smoker'] }, measures: [{ fn: 'count' }], privacy });

function fakeDeps(): { deps: OldKindTaskDeps; steps: string[]; charged: PrivacyCost[] } {
  const steps: string[] = [];
  const charged: PrivacyCost[] = [];
  const deps: OldKindTaskDeps = {
    products: [{ name: 'vitals', columns: [{ name: 'smoking', type: 'VARCHAR' }], privacyUnit: 'person_id', description: '', source: '' }] as OldKindTaskDeps['products'],
    policy: compileAgentPolicy(),
    rng: { nextBytes: () => new Uint8Array() } as unknown as OldKindTaskDeps['rng'],
    salt: 'salt',
    cells: {} as ReleasedCells,
    concepts: new ReleasedConcepts(),
    charge: (_j, _r, c) => (steps.push('charge'), charged.push(c), Promise.resolve()),
    once: (_j, _r, f) => (steps.push('once'), f()),
    withTaskConnection: <T,>(): Promise<T> => (steps.push('data'), Promise.resolve({ arrow: new Uint8Array([7]), meta: { rows: 1 }, releasedKeys: [] } as T)),
  };
  return { deps, steps, charged };
}

describe('runOldKindTask', () => {
  it('central-dp aggregate: charges the plan, then reads the data once, inside the one-answer guard', async () => {
    const { deps, steps, charged } = fakeDeps();
    const out: ReleasedAnswer = await runOldKindTask(task('j1'), aggregate({ mode: 'central-dp', epsilon: 1 }), deps);
    expect(steps).toEqual(['charge', 'once', 'data']);
    expect(charged[0]!.epsilon).toBeGreaterThan(0);
    expect(out).toEqual({ arrow: new Uint8Array([7]), meta: { rows: 1 } });
  });

  it('negative control: mode none charges nothing and needs no one-answer guard', async () => {
    const { deps, steps } = fakeDeps();
    await runOldKindTask(task('j2'), aggregate({ mode: 'none' }), deps);
    expect(steps).toEqual(['data']);
  });

  it('an aggregate job on a product this agent lacks is refused before any charge, naming the field', async () => {
    const { deps, steps } = fakeDeps();
    const job = parseJobSpec({ kind: 'aggregate', product: 'labs', measures: [{ fn: 'count' }], privacy: { mode: 'central-dp', epsilon: 1 } });
    await expect(runOldKindTask(task('j3'), job, deps)).rejects.toMatchObject({ code: 'INVALID_JOB', field: 'product' });
    expect(steps).toEqual([]);
  });

  it('the cell kinds (ported to the kind seam: cohort, characterize, survival) are refused on the built-in plain path before any charge or data', async () => {
    const definition = { name: 'c', entry: { domain: 'condition', concepts: { include: [{ conceptId: 1 }] } } };
    for (const raw of [
      { kind: 'cohort', definition },
      { kind: 'characterize', definition, conditionConcepts: [1], drugConcepts: [] },
      { kind: 'survival', target: definition, outcome: { domain: 'death', conceptIds: [] }, timeGrid: { binDays: 30, maxDays: 360 } },
    ]) {
      const { deps, steps } = fakeDeps();
      await expect(runOldKindTask(task(`j4-${raw.kind}`), parseJobSpec({ ...raw, privacy: { mode: 'central-dp', epsilon: 1 } }), deps)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'kind' });
      expect(steps).toEqual([]);
    }
  });

  it('contingency (ported to the kind seam) is refused on the built-in plain path before any charge or data', async () => {
    const { deps, steps } = fakeDeps();
    const job = parseJobSpec({ kind: 'contingency', product: 'vitals', rowColumn: 'smoking', colColumn: 'visit', rowLevels: ['smoker', 'non-smoker'], colLevels: [0, 1], privacy: { mode: 'central-dp', epsilon: 1 } });
    await expect(runOldKindTask(task('j5'), job, deps)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'kind' });
    expect(steps).toEqual([]);
  });
});
